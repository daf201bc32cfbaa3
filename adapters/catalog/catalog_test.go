package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// smsActivateIDs are the ids protocols/sms-activate.md §7 lists.
func smsActivateIDs() []int {
	var ids []int
	for id := 0; id <= 189; id++ {
		ids = append(ids, id)
	}
	return append(ids, 196, 198, 199, 201, 203)
}

func TestEveryListedIDResolves(t *testing.T) {
	for _, id := range smsActivateIDs() {
		c, ok := CountryBySMSActivateID(id)
		if !ok {
			t.Errorf("CountryBySMSActivateID(%d): not found", id)
			continue
		}
		if c.ISO == "" || c.Name == "" || c.Dial == "" {
			t.Errorf("CountryBySMSActivateID(%d) = %+v; want every field set", id, c)
		}
	}
}

func TestCountryBySMSActivateID(t *testing.T) {
	for _, tc := range []struct {
		id     int
		iso    string // "" = not found
		wantID int    // SMSActivateID of the answer
		why    string
	}{
		{0, "ru", 0, "the legacy default country"},
		{16, "gb", 16, `SMS-Activate calls it "England"`},
		{187, "us", 187, "physical USA is the canonical id"},
		{12, "us", 187, `"USA (virtual)" is an alias that resolves to the canonical row`},
		{36, "ca", 36, "NANP member with its own id"},
		{18, "cd", 18, "uncertain in the source; kept as the table says"},
		{150, "cg", 150, "uncertain in the source; kept as the table says"},
		{203, "xk", 203, "Kosovo: user-assigned ISO code"},
		{-1, "", 0, "negative ids do not exist"},
		{190, "", 0, "gap after 189"},
		{197, "", 0, "gap between listed high ids"},
		{204, "", 0, "beyond the table"},
	} {
		c, ok := CountryBySMSActivateID(tc.id)
		if tc.iso == "" {
			if ok {
				t.Errorf("CountryBySMSActivateID(%d) = %+v; want not found (%s)", tc.id, c, tc.why)
			}
			continue
		}
		if !ok || c.ISO != tc.iso || c.SMSActivateID != tc.wantID {
			t.Errorf("CountryBySMSActivateID(%d) = %+v, %v; want iso %q id %d (%s)", tc.id, c, ok, tc.iso, tc.wantID, tc.why)
		}
	}
}

func TestCountryByISO(t *testing.T) {
	for _, tc := range []struct {
		iso    string
		wantID int // -1 = not found
	}{
		{"us", 187}, // not 12: the alias must never be the canonical id
		{"US", 187}, // case-insensitive
		{"ru", 0},
		{"gb", 16},
		{"Kz", 2},
		{"xk", 203},
		{"uk", -1}, // a common mistake for gb; not an ISO code
		{"usa", -1},
		{"", -1},
	} {
		c, ok := CountryByISO(tc.iso)
		if tc.wantID < 0 {
			if ok {
				t.Errorf("CountryByISO(%q) = %+v; want not found", tc.iso, c)
			}
			continue
		}
		if !ok || c.SMSActivateID != tc.wantID {
			t.Errorf("CountryByISO(%q) = %+v, %v; want SMSActivateID %d", tc.iso, c, ok, tc.wantID)
		}
	}
}

