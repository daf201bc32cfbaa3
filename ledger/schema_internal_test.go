package ledger

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// ShippedSteps are the migration steps of a dialect ("sqlite",
// "postgres") as shipped: the text databases at each version were built
// with, kept in testdata/schema/<dialect>.golden. Test-only, for the
// migrate-forward tests.
func ShippedSteps(t testing.TB, dialect string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/schema/" + dialect + ".golden")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range regexp.MustCompile(`(?m)^-- step \d+\n`).Split(string(b), -1)[1:] {
		steps = append(steps, strings.TrimSpace(s))
	}
	return steps
}

// The one schema template renders, in each dialect, the migrations that
// dialect shipped (white space aside): a database at any earlier version
// then holds exactly what the steps before it created.
func TestSchemaTemplateRendersShippedSQL(t *testing.T) {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for name, d := range map[string]dialect{"sqlite": sqliteDialect{}, "postgres": postgresDialect{}} {
		shipped, got := ShippedSteps(t, name), migrations(d)
		if len(got) < len(shipped) {
			t.Fatalf("%s: %d steps; %d were shipped", name, len(got), len(shipped))
		}
		for i, want := range shipped {
			if norm(got[i]) != norm(want) {
				t.Errorf("%s step %d renders\n%s\nshipped:\n%s", name, i+1, got[i], want)
			}
		}
	}
}
