package gateway

import "testing"

// TestBalanceBook: reservations hold money back from concurrent buyers, a
// read that raced a purchase errs low, NO_BALANCE empties until the next
// read, and an unknown balance lets the platform decide.
func TestBalanceBook(t *testing.T) {
	var b balanceBook
	if !b.reserve("p", 500, false) {
		t.Fatal("unknown balance refused a reservation")
	}
	b.release("p", 500)
	if _, known := b.available("p"); known {
		t.Fatal("known before any read")
	}

	since := b.spent("p")
	b.debit("p", 300)        // a purchase sold while the read was on its way
	b.read("p", 1000, since) // the read may or may not include it
	if got, _ := b.available("p"); got != 700 {
		t.Fatalf("after a racing read: %d; want 700 (the purchase counted, not the doubt)", got)
	}
	if !b.reserve("p", 400, false) || b.reserve("p", 400, false) {
		t.Fatal("700 left: one 400 reservation fits, a second does not")
	}
	if !b.reserve("p", 400, true) {
		t.Fatal("a forced reservation was refused")
	}
	b.release("p", 400)
	b.debit("p", 400)
	b.release("p", 400)
	if got, _ := b.available("p"); got != 300 {
		t.Fatalf("after selling 400: %d; want 300", got)
	}
	b.credit("p", 400)
	if got, _ := b.available("p"); got != 700 {
		t.Fatalf("after a refund of 400: %d; want 700", got)
	}
	b.empty("p")
	if b.reserve("p", 0, false) {
		t.Fatal("NO_BALANCE platform took a reservation of unknown cost")
	}
	b.read("p", 5000, b.spent("p"))
	if got, known := b.available("p"); !known || got != 5000 {
		t.Fatalf("after the next read: %d known %v; want 5000", got, known)
	}
}
