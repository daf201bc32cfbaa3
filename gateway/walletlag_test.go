package gateway_test

import (
	"testing"

	"smsgate/config"
	"smsgate/gateway/orders"
)

// TestWalletLagAcrossInstances: a wallet tenant's legacy getBalance shows
// a purchase made through its own instance at once, and one made through
// another instance on the same ledger within orders.WalletLag; it never
// shows a figure the wallet did not hold.
func TestWalletLagAcrossInstances(t *testing.T) {
	c := newClusterDelay(t, 0, -1)
	walletTenants(&c.cfg)
	c.cfg.Admin.Key = config.Secret(adminKey)
	a, b := c.start("A"), c.start("B")
	a.e.fund("a", "10")
	c.clock.Advance(orders.WalletLag) // neither instance has read it before this
	before := b.e.legacyBalance(keyA)
	if before != 10_000_000 {
		t.Fatalf("B's getBalance after a top-up of 10 = %d micro-units", before)
	}

	a.e.buy(keyA, "service", "tg", "country", "187")
	after := a.e.legacyBalance(keyA)
	if after >= before {
		t.Fatalf("A's getBalance after A's purchase = %d; want less than %d at once", after, before)
	}
	if got := b.e.legacyBalance(keyA); got != before && got != after {
		t.Fatalf("B's getBalance within the lag = %d; want %d (its last read) or %d (now)", got, before, after)
	}
	c.clock.Advance(orders.WalletLag)
	if got := b.e.legacyBalance(keyA); got != after {
		t.Fatalf("B's getBalance %s after A's purchase = %d; want %d", orders.WalletLag, got, after)
	}
}
