package conns

import (
	"net"
	"sync"
	"time"
)

// Coarse deadlines. fasthttp sets up to three deadlines on a connection per
// request (the keep-alive wait, the header read, the response write), and
// each one resets a runtime timer: a lock and a sift of the timer heap,
// about a fifth of what the gateway spends on a cached getStatus beyond a
// bare server (measured in bench reads). With Options.DeadlineTick set, a
// connection only records the deadlines it is given, and one watchdog
// goroutine per listener looks at every open connection each tick and
// puts a deadline that has passed into force on the socket (a deadline
// in the past, so a blocked Read or Write returns a timeout error exactly
// as with a real one). A deadline may fire up to one tick late, never
// early: with timeouts of seconds and a tick of 100 ms, nothing a client
// does can hold a connection meaningfully longer than configured.

// pastDeadline is any moment already gone: set on a socket, it fails the
// current and next Read or Write at once.
var pastDeadline = time.Unix(1, 0)

// deadlines is a connection's recorded read and write deadlines.
type deadlines struct {
	mu sync.Mutex
	// direct: the watchdog has stopped (the listener closed); deadlines
	// go straight to the socket from then on.
	direct         bool
	read, write    time.Time // as requested; zero = none
	rFired, wFired bool      // the socket holds pastDeadline for that side
}

func (c *conn) SetDeadline(t time.Time) error      { return c.setDeadline(t, true, true) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.setDeadline(t, true, false) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

// setDeadline records t for the read side, the write side or both.
func (c *conn) setDeadline(t time.Time, read, write bool) error {
	direct := c.l.tick == 0
	if !direct {
		c.dl.mu.Lock()
		defer c.dl.mu.Unlock()
		direct = c.dl.direct
	}
	switch {
	case direct && read && write:
		return c.Conn.SetDeadline(t)
	case direct && read:
		return c.Conn.SetReadDeadline(t)
	case direct:
		return c.Conn.SetWriteDeadline(t)
	}
	if read {
		c.dl.read = t
	}
	if write {
		c.dl.write = t
	}
	return c.unfire(read, write)
}

// unfire lifts a deadline the watchdog put into force on the sides being
// given a new one (the watchdog puts the new one into force when it
// passes). The caller holds c.dl.mu.
func (c *conn) unfire(read, write bool) error {
	d := &c.dl
	var err error
	if read && d.rFired {
		d.rFired = false
		err = c.Conn.SetReadDeadline(time.Time{})
	}
	if write && d.wFired {
		d.wFired = false
		if e := c.Conn.SetWriteDeadline(time.Time{}); err == nil {
			err = e
		}
	}
	return err
}

// enforce puts c's deadlines that have passed by now into force.
func (c *conn) enforce(now time.Time) {
	d := &c.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.direct {
		return
	}
	if !d.rFired && !d.read.IsZero() && now.After(d.read) {
		d.rFired = true
		_ = c.Conn.SetReadDeadline(pastDeadline) // an error means the socket is gone
	}
	if !d.wFired && !d.write.IsZero() && now.After(d.write) {
		d.wFired = true
		_ = c.Conn.SetWriteDeadline(pastDeadline)
	}
}

// goDirect hands c's deadlines to the socket for good.
func (c *conn) goDirect() {
	d := &c.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.direct {
		return
	}
	d.direct = true
	if !d.rFired {
		_ = c.Conn.SetReadDeadline(d.read)
	}
	if !d.wFired {
		_ = c.Conn.SetWriteDeadline(d.write)
	}
}

// watch enforces the open connections' deadlines every tick until the
// listener closes; then every connection still open keeps its deadlines
// on its socket, so a server shutting down still cuts a stalled client.
func (l *Listener) watch() {
	defer close(l.watchDone)
	t := time.NewTicker(l.tick)
	defer t.Stop()
	var batch []*conn
	for {
		select {
		case <-l.closed:
			l.mu.Lock()
			l.watching = false
			batch = collect(batch[:0], l.live)
			l.mu.Unlock()
			for _, c := range batch {
				c.goDirect()
			}
			return
		case now := <-t.C:
			l.mu.Lock()
			batch = collect(batch[:0], l.live)
			l.mu.Unlock()
			for _, c := range batch {
				c.enforce(now)
			}
			clear(batch) // drop references to closed connections
		}
	}
}

func collect(dst []*conn, live map[*conn]struct{}) []*conn {
	for c := range live {
		dst = append(dst, c)
	}
	return dst
}

var _ net.Conn = (*conn)(nil)
