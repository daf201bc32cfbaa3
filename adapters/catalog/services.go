package catalog

import (
	_ "embed"
	"errors"
	"slices"
	"strings"
)

// Service is a canonical service. Codes are SMS-Activate's (DESIGN.md §3),
// since legacy and unified clients both speak them.
type Service struct {
	Code string // 2-4 lower-case letters: "tg"
	Name string // display name only; some codes changed meaning over time
}

//go:embed services.tsv
var servicesTSV []byte

// serviceIndex is the parsed services.tsv. Built once at init and never
// mutated; accessors hand out copies of its slices.
type serviceIndex struct {
	list   []Service // sorted by Code
	byCode map[string]Service
}

var services = mustParse("services.tsv", parseServices, servicesTSV)

// parseServices reads a services table: columns code and name.
func parseServices(data []byte) (*serviceIndex, error) {
	t, err := readTable(data, []string{"code", "name"}, nil)
	if err != nil {
		return nil, err
	}
	idx := &serviceIndex{byCode: map[string]Service{}}
	codeLine := map[string]int{}
	for _, r := range t.rows {
		s := Service{Code: t.field(r, "code"), Name: t.field(r, "name")}
		if !isLowerCode(s.Code, 2, 4) {
			return nil, errorAt(r.line, "code %q is not 2-4 lower-case letters", s.Code)
		}
		if s.Name == "" {
			return nil, errorAt(r.line, "empty name")
		}
		if prev, dup := codeLine[s.Code]; dup {
			return nil, errorAt(r.line, "code %q already on line %d", s.Code, prev)
		}
		codeLine[s.Code] = r.line
		idx.list = append(idx.list, s)
		idx.byCode[s.Code] = s
	}
	if len(idx.list) == 0 {
		return nil, errors.New("no services")
	}
	slices.SortFunc(idx.list, func(a, b Service) int { return strings.Compare(a.Code, b.Code) })
	return idx, nil
}

// Services returns every canonical service sorted by code. The slice is a
// fresh copy.
func Services() []Service {
	return slices.Clone(services.list)
}

// ServiceByCode returns the service with that code, in any case.
func ServiceByCode(code string) (Service, bool) {
	s, ok := services.byCode[strings.ToLower(code)]
	return s, ok
}
