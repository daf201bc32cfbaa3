package smsman

import (
	"context"
	"errors"
	"testing"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/simulator"
)

// TestCatalogueRefresh: the lists are fetched again after catalogueTTL,
// and a failed refresh keeps serving the old ones.
func TestCatalogueRefresh(t *testing.T) {
	m := simulator.New(simulator.Config{Currency: "RUB", Key: "k", CodeDelay: -1})
	srv, err := simulator.Serve(NewSkin(m))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Key: "k", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	buy := func() error {
		_, err := c.Buy(ctx, adapters.BuyRequest{Country: "us", Service: "tg"})
		return err
	}
	if err := buy(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(catalogueTTL - time.Second)
	if err := buy(); err != nil || m.Calls("countries") != 1 {
		t.Fatalf("buy within the TTL: %v, %d countries calls; want 1", err, m.Calls("countries"))
	}
	now = now.Add(2 * time.Second)
	if err := buy(); err != nil || m.Calls("countries") != 2 || m.Calls("applications") != 2 {
		t.Fatalf("buy after the TTL: %v, %d/%d catalogue calls; want 2/2", err, m.Calls("countries"), m.Calls("applications"))
	}
	now = now.Add(catalogueTTL)
	m.SetFaults(simulator.Faults{Garbage: true})
	if _, err := c.Countries(ctx); err != nil {
		t.Fatalf("countries with a failing refresh = %v; want the old list", err)
	}
	m.SetFaults(simulator.Faults{})

	// With nothing cached, a failed load is the caller's error.
	c2, _ := New(Options{BaseURL: srv.URL, Key: "k", Timeout: 300 * time.Millisecond})
	m.SetFaults(simulator.Faults{Garbage: true})
	if _, err := c2.Countries(ctx); !errors.Is(err, adapters.ErrUnavailable) {
		t.Fatalf("countries with no catalogue and a failing load = %v; want ErrUnavailable", err)
	}
	m.SetFaults(simulator.Faults{})
}

// TestCatalogueClaims: when two entries claim one canonical code, the
// better match wins, then the lower id.
func TestCatalogueClaims(t *testing.T) {
	cat := buildCatalogue(
		[]entry{
			{ID: "12", Title: "United Kingdom", Code: "UK"}, // alias
			{ID: "40", Title: "England", Code: "GB"},        // exact code: wins
			{ID: "7", Title: "USA", Code: "US"},
			{ID: "6", Title: "USA (virtual)", Code: "US"}, // same quality, lower id: wins
			{ID: "8", Title: "Narnia", Code: "NA1"},       // no match
			{ID: "9", Title: "germany", Code: ""},         // by title
		},
		[]entry{
			{ID: "3", Title: "Telegram", Code: "tg"},
			{ID: "30", Title: "Telegram", Code: "telegram"}, // title only: loses
			{ID: "4", Title: "Mystery", Code: "zzz"},
			{ID: "5", Title: "QQ", Code: "qq"}, // canonical code not in services.tsv
		},
		time.Time{})
	for iso, want := range map[string]string{"gb": "40", "us": "6", "de": "9"} {
		if got := cat.countryID[iso]; got != want {
			t.Errorf("country %s = id %q; want %q", iso, got, want)
		}
	}
	for svc, want := range map[string]string{"tg": "3", "qq": "5"} {
		if got := cat.appID[svc]; got != want {
			t.Errorf("service %s = id %q; want %q", svc, got, want)
		}
	}
	if len(cat.countryID) != 3 || cat.countryOf["40"] != "gb" || cat.serviceOf["30"] != "" {
		t.Errorf("catalogue %+v", cat)
	}
	// One id for two countries (found by the fuzzer): only one gets it.
	cat = buildCatalogue([]entry{{ID: "1", Code: "UA"}, {ID: "1", Code: "RU"}}, nil, time.Time{})
	if len(cat.countryID) != 1 || cat.countryID["ru"] != "1" || cat.countryOf["1"] != "ru" {
		t.Errorf("one id, two countries: %+v", cat)
	}
}
