// Package outbox runs the side effects the ledger owes: cancels, finishes,
// retry requests and bans a platform could not take when they were
// decided, cancels of numbers bought but never recorded, and (a second
// worker, in per-tenant lanes: lanes.go) webhook deliveries. Each is an ledger action row written in the same
// transaction as the change that owes it; the worker leases due rows, runs
// them, and records done, final (the far side answered that it will not),
// or a retry after a backoff with jitter, until the row's give-up time
// (then an alert). Nothing waits in memory: after a crash the next worker
// — this instance restarted, or another sharing the ledger — leases the
// rows again when their lease runs out.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"smsgate/gateway/lifetime"
	"smsgate/ledger"
)

// Store is the ledger's outbox (ledger.Store).
type Store interface {
	LeaseActions(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, kinds ...ledger.ActionKind) ([]ledger.Action, error)
	SettleAction(ctx context.Context, owner string, a ledger.Action) error
}

// Runner runs one action: nil when done, an error wrapped by Final when
// the far side answered definitively, any other error to try again.
type Runner func(ctx context.Context, a ledger.Action) error

// Metrics counts outcomes (ops.Metrics).
type Metrics interface {
	Action(kind, result string)
}

// Alerts reports given-up actions (ops.Alerter).
type Alerts interface {
	Raise(kind, platform, msg string)
}

// finalError marks a definitive answer.
type finalError struct{ err error }

func (f finalError) Error() string { return f.err.Error() }
func (f finalError) Unwrap() error { return f.err }

// Final marks err as a definitive answer: the action is not retried.
func Final(err error) error { return finalError{err} }

// IsFinal reports whether err was marked by Final.
func IsFinal(err error) bool { var f finalError; return errors.As(err, &f) }

// Options tune a Worker; zero values take the defaults.
type Options struct {
	Tick       time.Duration // how often due actions are looked for; default 1s
	Lease      time.Duration // how long a leased action is ours; default 2m
	MinBackoff time.Duration // the first retry's pause; default 2s
	MaxBackoff time.Duration // the longest pause; default 5m
	Batch      int           // actions leased per round; default 64
	// Kinds: only actions of these kinds are leased; empty = every kind.
	Kinds []ledger.ActionKind
	// GiveUpAfter gives up an action with no GiveUpAt this long after its
	// CreatedAt; 0 = such an action is retried for ever.
	GiveUpAfter time.Duration
	// Lanes runs each tenant's actions on a lane of its own (lanes.go): a
	// tenant whose far side hangs delays only itself. Off: one after
	// another in the round.
	Lanes bool
	// LaneDepth bounds the actions waiting in one tenant's lane; the rest
	// are handed back to the ledger for later; default 16.
	LaneDepth int
	// Name is the worker's name in its lease owner and logs; default "outbox".
	Name string
}

// Worker runs due actions.
type Worker struct {
	store   Store
	run     Runner
	now     func() time.Time
	random  func() float64 // in [0,1): jitter
	log     *zap.Logger
	metrics Metrics
	alerts  Alerts
	opts    Options
	owner   string
	wakeCh  chan struct{}
	lanes   *lanes // nil unless Options.Lanes
}

// New returns a worker; Start runs it.
func New(store Store, run Runner, now func() time.Time, random func() float64, log *zap.Logger, m Metrics, a Alerts, o Options) *Worker {
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 2 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Minute, o.MinBackoff)
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.LaneDepth <= 0 {
		o.LaneDepth = 16
	}
	if o.Name == "" {
		o.Name = "outbox"
	}
	b := make([]byte, 8)
	rand.Read(b)
	w := &Worker{store: store, run: run, now: now, random: random, log: log, metrics: m, alerts: a, opts: o,
		owner: o.Name + "-" + hex.EncodeToString(b), wakeCh: make(chan struct{}, 1)}
	if o.Lanes {
		w.lanes = newLanes(w)
	}
	return w
}

// Wake makes the worker look for due actions now (one was just queued).
func (w *Worker) Wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// Start runs the worker in g until g stops (lanes are g's goroutines too).
func (w *Worker) Start(g *lifetime.Group) {
	if w.lanes != nil {
		w.lanes.g = g
	}
	g.Go(func(ctx context.Context) {
		t := time.NewTicker(w.opts.Tick)
		defer t.Stop()
		for {
			for w.Round(ctx) == w.opts.Batch && ctx.Err() == nil {
				// a full batch: more may be due
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-w.wakeCh:
			}
		}
	})
}

