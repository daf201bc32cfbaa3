package orders

import (
	"context"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// WalletLag is how old the wallet figure legacy getBalance answers may
// be: a purchase, refund or top-up made through another gateway instance
// on the same ledger shows here at most this late. Every wallet write
// made through this instance shows at once (it drops the figure). The
// figure is always one the ledger held, read in one statement, so it
// never shows money that was never there; at worst, for WalletLag, money
// another instance has just reserved.
const WalletLag = time.Second

// walletFigures keeps each wallet tenant's last ledger read for
// WalletLag. A write bumps the tenant's generation; a read that began
// before the write (its generation moved on) is not kept, so a figure
// older than the newest local write is never served.
type walletFigures struct {
	mu sync.Mutex
	m  map[string]*walletFigure // by tenant; guarded by mu
}

type walletFigure struct {
	gen  uint64 // bumped by every local wallet write
	ok   bool   // w holds a read of generation gen
	w    ledger.Wallet
	read time.Time // when w was read (Service.now)
}

// figure returns the tenant's figure (created empty), under f.mu.
func (f *walletFigures) figure(name string) *walletFigure {
	if f.m == nil {
		f.m = map[string]*walletFigure{}
	}
	e := f.m[name]
	if e == nil {
		e = &walletFigure{}
		f.m[name] = e
	}
	return e
}

// fresh returns a figure read within WalletLag of now, else the
// generation a new read must be kept under.
func (f *walletFigures) fresh(name string, now time.Time) (ledger.Wallet, bool, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.figure(name)
	if e.ok && now.Sub(e.read) < WalletLag && !now.Before(e.read) {
		return e.w, true, e.gen
	}
	return ledger.Wallet{}, false, e.gen
}

// keep stores a read made under gen, unless a write came since.
func (f *walletFigures) keep(name string, gen uint64, w ledger.Wallet, read time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.figure(name); e.gen == gen {
		e.w, e.read, e.ok = w, read, true
	}
}

// moved drops the tenant's figure after a wallet write (successful or
// not: a failed write's outcome may still be unknown).
func (f *walletFigures) moved(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.figure(name)
	e.gen++
	e.ok = false
}

// Spendable is what a wallet tenant can spend (Wallet().Available(), in
// its currency) as legacy getBalance shows it: from memory when read
// within WalletLag, else from the ledger.
func (g *Service) Spendable(ctx context.Context, t *tenant.Tenant) (adapters.Money, error) {
	now := g.now()
	w, ok, gen := g.wallets.fresh(t.Name, now)
	if !ok {
		var err error
		if w, err = g.Wallet(ctx, t); err != nil {
			return adapters.Money{}, err
		}
		g.wallets.keep(t.Name, gen, w, now)
	}
	return adapters.Money{Micros: w.Available(), Currency: w.Currency}, nil
}