func TestCountriesInvariants(t *testing.T) {
	list := Countries()
	if len(list) < 190 {
		t.Fatalf("len(Countries()) = %d; want at least 190", len(list))
	}
	seenISO := map[string]bool{}
	seenID := map[int]bool{}
	for i, c := range list {
		if seenISO[c.ISO] {
			t.Errorf("duplicate ISO %q", c.ISO)
		}
		if seenID[c.SMSActivateID] {
			t.Errorf("duplicate SMSActivateID %d", c.SMSActivateID)
		}
		seenISO[c.ISO], seenID[c.SMSActivateID] = true, true
		if i > 0 && list[i-1].SMSActivateID >= c.SMSActivateID {
			t.Errorf("not sorted by id: %d before %d", list[i-1].SMSActivateID, c.SMSActivateID)
		}
		if !isLowerCode(c.ISO, 2, 2) {
			t.Errorf("ISO %q is not two lower-case letters", c.ISO)
		}
		if !isDialCode(c.Dial) {
			t.Errorf("%s: Dial %q is not 1-3 digits", c.ISO, c.Dial)
		}
		if c.Name == "" {
			t.Errorf("%s: empty Name", c.ISO)
		}
		if got, ok := CountryByISO(c.ISO); !ok || got != c {
			t.Errorf("CountryByISO(%q) = %+v, %v; want %+v", c.ISO, got, ok, c)
		}
		if got, ok := CountryBySMSActivateID(c.SMSActivateID); !ok || got != c {
			t.Errorf("CountryBySMSActivateID(%d) = %+v, %v; want %+v", c.SMSActivateID, got, ok, c)
		}
	}
	if seenID[12] {
		t.Errorf("Countries() lists alias id 12")
	}
}

// Callers may sort or edit what they get; the catalog must not change.
func TestAccessorsReturnCopies(t *testing.T) {
	Countries()[0].ISO = "zz"
	if c := Countries()[0]; c.ISO != "ru" {
		t.Errorf("Countries()[0] = %+v after caller mutation; want ru", c)
	}
	CountryByDial("7")[0].ISO = "zz"
	if got := CountryByDial("7")[0].ISO; got != "ru" {
		t.Errorf("CountryByDial(\"7\")[0].ISO = %q after caller mutation; want ru", got)
	}
	Services()[0].Code = "zz"
	if got := Services()[0].Code; got == "zz" {
		t.Errorf("Services()[0].Code = %q after caller mutation", got)
	}
}

func TestCountryByDial(t *testing.T) {
	isos := func(cs []Country) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ISO)
		}
		return out
	}
	for _, tc := range []struct {
		dial    string
		want    []string // exact list, in id order; nil with contain set = check subset
		contain []string
	}{
		{dial: "7", want: []string{"ru", "kz"}},
		{dial: "+7", want: []string{"ru", "kz"}}, // a leading + is tolerated
		{dial: "44", want: []string{"gb"}},
		{dial: "383", want: []string{"xk"}},
		{dial: "1", contain: []string{"us", "ca", "jm", "pr", "do", "bs"}}, // NANP: calling code, not area code
		{dial: "1876", want: nil},                                          // Jamaica's area code is not a calling code
		{dial: "999", want: nil},
		{dial: "", want: nil},
	} {
		got := CountryByDial(tc.dial)
		if tc.contain != nil {
			for _, iso := range tc.contain {
				if !slices.Contains(isos(got), iso) {
					t.Errorf("CountryByDial(%q) = %v; want it to contain %q", tc.dial, isos(got), iso)
				}
			}
			if !slices.IsSortedFunc(got, func(a, b Country) int { return a.SMSActivateID - b.SMSActivateID }) {
				t.Errorf("CountryByDial(%q) not sorted by id", tc.dial)
			}
			continue
		}
		if !slices.Equal(isos(got), tc.want) {
			t.Errorf("CountryByDial(%q) = %v; want %v", tc.dial, isos(got), tc.want)
		}
	}
	// The alias row must not make the US appear twice.
	n := 0
	for _, c := range CountryByDial("1") {
		if c.ISO == "us" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("CountryByDial(\"1\") lists us %d times; want 1", n)
	}
}

