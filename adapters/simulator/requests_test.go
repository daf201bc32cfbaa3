package simulator

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestAdminRequests: the counts a skin records are read back in Go and
// over HTTP, reading them is not itself counted, and every other path
// still reaches the skin (faults included).
func TestAdminRequests(t *testing.T) {
	m := New(Config{})
	skin := m.Wrap(func(ctx *fasthttp.RequestCtx) {
		m.CountCall(string(ctx.Path()[1:]))
		ctx.SetBodyString("skin")
	})
	srv, err := Serve(m.Admin(skin))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, []byte) {
		t.Helper()
		code, body, err := fasthttp.Get(nil, srv.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	for _, p := range []string{"/getNumber", "/getActiveActivations", "/getActiveActivations"} {
		if code, body := get(p); code != 200 || string(body) != "skin" {
			t.Fatalf("GET %s = %d %q; want the skin's answer", p, code, body)
		}
	}
	want := map[string]int64{"getNumber": 1, "getActiveActivations": 2}
	for range 2 { // the second read shows the first was not counted
		code, body := get(RequestsPath)
		var got map[string]int64
		if err := json.Unmarshal(body, &got); code != 200 || err != nil {
			t.Fatalf("GET %s = %d %q (%v)", RequestsPath, code, body, err)
		}
		if len(got) != len(want) || got["getNumber"] != 1 || got["getActiveActivations"] != 2 {
			t.Fatalf("over HTTP: %v; want %v", got, want)
		}
	}
	r := m.Requests()
	r["getNumber"] = 99 // the caller's copy
	if got := m.Requests(); len(got) != 2 || got["getNumber"] != 1 || got["getActiveActivations"] != 2 {
		t.Fatalf("Requests() = %v; want %v", got, want)
	}
	m.SetFaults(Faults{Outage: true})
	if _, _, err := fasthttp.Get(nil, srv.URL+"/getNumber"); err == nil {
		t.Fatal("the outage fault did not reach the skin's path")
	}
	if code, _ := get(RequestsPath); code != 200 {
		t.Fatalf("the counts are behind the skin's faults: %d", code)
	}
	m.SetFaults(Faults{})
}
