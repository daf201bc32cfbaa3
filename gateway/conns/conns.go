// Package conns guards the gateway's listener so that no client can stop
// the server: it caps open connections in total and per client IP, and it
// rides out temporary accept errors (EMFILE, ENFILE, ECONNABORTED…) with a
// backoff instead of handing them to fasthttp, whose Serve returns on any
// accept error it does not know as a timeout, ending the process.
package conns

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are the limits and the hooks that report what the listener did.
// The zero value has no limits and reports nothing.
type Options struct {
	// MaxConns caps open connections in total; 0 = no cap. A connection
	// over the cap is closed at once, before any byte is read.
	MaxConns int
	// MaxConnsPerIP caps open connections from one client IP; 0 = no cap.
	// It keeps one client from taking the whole MaxConns.
	MaxConnsPerIP int
	// OnAcceptError is called for each temporary accept error; first is
	// true for the first error of a burst (errors with no successful accept
	// between them), so a caller can log once per burst and count each.
	OnAcceptError func(err error, first bool)
	// OnBurstEnd is called at the first successful accept after a burst,
	// with the number of errors in it.
	OnBurstEnd func(errors int)
	// OnReject is called for each connection closed over a limit, with
	// the limit's name: "max_conns" or "max_conns_per_ip".
	OnReject func(limit string)
	// DeadlineTick, when positive, makes connection deadlines coarse
	// (deadlines.go): recorded on each set, put into force by a watchdog
	// every tick, so a deadline fires up to one tick late. 0 = every
	// deadline goes to the socket as it is set.
	DeadlineTick time.Duration
}

// Backoff bounds: the same as net/http's Server.Serve.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Listener is a net.Listener with connection limits and accept backoff.
type Listener struct {
	net.Listener
	opts Options

	mu    sync.Mutex
	open  int            // guarded by mu
	perIP map[string]int // guarded by mu; entries removed at zero

	closed    chan struct{} // closed by Close: ends a backoff wait and the watchdog
	closeOnce sync.Once

	tick      time.Duration      // Options.DeadlineTick
	live      map[*conn]struct{} // open connections the watchdog looks after; guarded by mu
	watching  bool               // the watchdog runs; guarded by mu
	watchDone chan struct{}      // closed when the watchdog has stopped (nil: none)
	burst     int                // errors in the current burst; only the Accept goroutine touches it
	openGauge atomic.Int64
}

// Wrap guards ln with o.
func Wrap(ln net.Listener, o Options) *Listener {
	l := &Listener{Listener: ln, opts: o, perIP: map[string]int{}, closed: make(chan struct{}), tick: max(o.DeadlineTick, 0)}
	if l.tick > 0 {
		l.live, l.watching, l.watchDone = map[*conn]struct{}{}, true, make(chan struct{})
		go l.watch()
	}
	return l
}

// Accept returns the next connection within the limits. Temporary errors
// are retried after a backoff (5 ms doubling to 1 s); a closed listener
// answers net.ErrClosed. Like net.Listener, it is meant for one caller at
// a time (fasthttp's Serve loop).
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			if !Temporary(err) {
				return nil, err
			}
			l.burst++
			if l.opts.OnAcceptError != nil {
				l.opts.OnAcceptError(err, l.burst == 1)
			}
			delay = min(max(2*delay, minBackoff), maxBackoff)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		if l.burst > 0 {
			if l.opts.OnBurstEnd != nil {
				l.opts.OnBurstEnd(l.burst)
			}
			l.burst, delay = 0, 0
		}
		ip := hostOf(c.RemoteAddr())
		cc := &conn{Conn: c, l: l, ip: ip}
		if limit := l.admit(cc); limit != "" {
			// Closed before reading anything: the client sees a reset or
			// EOF at once, and the connections already served are untouched.
			_ = c.Close()
			if l.opts.OnReject != nil {
				l.opts.OnReject(limit)
			}
			continue
		}
		return cc, nil
	}
}

// Close stops Accept, including one waiting out a backoff, and the
// deadline watchdog (connections still open then keep their deadlines on
// their sockets).
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	err := l.Listener.Close()
	if l.watchDone != nil {
		<-l.watchDone
	}
	return err
}

// Open is the number of connections open now.
func (l *Listener) Open() int64 { return l.openGauge.Load() }

// admit counts c, a new connection, or names the limit it is over.
func (l *Listener) admit(c *conn) string {
	ip := c.ip
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.MaxConns > 0 && l.open >= l.opts.MaxConns {
		return "max_conns"
	}
	if l.opts.MaxConnsPerIP > 0 && l.perIP[ip] >= l.opts.MaxConnsPerIP {
		return "max_conns_per_ip"
	}
	l.open++
	l.perIP[ip]++
	l.openGauge.Store(int64(l.open))
	switch {
	case l.watching:
		l.live[c] = struct{}{}
	case l.tick > 0:
		c.dl.direct = true // accepted after the watchdog stopped
	}
	return ""
}

func (l *Listener) release(c *conn) {
	ip := c.ip
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.live, c)
	l.open--
	if n := l.perIP[ip] - 1; n > 0 {
		l.perIP[ip] = n
	} else {
		delete(l.perIP, ip)
	}
	l.openGauge.Store(int64(l.open))
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l      *Listener
	ip     string
	closed atomic.Bool
	dl     deadlines // with coarse deadlines (deadlines.go)
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c)
	}
	return c.Conn.Close()
}

// hostOf is the IP of a remote address ("" when it has none, as with an
// in-memory listener: such connections share one per-IP count).
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// Temporary reports whether an accept error is worth waiting out: the
// process or system is out of descriptors or buffers, or one pending
// connection died before it was accepted.
func Temporary(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ECONNRESET,
		syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}
