package market

import "testing"

// TestBalanceBook: reservations hold money back from concurrent buyers, a
// read that raced a purchase errs low, NO_BALANCE empties until the next
// read, and an unknown balance lets the platform decide.
func TestBalanceBook(t *testing.T) {
	var b BalanceBook
	if !b.Reserve("p", 500, false) {
		t.Fatal("unknown balance refused a reservation")
	}
	b.Release("p", 500)
	if _, known := b.Available("p"); known {
		t.Fatal("known before any read")
	}

	since := b.Spent("p")
	b.Debit("p", 300)        // a purchase sold while the read was on its way
	b.Read("p", 1000, since) // the read may or may not include it
	if got, _ := b.Available("p"); got != 700 {
		t.Fatalf("after a racing read: %d; want 700 (the purchase counted, not the doubt)", got)
	}
	if !b.Reserve("p", 400, false) || b.Reserve("p", 400, false) {
		t.Fatal("700 left: one 400 reservation fits, a second does not")
	}
	if !b.Reserve("p", 400, true) {
		t.Fatal("a forced reservation was refused")
	}
	b.Release("p", 400)
	b.Debit("p", 400)
	b.Release("p", 400)
	if got, _ := b.Available("p"); got != 300 {
		t.Fatalf("after selling 400: %d; want 300", got)
	}
	b.Credit("p", 400)
	if got, _ := b.Available("p"); got != 700 {
		t.Fatalf("after a refund of 400: %d; want 700", got)
	}
	b.Empty("p")
	if b.Reserve("p", 0, false) {
		t.Fatal("NO_BALANCE platform took a reservation of unknown cost")
	}
	b.Read("p", 5000, b.Spent("p"))
	if got, known := b.Available("p"); !known || got != 5000 {
		t.Fatalf("after the next read: %d known %v; want 5000", got, known)
	}
}
