package pool_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/adapterstest"
	"smsgate/adapters/pool"
	"smsgate/adapters/receivesms"
	"smsgate/adapters/simulator"
	"smsgate/adapters/textnow"
	"smsgate/ledger"
)

var ctx = context.Background()

// rig is a Receive-SMS simulator with n rented numbers, on a manual clock,
// and a ledger file pools can be built over (several pools over one store
// are several gateway instances sharing a ledger).
type rig struct {
	t      *testing.T
	clock  *simulator.ManualClock
	market *simulator.Market
	url    string
	path   string
	store  *ledger.SQLite
}

func newRig(t *testing.T, n int) *rig {
	t.Helper()
	h := adapterstest.Serve(t, simulator.Config{Key: adapterstest.Key}, func(m *simulator.Market) fasthttp.RequestHandler {
		return receivesms.NewSim(m, receivesms.SimOptions{}).Handler()
	})
	for i := range n {
		h.Market.AddNumber(simulator.InboxNumber{Phone: adapterstest.PoolPhone(i), Country: "us", ExpiresAt: h.Clock.Now().AddDate(0, 1, 0)})
	}
	r := &rig{t: t, clock: h.Clock, market: h.Market, url: h.Server.URL, path: filepath.Join(t.TempDir(), "ledger.db")}
	r.reopen()
	return r
}

// reopen closes the ledger (if open) and opens it again, as a restart does.
func (r *rig) reopen() {
	r.t.Helper()
	if r.store != nil {
		r.store.Close()
	}
	s, err := ledger.OpenSQLite(r.path, ledger.SQLiteOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = s
	r.t.Cleanup(func() { s.Close() })
}

func (r *rig) pool(edit ...func(o *pool.Options)) *pool.Pool {
	r.t.Helper()
	src, err := receivesms.New(receivesms.Options{BaseURL: r.url, Key: adapterstest.Key, Timeout: 2 * time.Second, Now: r.clock.Now})
	if err != nil {
		r.t.Fatal(err)
	}
	o := pool.Options{Code: "rs", Source: src, Store: r.store, Now: r.clock.Now, Cooldown: time.Hour, Quarantine: 48 * time.Hour}
	for _, e := range edit {
		e(&o)
	}
	p, err := pool.New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func buy(t *testing.T, p *pool.Pool, service string) adapters.Purchase {
	t.Helper()
	pur, err := p.Buy(ctx, adapters.BuyRequest{Country: "us", Service: service})
	if err != nil {
		t.Fatalf("buy %s: %v", service, err)
	}
	return pur
}

func noNumbers(t *testing.T, p *pool.Pool, service string) {
	t.Helper()
	if pur, err := p.Buy(ctx, adapters.BuyRequest{Country: "us", Service: service}); !errors.Is(err, adapters.ErrNoNumbers) {
		t.Fatalf("buy %s = %+v, %v; want ErrNoNumbers", service, pur, err)
	}
}

func check(t *testing.T, p *pool.Pool, id string) adapters.Update {
	t.Helper()
	u, err := p.Check(ctx, id)
	if err != nil {
		t.Fatalf("check %s: %v", id, err)
	}
	return u
}

// TestConcurrentBuysNeverShareANumber: 40 buyers on two instances (two
// pools over one ledger) race for 5 numbers: exactly 5 leases, 5
// different phones, everyone else told NO_NUMBERS.
func TestConcurrentBuysNeverShareANumber(t *testing.T) {
	r := newRig(t, 5)
	instances := []*pool.Pool{r.pool(), r.pool()}
	var (
		mu     sync.Mutex
		phones []string
		wg     sync.WaitGroup
	)
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func(p *pool.Pool) {
			defer wg.Done()
			pur, err := p.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			phones = append(phones, pur.Phone)
			mu.Unlock()
		}(instances[i%2])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, adapters.ErrNoNumbers) {
			t.Errorf("a losing buyer got %v; want ErrNoNumbers", err)
		}
	}
	slices.Sort(phones)
	if len(phones) != 5 || len(slices.Compact(slices.Clone(phones))) != 5 {
		t.Fatalf("leased phones %v; want the 5 numbers once each", phones)
	}
	// And the pool knows they are taken: another service cannot have them.
	noNumbers(t, instances[0], "wa")
}

