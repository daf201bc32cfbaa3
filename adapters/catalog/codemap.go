package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// CodeMap maps canonical codes to a platform's own codes and back. Adapters
// embed one file per kind of code (services, countries) in their own package
// and load it with MustCodeMap. A canonical code missing from the map means
// the platform does not sell it.
//
// A CodeMap is immutable after parsing and safe for concurrent use.
type CodeMap struct {
	native    map[string]string // canonical (lower case) -> native
	canonical map[string]string // native (as written) -> canonical
	sorted    []string          // canonical codes, sorted
}

// ParseCodeMap reads lines "canonical<TAB>native". Blank lines and lines
// starting with '#' (after spaces) are ignored; runs of tabs count as one, so
// columns may be aligned. Canonical codes are lower-cased (they are lower case by
// definition); native codes are kept exactly as written, since platforms may
// be case-sensitive. The map must be one-to-one: two canonical codes cannot
// share a native code, nor the reverse. Errors name the offending line.
func ParseCodeMap(data []byte) (*CodeMap, error) {
	m := &CodeMap{native: map[string]string{}, canonical: map[string]string{}}
	canonicalLine := map[string]int{}
	nativeLine := map[string]int{}
	for n, line := range dataLines(data) {
		var fields []string
		for f := range strings.SplitSeq(line, "\t") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) != 2 {
			return nil, errorAt(n, "want \"canonical<TAB>native\", got %d fields", len(fields))
		}
		canon, native := strings.ToLower(fields[0]), fields[1]
		if prev, dup := canonicalLine[canon]; dup {
			return nil, errorAt(n, "canonical code %q already mapped to %q on line %d", canon, m.native[canon], prev)
		}
		if prev, dup := nativeLine[native]; dup {
			return nil, errorAt(n, "native code %q already mapped from %q on line %d", native, m.canonical[native], prev)
		}
		canonicalLine[canon], nativeLine[native] = n, n
		m.native[canon] = native
		m.canonical[native] = canon
		m.sorted = append(m.sorted, canon)
	}
	slices.Sort(m.sorted)
	return m, nil
}

// MustCodeMap is ParseCodeMap for package-level variables over embedded
// files: a malformed file is a programming error, so it panics with the parse
// error.
func MustCodeMap(data []byte) *CodeMap {
	m, err := ParseCodeMap(data)
	if err != nil {
		panic(fmt.Sprintf("catalog: bad code map: %v", err))
	}
	return m
}

// Native returns the platform's code for a canonical code (in any case), or
// false when the platform does not carry it.
func (m *CodeMap) Native(canonical string) (string, bool) {
	s, ok := m.native[strings.ToLower(canonical)]
	return s, ok
}

// Canonical returns the canonical code for a platform's code, matched
// exactly, or false when the map does not know it.
func (m *CodeMap) Canonical(native string) (string, bool) {
	s, ok := m.canonical[native]
	return s, ok
}

// Len returns the number of mappings.
func (m *CodeMap) Len() int { return len(m.sorted) }

// Canonicals returns the mapped canonical codes, sorted. The slice is a fresh
// copy.
func (m *CodeMap) Canonicals() []string { return slices.Clone(m.sorted) }
