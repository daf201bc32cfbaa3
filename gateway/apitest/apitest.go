// Package apitest checks the unified API's answers against the
// openapi.json the gateway serves: every status listed for its operation,
// every body matching its schema. Tests of any package that drive the
// unified API through real HTTP use it.
package apitest

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator holds the document of one running gateway.
type Validator struct {
	router routers.Router
	// URL is the gateway base URL the document was loaded from.
	URL string
}

// Load fetches baseURL's /api/sms/openapi.json and checks it is valid
// OpenAPI 3.
func Load(t testing.TB, baseURL string) *Validator {
	t.Helper()
	resp, err := http.Get(baseURL + "/api/sms/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: baseURL + "/api/sms"}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Validator{router: r, URL: baseURL}
}

// Check fails t unless the answer (resp with body raw) to req is what the
// document says. An unknown endpoint (404/405) is not in the document, by
// design.
func (v *Validator) Check(t testing.TB, req *http.Request, resp *http.Response, raw []byte) {
	t.Helper()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == 404 || resp.StatusCode == 405 {
			return
		}
		t.Errorf("%s %s: not in openapi.json: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(raw)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d %s\ndoes not match openapi.json: %v", req.Method, req.URL.Path, resp.StatusCode, raw, err)
	}
}
