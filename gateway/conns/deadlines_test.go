package conns

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestCoarseDeadlines: with a tick, a read or write deadline that passes
// fails the blocked call with a timeout, as a socket deadline does; a new
// deadline lifts a fired one; after the listener closes, connections
// still open get their deadlines on the socket again.
func TestCoarseDeadlines(t *testing.T) {
	l := Wrap(loopback(t), Options{DeadlineTick: 5 * time.Millisecond})
	accept := func() (net.Conn, net.Conn) {
		t.Helper()
		client := dial(t, l.Addr())
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); client.Close() })
		return c, client
	}
	timedOut := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}

	c, client := accept()
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := c.Read(buf); !timedOut(err) {
		t.Fatalf("read past its deadline: %v; want a timeout", err)
	}
	// A new deadline lifts the fired one: the read waits for the client.
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("read after the deadline was lifted: %d, %v", n, err)
	}

	// A write to a client that never reads fills the buffers and blocks
	// until its deadline.
	if err := c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	var werr error
	for werr == nil {
		_, werr = c.Write(chunk)
	}
	if !timedOut(werr) {
		t.Fatalf("write past its deadline: %v; want a timeout", werr)
	}

	// Once the listener is closed there is no watchdog: the open
	// connection's deadlines are the socket's own.
	c2, _ := accept()
	l.Close()
	if err := c2.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Read(buf); !timedOut(err) {
		t.Fatalf("read past its deadline after the listener closed: %v; want a timeout", err)
	}
}

// BenchmarkSetDeadline: what fasthttp pays per deadline it sets, coarse
// and on the socket.
func BenchmarkSetDeadline(b *testing.B) {
	for _, tc := range []struct {
		name string
		tick time.Duration
	}{{"socket", 0}, {"coarse", 100 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			l := Wrap(ln, Options{DeadlineTick: tc.tick})
			defer l.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			c, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			now := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.SetReadDeadline(now.Add(time.Duration(i)))
			}
		})
	}
}
