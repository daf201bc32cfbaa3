package smsreg

import (
	_ "embed"

	"smsgate/adapters/catalog"
)

//go:embed countries.tsv
var countriesTSV []byte

//go:embed services.tsv
var servicesTSV []byte

// Countries and Services map canonical codes to SMS-REG's. A canonical
// code missing here is not sold on SMS-REG.
var (
	Countries = catalog.MustCodeMap(countriesTSV)
	Services  = catalog.MustCodeMap(servicesTSV)
)
