package adapterstest

import (
	"maps"
	"net/http"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// Request is one request as the upstream saw it, with the answer it got.
// Everything is copied out of fasthttp's buffers, which the server reuses
// once the handler returns.
type Request struct {
	Method, Path string
	RawQuery     string            // the query string as sent
	Query        map[string]string // its arguments; the last of a repeated one
	Header       http.Header       // every request header, by canonical name
	// RawHeader is the request line and header block as fasthttp holds
	// them: where to look for a key that must appear in one place only.
	RawHeader string
	Body      string
	Status    int    // the answer's HTTP status; 0 while the handler runs
	Answer    string // the answer's body
}

// Headers returns those of names the request carried, by canonical name:
// a test lists the headers a client could add by mistake and compares.
func (r Request) Headers(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			out[http.CanonicalHeaderKey(n)] = v
		}
	}
	return out
}

// Recorder sits in front of a handler and keeps a copy of every request,
// for tests that pin what a client sends. The zero value is ready to use.
type Recorder struct {
	mu   sync.Mutex
	reqs []*Request
}

// Wrap returns h with the recorder in front. A request is kept as it
// arrives, so one whose handler never answers is seen too; its answer is
// filled in when h returns, before the client can read it.
func (r *Recorder) Wrap(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		req := &Request{
			Method:    string(ctx.Method()),
			Path:      string(ctx.Path()),
			RawQuery:  string(ctx.QueryArgs().QueryString()),
			Query:     map[string]string{},
			Header:    http.Header{},
			RawHeader: string(ctx.Request.Header.Header()),
			Body:      string(ctx.PostBody()),
		}
		for k, v := range ctx.QueryArgs().All() {
			req.Query[string(k)] = string(v)
		}
		for k, v := range ctx.Request.Header.All() {
			req.Header.Add(string(k), string(v))
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()

		h(ctx)

		status, answer := ctx.Response.StatusCode(), string(ctx.Response.Body())
		r.mu.Lock()
		req.Status, req.Answer = status, answer
		r.mu.Unlock()
	}
}

// Take returns the requests seen since the last Take, oldest first (nil
// if none).
func (r *Recorder) Take() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		r.reqs = nil
		return nil
	}
	out := make([]Request, len(r.reqs))
	for i, req := range r.reqs {
		out[i] = *req
	}
	r.reqs = nil
	return out
}

// CheckGET asserts a request that carries everything in its query, the
// key included: GET on path with exactly the query want, no body, and of
// the headers a client could add by mistake (one carrying a key, one
// changing how the request reads) only the User-Agent every upstream call
// sends.
func CheckGET(t testing.TB, got Request, path string, want map[string]string) {
	t.Helper()
	if got.Method != "GET" || got.Path != path {
		t.Fatalf("request %s %s; want GET %s", got.Method, got.Path, path)
	}
	if !maps.Equal(got.Query, want) {
		t.Fatalf("%s query = %v; want %v", path, got.Query, want)
	}
	hd := got.Headers("Authorization", "Content-Type", "User-Agent", "Cookie")
	if want := map[string]string{"User-Agent": "smsgate"}; got.Body != "" || !maps.Equal(hd, want) {
		t.Fatalf("%s: body %q, headers %v; want no body, headers %v", path, got.Body, hd, want)
	}
}