func TestServices(t *testing.T) {
	list := Services()
	if len(list) < 100 {
		t.Fatalf("len(Services()) = %d; want at least 100", len(list))
	}
	seen := map[string]bool{}
	for i, s := range list {
		if !isLowerCode(s.Code, 2, 4) {
			t.Errorf("code %q is not 2-4 lower-case letters", s.Code)
		}
		if seen[s.Code] {
			t.Errorf("duplicate code %q", s.Code)
		}
		seen[s.Code] = true
		if i > 0 && list[i-1].Code >= s.Code {
			t.Errorf("not sorted: %q before %q", list[i-1].Code, s.Code)
		}
		if s.Name == "" {
			t.Errorf("%s: empty Name", s.Code)
		}
	}
	for _, tc := range []struct {
		code string
		name string // "" = must not be a service; "*" = any name
	}{
		{"tg", "Telegram"},
		{"TG", "Telegram"}, // case-insensitive
		{"wa", "WhatsApp"},
		{"go", "*"},
		{"acz", "*"},         // three-letter code
		{"we", "DrugVokrug"}, // current meaning, not the early AOL
		{"bd", "X5ID"},       // current meaning, not Rambler.ru
		{"gt", "Gett"},       // from the notes below the table
		{"dt", "Delivery Club"},
		{"kp", "*"},
		{"ss", "*"},
		{"full", ""}, // a rent, not an activation: never buyable
		{"qw", ""},   // Qiwi disappeared
		{"", ""},
	} {
		s, ok := ServiceByCode(tc.code)
		switch {
		case tc.name == "" && ok:
			t.Errorf("ServiceByCode(%q) = %+v; want not a service", tc.code, s)
		case tc.name == "":
		case !ok:
			t.Errorf("ServiceByCode(%q): not found", tc.code)
		case tc.name != "*" && s.Name != tc.name:
			t.Errorf("ServiceByCode(%q).Name = %q; want %q", tc.code, s.Name, tc.name)
		}
	}
}

func TestParseCodeMap(t *testing.T) {
	data := "# 5SIM service names\n" +
		"\n" +
		"tg\ttelegram\n" +
		"WA\t\twhatsapp\r\n" + // canonical lower-cased; aligned tabs; CRLF
		"  # indented comment\n" +
		"go\tGoogle\n"
	m, err := ParseCodeMap([]byte(data))
	if err != nil {
		t.Fatalf("ParseCodeMap: %v", err)
	}
	if m.Len() != 3 {
		t.Errorf("Len() = %d; want 3", m.Len())
	}
	if got := m.Canonicals(); !slices.Equal(got, []string{"go", "tg", "wa"}) {
		t.Errorf("Canonicals() = %v; want [go tg wa]", got)
	}
	for _, tc := range []struct {
		canonical, native string
	}{
		{"tg", "telegram"},
		{"wa", "whatsapp"},
		{"go", "Google"}, // native case is kept
	} {
		if got, ok := m.Native(tc.canonical); !ok || got != tc.native {
			t.Errorf("Native(%q) = %q, %v; want %q", tc.canonical, got, ok, tc.native)
		}
		if got, ok := m.Canonical(tc.native); !ok || got != tc.canonical {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tc.native, got, ok, tc.canonical)
		}
	}
	if got, ok := m.Native("TG"); !ok || got != "telegram" {
		t.Errorf("Native(\"TG\") = %q, %v; want telegram", got, ok)
	}
	if got, ok := m.Canonical("google"); ok {
		t.Errorf("Canonical(\"google\") = %q; want not found (native codes match exactly)", got)
	}
	if got, ok := m.Native("vk"); ok {
		t.Errorf("Native(\"vk\") = %q; want not found", got)
	}

	empty, err := ParseCodeMap([]byte("# nothing mapped yet\n"))
	if err != nil || empty.Len() != 0 {
		t.Errorf("ParseCodeMap(comments only) = %v, %v; want empty map", empty, err)
	}
}

func TestParseCodeMapErrors(t *testing.T) {
	f := func(data, wantErr string) {
		t.Helper()
		_, err := ParseCodeMap([]byte(data))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseCodeMap(%q) error = %v; want it to contain %q", data, err, wantErr)
		}
	}
	// Two canonical codes on one native code would make Canonical ambiguous.
	f("tg\ttelegram\n# c\nwa\ttelegram\n", `line 3: native code "telegram" already mapped from "tg" on line 1`)
	// One canonical code on two native codes would make Native ambiguous.
	f("tg\ttelegram\ntg\ttg2\n", `line 2: canonical code "tg" already mapped to "telegram" on line 1`)
	// Canonical codes are case-insensitive, so case does not hide a duplicate.
	f("tg\ttelegram\nTG\ttg2\n", `line 2: canonical code "tg"`)
	f("tg telegram\n", "line 1: want")         // spaces are not a separator
	f("tg\n", "line 1: want")                  // native missing
	f("tg\ttelegram\textra\n", "line 1: want") // extra field
}