// Round leases the due actions and runs them one after another (with
// Lanes: hands them to their tenants' lanes and returns); it returns how
// many it leased. Actions run in order of due time; one slow upstream
// delays the round, never another instance's rows.
func (w *Worker) Round(ctx context.Context) int {
	now := w.now().UTC()
	due, err := w.store.LeaseActions(ctx, w.owner, now, w.opts.Lease, w.opts.Batch, w.opts.Kinds...)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("outbox cannot lease actions", zap.String("worker", w.opts.Name), zap.Error(err))
		}
		return 0
	}
	if w.lanes != nil {
		w.lanes.dispatch(ctx, due, now)
		return len(due)
	}
	for _, a := range due {
		if ctx.Err() != nil {
			break // the lease runs out and the rows are leased again
		}
		w.runOne(ctx, a)
	}
	return len(due)
}

// runOne runs a and records its outcome.
func (w *Worker) runOne(ctx context.Context, a ledger.Action) {
	err := w.run(ctx, a)
	if err != nil && ctx.Err() != nil {
		return // stopping: not an attempt
	}
	now := w.now().UTC()
	if a.GiveUpAt.IsZero() && w.opts.GiveUpAfter > 0 {
		a.GiveUpAt = a.CreatedAt.Add(w.opts.GiveUpAfter)
	}
	var later laterError
	if errors.As(err, &later) {
		// Not an attempt: the action could not run yet.
		a.LastError, a.UpdatedAt = err.Error(), now
		a.NextAt = now.Add(w.waitFor(a, now))
		w.settle(ctx, a, "later")
		return
	}
	a.Attempts++
	a.UpdatedAt = now
	result := ""
	switch {
	case err == nil:
		a.State, a.LastError, result = ledger.ActionDone, "", "done"
	case IsFinal(err):
		a.State, a.LastError, result = ledger.ActionFinal, err.Error(), "final"
	case !a.GiveUpAt.IsZero() && !now.Before(a.GiveUpAt):
		a.State, a.LastError, result = ledger.ActionGaveUp, err.Error(), "gave_up"
	default:
		a.LastError, result = err.Error(), "retry"
		a.NextAt = now.Add(w.backoff(a.Attempts))
	}
	if !w.settle(ctx, a, result) {
		return
	}
	switch result {
	case "gave_up":
		w.log.Error("outbox action given up", zap.Int64("action", a.ID), zap.String("kind", string(a.Kind)),
			zap.String("platform", a.Platform), zap.Int64("order", a.OrderID), zap.Error(err))
		w.alerts.Raise("action_gave_up", a.Platform, fmt.Sprintf("%s of order %d given up after %d attempts: %s",
			a.Kind, a.OrderID, a.Attempts, a.LastError))
	case "retry":
		w.log.Debug("outbox action will retry", zap.Int64("action", a.ID), zap.String("kind", string(a.Kind)),
			zap.Time("next", a.NextAt), zap.Error(err))
	}
}

// settle records a's outcome and counts it; false when it could not be
// written (the lease runs out and the action runs again).
func (w *Worker) settle(ctx context.Context, a ledger.Action, result string) bool {
	if serr := w.store.SettleAction(context.WithoutCancel(ctx), w.owner, a); serr != nil {
		w.log.Warn("outbox cannot record an action's outcome; it will run again", zap.Int64("action", a.ID), zap.Error(serr))
		return false
	}
	w.metrics.Action(string(a.Kind), result)
	return true
}

// laterError marks an action that could not run yet (an earlier one must
// go first): not an attempt.
type laterError struct{ err error }

func (l laterError) Error() string { return l.err.Error() }
func (l laterError) Unwrap() error { return l.err }

// Later marks err as "not yet": the action is tried again after a pause
// that grows with its age (a quarter of it, within MinBackoff and
// MaxBackoff), without counting an attempt.
func Later(err error) error { return laterError{err} }

// waitFor is the pause before an action that could not run yet is tried
// again: a quarter of its age, so an action held up for long is not
// re-read every few seconds, and one held up briefly goes soon after
// what held it up.
func (w *Worker) waitFor(a ledger.Action, now time.Time) time.Duration {
	return min(max(now.Sub(a.CreatedAt)/4, w.opts.MinBackoff), w.opts.MaxBackoff)
}

// backoff is the pause after the n-th failed attempt: doubling from
// MinBackoff up to MaxBackoff, times a jitter in [0.5, 1.5) so actions
// queued together by one outage do not retry in lockstep.
func (w *Worker) backoff(n int) time.Duration {
	d := w.opts.MinBackoff
	for i := 1; i < n && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	return time.Duration(float64(d) * (0.5 + w.random()))
}
