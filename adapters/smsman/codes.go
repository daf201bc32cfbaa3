package smsman

import (
	_ "embed"

	"smsgate/adapters/catalog"
)

// The code maps are ours, so a malformed file panics at init and the tests
// catch it. They hold codes, not ids: SMS-Man's ids come from its
// catalogue calls (see catalogue.go).
var (
	//go:embed countries.tsv
	countriesTSV []byte
	//go:embed services.tsv
	servicesTSV []byte

	countryCodes = catalog.MustCodeMap(countriesTSV) // ISO -> SMS-Man country code, exceptions only
	serviceCodes = catalog.MustCodeMap(servicesTSV)  // SA code -> SMS-Man application code
)
