package gateway_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"smsgate/config"
)

// chromium is the path of a Chromium or Chrome binary, or "" when none is
// installed.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// dashboardEnv is the demo's shape in small: four simulated platforms of
// four protocols, two tenants, an admin key, and a week of orders (some
// with codes) so that every chart has something to draw.
func dashboardEnv(t *testing.T) *env {
	e := unifiedEnv(t, envOptions{codeDelay: 5 * time.Second, config: func(c *config.Config) {
		c.Platforms = append(c.Platforms,
			config.Platform{Code: "5sim", Type: "fivesim", URL: "sim", Currency: "RUB", PollInterval: time.Second, Timeout: 2 * time.Second},
			config.Platform{Code: "onlinesim", Type: "onlinesim", URL: "sim", Currency: "USD", PollInterval: time.Second, Timeout: 2 * time.Second})
	}})
	plan := []struct{ key, country, service, platform string }{
		{keyA, "us", "tg", "sa"}, {keyA, "gb", "wa", "hero"}, {keyB, "de", "tg", "5sim"},
		{keyB, "us", "go", "onlinesim"}, {keyA, "ru", "tg", "5sim"}, {keyB, "in", "wa", "hero"},
	}
	for day := range 6 {
		for i, p := range plan[:2+day/2*2] { // more orders as the week goes on
			var ph struct{ ID int64 }
			r := e.api("POST", "/api/sms/getPhone", p.key, map[string]any{"country": p.country, "service": p.service, "platform": p.platform})
			r.into(t, &ph)
			if r.Status != 200 {
				t.Fatalf("seeding day %d order %d: %d %s", day, i, r.Status, r.Msg)
			}
		}
		e.clock.Advance(6 * time.Second) // the simulators' SMS arrive
		e.pollerCaughtUp()
		e.clock.Advance(24 * time.Hour) // and the orders of the day expire
		e.pollerCaughtUp()
	}
	return e
}