// TestCooldownPerService: a number used for a service is not handed out
// for it again within the cooldown, but is for other services; a cancelled
// lease keeps it from its service for the (shorter) cancel cooldown only.
func TestCooldownPerService(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.CancelCooldown = 10 * time.Minute })
	pur := buy(t, p, "tg")
	r.clock.Advance(5 * time.Second)
	r.market.Inject(pur.Phone, "Telegram", "Telegram code: 48213")
	if u := check(t, p, pur.UpstreamID); u.State != adapters.StateCodeReceived {
		t.Fatalf("check = %+v; want the code", u)
	}
	if err := p.Finish(ctx, pur.UpstreamID); err != nil {
		t.Fatal(err)
	}
	noNumbers(t, p, "tg") // the only number cools down for tg
	wa := buy(t, p, "wa") // … and serves another service meanwhile
	if wa.Phone != pur.Phone {
		t.Fatalf("wa got %s; want the pool's one number %s", wa.Phone, pur.Phone)
	}
	if err := p.Cancel(ctx, wa.UpstreamID); err != nil {
		t.Fatal(err)
	}
	noNumbers(t, p, "wa") // a late wa SMS for the cancelled attempt must not reach the next wa client
	g := buy(t, p, "go")  // other services are served at once
	if err := p.Cancel(ctx, g.UpstreamID); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Minute)
	p.Cancel(ctx, buy(t, p, "wa").UpstreamID)                 // the cancel cooldown is over
	r.clock.Advance(time.Hour - 10*time.Minute - time.Second) // the finish was at +5 s
	noNumbers(t, p, "tg")                                     // still inside the hour
	r.clock.Advance(2 * time.Second)
	if again := buy(t, p, "tg"); again.Phone != pur.Phone {
		t.Fatalf("after the cooldown got %s; want %s", again.Phone, pur.Phone)
	}
}

// TestBanQuarantines: a ban keeps the number from that service for the
// quarantine, not from others.
func TestBanQuarantines(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool()
	pur := buy(t, p, "tg")
	if err := p.Ban(ctx, pur.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if u := check(t, p, pur.UpstreamID); u.State != adapters.StateBanned {
		t.Fatalf("check after ban = %+v; want banned", u)
	}
	r.clock.Advance(47 * time.Hour)
	noNumbers(t, p, "tg")
	views, err := p.Numbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].State != "idle" || len(views[0].Blocks) != 1 || views[0].Blocks[0].Reason != "quarantine" || views[0].Blocks[0].Service != "tg" {
		t.Fatalf("numbers = %+v; want idle with a tg quarantine", views)
	}
	other := buy(t, p, "wa")
	p.Cancel(ctx, other.UpstreamID)
	r.clock.Advance(2 * time.Hour)
	buy(t, p, "tg")
}

// TestCodesBeforeTheLeaseAreNotReturned: what a number received before it
// was handed out belongs to its previous user: never returned, even when
// it arrived a moment before the lease (inside the clock-skew allowance).
func TestCodesBeforeTheLeaseAreNotReturned(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool()
	phone := adapterstest.PoolPhone(0)
	r.market.Inject(phone, "Telegram", "Telegram code: 11111")
	r.clock.Advance(time.Minute)
	r.market.Inject(phone, "Telegram", "Telegram code: 22222")
	r.clock.Advance(time.Second) // inside the 2 s skew allowance
	pur := buy(t, p, "tg")
	r.clock.Advance(5 * time.Second)
	if u := check(t, p, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
		t.Fatalf("check = %+v; want waiting, none of the earlier codes", u)
	}
	r.market.Inject(phone, "Telegram", "Telegram code: 33333")
	u := check(t, p, pur.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != "33333" {
		t.Fatalf("check = %+v; want only 33333", u)
	}
}

// TestSendersAndServiceFormats: a sender allow-list keeps other senders'
// digits out; a service's own format wins over the first digits in the text.
func TestSendersAndServiceFormats(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.Senders = map[string][]string{"wa": {"WhatsApp"}} })
	pur := buy(t, p, "wa")
	r.clock.Advance(5 * time.Second)
	r.market.Inject(pur.Phone, "Bank", "Your bank code is 987654")
	r.market.Inject(pur.Phone, "WhatsApp", "Ref 20261128: your WhatsApp code 123-456")
	u := check(t, p, pur.UpstreamID)
	if len(u.SMS) != 1 || u.SMS[0].Code != "123456" || u.SMS[0].From != "WhatsApp" {
		t.Fatalf("check = %+v; want just WhatsApp's 123456", u)
	}
}

// TestRestartKeepsLeases: leases are ledger rows; after a restart (new
// pool, ledger reopened) the leased numbers are still taken and the old
// orders still read their codes.
func TestRestartKeepsLeases(t *testing.T) {
	r := newRig(t, 2)
	p := r.pool()
	a, b := buy(t, p, "tg"), buy(t, p, "tg")
	r.reopen()
	p = r.pool()
	noNumbers(t, p, "tg")
	noNumbers(t, p, "wa")
	r.clock.Advance(5 * time.Second)
	r.market.Inject(a.Phone, "Telegram", "Telegram code: 40404")
	if u := check(t, p, a.UpstreamID); len(u.SMS) != 1 || u.SMS[0].Code != "40404" {
		t.Fatalf("check after restart = %+v; want 40404", u)
	}
	if u := check(t, p, b.UpstreamID); u.State != adapters.StateWaiting {
		t.Fatalf("other order after restart = %+v; want waiting", u)
	}
	if err := p.Cancel(ctx, b.UpstreamID); err != nil {
		t.Fatal(err)
	}
	if got := buy(t, p, "wa"); got.Phone != b.Phone {
		t.Fatalf("after cancel got %s; want the freed %s", got.Phone, b.Phone)
	}
}

