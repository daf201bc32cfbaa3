package onlinesim

import (
	_ "embed"
	"strings"

	"smsgate/adapters/catalog"
)

//go:embed countries.tsv
var countriesTSV []byte

//go:embed services.tsv
var servicesTSV []byte

// Countries and Services map canonical codes to OnlineSIM's: dial codes and
// service slugs. A canonical code missing here is not sold on OnlineSIM.
var (
	Countries = catalog.MustCodeMap(countriesTSV)
	Services  = catalog.MustCodeMap(servicesTSV)
)

// servicesFold finds a canonical service for a slug in any case: catalogues
// have shown VKcom as vkcom. Built once from Services, never mutated.
var servicesFold = func() map[string]string {
	m := map[string]string{}
	for _, c := range Services.Canonicals() {
		n, _ := Services.Native(c)
		m[strings.ToLower(n)] = c
	}
	return m
}()

// canonicalService returns the canonical code for a platform slug.
func canonicalService(slug string) (string, bool) {
	if c, ok := Services.Canonical(slug); ok {
		return c, true
	}
	c, ok := servicesFold[strings.ToLower(slug)]
	return c, ok
}
