package adapterstest

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
)

// Answer is a canned upstream reply; Status 0 means 200.
type Answer struct {
	Status int
	Body   string
}

// Script is an upstream with canned answers per route: an API method, as
// the route function reads it off a request. A route given several answers
// replies with them in turn and then repeats the last; a route without
// answers is a 404. One server serves a whole table of cases: Set swaps
// the answers between cases.
type Script struct {
	route func(ctx *fasthttp.RequestCtx) string

	mu      sync.Mutex
	answers map[string][]Answer // what is left to answer, per route
}

// NewScript returns a Script that routes requests with route.
func NewScript(route func(ctx *fasthttp.RequestCtx) string) *Script {
	return &Script{route: route}
}

// Set replaces every answer.
func (s *Script) Set(answers map[string][]Answer) {
	s.mu.Lock()
	s.answers = maps.Clone(answers)
	s.mu.Unlock()
}

// Reply sets one route's answer, leaving the other routes' as they are.
func (s *Script) Reply(route string, status int, body string) {
	s.mu.Lock()
	if s.answers == nil {
		s.answers = map[string][]Answer{}
	}
	s.answers[route] = []Answer{{Status: status, Body: body}}
	s.mu.Unlock()
}

// Handle is the Script's fasthttp.RequestHandler.
func (s *Script) Handle(ctx *fasthttp.RequestCtx) {
	route := s.route(ctx)
	s.mu.Lock()
	seq := s.answers[route]
	var a Answer
	ok := len(seq) > 0
	if ok {
		a = seq[0]
		if len(seq) > 1 {
			s.answers[route] = seq[1:]
		}
	}
	s.mu.Unlock()
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if a.Status == 0 {
		a.Status = fasthttp.StatusOK
	}
	ctx.SetStatusCode(a.Status)
	ctx.SetBodyString(a.Body)
}

// CheckErr asserts what a client made of an answer: success when want is
// nil; otherwise an error that is want, that is ErrOutcomeUnknown exactly
// when unknown says the request may have taken effect, and whose text
// does not show key.
func CheckErr(t testing.TB, err, want error, unknown bool, key string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got %v; want success", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v; want %v", err, want)
	}
	if got := errors.Is(err, adapters.ErrOutcomeUnknown); got != unknown {
		t.Fatalf("outcome unknown = %v; want %v (%v)", got, unknown, err)
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error %q shows the key", err)
	}
}
