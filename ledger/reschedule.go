package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Rescheduler moves the next poll of many orders in one statement: a list
// poll that found them unchanged owes the ledger no write per order.
type Rescheduler interface {
	// Reschedule sets NextPollAt to next for the orders of ids that are
	// still active and still due at asOf (NextPollAt <= asOf: a writer that
	// moved one since, such as a code arriving, keeps its own time), and
	// releases Claim's lease on them. It changes no other field, not even
	// Version, so a writer holding the order keeps its version. It reports
	// how many orders it moved.
	Reschedule(ctx context.Context, ids []int64, next, asOf time.Time) (int64, error)
	// Backstop is Reschedule with each order's own ExpiresAt as its next
	// poll: a list poller that watches an order through its platform's
	// list rounds needs no poll of its own until its lifetime ends. An
	// order whose ExpiresAt is not after asOf is left as it is.
	Backstop(ctx context.Context, ids []int64, asOf time.Time) (int64, error)
}

var _ Rescheduler = (*store)(nil)

// Reschedule implements Rescheduler.
func (s *store) Reschedule(ctx context.Context, ids []int64, next, asOf time.Time) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, fmt.Errorf("cannot reschedule orders: %w", err)
	}
	defer s.calls.Done()
	if len(ids) == 0 {
		return 0, nil
	}
	var b strings.Builder
	b.WriteString("UPDATE orders SET next_poll_at = ?" + s.d.releaseLease() +
		" WHERE state IN " + activeStatesSQL + " AND next_poll_at <= ? AND id IN (")
	args := make([]any, 0, len(ids)+2)
	args = append(args, toMillis(next), toMillis(asOf))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
		args = append(args, id)
	}
	b.WriteByte(')')
	res, err := s.w.ExecContext(ctx, bindAll(s.d, b.String()), args...)
	if err != nil {
		return 0, fmt.Errorf("cannot reschedule %d orders: %w", len(ids), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cannot reschedule %d orders: %w", len(ids), err)
	}
	return n, nil
}
