package catalog

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed operators.tsv
var operatorsTSV []byte

var operators = mustParse("operators.tsv", parseOperators, operatorsTSV)

func parseOperators(data []byte) (map[string][]string, error) {
	out := map[string][]string{}
	for line, text := range dataLines(data) {
		iso, list, ok := strings.Cut(text, "\t")
		if !ok || len(iso) != 2 || list == "" {
			return nil, fmt.Errorf("line %d: want iso<TAB>op1,op2", line)
		}
		if _, dup := out[iso]; dup {
			return nil, fmt.Errorf("line %d: duplicate country %q", line, iso)
		}
		out[iso] = strings.Split(strings.TrimSpace(list), ",")
	}
	return out, nil
}

// Operators lists a country's operator slugs; ["any"] when none are known.
func Operators(iso string) []string {
	if ops, ok := operators[strings.ToLower(iso)]; ok {
		return append([]string(nil), ops...)
	}
	return []string{"any"}
}
