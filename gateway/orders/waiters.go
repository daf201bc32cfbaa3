package orders

import (
	"context"
	"sync"
	"time"
)

// waiters wakes long-polling clients (unified getSmsCode) when the poller
// records news for their order. In-process only: with several instances a
// waiter also re-reads the ledger at a short interval.
type waiters struct {
	mu sync.Mutex
	m  map[int64][]chan struct{} // guarded by mu
}

func (w *waiters) add(id int64) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.m == nil {
		w.m = map[int64][]chan struct{}{}
	}
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(id int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = list
	}
}

func (w *waiters) notify(id int64) {
	w.mu.Lock()
	list := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
}

// Notify wakes the order's waiters.
// Notify wakes the clients waiting on the order.
func (g *Service) Notify(id int64) { g.waiters.notify(id) }

// WaitChange blocks until the order may have changed (a notification, or
// recheck passed) or ctx ends; it reports false when ctx ended.
func (g *Service) WaitChange(ctx context.Context, id int64, recheck time.Duration) bool {
	ch := g.waiters.add(id)
	defer g.waiters.remove(id, ch)
	t := time.NewTimer(recheck)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
