package conns

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// flaky fails its first n Accepts with err, then accepts from a real
// loopback listener.
type flaky struct {
	net.Listener
	n   int
	err error
}

func (f *flaky) Accept() (net.Conn, error) {
	if f.n > 0 {
		f.n--
		return nil, f.err
	}
	return f.Listener.Accept()
}

func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTemporaryErrorsBackOffAndRecover(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	ln := loopback(t)
	var firsts, total, burst int
	l := Wrap(&flaky{Listener: ln, n: 4, err: emfile}, Options{
		OnAcceptError: func(err error, first bool) {
			total++
			if first {
				firsts++
			}
		},
		OnBurstEnd: func(n int) { burst = n },
	})
	dial(t, ln.Addr())
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept after EMFILE: %v", err)
	}
	c.Close()
	if total != 4 || firsts != 1 || burst != 4 {
		t.Fatalf("errors %d, first-of-burst %d, burst end %d; want 4, 1, 4", total, firsts, burst)
	}
}

func TestPermanentErrorEndsAccept(t *testing.T) {
	boom := errors.New("boom")
	l := Wrap(&flaky{Listener: loopback(t), n: 1, err: boom}, Options{})
	if _, err := l.Accept(); !errors.Is(err, boom) {
		t.Fatalf("Accept = %v, want boom", err)
	}
}

// Close must end an Accept that is waiting out a backoff.
func TestCloseEndsBackoff(t *testing.T) {
	emfile := os.NewSyscallError("accept4", syscall.EMFILE)
	waiting := make(chan struct{}, 1)
	l := Wrap(&flaky{Listener: loopback(t), n: 1 << 30, err: emfile}, Options{
		OnAcceptError: func(error, bool) {
			select {
			case waiting <- struct{}{}:
			default:
			}
		},
	})
	done := make(chan error)
	go func() { _, err := l.Accept(); done <- err }()
	<-waiting
	l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func TestLimits(t *testing.T) {
	ln := loopback(t)
	rejected := make(chan string, 10)
	l := Wrap(ln, Options{MaxConns: 3, MaxConnsPerIP: 2, OnReject: func(limit string) { rejected <- limit }})
	from := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	accepted := make(chan net.Conn)
	accept := func() {
		go func() {
			c, err := l.Accept()
			if err != nil {
				t.Error(err)
			}
			accepted <- c
		}()
	}
	// Two from .2 are taken; the third from .2 is over the per-IP limit and
	// dropped, so Accept goes on to the next, from .3.
	from("127.0.0.2")
	from("127.0.0.2")
	from("127.0.0.2")
	from("127.0.0.3")
	accept()
	a := <-accepted
	accept()
	b := <-accepted
	accept()
	c := <-accepted
	if got := <-rejected; got != "max_conns_per_ip" {
		t.Fatalf("rejected %s, want max_conns_per_ip", got)
	}
	if l.Open() != 3 {
		t.Fatalf("open %d, want 3", l.Open())
	}
	// At the total cap a new client is refused at once; a freed slot
	// (closing twice frees it once) takes the next one.
	accept()
	from("127.0.0.4")
	if got := <-rejected; got != "max_conns" {
		t.Fatalf("rejected %s, want max_conns", got)
	}
	c.Close()
	c.Close()
	from("127.0.0.5")
	d := <-accepted
	if host, _, _ := net.SplitHostPort(d.RemoteAddr().String()); host != "127.0.0.5" {
		t.Fatalf("accepted %s, want the client from 127.0.0.5", d.RemoteAddr())
	}
	if l.Open() != 3 {
		t.Fatalf("open %d after a close and an accept, want 3", l.Open())
	}
	a.Close()
	b.Close()
	d.Close()
	if l.Open() != 0 {
		t.Fatalf("open %d after closing all, want 0", l.Open())
	}
}
