package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// "bench streams" measures what idle event streams cost a running
// gateway: its resident memory per open stream (read from /proc/<pid>),
// and legacy getStatus throughput with and without the streams open.

type streamsOptions struct {
	target   string
	key      string
	pid      int
	streams  int
	conns    int
	duration time.Duration
}

const streamsUsage = `usage: go run ./bench streams -target http://host:port -key K -pid PID [flags]

Opens -streams idle GET /api/sms/events streams to a running gateway (process
PID, for its resident memory) and measures legacy getStatus throughput before
and while they are open. Give the gateway room for them: e.g.
SMSGATE_SERVER__MAX_CONNS=8000 SMSGATE_SERVER__MAX_CONNS_PER_IP=8000.

Flags:
`

func parseStreams(args []string, stderr io.Writer) (streamsOptions, error) {
	var o streamsOptions
	fs := flag.NewFlagSet("bench streams", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, streamsUsage); fs.PrintDefaults() }
	fs.StringVar(&o.target, "target", "", "the gateway's base `URL`")
	fs.StringVar(&o.key, "key", "", "a tenant key")
	fs.IntVar(&o.pid, "pid", 0, "the gateway's process id")
	fs.IntVar(&o.streams, "streams", 5000, "idle event streams to hold open")
	fs.IntVar(&o.conns, "c", 16, "getStatus connections (closed loop)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "each getStatus measurement")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.target == "" || o.key == "" || o.pid <= 0 || o.streams < 1 {
		return o, errors.New("-target, -key, -pid and -streams >= 1 are required")
	}
	return o, nil
}

// runStreams is the "streams" command.
func runStreams(args []string, stdout, stderr io.Writer) int {
	o, err := parseStreams(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench streams:", err)
		return exitUsage
	}
	if err := measureStreams(o, stdout); err != nil {
		fmt.Fprintln(stderr, "bench streams:", err)
		return exitSetup
	}
	return exitOK
}

func measureStreams(o streamsOptions, out io.Writer) error {
	ep := endpoint{name: "gateway", base: o.target, key: o.key}
	cl, err := newClient(ep, 1, 5*time.Second, time.Time{})
	if err != nil {
		return err
	}
	a := newLegacyCaller(cl).call("getNumber", "&service=tg&country=187")
	id, ok := parseNumber(a)
	cl.close()
	if !ok {
		return fmt.Errorf("getNumber answered %q", a.body)
	}
	rss0, err := rssKiB(o.pid)
	if err != nil {
		return err
	}
	before, err := getStatusRate(ep, id, o.conns, o.duration)
	if err != nil {
		return err
	}
	u, err := url.Parse(o.target)
	if err != nil {
		return err
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < o.streams; i++ {
		c, err := openStream(u.Host, o.key)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i+1, err)
		}
		held = append(held, c)
	}
	time.Sleep(2 * time.Second) // let the gateway settle its buffers before reading its memory
	rss1, err := rssKiB(o.pid)
	if err != nil {
		return err
	}
	during, err := getStatusRate(ep, id, o.conns, o.duration)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "idle event streams: %d\n", o.streams)
	fmt.Fprintf(out, "gateway RSS: %d KiB before, %d KiB with the streams: %.1f KiB per stream\n",
		rss0, rss1, float64(rss1-rss0)/float64(o.streams))
	fmt.Fprintf(out, "getStatus closed loop c=%d: %.0f/s without, %.0f/s with the streams: %.2fx\n",
		o.conns, before, during, during/before)
	return nil
}

// openStream opens one event stream and reads its response head; the
// connection then stays idle (heartbeats arrive and are left unread).
func openStream(host, key string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "GET /api/sms/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", host, key)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	c.SetReadDeadline(time.Time{})
	if err != nil || !strings.Contains(line, " 200 ") {
		c.Close()
		return nil, fmt.Errorf("answered %q, %v", line, err)
	}
	return c, nil
}

// getStatusRate runs getStatus of id closed loop for d and returns the
// answers per second.
func getStatusRate(ep endpoint, id int64, conns int, d time.Duration) (float64, error) {
	end := time.Now().Add(d)
	cl, err := newClient(ep, conns, 5*time.Second, end.Add(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.close()
	callers := make([]*legacyCaller, conns)
	counts := make([]int64, conns)
	for i := range callers {
		callers[i] = newLegacyCaller(cl)
	}
	start := time.Now()
	runClosed(conns, end, func(w int) {
		if a := callers[w].callID("getStatus", id, ""); a.err == nil && bytes.HasPrefix(a.body, []byte("STATUS_")) {
			counts[w]++
		}
	})
	var n int64
	for _, c := range counts {
		n += c
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("cannot read the gateway's memory: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