// TestStaleLeaseIsReclaimed: a lease nobody ended (its order lost) frees
// its number once it is past its time, with a cooldown for its service in
// case a code was used unseen.
func TestStaleLeaseIsReclaimed(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.Lifetime = 10 * time.Minute })
	old := buy(t, p, "tg")
	r.clock.Advance(10 * time.Minute)
	noNumbers(t, p, "wa") // the gateway's expiry has not come by yet: grace
	r.clock.Advance(6 * time.Minute)
	got := buy(t, p, "wa")
	if got.Phone != old.Phone {
		t.Fatalf("got %s; want the reclaimed %s", got.Phone, old.Phone)
	}
	if u := check(t, p, old.UpstreamID); u.State.Active() {
		t.Fatalf("stale lease = %+v; want ended", u)
	}
	p.Cancel(ctx, got.UpstreamID)
	noNumbers(t, p, "tg")
}

// TestGoneRentalCancelsItsOrder: a rental no longer on the account (404)
// ends its order at once and is not handed out again.
func TestGoneRentalCancelsItsOrder(t *testing.T) {
	r := newRig(t, 2)
	p := r.pool()
	pur := buy(t, p, "tg")
	r.market.RemoveNumber(pur.Phone)
	if u := check(t, p, pur.UpstreamID); u.State != adapters.StateCancelled {
		t.Fatalf("check of a gone rental = %+v; want cancelled", u)
	}
	other := buy(t, p, "tg")
	if other.Phone == pur.Phone {
		t.Fatalf("the gone number %s was handed out again", pur.Phone)
	}
	p.Cancel(ctx, other.UpstreamID)
	if got := buy(t, p, "wa"); got.Phone == pur.Phone {
		t.Fatalf("the gone number %s was handed out again", pur.Phone)
	}
}

// TestRentalEndingSoonIsSkipped: a rental that ends before the lease would
// is not handed out.
func TestRentalEndingSoonIsSkipped(t *testing.T) {
	r := newRig(t, 1)
	r.market.AddNumber(simulator.InboxNumber{Phone: adapterstest.PoolPhone(0), Country: "us", ExpiresAt: r.clock.Now().Add(10 * time.Minute)})
	noNumbers(t, r.pool(), "tg")
}

