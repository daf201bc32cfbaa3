package fivesim

import (
	_ "embed"

	"smsgate/adapters/catalog"
)

// The code maps are ours, so a malformed file panics at init and the tests
// catch it. The live map could be built from /v1/guest/countries (its "iso"
// keys), but a fixed file keeps a purchase from depending on a catalogue
// call and makes every mapping reviewable.
var (
	//go:embed countries.tsv
	countriesTSV []byte
	//go:embed services.tsv
	servicesTSV []byte

	countries = catalog.MustCodeMap(countriesTSV) // ISO alpha-2 -> country slug
	services  = catalog.MustCodeMap(servicesTSV)  // SA service code -> product slug
)
