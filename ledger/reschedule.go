package ledger

import (
	"context"
	"fmt"
	"slices"
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
	n, err := s.moveDue(ctx, "?", "", []any{toMillis(next), toMillis(asOf)}, ids)
	if err != nil {
		return 0, fmt.Errorf("cannot reschedule %d orders: %w", len(ids), err)
	}
	return n, nil
}

// moveDue sets next_poll_at to to (SQL: a placeholder or a column) on the
// orders of ids still active and due by asOf, with cond (SQL, "" for
// none) also true; args bind to's placeholder if any, asOf, then cond's.
// On a shared ledger it also ends this instance's lease on them.
func (s *store) moveDue(ctx context.Context, to, cond string, args []any, ids []int64) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.calls.Done()
	if len(ids) == 0 {
		return 0, nil
	}
	var b strings.Builder
	b.WriteString("UPDATE orders SET next_poll_at = " + to + s.d.releaseLease() +
		" WHERE state IN " + activeStatesSQL + " AND next_poll_at <= ?" + cond + " AND id IN (")
	args = append(slices.Clip(args), make([]any, 0, len(ids))...)
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
		return 0, err
	}
	return res.RowsAffected()
}
