// Package catalog holds the gateway's canonical countries and services and
// the per-platform code maps that translate them to each platform's own codes.
//
// The data lives in embedded tab-separated files (countries.tsv, services.tsv),
// not in Go literals. They are ours, so a malformed row is a programming error:
// the package panics at init with a message naming file:line, and the tests
// catch it before a binary ships.
package catalog

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// lineError is a parse error tied to one line of a file (1-based).
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

func errorAt(line int, format string, args ...any) error {
	return &lineError{line: line, err: fmt.Errorf(format, args...)}
}

// mustParse parses an embedded file and panics with "catalog: file:line:
// reason" when it is malformed.
func mustParse[T any](file string, parse func([]byte) (T, error), data []byte) T {
	v, err := parse(data)
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			panic(fmt.Sprintf("catalog: %s:%d: %v", file, le.line, le.err))
		}
		panic(fmt.Sprintf("catalog: %s: %v", file, err))
	}
	return v
}

// dataLines yields the lines that carry data, with their 1-based line
// numbers: blank lines and lines whose first non-space byte is '#' are skipped, and a trailing
// "\r" is dropped so that a file saved with CRLF still parses.
func dataLines(data []byte) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		n := 0
		for line := range strings.Lines(string(data)) {
			n++
			line = strings.TrimRight(line, "\r\n")
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if !yield(n, line) {
				return
			}
		}
	}
}

// table is a tab-separated file whose first data line names the columns.
type table struct {
	cols map[string]int // column name -> field index
	rows []row
}

type row struct {
	line   int
	fields []string // trimmed; as many as the header has columns
}

// field returns the named column of r, or "" when the file has no such
// (optional) column.
func (t *table) field(r row, name string) string {
	i, ok := t.cols[name]
	if !ok {
		return ""
	}
	return r.fields[i]
}

// readTable parses a header-led tab-separated file. The header must name
// every required column and nothing outside required and optional. A row may
// leave out trailing columns (they read as ""), but not have extra ones.
func readTable(data []byte, required, optional []string) (*table, error) {
	known := map[string]bool{}
	for _, c := range slices.Concat(required, optional) {
		known[c] = true
	}
	var t *table
	width := 0
	for n, line := range dataLines(data) {
		fields := strings.Split(line, "\t")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if t == nil {
			t = &table{cols: map[string]int{}}
			for i, name := range fields {
				if !known[name] {
					return nil, errorAt(n, "unknown column %q", name)
				}
				if _, dup := t.cols[name]; dup {
					return nil, errorAt(n, "duplicate column %q", name)
				}
				t.cols[name] = i
			}
			for _, c := range required {
				if _, ok := t.cols[c]; !ok {
					return nil, errorAt(n, "missing column %q", c)
				}
			}
			width = len(fields)
			continue
		}
		if len(fields) > width {
			return nil, errorAt(n, "%d fields, header has %d columns", len(fields), width)
		}
		for len(fields) < width {
			fields = append(fields, "")
		}
		t.rows = append(t.rows, row{line: n, fields: fields})
	}
	if t == nil {
		return nil, errors.New("no header line")
	}
	return t, nil
}

// isLowerCode reports whether s is between min and max lower-case ASCII letters.
func isLowerCode(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
