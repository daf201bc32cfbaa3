package orders

import (
	"context"
	"errors"
	"fmt"

	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// ErrNoWallet: the tenant is in operator mode (no wallet = true).
var ErrNoWallet = errors.New("tenant has no wallet")

// Wallet returns a wallet tenant's wallet; one never topped up is empty
// in the tenant's currency.
func (g *Service) Wallet(ctx context.Context, t *tenant.Tenant) (ledger.Wallet, error) {
	if !t.Wallet {
		return ledger.Wallet{}, fmt.Errorf("tenant %s: %w", t.Name, ErrNoWallet)
	}
	w, err := g.store.Wallet(ctx, t.Name)
	if errors.Is(err, ledger.ErrNotFound) {
		return ledger.Wallet{Tenant: t.Name, Currency: t.Currency}, nil
	}
	if err != nil {
		return ledger.Wallet{}, fmt.Errorf("cannot read wallet of %s: %w", t.Name, err)
	}
	return w, nil
}

// Fund moves amount (micro-units of the tenant's currency) into a wallet
// tenant's wallet: a top-up when positive, an adjustment down when
// negative (never below what is reserved: ErrInsufficientFunds).
func (g *Service) Fund(ctx context.Context, t *tenant.Tenant, amount int64, note string) (ledger.Wallet, error) {
	if !t.Wallet {
		return ledger.Wallet{}, fmt.Errorf("tenant %s: %w", t.Name, ErrNoWallet)
	}
	kind := ledger.EntryTopup
	if amount < 0 {
		kind = ledger.EntryAdjust
	}
	w, err := g.store.AdjustWallet(ctx, t.Name, t.Currency, kind, amount, note, g.now().UTC())
	g.wallets.moved(t.Name)
	if err != nil {
		return ledger.Wallet{}, fmt.Errorf("cannot fund wallet of %s: %w", t.Name, err)
	}
	return w, nil
}

// Journal is a page of the tenant's wallet journal, newest first: rows
// with id below before (0 = from the newest), at most limit.
func (g *Service) Journal(ctx context.Context, t *tenant.Tenant, before int64, limit int) ([]ledger.Entry, error) {
	if !t.Wallet {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, ErrNoWallet)
	}
	j, err := g.store.Journal(ctx, t.Name, before, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read journal of %s: %w", t.Name, err)
	}
	return j, nil
}

// Actions lists what the outbox owes (or owed) for an order, oldest first.
func (g *Service) Actions(ctx context.Context, id int64) ([]ledger.Action, error) {
	a, err := g.store.Actions(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cannot list actions of order %d: %w", id, err)
	}
	return a, nil
}