// TestPushedCodeNeedsNoPoll: with callbacks on, a pushed SMS is read from
// the ledger; the upstream's messages endpoint is not called for it.
func TestPushedCodeNeedsNoPoll(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
	if p.Kind() != "receivesms" {
		t.Fatalf("kind = %q", p.Kind())
	}
	pur := buy(t, p, "tg")
	before := r.market.Calls("sms")
	r.clock.Advance(5 * time.Second)
	if err := r.store.AddPoolMessage(ctx, "rs", pur.Phone, ledger.PoolMessage{From: "Telegram", Text: "Telegram code: 70707", At: r.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	u := check(t, p, pur.UpstreamID)
	if len(u.SMS) != 1 || u.SMS[0].Code != "70707" {
		t.Fatalf("check = %+v; want the pushed 70707", u)
	}
	if n := r.market.Calls("sms") - before; n != 0 {
		t.Fatalf("%d reads of the messages endpoint after the buy; want 0", n)
	}
	// The fallback read still happens now and then, in case a push is lost.
	r.clock.Advance(time.Minute)
	check(t, p, pur.UpstreamID)
	if n := r.market.Calls("sms") - before; n != 1 {
		t.Fatalf("%d fallback reads after a minute; want 1", n)
	}
}

// TestTextNowLoginLostOnOneAccount: a 401 on one TextNow account takes
// just that account out: its order ends, the other accounts keep serving,
// and the operator sees which account needs a login.
func TestTextNowLoginLostOnOneAccount(t *testing.T) {
	var tnSim *textnow.Sim
	h := adapterstest.Serve(t, simulator.Config{Key: adapterstest.Key}, func(m *simulator.Market) fasthttp.RequestHandler {
		tnSim = textnow.NewSim(m)
		return tnSim.Handler()
	})
	var accts []textnow.Account
	for i := range 3 {
		user := fmt.Sprintf("user%d", i)
		h.Market.AddNumber(simulator.InboxNumber{Phone: adapterstest.PoolPhone(i), Country: "us", Account: user})
		accts = append(accts, textnow.Account{User: user, Cookie: adapterstest.Key})
	}
	src, err := textnow.New(textnow.Options{BaseURL: h.Server.URL, Accounts: accts, Timeout: 2 * time.Second, MinGap: -1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Options{Code: "tn", Source: src, Store: openStore(t), Now: h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var purs []adapters.Purchase
	for range 3 {
		purs = append(purs, buy(t, p, "tg"))
	}
	victim := purs[0]
	n, _ := h.Market.Number(victim.Phone)
	tnSim.Expire(n.Account)
	if u := check(t, p, victim.UpstreamID); u.State != adapters.StateCancelled {
		t.Fatalf("order on the logged-out account = %+v; want cancelled", u)
	}
	for _, other := range purs[1:] {
		h.Clock.Advance(5 * time.Second)
		h.Market.Inject(other.Phone, "Telegram", "Telegram code: 56789")
		if u := check(t, p, other.UpstreamID); u.State != adapters.StateCodeReceived {
			t.Fatalf("order on a healthy account = %+v; want its code", u)
		}
		if err := p.Finish(ctx, other.UpstreamID); err != nil {
			t.Fatal(err)
		}
	}
	// The two healthy accounts serve the next service; the third buy is
	// NO_NUMBERS (not an auth failure of the whole platform).
	w1, w2 := buy(t, p, "wa"), buy(t, p, "wa")
	noNumbers(t, p, "wa")
	if _, err := p.Balance(ctx); err != nil {
		t.Fatalf("balance (the pool's health) with two accounts up = %v", err)
	}
	views, err := p.Numbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		want := "idle"
		if v.Phone == victim.Phone {
			want = "down"
		}
		if v.State != want && !(want == "idle" && v.State == "leased") {
			t.Errorf("number %s (%s) state %s; want %s", v.Phone, v.Account, v.State, want)
		}
		if v.Phone == victim.Phone && v.Down != pool.DownNeedsLogin {
			t.Errorf("victim down reason %q; want needs_login", v.Down)
		}
	}
	for _, w := range []adapters.Purchase{w1, w2} {
		p.Cancel(ctx, w.UpstreamID)
		n, _ := h.Market.Number(w.Phone)
		tnSim.Challenge(n.Account)
	}
	// Every account lost: the buy finds out on its read; the health check
	// then reports the platform's credentials failing.
	noNumbers(t, p, "go")
	if _, err := p.Balance(ctx); !errors.Is(err, adapters.ErrAuth) {
		t.Fatalf("balance with every account down = %v; want ErrAuth", err)
	}
}

// TestCallback: the shared secret may come in the URL or a header; a
// wrong one is not this pool's; the SMS lands on the number's active
// lease, and one for a number nobody holds is stored and answered "".
func TestCallback(t *testing.T) {
	r := newRig(t, 2)
	p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
	pur := buy(t, p, "tg")
	idle := adapterstest.PoolPhone(0)
	if idle == pur.Phone {
		idle = adapterstest.PoolPhone(1)
	}
	r.clock.Advance(5 * time.Second)
	callback := func(query, header string) (string, error) {
		var req fasthttp.RequestCtx
		req.Request.SetRequestURI("/webhooks/receivesms?" + query)
		if header != "" {
			req.Request.Header.Set("X-Webhook-Secret", header)
		}
		return p.Callback(ctx, &req)
	}
	for _, tc := range []struct {
		name, query, header, want string
		err                       error
	}{
		{"secret in the URL", "secret=s3cret&sender=Telegram&receiver=%2B" + pur.Phone + "&message=Telegram+code%3A+11223", "", pur.UpstreamID, nil},
		{"secret in a header", "sender=Telegram&receiver=" + pur.Phone + "&message=Telegram+code%3A+11224", "s3cret", pur.UpstreamID, nil},
		{"wrong secret", "secret=nope&sender=x&receiver=" + pur.Phone + "&message=code+99999", "", "", pool.ErrNotMine},
		{"no secret", "sender=x&receiver=" + pur.Phone + "&message=code+99999", "", "", pool.ErrNotMine},
		{"number nobody holds", "secret=s3cret&sender=x&receiver=" + idle + "&message=code+55555", "", "", nil},
	} {
		got, err := callback(tc.query, tc.header)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: callback = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	if _, err := callback("secret=s3cret&sender=x&receiver=19995550000&message=code+12345", ""); !errors.Is(err, pool.ErrNotOurNumber) {
		t.Errorf("a callback for a number outside the pool = %v; want ErrNotOurNumber", err)
	}
	if _, err := callback("secret=s3cret&sender=x", ""); err == nil || errors.Is(err, pool.ErrNotMine) {
		t.Errorf("a callback without receiver and message = %v; want a parse error", err)
	}
	u := check(t, p, pur.UpstreamID)
	if len(u.SMS) != 2 || u.SMS[0].Code != "11223" || u.SMS[1].Code != "11224" {
		t.Fatalf("check = %+v; want both pushed codes, and only those", u)
	}
}

// textNowRig is a TextNow simulator with n accounts (one number each) and
// a ledger file pools can be built over.
type textNowRig struct {
	h     *adapterstest.Harness
	sim   *textnow.Sim
	accts []textnow.Account
	store *ledger.SQLite
}

func newTextNowRig(t *testing.T, n int) *textNowRig {
	r := &textNowRig{}
	r.h = adapterstest.Serve(t, simulator.Config{Key: adapterstest.Key}, func(m *simulator.Market) fasthttp.RequestHandler {
		r.sim = textnow.NewSim(m)
		return r.sim.Handler()
	})
	for i := range n {
		user := fmt.Sprintf("user%d", i)
		r.h.Market.AddNumber(simulator.InboxNumber{Phone: adapterstest.PoolPhone(i), Country: "us", Account: user})
		r.accts = append(r.accts, textnow.Account{User: user, Cookie: adapterstest.Key})
	}
	r.store = openStore(t)
	return r
}

// pool is one gateway process's pool (a new one = a restarted process).
func (r *textNowRig) pool(t *testing.T) *pool.Pool {
	src, err := textnow.New(textnow.Options{BaseURL: r.h.Server.URL, Accounts: r.accts, Timeout: 2 * time.Second, MinGap: -1, Backoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Options{Code: "tn", Source: src, Store: r.store, Now: r.h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckAfterRestart: a process that never read the inventory (a
// restart, another instance) still reads a lease's number through its
// account, instead of taking it for gone.
func TestCheckAfterRestart(t *testing.T) {
	r := newTextNowRig(t, 2)
	pur := buy(t, r.pool(t), "tg")
	restarted := r.pool(t)
	r.h.Clock.Advance(5 * time.Second)
	r.h.Market.Inject(pur.Phone, "Telegram", "Telegram code: 24680")
	if u := check(t, restarted, pur.UpstreamID); u.State != adapters.StateCodeReceived || u.SMS[0].Code != "24680" {
		t.Fatalf("check in a fresh process = %+v; want the code", u)
	}
}

// TestThrottledAccountIsNotAnOutage: an account backing off (429) makes a
// buy try another number and a poll report nothing new; neither is an
// error that would count against the platform's breaker.
func TestThrottledAccountIsNotAnOutage(t *testing.T) {
	r := newTextNowRig(t, 2)
	p := r.pool(t)
	first := buy(t, p, "tg")
	n, _ := r.h.Market.Number(first.Phone)
	r.sim.Throttle(n.Account, 1)
	r.h.Clock.Advance(5 * time.Second)
	r.h.Market.Inject(first.Phone, "Telegram", "Telegram code: 13579")
	if u := check(t, p, first.UpstreamID); u.State != adapters.StateWaiting {
		t.Fatalf("check of a throttled account = %+v; want waiting, no error", u)
	}
	if err := p.Cancel(ctx, first.UpstreamID); err != nil {
		t.Fatal(err)
	}
	// Two free numbers, one of them backing off: every buy for wa gets the
	// other one or NO_NUMBERS, never an outage.
	got := buy(t, p, "wa")
	if got.Phone == first.Phone {
		t.Fatalf("bought the throttled account's number %s", got.Phone)
	}
	noNumbers(t, p, "wa")
}

// TestAnotherCodeAfterWhatTheClientHas: asking for another code moves past
// the codes the client has, not past one that arrived since and was not
// delivered yet.
func TestAnotherCodeAfterWhatTheClientHas(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool()
	pur := buy(t, p, "tg")
	r.clock.Advance(5 * time.Second)
	r.market.Inject(pur.Phone, "Telegram", "Telegram code: 11111")
	u := check(t, p, pur.UpstreamID)
	if len(u.SMS) != 1 {
		t.Fatalf("check = %+v", u)
	}
	delivered := u.SMS[0].ReceivedAt
	r.clock.Advance(5 * time.Second)
	r.market.Inject(pur.Phone, "Telegram", "Telegram code: 22222") // not polled yet
	if err := p.RequestAnotherAfter(ctx, pur.UpstreamID, delivered); err != nil {
		t.Fatal(err)
	}
	u = check(t, p, pur.UpstreamID)
	if len(u.SMS) != 1 || u.SMS[0].Code != "22222" {
		t.Fatalf("check after another = %+v; want 22222 only", u)
	}
}

// pushed delivers a Receive-SMS callback for phone to p.
func pushed(t *testing.T, p *pool.Pool, phone, text string) string {
	t.Helper()
	var req fasthttp.RequestCtx
	req.Request.SetRequestURI("/webhooks/receivesms?secret=s3cret&sender=Telegram&receiver=" + phone + "&message=" + url.QueryEscape(text))
	id, err := p.Callback(ctx, &req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLateCallbackOfAnEarlierSMS: a callback carries no time; one that
// arrives after the lease for an SMS that came before it is the previous
// holder's, and is not returned.
func TestLateCallbackOfAnEarlierSMS(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret"; o.CancelCooldown = time.Second })
	phone := adapterstest.PoolPhone(0)
	r.market.Inject(phone, "Telegram", "Telegram code: 11111") // its callback is late
	r.clock.Advance(10 * time.Second)
	pur := buy(t, p, "tg")
	r.clock.Advance(80 * time.Second) // the callback comes 90 s after the SMS
	pushed(t, p, phone, "Telegram code: 11111")
	if u := check(t, p, pur.UpstreamID); len(u.SMS) != 0 {
		t.Fatalf("check = %+v; the late callback of an earlier SMS was returned", u)
	}
	r.clock.Advance(time.Second)
	r.market.Inject(phone, "Telegram", "Telegram code: 33333")
	pushed(t, p, phone, "Telegram code: 33333")
	if u := check(t, p, pur.UpstreamID); len(u.SMS) != 1 || u.SMS[0].Code != "33333" {
		t.Fatalf("check = %+v; want 33333", u)
	}
}

// TestAnotherCodeWithTwoCopies: an SMS seen both by a fallback poll and,
// later, by its callback (two copies, two times) is one code: after
// "another", the late copy does not come back as the next code.
func TestAnotherCodeWithTwoCopies(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
	pur := buy(t, p, "tg")
	r.clock.Advance(5 * time.Second)
	r.market.Inject(pur.Phone, "Telegram", "Telegram code: 11111")
	r.clock.Advance(2 * time.Minute) // the fallback poll reads it before its callback comes
	u := check(t, p, pur.UpstreamID)
	if len(u.SMS) != 1 {
		t.Fatalf("check = %+v; want one code", u)
	}
	if err := p.RequestAnotherAfter(ctx, pur.UpstreamID, u.SMS[0].ReceivedAt); err != nil {
		t.Fatal(err)
	}
	pushed(t, p, pur.Phone, "Telegram code: 11111")
	if u := check(t, p, pur.UpstreamID); len(u.SMS) != 0 {
		t.Fatalf("check after another = %+v; the late copy came back as new", u)
	}
}

// TestSameTextAgainIsANewSMS: the service sending the identical text again,
// well after the first, is a new SMS after "another" (with callbacks on or
// off); only copies of one SMS, close in time, are merged.
func TestSameTextAgainIsANewSMS(t *testing.T) {
	for _, push := range []bool{false, true} {
		t.Run(fmt.Sprintf("callbacks=%v", push), func(t *testing.T) {
			r := newRig(t, 1)
			p := r.pool(func(o *pool.Options) {
				if push {
					o.WebhookSecret = "s3cret"
				}
			})
			pur := buy(t, p, "tg")
			r.clock.Advance(5 * time.Second)
			r.market.Inject(pur.Phone, "Telegram", "Telegram code: 11111")
			if push {
				pushed(t, p, pur.Phone, "Telegram code: 11111")
			}
			u := check(t, p, pur.UpstreamID)
			if len(u.SMS) != 1 {
				t.Fatalf("check = %+v; want one code", u)
			}
			if err := p.RequestAnotherAfter(ctx, pur.UpstreamID, u.SMS[0].ReceivedAt); err != nil {
				t.Fatal(err)
			}
			r.clock.Advance(3 * time.Minute)
			r.market.Inject(pur.Phone, "Telegram", "Telegram code: 11111")
			if push {
				pushed(t, p, pur.Phone, "Telegram code: 11111")
			}
			if u := check(t, p, pur.UpstreamID); len(u.SMS) != 1 || u.SMS[0].Code != "11111" {
				t.Fatalf("check after the resend = %+v; want the code again, once", u)
			}
		})
	}
}

// TestRestartWhileAnAccountLookupFails: a fresh process whose inventory
// read misses the lease's account (its lookup was throttled) does not take
// the number for gone: the order waits, and gets its code once the
// account answers again.
func TestRestartWhileAnAccountLookupFails(t *testing.T) {
	r := newTextNowRig(t, 2)
	pur := buy(t, r.pool(t), "tg")
	restarted := r.pool(t)
	n, _ := r.h.Market.Number(pur.Phone)
	r.sim.Throttle(n.Account, 1) // the fresh process's lookup of that account
	r.h.Clock.Advance(5 * time.Second)
	if u := check(t, restarted, pur.UpstreamID); u.State != adapters.StateWaiting {
		t.Fatalf("check while the account's lookup fails = %+v; want waiting", u)
	}
	r.h.Market.Inject(pur.Phone, "Telegram", "Telegram code: 97531")
	time.Sleep(100 * time.Millisecond) // the reader's backoff (wall clock) ends
	r.h.Clock.Advance(time.Minute)     // the inventory is read again
	if u := check(t, restarted, pur.UpstreamID); u.State != adapters.StateCodeReceived {
		t.Fatalf("check once the account answers = %+v; want the code", u)
	}
}

// TestThrottledNumbersAreSkipped: once a number's account is known to back
// off, purchases leave it out instead of leasing and releasing it each time.
func TestThrottledNumbersAreSkipped(t *testing.T) {
	r := newTextNowRig(t, 3)
	p := r.pool(t)
	r.sim.Throttle("user0", 1000)
	var last int64
	for i, svc := range []string{"tg", "wa", "go", "fb", "ig", "vk"} {
		pur := buy(t, p, svc)
		if pur.Phone == adapterstest.PoolPhone(0) {
			t.Fatalf("bought the throttled account's number")
		}
		id, _ := strconv.ParseInt(pur.UpstreamID, 10, 64)
		if i > 0 && id-last > 1 {
			t.Fatalf("lease ids %d then %d: the throttled number was leased and released again", last, id)
		}
		last = id
		if err := p.Cancel(ctx, pur.UpstreamID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCallbackWhileTheInventoryCannotBeRead: a process that does not know
// the number yet and cannot read the inventory answers the callback with an
// error (the upstream retries), not "not ours" (which drops the SMS).
func TestCallbackWhileTheInventoryCannotBeRead(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
	r.market.SetFaults(simulator.Faults{ErrorRate: 1})
	var req fasthttp.RequestCtx
	req.Request.SetRequestURI("/webhooks/receivesms?secret=s3cret&sender=Telegram&receiver=" + adapterstest.PoolPhone(0) + "&message=code+12345")
	if _, err := p.Callback(ctx, &req); err == nil || errors.Is(err, pool.ErrNotOurNumber) || !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("callback with the inventory unreadable = %v; want ErrUnavailable", err)
	}
}

// TestForeignCallbacksDoNotRereadTheInventory: the account calls back for
// rentals outside the pool too; each is "not ours" from the inventory as
// read, without reading it again.
func TestForeignCallbacksDoNotRereadTheInventory(t *testing.T) {
	r := newRig(t, 2)
	p := r.pool(func(o *pool.Options) {
		o.WebhookSecret = "s3cret"
		o.Only = map[string]string{adapterstest.PoolPhone(0): ""}
	})
	buy(t, p, "tg")
	before := r.market.Calls("numbers")
	for range 10 {
		r.clock.Advance(30 * time.Second)
		var req fasthttp.RequestCtx
		req.Request.SetRequestURI("/webhooks/receivesms?secret=s3cret&sender=x&receiver=" + adapterstest.PoolPhone(1) + "&message=code+12345")
		if _, err := p.Callback(ctx, &req); !errors.Is(err, pool.ErrNotOurNumber) {
			t.Fatalf("callback for a rental outside the pool = %v; want ErrNotOurNumber", err)
		}
	}
	if n := r.market.Calls("numbers") - before; n > 1 {
		t.Fatalf("%d inventory reads for 10 foreign callbacks over 5 minutes; want at most the one refresh", n)
	}
}

// TestGoneRentalAfterRestart: a process that never listed a rental (it was
// removed before this process read the inventory) still ends its order at
// once: the upstream says the number is not on the account.
func TestGoneRentalAfterRestart(t *testing.T) {
	r := newRig(t, 2)
	pur := buy(t, r.pool(), "tg")
	r.market.RemoveNumber(pur.Phone)
	if u := check(t, r.pool(), pur.UpstreamID); u.State != adapters.StateCancelled {
		t.Fatalf("check of a gone rental in a fresh process = %+v; want cancelled", u)
	}
}

// TestCopiesOfOneSMS: however its copies come — a repeated callback, a
// callback long after the SMS, a polled copy stamped after its pushed one —
// an SMS that is old (before the lease, or delivered before "another")
// never comes back as the next code.
func TestCopiesOfOneSMS(t *testing.T) {
	t.Run("repeated callback of an SMS before the lease", func(t *testing.T) {
		r := newRig(t, 1)
		p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
		phone := adapterstest.PoolPhone(0)
		r.market.Inject(phone, "Telegram", "Telegram code: 11111")
		pushed(t, p, phone, "Telegram code: 11111")
		r.clock.Advance(10 * time.Second)
		pur := buy(t, p, "tg")
		r.clock.Advance(20 * time.Second)
		pushed(t, p, phone, "Telegram code: 11111") // the upstream calls back again
		if u := check(t, p, pur.UpstreamID); len(u.SMS) != 0 {
			t.Fatalf("check = %+v; a repeated callback of an earlier SMS was returned", u)
		}
	})
	t.Run("callback 90 minutes late", func(t *testing.T) {
		r := newRig(t, 1)
		p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
		phone := adapterstest.PoolPhone(0)
		r.market.Inject(phone, "Telegram", "Telegram code: 11111")
		r.clock.Advance(80 * time.Minute)
		pur := buy(t, p, "tg")
		r.clock.Advance(10 * time.Minute)
		pushed(t, p, phone, "Telegram code: 11111")
		if u := check(t, p, pur.UpstreamID); len(u.SMS) != 0 {
			t.Fatalf("check = %+v; a callback 90 minutes late was returned", u)
		}
	})
	for _, tc := range []struct {
		name   string
		copies func(r *rig, p *pool.Pool, phone string)
	}{
		{"repeated callback after another", func(r *rig, p *pool.Pool, phone string) {
			r.clock.Advance(20 * time.Second)
			pushed(t, p, phone, "Telegram code: 11111")
		}},
		{"polled copy stamped after the pushed one", func(r *rig, p *pool.Pool, phone string) {
			// The upstream's clock runs 30 s ahead of ours: its copy is
			// stamped after the callback that was delivered.
			r.clock.Advance(30 * time.Second)
			r.market.Inject(phone, "Telegram", "Telegram code: 11111")
			r.clock.Advance(2 * time.Minute) // a fallback read stores it
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1)
			p := r.pool(func(o *pool.Options) { o.WebhookSecret = "s3cret" })
			pur := buy(t, p, "tg")
			r.clock.Advance(5 * time.Second)
			pushed(t, p, pur.Phone, "Telegram code: 11111")
			u := check(t, p, pur.UpstreamID)
			if len(u.SMS) != 1 {
				t.Fatalf("check = %+v; want the code", u)
			}
			if err := p.RequestAnotherAfter(ctx, pur.UpstreamID, u.SMS[0].ReceivedAt); err != nil {
				t.Fatal(err)
			}
			tc.copies(r, p, pur.Phone)
			if u := check(t, p, pur.UpstreamID); len(u.SMS) != 0 {
				t.Fatalf("check after another = %+v; the delivered code came back", u)
			}
		})
	}
}

// TestAttributionOverTheWire: for each of the 20 services, over the
// simulator on loopback, every other service's SMS and the unattributable
// ones reach the leased number first and are not the order's code; the
// service's own SMS is, with its code. With accept_unattributed, an SMS
// that names nobody is a code too, but another service's still is not.
func TestAttributionOverTheWire(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool()
	phone := adapterstest.PoolPhone(0)
	for i, svc := range simulator.TrafficServices {
		pur := buy(t, p, svc)
		r.clock.Advance(5 * time.Second)
		for j, other := range simulator.TrafficServices {
			if other != svc {
				from, text := simulator.ServiceSMS(other, "987654"[:4+j%3], i+j)
				r.market.Inject(phone, from, text)
			}
		}
		r.market.Inject(phone, "+14155550123", "Your verification code is 482913")
		r.market.Inject(phone, "Verify", "Your one-time passcode is 739102")
		if u := check(t, p, pur.UpstreamID); u.State != adapters.StateWaiting || len(u.SMS) != 0 {
			t.Fatalf("%s after other services' SMS: %+v; want waiting", svc, u)
		}
		code := "4231"
		if svc == "wa" || svc == "ig" {
			code = "423156"
		}
		from, text := simulator.ServiceSMS(svc, code, i)
		r.market.Inject(phone, from, text)
		u := check(t, p, pur.UpstreamID)
		if u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != code || u.SMS[0].Text != text {
			t.Fatalf("%s after its own SMS %q: %+v; want just %s", svc, text, u, code)
		}
		if err := p.Finish(ctx, pur.UpstreamID); err != nil {
			t.Fatal(err)
		}
	}

	open := r.pool(func(o *pool.Options) { o.AcceptUnattributed = true })
	pur := buy(t, open, "dr")
	r.clock.Advance(5 * time.Second)
	from, text := simulator.ServiceSMS("tg", "55555", 0)
	r.market.Inject(phone, from, text)
	if u := check(t, open, pur.UpstreamID); u.State != adapters.StateWaiting {
		t.Fatalf("accepting unattributed, Telegram's SMS to an OpenAI order: %+v; want waiting", u)
	}
	r.market.Inject(phone, "+14155550123", "Your verification code is 482913")
	if u := check(t, open, pur.UpstreamID); len(u.SMS) != 1 || u.SMS[0].Code != "482913" {
		t.Fatalf("accepting unattributed: %+v; want 482913", u)
	}
}

// TestCodeInTheSecondOfTheLease: upstream times are whole seconds, so a
// code that comes in the same second as an SMS the number had when it was
// handed out is stamped no later than that SMS. It is the lease's all the
// same; the earlier one still is not.
func TestCodeInTheSecondOfTheLease(t *testing.T) {
	r := newRig(t, 1)
	p := r.pool()
	phone := adapterstest.PoolPhone(0)
	r.clock.Advance(200 * time.Millisecond)
	r.market.Inject(phone, "Telegram", "Telegram code: 11111")
	r.clock.Advance(200 * time.Millisecond)
	pur := buy(t, p, "tg")
	r.clock.Advance(300 * time.Millisecond) // still the same second
	r.market.Inject(phone, "Telegram", "Telegram code: 22222")
	u := check(t, p, pur.UpstreamID)
	if u.State != adapters.StateCodeReceived || len(u.SMS) != 1 || u.SMS[0].Code != "22222" {
		t.Fatalf("check = %+v; want 22222 only", u)
	}
}