// TestDashboardInBrowser drives the dashboard in headless Chromium: sign
// in with the admin key, see every platform, see a purchase arrive in the
// order feed and a chart with data, disable a platform from the page and
// see the next purchase routed elsewhere; then check the page fits a
// phone-width screen. It saves a screenshot under the test's temp dir and,
// with SMSGATE_SCREENSHOT=path, at that path too.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium: install Debian's chromium (apt-get install -y chromium), or put chromium, chromium-browser or google-chrome on PATH")
	}
	e := dashboardEnv(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1280, 800),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// One deadline for everything the browser does: a page that never shows
	// what is waited for fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	css := func(format string, args ...any) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(format, args...)) }
	// until waits for a JavaScript condition to hold on the page.
	until := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	// A wrong key is refused and not kept.
	do("open the dashboard", chromedp.Navigate(e.url+"/dashboard"), chromedp.WaitVisible(chromedp.ID("login-key")))
	do("sign in with a wrong key", chromedp.SendKeys(chromedp.ID("login-key"), "not-the-admin-key"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.ID("login-error")))
	do("sign in", chromedp.SendKeys(chromedp.ID("login-key"), adminKey), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
	if kept := eval("the key's place", fmt.Sprintf(`sessionStorage.getItem("smsgate.adminKey") === %q && !location.href.includes(%q)`,
		adminKey, adminKey)); kept != true {
		t.Fatal("the admin key is not kept in sessionStorage, or shows in the URL")
	}

	for _, p := range e.cfg.Platforms {
		do("platform "+p.Code+" listed", chromedp.WaitVisible(css(`tr[data-platform=%q][data-enabled="true"]`, p.Code)))
	}
	if n := eval("count platforms", `document.querySelectorAll("#platform-rows tr").length`); n != float64(len(e.cfg.Platforms)) {
		t.Fatalf("%v platform rows; want %d", n, len(e.cfg.Platforms))
	}

	// What routing believes: each pair with ended orders, as the API says.
	var plats struct {
		Health []struct {
			Platform  string
			Estimates []struct {
				Country, Service    string
				DeliveryProbability float64
			}
		}
	}
	e.api("GET", "/api/sms/admin/platforms", adminKey, nil).into(t, &plats)
	shown := 0
	for _, h := range plats.Health {
		for _, x := range h.Estimates {
			shown++
			cell := css(`#estimate-rows tr[data-platform=%q][data-pair="%s/%s"] td.delivery`, h.Platform, x.Country, x.Service)
			text, err := chromedp.Run(ctx, chromedp.Text(cell))
			if want := fmt.Sprintf("%.1f%%", x.DeliveryProbability*100); err != nil || text != want {
				t.Errorf("estimate of %s %s/%s shows %q (%v); want %s", h.Platform, x.Country, x.Service, text, err, want)
			}
		}
	}
	if shown == 0 {
		t.Error("the API gives no estimate after a week of ended orders")
	}

	// The feed reads the admin event stream (no polling): a purchase
	// through the legacy API shows in it; routing by priority sends it to sa.
	until("the feed is live", `document.getElementById("feed-source").textContent === "(live)"`)
	id := e.buy(keyA, "service", "tg", "country", "187")
	if got := e.order(id).Platform; got != "sa" {
		t.Fatalf("first purchase routed to %s; want sa (first by priority)", got)
	}
	do("purchase "+id+" in the feed", chromedp.WaitVisible(css(`#order-rows tr[data-order-id=%q]`, id)))
	platform, err := chromedp.Run(ctx, chromedp.Text(css(`#order-rows tr[data-order-id=%q] td.platform`, id)))
	if err != nil || platform != "sa" {
		t.Fatalf("the feed shows order %s on %q (%v); want sa", id, platform, err)
	}

	// Every chart has drawn data.
	for _, c := range []string{"chart-periods", "chart-platforms", "chart-money", "chart-countries", "chart-ttc"} {
		until(c+" has data", fmt.Sprintf(
			`(() => { const c = Chart.getChart(%q); return !!c && c.data.datasets.some(d => d.data.some(v => v > 0)); })()`, c))
	}

	// Disable sa from the page: the next purchase goes elsewhere.
	do("disable sa", chromedp.Click(css(`tr[data-platform="sa"] button.toggle`)),
		chromedp.WaitVisible(css(`tr[data-platform="sa"][data-enabled="false"]`)))
	id2 := e.buy(keyA, "service", "tg", "country", "187")
	if got := e.order(id2).Platform; got == "sa" {
		t.Fatalf("purchase %s routed to sa after it was disabled in the dashboard", id2)
	}
	do("purchase "+id2+" in the feed", chromedp.WaitVisible(css(`#order-rows tr[data-order-id=%q]`, id2)))

	// Move onlinesim, last by priority, to the front from the page: the
	// next purchase goes there.
	eval("edit onlinesim's priority", `(() => {
		const i = document.querySelector('tr[data-platform="onlinesim"] input.priority');
		i.value = "-5";
		i.dispatchEvent(new Event("change"));
	})()`)
	until("onlinesim's priority saved and shown",
		`document.querySelector('tr[data-platform="onlinesim"] input.priority')?.value === "-5" && !!document.querySelector('tr[data-platform="onlinesim"] td span[title]')`)
	if id3 := e.buy(keyA, "service", "tg", "country", "187"); e.order(id3).Platform != "onlinesim" {
		t.Fatalf("purchase %s routed to %s after onlinesim was put first in the dashboard", id3, e.order(id3).Platform)
	}
	until("an alert names the disabled platform",
		`[...document.querySelectorAll("#alert-list li")].some(li => li.textContent.startsWith("sa: disabled"))`)

	do("desktop screen", chromedp.EmulateViewport(1280, 800), chromedp.WaitVisible(chromedp.ID("chart-ttc")))
	eval("scroll to the top", `window.scrollTo(0, 0)`)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shots := t.TempDir()
	savePNG(t, filepath.Join(shots, "dashboard.png"), png)
	if p := os.Getenv("SMSGATE_SCREENSHOT"); p != "" { // how docs/dashboard.png is made
		savePNG(t, p, png)
	}

	// Phone width: nothing wider than the screen, the platforms still there.
	do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.WaitVisible(css(`tr[data-platform="onlinesim"]`)))
	if over := eval("overflow", `document.documentElement.scrollWidth - window.innerWidth`); over != float64(0) {
		t.Fatalf("at 390 px wide the page is %v px wider than the screen", over)
	}
	// Rows must fit too (a table scrolling sideways inside its box would not
	// widen the page, but is no use on a phone).
	if fit := eval("rows fit", `[...document.querySelectorAll("#platform-rows tr, #order-rows tr")].every(r => r.getBoundingClientRect().right <= window.innerWidth)`); fit != true {
		t.Fatal("at 390 px wide some platform or order rows are wider than the screen")
	}
	if png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatalf("phone screenshot: %v", err)
	}
	savePNG(t, filepath.Join(shots, "dashboard-390.png"), png)
}

// savePNG writes a screenshot and says where.
func savePNG(t *testing.T, path string, png []byte) {
	t.Helper()
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("cannot save the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}
