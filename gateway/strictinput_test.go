package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"smsgate/config"
)

// TestStrictOrderID: an order id given as a JSON string must be a plain
// decimal integer. A lenient scan read "1abc" or "1; DROP …" as order 1
// and acted on it.
func TestStrictOrderID(t *testing.T) {
	e := newEnv(t)
	id := e.buyOne() // so that a lenient parser would find a real order
	for _, tc := range []struct {
		name, raw string
		want      int // HTTP status
	}{
		{"trailing letters", `"` + id + `abc"`, 400},
		{"hex", `" 0x` + id + `"`, 400},
		{"leading space", `" ` + id + `"`, 400},
		{"trailing space", `"` + id + ` "`, 400},
		{"plus sign", `"+` + id + `"`, 400},
		{"negative", `"-` + id + `"`, 400},
		{"decimal point", `"` + id + `.0"`, 400},
		{"sql after id", `"` + id + `; DROP TABLE orders"`, 400},
		{"empty", `""`, 400},
		{"too long", `"` + strings.Repeat("9", 30) + `"`, 400},
		{"object", `{"id":` + id + `}`, 400},
		{"plain string", `"` + id + `"`, 200},
		{"number", id, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ep := range []struct{ path, body string }{
				{"/api/sms/setStatus", `{"orderId":` + tc.raw + `,"status":"ready"}`},
				{"/api/sms/getSmsCode", `{"orderId":` + tc.raw + `,"wait":0}`},
			} {
				r := e.api("POST", ep.path, keyA, ep.body)
				if r.Status != tc.want {
					t.Errorf("%s %s: HTTP %d (code %d %q), want %d", ep.path, tc.raw, r.Status, r.Code, r.Msg, tc.want)
				}
			}
		})
	}
}

// TestBodyTooLarge: a body over max_body_bytes answers 413 in the client's
// protocol, on both fronts.
func TestBodyTooLarge(t *testing.T) {
	e := newEnvWith(t, envOptions{config: func(c *config.Config) { c.Server.MaxBodyBytes = 1024 }})
	big := `{"service":"tg","country":"ru","pad":"` + strings.Repeat("x", 4096) + `"}`
	for _, tc := range []struct{ path, ctype, body, wantPrefix string }{
		{"/api/sms/getPhone", "application/json", big, `{"code":413`},
		{"/stubs/handler_api.php", "application/x-www-form-urlencoded", "api_key=" + keyA + "&action=getNumber&service=tg&pad=" + strings.Repeat("x", 4096), "request body too large"},
	} {
		req, _ := http.NewRequest("POST", e.url+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		req.Header.Set("Authorization", "Bearer "+keyA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(string(b), tc.wantPrefix) {
			t.Errorf("%s: HTTP %d %q, want 413 %q…", tc.path, resp.StatusCode, b, tc.wantPrefix)
		}
	}
	// A body within the limit is served as before.
	if r := e.api("POST", "/api/sms/getPhone", keyA, `{"service":"tg","country":"ru"}`); r.Status != 200 {
		t.Errorf("small getPhone: HTTP %d %q", r.Status, r.Msg)
	}
}

// TestMethodNotAllowed: the handler API takes GET and POST only; each
// unified route its own methods, named in Allow.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/stubs/handler_api.php?api_key=" + keyA + "&action=getBalance", "GET, POST"},
		{"DELETE", "/stubs/handler_api.php?api_key=" + keyA + "&action=getBalance", "GET, POST"},
		{"PATCH", "/stubs/handler_api.php", "GET, POST"},
		{"HEAD", "/stubs/handler_api.php?api_key=" + keyA + "&action=getBalance", "GET, POST"},
		{"OPTIONS", "/stubs/handler_api.php", "GET, POST"},
		{"GET", "/api/sms/getPhone", "POST"},
		{"DELETE", "/api/sms/setStatus", "POST"},
		{"POST", "/api/sms/orders", "GET"},
		{"PUT", "/api/sms/balances", "GET"},
	} {
		req, _ := http.NewRequest(tc.method, e.url+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+keyA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: HTTP %d Allow %q, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.allow)
		}
	}
	// GET and POST still work on the handler API.
	if code, body := e.legacy(keyA, "action", "getBalance"); code != 200 || !strings.HasPrefix(body, "ACCESS_BALANCE:") {
		t.Errorf("GET getBalance = %d %q", code, body)
	}
}
