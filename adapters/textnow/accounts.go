package textnow

import "time"

// Account states, for AccountState.State.
const (
	StateReady      = "ready"       // the number is known and the account answers
	StateUnknown    = "unknown"     // the number is not learned yet
	StateBackoff    = "backoff"     // TextNow answered 429; no call until Until
	StateNeedsLogin = "needs_login" // a 401/403 took the account out for good
)

// AccountState is what the reader knows of one account, for operators.
type AccountState struct {
	User, Phone, Country string
	State                string    // one of the State constants
	Until                time.Time // end of the backoff (StateBackoff)
	Reason               string    // why it needs a login ("http 401"); "" otherwise
}

// Accounts reports every account's state, in configuration order.
func (r *Reader) Accounts() []AccountState {
	now := time.Now()
	out := make([]AccountState, 0, len(r.accts))
	for _, a := range r.accts {
		a.mu.Lock()
		s := AccountState{User: a.user, Phone: a.phone, Country: a.country, State: StateReady}
		switch {
		case a.down != "":
			s.State, s.Reason = StateNeedsLogin, a.down
		case now.Before(a.backoffUntil):
			s.State, s.Until = StateBackoff, a.backoffUntil
		case a.phone == "":
			s.State = StateUnknown
		}
		a.mu.Unlock()
		out = append(out, s)
	}
	return out
}
