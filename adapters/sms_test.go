package adapters

import "testing"

func TestExtractCode(t *testing.T) {
	for in, want := range map[string]string{
		"Your code: 123456.":         "123456",
		"G-482913 is your code":      "482913",
		"code 12 then 3456":          "3456",
		"no digits":                  "",
		"1234567890123 too long 987": "",
	} {
		if got := ExtractCode(in); got != want {
			t.Errorf("ExtractCode(%q) = %q; want %q", in, got, want)
		}
	}
}
