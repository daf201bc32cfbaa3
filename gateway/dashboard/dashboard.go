// Package dashboard serves the admin's web dashboard: static files embedded
// in the binary, which talk to the admin JSON API with the admin key.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard"

//go:embed static
var static embed.FS

// file is one embedded asset, ready to send.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// assets are the embedded files by URL path; built once at start, never
// mutated, so handlers read them without a lock.
var assets = mustLoad()

// mustLoad reads the embedded files; they are part of the binary, so a
// failure is a build bug (the package's tests catch it).
func mustLoad() map[string]file {
	m, err := load(static)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return m
}

// load reads the files under static/ of fsys by URL path.
func load(fsys fs.FS) (map[string]file, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("cannot open the dashboard's files: %w", err)
	}
	byPath := map[string]file{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		byPath[Prefix+"/"+name] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the dashboard's files: %w", err)
	}
	if _, ok := byPath[Prefix+"/index.html"]; !ok {
		return nil, fmt.Errorf("cannot find the dashboard's index.html")
	}
	return byPath, nil
}

// Owns says whether path is the dashboard's.
func Owns(path string) bool { return path == Prefix || strings.HasPrefix(path, Prefix+"/") }

// csp lets the page load only its own files and talk only to its own
// origin: the admin key lives in the page, so no third-party script may run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Serve answers GET and HEAD for the dashboard's page and assets.
func Serve(ctx *fasthttp.RequestCtx, p string) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	if p == Prefix || p == Prefix+"/" {
		p = Prefix + "/index.html"
	}
	a, ok := assets[p]
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("not found")
		return
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidated on every load, so a new gateway's files are used at once.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if string(ctx.Request.Header.Peek("If-None-Match")) == a.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(a.contentType)
	ctx.SetBody(a.body) // SetBody copies; the asset is never handed out
}
