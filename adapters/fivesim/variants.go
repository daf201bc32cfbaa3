package fivesim

// The readings of 5SIM's protocol that the simulator can take, for tests
// that hold the client to each.

// SkinOptions pick between readings of the protocol that the protocols
// file leaves open. The zero value is the default reading.
type SkinOptions struct {
	// ErrorStatus is the HTTP status of error bodies: 400 by default (what
	// newer integrations see); 200 is what older clients saw.
	ErrorStatus int
	// NoCancelGuard drops the early-cancel guard. By default a cancel
	// inside the market's guard is answered "you need to wait time", a
	// string seen in the wild whose delay nobody documented.
	NoCancelGuard bool
	// MaxSMS caps the SMS one order receives; default 2. 5SIM has no "send
	// another code" call: the target service resends when the user asks it
	// to, and the SMS joins the open order. The simulator cannot see that
	// ask, so after an order's code has been read it lets one more SMS
	// arrive, up to this cap.
	MaxSMS int
}
