// Package layering holds the test that keeps the project's package layers
// apart (DESIGN §2): protocol adapters know nothing of the gateway or the
// ledger, the ledger nothing of the gateway, breakers and limits nothing of
// the gateway, and nothing but the bench imports the bench.
package layering

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const module = "smsgate"

// rule forbids packages under from to depend (directly or not) on packages
// under to; the paths are module-relative prefixes ("adapters" covers
// smsgate/adapters and smsgate/adapters/...).
type rule struct {
	from, to string
	why      string
}

var rules = []rule{
	{"adapters", "gateway", "an adapter speaks one upstream protocol; the gateway consumes adapters"},
	{"adapters", "ledger", "a pool declares the store it needs (pool.Store); the ledger implements it"},
	{"ledger", "gateway", "the ledger stores orders for the gateway, not the other way round"},
	{"breaker", "gateway", "breakers guard platforms, whoever calls them"},
	{"limits", "gateway", "limits are keyed counters, whoever uses them"},
	{"config", "gateway", "configuration is read by the gateway"},
}

// under reports whether pkg is the module package prefix or below it.
func under(pkg, prefix string) bool {
	p := module + "/" + prefix
	return pkg == p || strings.HasPrefix(pkg, p+"/")
}

// deps lists every package of the module with its transitive
// non-test dependencies, as `go list -deps` computes them.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	if len(m) < 10 {
		t.Fatalf("go list found %d packages: %s", len(m), out)
	}
	return m
}

// violations applies the rules (and "only bench imports bench") to a
// package → dependencies map.
func violations(m map[string][]string) []string {
	var bad []string
	for pkg, ds := range m {
		for _, d := range ds {
			for _, r := range rules {
				if under(pkg, r.from) && under(d, r.to) {
					bad = append(bad, fmt.Sprintf("%s depends on %s: %s", pkg, d, r.why))
				}
			}
			if under(d, "bench") && !under(pkg, "bench") {
				bad = append(bad, fmt.Sprintf("%s depends on %s: only the bench uses the bench", pkg, d))
			}
			if d == module+"/gateway" && strings.HasPrefix(pkg, module+"/gateway/") {
				bad = append(bad, fmt.Sprintf("%s depends on the gateway façade: a concern is wired by the façade, not the other way", pkg))
			}
		}
	}
	return bad
}

func TestLayering(t *testing.T) {
	for _, v := range violations(deps(t)) {
		t.Error(v)
	}
}

// TestRulesBite: each rule, and the bench rule, catches a made-up
// forbidden dependency, so a broken rule cannot pass silently.
func TestRulesBite(t *testing.T) {
	for _, tc := range []struct{ pkg, dep string }{
		{"smsgate/adapters/fivesim", "smsgate/gateway"},
		{"smsgate/adapters/pool", "smsgate/ledger"},
		{"smsgate/adapters", "smsgate/gateway/orders"},
		{"smsgate/ledger", "smsgate/gateway/tenant"},
		{"smsgate/breaker", "smsgate/gateway"},
		{"smsgate/limits", "smsgate/gateway/ops"},
		{"smsgate/config", "smsgate/gateway"},
		{"smsgate", "smsgate/bench"},
		{"smsgate/gateway", "smsgate/bench"},
		{"smsgate/gateway/orders", "smsgate/gateway"},
	} {
		if v := violations(map[string][]string{tc.pkg: {tc.dep}}); len(v) == 0 {
			t.Errorf("%s → %s was allowed", tc.pkg, tc.dep)
		}
	}
	for _, tc := range []struct{ pkg, dep string }{
		{"smsgate/gateway", "smsgate/ledger"},
		{"smsgate/ledger", "smsgate/adapters"},
		{"smsgate/bench", "smsgate/gateway"},
		{"smsgate/adapters/ledgerish", "smsgate/adapters"}, // a prefix is a path, not a string
		{"smsgate/benchmarks", "smsgate/adapters"},
		{"smsgate/gateway", "smsgate/gateway/orders"},
		{"smsgate/gateway/legacy", "smsgate/gateway/orders"},
	} {
		if v := violations(map[string][]string{tc.pkg: {tc.dep}}); len(v) != 0 {
			t.Errorf("%s → %s was refused: %v", tc.pkg, tc.dep, v)
		}
	}
}
