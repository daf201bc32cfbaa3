package catalog

import (
	_ "embed"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Country is a canonical country.
type Country struct {
	ISO           string // ISO 3166-1 alpha-2, lower case: "us"
	Name          string // English name
	SMSActivateID int    // SMS-Activate's canonical numeric id: 187 for "us"
	Dial          string // ITU country calling code, digits only: "1" for every NANP member
}

//go:embed countries.tsv
var countriesTSV []byte

// countryIndex is the parsed countries.tsv. Built once at init and never
// mutated; accessors hand out copies of its slices.
type countryIndex struct {
	list   []Country          // canonical rows, sorted by SMSActivateID
	byISO  map[string]Country // canonical row per ISO code
	byID   map[int]Country    // every SMS-Activate id, aliases resolved to the canonical row
	byDial map[string][]Country
}

var countries = mustParse("countries.tsv", parseCountries, countriesTSV)

// parseCountries reads a countries table: columns sa_id, iso, name, dial and
// an optional alias ("1" marks an extra SMS-Activate id for a country whose
// canonical row is elsewhere in the file).
func parseCountries(data []byte) (*countryIndex, error) {
	t, err := readTable(data, []string{"sa_id", "iso", "name", "dial"}, []string{"alias"})
	if err != nil {
		return nil, err
	}
	idx := &countryIndex{
		byISO:  map[string]Country{},
		byID:   map[int]Country{},
		byDial: map[string][]Country{},
	}
	idLine := map[int]int{}     // sa_id -> line that declared it
	isoLine := map[string]int{} // canonical ISO -> line that declared it
	type alias struct {
		id, line int
		iso      string
	}
	var aliases []alias
	for _, r := range t.rows {
		c := Country{
			ISO:  t.field(r, "iso"),
			Name: t.field(r, "name"),
			Dial: t.field(r, "dial"),
		}
		id, err := strconv.Atoi(t.field(r, "sa_id"))
		if err != nil || id < 0 {
			return nil, errorAt(r.line, "sa_id %q is not a non-negative integer", t.field(r, "sa_id"))
		}
		c.SMSActivateID = id
		if prev, dup := idLine[id]; dup {
			return nil, errorAt(r.line, "sa_id %d already on line %d", id, prev)
		}
		idLine[id] = r.line
		if !isLowerCode(c.ISO, 2, 2) {
			return nil, errorAt(r.line, "iso %q is not two lower-case letters", c.ISO)
		}
		if c.Name == "" {
			return nil, errorAt(r.line, "empty name")
		}
		if !isDialCode(c.Dial) {
			return nil, errorAt(r.line, "dial %q is not a 1-3 digit calling code", c.Dial)
		}
		switch t.field(r, "alias") {
		case "1":
			aliases = append(aliases, alias{id: id, line: r.line, iso: c.ISO})
			continue
		case "":
		default:
			return nil, errorAt(r.line, "alias %q is neither empty nor 1", t.field(r, "alias"))
		}
		if prev, dup := isoLine[c.ISO]; dup {
			return nil, errorAt(r.line, "iso %q already on line %d (mark extra ids alias=1)", c.ISO, prev)
		}
		isoLine[c.ISO] = r.line
		idx.list = append(idx.list, c)
		idx.byISO[c.ISO] = c
		idx.byID[id] = c
	}
	for _, a := range aliases {
		c, ok := idx.byISO[a.iso]
		if !ok {
			return nil, errorAt(a.line, "alias for iso %q, which has no canonical row", a.iso)
		}
		idx.byID[a.id] = c
	}
	if len(idx.list) == 0 {
		return nil, errors.New("no countries")
	}
	slices.SortFunc(idx.list, func(a, b Country) int { return a.SMSActivateID - b.SMSActivateID })
	for _, c := range idx.list {
		idx.byDial[c.Dial] = append(idx.byDial[c.Dial], c)
	}
	return idx, nil
}

// isDialCode reports whether s looks like an ITU country calling code:
// 1 to 3 digits, not starting with 0.
func isDialCode(s string) bool {
	if len(s) < 1 || len(s) > 3 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Countries returns the canonical countries sorted by SMSActivateID, each ISO
// code once (alias ids are left out). The slice is a fresh copy.
func Countries() []Country {
	return slices.Clone(countries.list)
}

// CountryByISO returns the country with that ISO 3166-1 alpha-2 code, in any
// case.
func CountryByISO(iso string) (Country, bool) {
	c, ok := countries.byISO[strings.ToLower(iso)]
	return c, ok
}

// CountryBySMSActivateID returns the country with that SMS-Activate id. Alias
// ids are accepted and resolve to the canonical country: 12 ("USA (virtual)")
// returns "us" with SMSActivateID 187.
func CountryBySMSActivateID(id int) (Country, bool) {
	c, ok := countries.byID[id]
	return c, ok
}

// CountryByDial returns every country with that calling code ("1" gives the
// United States, Canada, Jamaica, …), sorted by SMSActivateID, or nil. A
// leading "+" is ignored. The slice is a fresh copy.
func CountryByDial(dial string) []Country {
	return slices.Clone(countries.byDial[strings.TrimPrefix(dial, "+")])
}
