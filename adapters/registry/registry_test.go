package registry

import (
	"context"
	"testing"
	"time"

	"smsgate/adapters/simulator"
)

// TestTypeAlias: a spec of type "5sim" is a 5SIM platform: its simulator
// speaks the 5SIM protocol and the adapter built against it answers.
func TestTypeAlias(t *testing.T) {
	if got := DisplayName("5sim", "5sim"); got != "5SIM" {
		t.Errorf("DisplayName(5sim) = %q; want 5SIM", got)
	}
	if DefaultCurrency("5sim") != DefaultCurrency("fivesim") || IsPool("5sim") {
		t.Errorf("5sim: currency %q, pool %v; want fivesim's", DefaultCurrency("5sim"), IsPool("5sim"))
	}
	sim, err := StartSim(Spec{Code: "5sim", Type: "5sim", Timeout: 5 * time.Second},
		simulator.Config{Clock: simulator.NewManualClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	countries, err := sim.Platform.Countries(context.Background())
	if err != nil || len(countries) == 0 {
		t.Fatalf("Countries = %v, %v", countries, err)
	}
	if sim.Market.Calls("") == 0 {
		t.Fatal("the adapter did not call its simulator")
	}
	if _, err := Build(Spec{Code: "x", Type: "6sim"}); err == nil {
		t.Fatal("type 6sim built")
	}
}
