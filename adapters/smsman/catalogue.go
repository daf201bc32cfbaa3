package smsman

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// catalogueTTL is how long the countries and applications lists are
// trusted. Ids are internal to SMS-Man and stable in practice; a day
// matches the gateway's country cache.
const catalogueTTL = 24 * time.Hour

// catalogue is SMS-Man's id space mapped onto canonical codes. Immutable
// once built; replaced whole.
type catalogue struct {
	loaded    time.Time
	countryID map[string]string // ISO -> country_id
	countryOf map[string]string // country_id -> ISO
	appID     map[string]string // canonical service -> application_id
	serviceOf map[string]string // application_id -> canonical service
	countries []string          // ISO codes, sorted
}

// Match quality, best first: when two entries claim one canonical code the
// better match wins, then the lower id.
const (
	matchCode  = iota // the entry's code is the canonical one, or listed for it
	matchAlias        // the entry's code is another spelling we know (UK)
	matchTitle        // only the title matched a name
)

type claim struct {
	id      string
	quality int
}

// better reports whether a beats b for the same canonical code.
func better(a, b claim) bool {
	return cmp.Or(cmp.Compare(a.quality, b.quality), cmp.Compare(len(a.id), len(b.id)), strings.Compare(a.id, b.id)) < 0
}

// resolve turns the best claim per canonical code into maps both ways. A
// list may repeat an id (an item whose "id" disagrees with its key): an id
// claimed for two codes goes to the better claim, so the maps stay
// one-to-one.
func resolve(claims map[string]claim) (to, from map[string]string) {
	canons := make([]string, 0, len(claims))
	for canon := range claims {
		canons = append(canons, canon)
	}
	slices.SortFunc(canons, func(a, b string) int {
		return cmp.Or(cmp.Compare(claims[a].quality, claims[b].quality), strings.Compare(a, b))
	})
	to, from = map[string]string{}, map[string]string{}
	for _, canon := range canons {
		c := claims[canon]
		if _, taken := from[c.id]; taken {
			continue
		}
		to[canon] = c.id
		from[c.id] = canon
	}
	return to, from
}

func offer(claims map[string]claim, canon string, c claim) {
	if old, ok := claims[canon]; !ok || better(c, old) {
		claims[canon] = c
	}
}

// countryClaims maps the countries list: a code that is an ISO code maps by
// it (normalised to lower case), a code listed in countries.tsv (UK) maps
// as listed, else the title is matched against the gateway's names.
func countryClaims(list []entry) map[string]claim {
	names := map[string]string{}
	for _, c := range catalog.Countries() {
		names[strings.ToLower(c.Name)] = c.ISO
	}
	claims := map[string]claim{}
	for _, e := range list {
		if iso, ok := countryCodes.Canonical(strings.ToUpper(e.Code)); ok {
			offer(claims, iso, claim{e.ID, matchAlias})
		} else if c, ok := catalog.CountryByISO(e.Code); ok && len(e.Code) == 2 {
			offer(claims, c.ISO, claim{e.ID, matchCode})
		} else if iso, ok := names[strings.ToLower(e.Title)]; ok {
			offer(claims, iso, claim{e.ID, matchTitle})
		}
	}
	return claims
}

// serviceClaims maps the applications list: by services.tsv, else by a
// code that is a canonical service code, else by title against the
// gateway's service names.
func serviceClaims(list []entry) map[string]claim {
	names := map[string]string{}
	for _, s := range catalog.Services() {
		names[strings.ToLower(s.Name)] = s.Code
	}
	claims := map[string]claim{}
	for _, e := range list {
		if svc, ok := serviceCodes.Canonical(e.Code); ok {
			offer(claims, svc, claim{e.ID, matchCode})
		} else if s, ok := catalog.ServiceByCode(e.Code); ok && e.Code == s.Code {
			offer(claims, s.Code, claim{e.ID, matchCode})
		} else if svc, ok := names[strings.ToLower(e.Title)]; ok {
			offer(claims, svc, claim{e.ID, matchTitle})
		}
	}
	return claims
}

func buildCatalogue(countries, apps []entry, now time.Time) *catalogue {
	cat := &catalogue{loaded: now}
	cat.countryID, cat.countryOf = resolve(countryClaims(countries))
	cat.appID, cat.serviceOf = resolve(serviceClaims(apps))
	for iso := range cat.countryID {
		cat.countries = append(cat.countries, iso)
	}
	slices.Sort(cat.countries)
	return cat
}

// load is one catalogue fetch in flight: callers that arrive meanwhile wait
// for it, or for their own deadline, instead of fetching again.
type load struct {
	done chan struct{}
	cat  *catalogue
	err  error
}

// catalogue returns the id maps, fetching them when there are none or they
// are older than catalogueTTL. A failed refresh keeps serving the old maps:
// ids rarely change, and a stale map beats no purchases.
func (c *Client) catalogue(ctx context.Context) (*catalogue, error) {
	cur := c.cat.Load()
	if cur != nil && c.now().Sub(cur.loaded) < catalogueTTL {
		return cur, nil
	}
	c.loadMu.Lock()
	l := c.loading
	if l != nil {
		c.loadMu.Unlock()
		select {
		case <-l.done:
			return l.cat, l.err
		case <-ctx.Done():
			return nil, c.Errorf("catalogue", "%w: %w", ctx.Err(), adapters.ErrUnavailable)
		}
	}
	l = &load{done: make(chan struct{})}
	c.loading = l
	c.loadMu.Unlock()

	l.cat, l.err = c.fetchCatalogue(ctx)
	if l.err == nil {
		c.cat.Store(l.cat)
	} else if cur != nil {
		l.cat, l.err = cur, nil
	}
	c.loadMu.Lock()
	c.loading = nil
	c.loadMu.Unlock()
	close(l.done)
	return l.cat, l.err
}

func (c *Client) fetchCatalogue(ctx context.Context) (*catalogue, error) {
	var lists [2][]entry
	for i, name := range []string{"countries", "applications"} {
		resp, err := c.get(ctx, "catalogue", name, nil, false)
		if err != nil {
			return nil, err
		}
		if lists[i], err = parseCatalogue(resp.Status, resp.Body); err != nil {
			return nil, c.Errorf("catalogue", "%s: %w", name, err)
		}
	}
	return buildCatalogue(lists[0], lists[1], c.now()), nil
}
