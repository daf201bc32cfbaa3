// Package lifetime owns background goroutines: each is started with a
// context that ends when its owner stops, and the owner's Stop waits for
// every one of them. Waits between retries are timers selected against
// that context, never a sleep that outlives a shutdown.
package lifetime

import (
	"context"
	"sync"
	"time"
)

// Group is the owner of a set of goroutines. The zero value is not
// usable; call NewGroup.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // orders Go against Stop: no Add after Wait began
	stopped bool       // guarded by mu
	wg      sync.WaitGroup
}

// NewGroup returns a running group whose context ends at Stop.
func NewGroup() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Context ends when the group stops.
func (g *Group) Context() context.Context { return g.ctx }

// Go runs f on a new goroutine with the group's context. After Stop it
// runs nothing and reports false: work offered during a shutdown is
// dropped, as it would be by the process exiting.
func (g *Group) Go(f func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
	return true
}

// Every runs f every d (first after d) on a goroutine of the group,
// until it stops.
func (g *Group) Every(d time.Duration, f func(ctx context.Context)) bool {
	return g.Go(func(ctx context.Context) {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f(ctx)
			}
		}
	})
}

// StopWith makes the group stop (its context end) when parent ends; the
// returned func undoes that. Stop must still be called to wait.
func (g *Group) StopWith(parent context.Context) (undo func() bool) {
	return context.AfterFunc(parent, g.cancel)
}

// Stop ends the group's context and waits for every goroutine it started.
// Safe to call more than once.
func (g *Group) Stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

// Sleep waits d or until ctx ends, whichever is first, and reports
// whether the full wait elapsed (false: give up, ctx ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
