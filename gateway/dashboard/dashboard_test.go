package dashboard

import (
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// serve runs one request through Serve.
func serve(method, path string, header ...string) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(header); i += 2 {
		ctx.Request.Header.Set(header[i], header[i+1])
	}
	Serve(&ctx, string(ctx.Path()))
	var resp fasthttp.Response
	ctx.Response.CopyTo(&resp)
	return &resp
}

func TestServe(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		contentType  string // prefix; "" = not checked
		why          string
	}{
		{"GET", "/dashboard", 200, "text/html", "the page itself, no trailing slash"},
		{"GET", "/dashboard/", 200, "text/html", "the page with a trailing slash"},
		{"HEAD", "/dashboard", 200, "text/html", "HEAD is a GET without the body"},
		{"GET", "/dashboard/app.js", 200, "text/javascript", "scripts must carry a script type (nosniff)"},
		{"GET", "/dashboard/style.css", 200, "text/css", "stylesheets likewise"},
		{"GET", "/dashboard/vendor/chart.umd.min.js", 200, "text/javascript", "the chart library is embedded"},
		{"GET", "/dashboard/nothing.js", 404, "", "unknown assets are 404"},
		{"GET", "/dashboard/../gateway.toml", 404, "", "no way out of the embedded files"},
		{"POST", "/dashboard", 405, "", "read-only"},
	}
	for _, c := range cases {
		r := serve(c.method, c.path)
		if r.StatusCode() != c.status {
			t.Errorf("%s %s = %d; want %d (%s)", c.method, c.path, r.StatusCode(), c.status, c.why)
			continue
		}
		if c.contentType != "" && !strings.HasPrefix(string(r.Header.ContentType()), c.contentType) {
			t.Errorf("%s %s: Content-Type %q; want %s… (%s)", c.method, c.path, r.Header.ContentType(), c.contentType, c.why)
		}
		if c.status == 200 && !strings.Contains(string(r.Header.Peek("Content-Security-Policy")), "script-src 'self'") {
			t.Errorf("%s %s: no Content-Security-Policy limiting scripts to the gateway", c.method, c.path)
		}
	}
}

// TestRevalidation: an unchanged asset is answered 304 from its ETag.
func TestRevalidation(t *testing.T) {
	r := serve("GET", "/dashboard/app.js")
	etag := string(r.Header.Peek("ETag"))
	if etag == "" || len(r.Body()) == 0 {
		t.Fatalf("app.js: ETag %q, %d bytes", etag, len(r.Body()))
	}
	if r := serve("GET", "/dashboard/app.js", "If-None-Match", etag); r.StatusCode() != 304 || len(r.Body()) != 0 {
		t.Fatalf("If-None-Match with the current ETag: %d, %d bytes; want 304 and no body", r.StatusCode(), len(r.Body()))
	}
	if r := serve("GET", "/dashboard/app.js", "If-None-Match", `"stale"`); r.StatusCode() != 200 {
		t.Fatalf("If-None-Match with an old ETag: %d; want 200", r.StatusCode())
	}
}

// TestPageAssetsExist: every file the page loads is embedded, and the
// chart library ships with its licence.
func TestPageAssetsExist(t *testing.T) {
	page := string(assets[Prefix+"/index.html"].body)
	refs := regexp.MustCompile(`(?:src|href)="(/dashboard/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html loads %d dashboard files; want the stylesheet, the app and the chart library", len(refs))
	}
	for _, m := range refs {
		if _, ok := assets[m[1]]; !ok {
			t.Errorf("index.html loads %s, which is not embedded", m[1])
		}
	}
	if _, ok := assets[Prefix+"/vendor/chart.js-LICENSE.md"]; !ok {
		t.Error("the chart library's licence is not embedded next to it")
	}
}
