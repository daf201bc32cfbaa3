package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"

	"go.uber.org/zap"
)

// Bus carries wake-ups between instances sharing a ledger (RedisBus); a
// message names a tenant whose events changed, nothing more.
type Bus interface {
	// Publish tells the other instances that tenant has new events.
	Publish(ctx context.Context, msg string) error
	// Listen calls got for each message until ctx ends, and resync when
	// (re)subscribed: messages may have been missed before it.
	Listen(ctx context.Context, got func(msg string), resync func())
}

// Hub wakes the streams waiting for a tenant's next event. Each tenant
// (and "", any tenant) has a channel closed at its next event and a
// generation counted up at each; a stream takes the channel before it
// reads the ledger, so an event committed while it reads still wakes it.
// Idle streams cost a blocked goroutine each and nothing else: no timer
// per stream reads the ledger.
type Hub struct {
	bus  Bus // nil: this instance only
	log  *zap.Logger
	self string // this instance's tag on bus messages (its own are skipped)

	mu   sync.Mutex
	next map[string]chan struct{} // guarded by mu
	gen  map[string]uint64        // guarded by mu

	kick    chan struct{}   // a tenant was added to pending
	pendMu  sync.Mutex      // guards pending
	pending map[string]bool // tenants to announce on the bus
}

// NewHub returns a hub; with a bus, Run must run for other instances to
// hear of this one's events and it of theirs.
func NewHub(bus Bus, log *zap.Logger) *Hub {
	b := make([]byte, 6)
	rand.Read(b)
	return &Hub{bus: bus, log: log, self: hex.EncodeToString(b), next: map[string]chan struct{}{},
		gen: map[string]uint64{}, kick: make(chan struct{}, 1), pending: map[string]bool{}}
}

// Next is closed at tenant's next event ("" = any tenant's).
func (h *Hub) Next(tenant string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.next[tenant]
	if !ok {
		ch = make(chan struct{})
		h.next[tenant] = ch
	}
	return ch
}

// Gen is tenant's generation: it moves at each wake-up of the tenant.
func (h *Hub) Gen(tenant string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen[tenant]
}

// Committed is called after a local commit wrote tenant's events: local
// streams wake now, other instances' at the bus's pace.
func (h *Hub) Committed(tenant string) {
	h.wake(tenant)
	if h.bus == nil {
		return
	}
	h.pendMu.Lock()
	h.pending[tenant] = true
	h.pendMu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// wake wakes tenant's streams and the any-tenant ones.
func (h *Hub) wake(tenant string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen[tenant]++
	for _, k := range []string{tenant, ""} {
		if ch, ok := h.next[k]; ok {
			close(ch)
			delete(h.next, k)
		}
	}
}

// wakeAll wakes every stream: the bus may have missed messages.
func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t := range h.gen {
		h.gen[t]++
	}
	for k, ch := range h.next {
		close(ch)
		delete(h.next, k)
	}
}

// Run announces this instance's events on the bus (one goroutine,
// coalescing bursts: a tenant with ten events queued is announced once)
// and wakes streams on the others' announcements, until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	if h.bus == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.bus.Listen(ctx, h.heard, h.wakeAll)
	}()
	defer func() { <-done }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		h.pendMu.Lock()
		list := make([]string, 0, len(h.pending))
		for t := range h.pending {
			list = append(list, t)
		}
		clear(h.pending)
		h.pendMu.Unlock()
		for _, t := range list {
			if err := h.bus.Publish(ctx, h.self+"|"+t); err != nil && ctx.Err() == nil {
				h.log.Warn("cannot announce order events to other instances; their streams see them at the next event",
					zap.String("tenant", t), zap.Error(err))
			}
		}
	}
}

// heard wakes the tenant another instance announced.
func (h *Hub) heard(msg string) {
	from, tenant, ok := strings.Cut(msg, "|")
	if !ok || from == h.self {
		return
	}
	h.wake(tenant)
}