func TestMustCodeMapPanics(t *testing.T) {
	defer func() {
		r := recover()
		if msg := fmt.Sprint(r); !strings.Contains(msg, "line 2") {
			t.Errorf("MustCodeMap panic = %v; want a message naming line 2", r)
		}
	}()
	MustCodeMap([]byte("tg\ttelegram\nwa\ttelegram\n"))
	t.Errorf("MustCodeMap did not panic on a duplicate")
}

// The embedded files are ours; these cases pin that each class of mistake in
// them is caught, and caught at the right line.
func TestParseCountriesErrors(t *testing.T) {
	const header = "sa_id\tiso\tname\tdial\talias\n"
	f := func(data, wantErr string) {
		t.Helper()
		_, err := parseCountries([]byte(data))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseCountries(%q) error = %v; want it to contain %q", data, err, wantErr)
		}
	}
	f(header+"0\tru\tRussia\t7\n0\tkz\tKazakhstan\t7\n", "line 3: sa_id 0 already on line 2")
	f(header+"187\tus\tUSA\t1\n12\tus\tUSA (virtual)\t1\n", `line 3: iso "us" already on line 2`)
	f(header+"12\tus\tUSA (virtual)\t1\t1\n", `line 2: alias for iso "us", which has no canonical row`)
	f(header+"16\tGB\tUnited Kingdom\t44\n", `line 2: iso "GB"`)
	f(header+"16\tgb\tUnited Kingdom\t+44\n", `line 2: dial "+44"`)
	f(header+"103\tjm\tJamaica\t1876\n", `line 2: dial "1876"`)
	f(header+"x\tru\tRussia\t7\n", `line 2: sa_id "x"`)
	f(header+"0\tru\t\t7\n", "line 2: empty name")
	f(header+"0\tru\tRussia\t7\tyes\n", `line 2: alias "yes"`)
	f(header+"0\tru\tRussia\t7\t\textra\n", "line 2: 6 fields")
	f("# c\nsa_id\tiso\tname\tdial\tru\n", `line 2: unknown column "ru"`)
	f("sa_id\tiso\tname\n", `line 1: missing column "dial"`)
	f("# only a comment\n", "no header")
}

func TestParseServicesErrors(t *testing.T) {
	f := func(data, wantErr string) {
		t.Helper()
		_, err := parseServices([]byte(data))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseServices(%q) error = %v; want it to contain %q", data, err, wantErr)
		}
	}
	f("code\tname\ntg\tTelegram\ntg\tTelegram X\n", `line 3: code "tg" already on line 2`)
	f("code\tname\nfull_\tRent\n", `line 2: code "full_"`)
	f("code\tname\nt\tT\n", `line 2: code "t"`)
	f("code\tname\ntg\t\n", "line 2: empty name")
	f("code\tname\n", "no services")
}

// A bad embedded file must panic with file:line so the fix is obvious.
func TestMustParseNamesFileAndLine(t *testing.T) {
	defer func() {
		want := `catalog: services.tsv:3: code "tg" already on line 2`
		if msg := fmt.Sprint(recover()); msg != want {
			t.Errorf("panic = %q; want %q", msg, want)
		}
	}()
	mustParse("services.tsv", parseServices, []byte("code\tname\ntg\tTelegram\ntg\tTelegram\n"))
}

func TestOperators(t *testing.T) {
	for _, tc := range []struct {
		iso   string
		first string
		n     int
	}{{"ru", "megafon", 5}, {"US", "at_t", 3}, {"fr", "any", 1}} {
		got := Operators(tc.iso)
		if len(got) != tc.n || got[0] != tc.first {
			t.Errorf("Operators(%q) = %v; want %d starting %q", tc.iso, got, tc.n, tc.first)
		}
	}
	Operators("ru")[0] = "changed"
	if Operators("ru")[0] != "megafon" {
		t.Fatal("Operators hands out the catalog's own slice")
	}
}
