package events

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"smsgate/ledger"
)

// Source is the ledger's event half (ledger.Store).
type Source interface {
	EventsAfter(ctx context.Context, tenant string, after int64, limit int) ([]ledger.Event, error)
	LastEvent(ctx context.Context, tenant string) (int64, error)
}

// Options tune the streams; zero values take the defaults.
type Options struct {
	Heartbeat    time.Duration // comment line on an idle stream; default 15s
	WriteTimeout time.Duration // one write to the client; default 10s
	Log          *zap.Logger
}

// page is how many events one ledger read returns.
const page = 256

// Streams serves Server-Sent Events. Each stream is fasthttp's body
// stream writer (a goroutine fasthttp owns, blocked on the Hub between
// events); Close ends them all and waits, before the server's shutdown
// waits for its connections to go idle.
type Streams struct {
	hub  *Hub
	src  Source
	opts Options
	open atomic.Int64

	mu     sync.Mutex // orders enter against Close
	closed bool       // guarded by mu
	wg     sync.WaitGroup
	done   chan struct{} // closed by Close
}

// NewStreams serves the events of src, woken by hub.
func NewStreams(hub *Hub, src Source, o Options) *Streams {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Streams{hub: hub, src: src, opts: o, done: make(chan struct{})}
}

// Open is the number of streams open now.
func (s *Streams) Open() int64 { return s.open.Load() }

// Close ends every stream and waits for them; new ones are refused.
// Safe to call more than once.
func (s *Streams) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Streams) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	s.open.Add(1)
	return true
}

func (s *Streams) leave() {
	s.open.Add(-1)
	s.wg.Done()
}

// Serve streams tenant's events with Seq > after: first those already
// in the ledger, then each as it is committed.
func (s *Streams) Serve(ctx *fasthttp.RequestCtx, tenant string, after int64) {
	s.start(ctx, func(w *sink) error { return s.tenantLoop(w, tenant, after) })
}

// ServeAll streams every tenant's events from now on (the dashboard's
// live feed): ids are "<tenant>:<seq>" and there is no resuming.
func (s *Streams) ServeAll(ctx *fasthttp.RequestCtx, tenants []string) {
	s.start(ctx, func(w *sink) error { return s.allLoop(w, tenants) })
}

// start answers with the stream and runs loop on fasthttp's stream
// writer. The server's write_timeout would end the response (the whole
// stream) after 10 s: it is switched off for this response, and each
// write gets its own deadline instead, so a client that stops reading is
// dropped but an idle one is not.
func (s *Streams) start(ctx *fasthttp.RequestCtx, loop func(*sink) error) {
	if !s.enter() {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("shutting down")
		return
	}
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	ctx.Response.ImmediateHeaderFlush = true
	_ = ctx.SetWriteDeadline(time.Time{})
	conn := ctx.Conn()
	ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		defer s.leave()
		w := &sink{bw: bw, conn: conn, timeout: s.opts.WriteTimeout}
		_ = loop(w)
		w.deadline() // for the response's last chunk
	})
}

// tenantLoop writes tenant's events after after, then waits for more.
func (s *Streams) tenantLoop(w *sink, tenant string, after int64) error {
	w.line("retry: 2000")
	w.comment("order events of " + tenant)
	if err := w.flush(); err != nil {
		return err
	}
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	read := true
	for {
		next := s.hub.Next(tenant) // before the read: a commit during it still wakes us
		if read {
			var err error
			if after, read, err = s.catchUp(w, tenant, after, strconv.FormatInt); err != nil {
				return err
			}
		}
		if stop, err := s.wait(w, next, hb.C, &read); stop || err != nil {
			return err
		}
	}
}

// allLoop writes every tenant's events from now on.
func (s *Streams) allLoop(w *sink, tenants []string) error {
	cursor := make(map[string]int64, len(tenants))
	gen := make(map[string]uint64, len(tenants))
	for _, t := range tenants {
		gen[t] = s.hub.Gen(t)
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		n, err := s.src.LastEvent(ctx, t)
		cancel()
		if err != nil {
			s.opts.Log.Warn("event stream cannot read the ledger", zap.String("tenant", t), zap.Error(err))
		}
		cursor[t] = n
	}
	// The first block says the stream is listening: what the client reads
	// of the ledger from now on is not missed (the dashboard loads its
	// list then).
	w.comment("order events of every tenant")
	if err := w.flush(); err != nil {
		return err
	}
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	read := true // an event between the generations and LastEvent above
	for {
		next := s.hub.Next("")
		if read {
			read = false
			for _, t := range tenants {
				g := s.hub.Gen(t)
				if g == gen[t] {
					continue // nothing new for t: no query
				}
				id := func(seq int64, _ int) string { return t + ":" + strconv.FormatInt(seq, 10) }
				after, failed, err := s.catchUp(w, t, cursor[t], id)
				if err != nil {
					return err
				}
				cursor[t] = after
				if !failed {
					gen[t] = g
				}
				read = read || failed
			}
		}
		if stop, err := s.wait(w, next, hb.C, &read); stop || err != nil {
			return err
		}
	}
}

// catchUp writes tenant's events after after and flushes; it returns the
// new cursor and whether the ledger could not be read (try again later).
func (s *Streams) catchUp(w *sink, tenant string, after int64, id func(int64, int) string) (int64, bool, error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
		evs, err := s.src.EventsAfter(ctx, tenant, after, page)
		cancel()
		if err != nil {
			s.opts.Log.Warn("event stream cannot read the ledger; retrying at the next heartbeat",
				zap.String("tenant", tenant), zap.Error(err))
			return after, true, w.flush()
		}
		for _, e := range evs {
			w.event(id(e.Seq, 10), e)
			after = e.Seq
		}
		if err := w.flush(); err != nil {
			return after, false, err
		}
		if len(evs) < page {
			return after, false, nil
		}
	}
}

// wait blocks until the next wake-up (*read = true), a heartbeat (sent;
// *read stays as it is: a failed read is retried then), or Close (stop).
func (s *Streams) wait(w *sink, next <-chan struct{}, hb <-chan time.Time, read *bool) (stop bool, err error) {
	if *read {
		// The last read failed: wait for a heartbeat before retrying.
		select {
		case <-s.done:
			return true, nil
		case <-hb:
			w.comment("heartbeat")
			return false, w.flush()
		}
	}
	for {
		select {
		case <-s.done:
			return true, nil
		case <-next:
			*read = true
			return false, nil
		case <-hb:
			w.comment("heartbeat")
			if err := w.flush(); err != nil {
				return false, err
			}
		}
	}
}

// sink writes SSE lines to fasthttp's stream writer.
type sink struct {
	bw      *bufio.Writer
	conn    net.Conn
	timeout time.Duration
	err     error
}

func (w *sink) line(s string) {
	if w.err == nil {
		_, w.err = w.bw.WriteString(s + "\n")
	}
}

func (w *sink) comment(s string) { w.line(": " + s + "\n") }

// event writes one event: its id, its kind as the SSE event name, its
// JSON view as data (one line: JSON escapes newlines).
func (w *sink) event(id string, e ledger.Event) {
	w.line("id: " + id)
	w.line("event: " + string(e.Kind))
	w.line("data: " + string(JSON(e)) + "\n")
}

// flush sends what is buffered within the write timeout.
func (w *sink) flush() error {
	if w.err != nil {
		return w.err
	}
	w.deadline()
	w.err = w.bw.Flush()
	return w.err
}

func (w *sink) deadline() {
	if w.conn != nil {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}
