package unified

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/gateway/ops"
	"smsgate/gateway/orders"
	"smsgate/gateway/platform"
	"smsgate/gateway/route"
	"smsgate/ledger"
)

// platformName is a platform's display name (its code when none is set).
func (s *API) platformName(code string) string {
	if p, ok := s.byCode[code]; ok && p.Name != "" {
		return p.Name
	}
	return code
}

// BalanceView is one platform's balance.
type BalanceView struct {
	Platform     string `json:"platform"`
	PlatformName string `json:"platformName"`
	Balance      string `json:"balance,omitempty"`
	Currency     string `json:"currency"`
	BaseBalance  string `json:"baseBalance,omitempty"`
	BaseCurrency string `json:"baseCurrency"`
	Error        string `json:"error,omitempty"`
}

func (s *API) balanceView(c *call, p *platform.Platform) BalanceView {
	v := BalanceView{Platform: p.Code, PlatformName: s.platformName(p.Code), Currency: p.Currency, BaseCurrency: s.fx.Base()}
	b, err := s.market.PlatformBalance(c.cctx, p)
	if err != nil {
		v.Error = "unavailable"
		return v
	}
	v.Balance = adapters.FormatDecimal(b.Micros, 2)
	if base, err := s.fx.ToBase(b); err == nil {
		v.BaseBalance = adapters.FormatDecimal(base.Micros, 2)
	}
	return v
}

func (s *API) apiBalances(c *call) (any, error) {
	out := []BalanceView{}
	for _, p := range s.market.Usable(c.t) {
		out = append(out, s.balanceView(c, p))
	}
	return map[string]any{"balances": out}, nil
}

// tenantPlatform is a platform the tenant may see, or route.ErrBadPlatform.
func (s *API) tenantPlatform(c *call) (*platform.Platform, error) {
	p, ok := s.byCode[c.params["code"]]
	if !ok || !c.t.Allows(p.Code) {
		return nil, route.ErrBadPlatform
	}
	return p, nil
}

func (s *API) apiPlatformBalance(c *call) (any, error) {
	p, err := s.tenantPlatform(c)
	if err != nil {
		return nil, err
	}
	return s.balanceView(c, p), nil
}

// PriceItem is one platform's offer in the price list: price and
// currency are the tenant price (tenant.Price), basePrice what the
// platform charges in the base currency.
type PriceItem struct {
	Platform     string `json:"platform"`
	PlatformName string `json:"platformName"`
	Country      string `json:"country"`
	Code         string `json:"code"` // service code
	Name         string `json:"name"` // service name
	Price        string `json:"price"`
	Currency     string `json:"currency"`
	BasePrice    string `json:"basePrice"`
	BaseCurrency string `json:"baseCurrency"`
	Count        int    `json:"count"` // -1: the platform publishes no stock
	base         int64
}

// countryParam reads an ISO code (or SMS-Activate id); "" when absent.
func countryParam(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if c, ok := catalog.CountryByISO(v); ok {
		return c.ISO, nil
	}
	var id int
	if _, err := fmt.Sscan(v, &id); err == nil {
		if c, ok := catalog.CountryBySMSActivateID(id); ok {
			return c.ISO, nil
		}
	}
	return "", &apiErr{400, codeBadCountry, "unknown country " + fmt.Sprintf("%q", v), nil}
}

func (s *API) apiPrices(c *call) (any, error) {
	service := strings.ToLower(c.query("service"))
	if service == "" {
		service = "tg"
	}
	sv, ok := catalog.ServiceByCode(service)
	if !ok {
		return nil, &apiErr{400, codeBadService, fmt.Sprintf("unknown service %q", service), nil}
	}
	country, err := countryParam(c.query("country"))
	if err != nil {
		return nil, err
	}
	items := []PriceItem{}
	for _, p := range s.market.Usable(c.t) {
		offers, err := s.market.PlatformOffers(c.cctx, p, country, service)
		if err != nil {
			continue // a platform that cannot answer is left out of the list
		}
		for _, o := range offers {
			if o.Service != service || (country != "" && o.Country != country) || o.Count == 0 {
				continue
			}
			base, err := s.fx.ToBase(o.Price)
			if err != nil {
				continue
			}
			price, err := c.t.Price(s.fx, o.Price)
			if err != nil {
				continue
			}
			items = append(items, PriceItem{Platform: p.Code, PlatformName: s.platformName(p.Code), Country: o.Country,
				Code: service, Name: sv.Name, Price: adapters.FormatDecimal(price.Micros, 2), Currency: price.Currency,
				BasePrice: adapters.FormatDecimal(base.Micros, 2), BaseCurrency: base.Currency, Count: o.Count, base: base.Micros})
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].base != items[j].base {
			return items[i].base < items[j].base
		}
		return items[i].Platform < items[j].Platform
	})
	return map[string]any{"priceList": items}, nil
}

// Recommendation is the router's choice now and why.
type Recommendation struct {
	Platform     string          `json:"platform"`
	PlatformName string          `json:"platformName"`
	Strategy     string          `json:"strategy"`
	Reason       string          `json:"reason"`
	Candidates   []CandidateView `json:"candidates"`
	Skipped      []SkipView      `json:"skipped"`
}

// CandidateView is one candidate of a plan.
type CandidateView struct {
	Platform     string  `json:"platform"`
	BasePrice    string  `json:"basePrice,omitempty"`
	Count        int     `json:"count"`
	DeliveryRate float64 `json:"deliveryRate"`
	BaseBalance  string  `json:"baseBalance,omitempty"`
	Priority     int     `json:"priority"`
}

// SkipView says why a platform is not a candidate.
type SkipView struct {
	Platform string `json:"platform"`
	Reason   string `json:"reason"`
}

func (s *API) apiRecommended(c *call) (any, error) {
	service := strings.ToLower(c.query("service"))
	if service == "" {
		service = "tg"
	}
	if _, ok := catalog.ServiceByCode(service); !ok {
		return nil, &apiErr{400, codeBadService, fmt.Sprintf("unknown service %q", service), nil}
	}
	country, err := countryParam(c.query("country"))
	if err != nil {
		return nil, err
	}
	if country == "" {
		return nil, badRequest("country is required")
	}
	plan, err := s.recommend(c.cctx, c.t, orders.BuyRequest{Country: country, Service: service, Strategy: c.query("strategy")}.Route())
	if err != nil {
		return nil, err
	}
	best := plan.Candidates[0]
	out := Recommendation{Platform: best.Platform.Code, PlatformName: s.platformName(best.Platform.Code),
		Strategy: plan.Strategy, Reason: reason(plan.Strategy, best, s.fx.Base()), Candidates: []CandidateView{}, Skipped: []SkipView{}}
	for _, cd := range plan.Candidates {
		v := CandidateView{Platform: cd.Platform.Code, Count: cd.Count, DeliveryRate: math.Round(cd.Rate*1000) / 1000, Priority: cd.Platform.Current().Priority}
		if cd.BasePrice >= 0 {
			v.BasePrice = adapters.FormatDecimal(cd.BasePrice, 2)
		}
		if cd.Balance >= 0 {
			v.BaseBalance = adapters.FormatDecimal(cd.Balance, 2)
		}
		out.Candidates = append(out.Candidates, v)
	}
	for code, why := range plan.Skipped {
		out.Skipped = append(out.Skipped, SkipView{Platform: code, Reason: why})
	}
	sort.Slice(out.Skipped, func(i, j int) bool { return out.Skipped[i].Platform < out.Skipped[j].Platform })
	return out, nil
}

// reason explains the first candidate of a plan.
func reason(strategy string, c route.Candidate, base string) string {
	price := "unknown price"
	if c.BasePrice >= 0 {
		price = adapters.FormatDecimal(c.BasePrice, 2) + " " + base
	}
	switch strategy {
	case "price":
		return "lowest price: " + price
	case "success":
		return fmt.Sprintf("highest drawn delivery rate: %.0f%% (estimate %.0f%% over %.1f recent orders)", c.Draw*100, c.Rate*100, c.Evidence)
	case "balance":
		if c.Balance >= 0 {
			return "largest balance: " + adapters.FormatDecimal(c.Balance, 2) + " " + base
		}
		return "largest balance (balance not known yet)"
	case "value":
		if c.BasePrice >= 0 {
			return fmt.Sprintf("lowest expected time and money per delivered code: %s %s (%s, %.0f%% delivery drawn, code in %s)",
				adapters.FormatDecimal(int64(c.Score), 2), base, price, c.Draw*100, c.Delay.Round(time.Second))
		}
		return "lowest expected time and money per delivered code"
	case "random":
		return fmt.Sprintf("weighted random draw (weight %d)", c.Platform.Current().Weight)
	}
	return fmt.Sprintf("first by priority (%d)", c.Platform.Current().Priority)
}

// PlatformHealth is a platform's last health check and its standing
// with the router: the penalties that keep purchases off it (or off some
// of its service × country pairs) until a time, with the reason, and its
// recent success and cancel rates.
type PlatformHealth struct {
	ops.Health
	Penalties []PenaltyView `json:"penalties"`
	// RecentOrders: ended orders of the last hours, decayed (half-life
	// one hour), as routing counts them.
	RecentOrders float64 `json:"recentOrders"`
	// SuccessRate: the share of those that delivered a code, 0..1;
	// absent with no ended order.
	SuccessRate *float64 `json:"successRate,omitempty"`
	// CancelRate: cancels sent to the platform per purchase, decayed
	// alike; absent with no purchase.
	CancelRate *float64 `json:"cancelRate,omitempty"`
	// MinSuccessRate: the configured floor, 0..1; absent when off.
	MinSuccessRate *float64 `json:"minSuccessRate,omitempty"`
	// Estimates: what routing believes of each country × service the
	// platform has a record for.
	Estimates []EstimateView `json:"estimates"`
}

// EstimateView is the router's estimate for one country × service of a
// platform: the delivery probability and the delay the success and value
// strategies use, and the evidence behind them.
type EstimateView struct {
	Country string `json:"country"`
	Service string `json:"service"`
	// DeliveryProbability: the posterior mean, 0..1 (prior 0.7 worth 5
	// orders, plus the record).
	DeliveryProbability float64 `json:"deliveryProbability"`
	// Evidence: ended orders behind it, decayed (routing.half_life).
	Evidence float64 `json:"evidence"`
	// DelaySeconds: median time from purchase to the code of a delivered
	// order; DelayEvidence the delivered orders behind it, decayed.
	DelaySeconds  float64 `json:"delaySeconds"`
	DelayEvidence float64 `json:"delayEvidence"`
	// Waiting: numbers bought on this instance and still waiting for a
	// code that count in DeliveryProbability (those past the median
	// delay; route.Estimate.Pending).
	Waiting float64 `json:"waiting"`
}

// PenaltyView is one penalty in force.
type PenaltyView struct {
	Scope   string    `json:"scope"` // account or pair
	Country string    `json:"country,omitempty"`
	Service string    `json:"service,omitempty"`
	Reason  string    `json:"reason"`
	Until   time.Time `json:"until"`
}

// platformHealth is p's health check with its standing.
func (s *API) platformHealth(p *platform.Platform) PlatformHealth {
	v := PlatformHealth{Health: s.health.Snapshot(p), Penalties: []PenaltyView{}, Estimates: []EstimateView{}}
	if s.standing == nil {
		return v
	}
	st := s.standing(p)
	for _, pen := range st.Penalties {
		v.Penalties = append(v.Penalties, PenaltyView{Scope: pen.Scope, Country: pen.Country, Service: pen.Service,
			Reason: pen.Reason, Until: pen.Until.UTC()})
	}
	round := func(f float64) *float64 { r := math.Round(f*10000) / 10000; return &r }
	v.RecentOrders = math.Round(st.RecentOrders*100) / 100
	if st.SuccessRate >= 0 {
		v.SuccessRate = round(st.SuccessRate)
	}
	if st.CancelRate >= 0 {
		v.CancelRate = round(st.CancelRate)
	}
	if p.MinSuccessRate > 0 {
		v.MinSuccessRate = round(p.MinSuccessRate)
	}
	for _, e := range st.Estimates {
		v.Estimates = append(v.Estimates, estimateView(e))
	}
	return v
}

// estimateView is one of the router's estimates as the API shows it.
func estimateView(e route.PairEstimate) EstimateView {
	return EstimateView{Country: e.Country, Service: e.Service,
		DeliveryProbability: math.Round(e.P*10000) / 10000, Evidence: math.Round(e.Evidence*100) / 100,
		DelaySeconds: math.Round(e.DelayMedian.Seconds()*10) / 10, DelayEvidence: math.Round(e.DelayEvidence*100) / 100,
		Waiting: e.Pending}
}

// RoutingEstimate is the router's estimate for one platform × country ×
// service, in the statistics answer.
type RoutingEstimate struct {
	Platform string `json:"platform"`
	EstimateView
}

// routingEstimates is what the router believes now of the platforms allow
// admits, narrowed like the statistics (platform, country, service; ""
// = any): the delivery probability and delay success and value rank by.
func (s *API) routingEstimates(allow func(code string) bool, platformCode, country, service string) []RoutingEstimate {
	out := []RoutingEstimate{}
	if s.standing == nil {
		return out
	}
	for _, p := range s.platforms {
		if !allow(p.Code) || (platformCode != "" && p.Code != platformCode) {
			continue
		}
		for _, e := range s.standing(p).Estimates {
			if (country == "" || e.Country == country) && (service == "" || e.Service == service) {
				out = append(out, RoutingEstimate{Platform: p.Code, EstimateView: estimateView(e)})
			}
		}
	}
	return out
}

func (s *API) apiPlatforms(c *call) (any, error) {
	out := []PlatformHealth{}
	for _, p := range s.platforms {
		if c.t.Allows(p.Code) {
			out = append(out, s.platformHealth(p))
		}
	}
	return map[string]any{"platforms": out}, nil
}

func (s *API) apiHealth(c *call) (any, error) {
	p, err := s.tenantPlatform(c)
	if err != nil {
		return nil, err
	}
	return s.platformHealth(p), nil
}

// StatRow is one group of the statistics.
type StatRow struct {
	Key              string  `json:"key"` // period, platform, country or service
	Orders           int     `json:"orders"`
	Delivered        int     `json:"delivered"`
	Cancelled        int     `json:"cancelled"`
	Expired          int     `json:"expired"`
	Active           int     `json:"active"`
	SuccessRate      float64 `json:"successRate"` // delivered / orders, 0..1
	Spend            string  `json:"spend"`       // base currency, orders that received a code (= cost)
	Cost             string  `json:"cost"`        // what the platforms charged for the delivered orders, base currency
	Revenue          string  `json:"revenue"`     // what the tenants were charged for them (their prices), base currency
	Margin           string  `json:"margin"`      // revenue − cost
	AvgTimeToCodeSec float64 `json:"avgTimeToCodeSec"`
	P95TimeToCodeSec float64 `json:"p95TimeToCodeSec"`
	spend, revenue   int64
	ttc              []time.Duration
}

// Statistics is the statistics answer.
type Statistics struct {
	From         string    `json:"from"`
	To           string    `json:"to"`
	GroupBy      string    `json:"groupBy"`
	BaseCurrency string    `json:"baseCurrency"`
	Total        StatRow   `json:"total"`
	Periods      []StatRow `json:"periods"`
	Platforms    []StatRow `json:"platforms"`
	Countries    []StatRow `json:"countries"`
	Services     []StatRow `json:"services"`
	// Estimates: what routing believes now (not over the range) of each
	// platform × country × service the filters select — the delivery
	// probability and delay the success and value strategies rank by.
	Estimates []RoutingEstimate `json:"estimates"`
}

// periodKey names the day (2026-03-01), ISO week (2026-W09) or month
// (2026-03) of t, in UTC.
func periodKey(t time.Time, groupBy string) string {
	t = t.UTC()
	switch groupBy {
	case "week":
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case "month":
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}

func (r *StatRow) add(o ledger.Outcome) {
	r.Orders++
	switch {
	case o.Delivered:
		r.Delivered++
		r.spend += o.BasePrice
		r.revenue += o.Revenue
		if o.TimeToCode >= 0 {
			r.ttc = append(r.ttc, o.TimeToCode)
		}
	case o.State == adapters.StateCancelled:
		r.Cancelled++
	case o.State == adapters.StateExpired || o.State == adapters.StateBanned:
		r.Expired++
	case o.State.Active():
		r.Active++
	}
}

func (r *StatRow) finish() {
	if r.Orders > 0 {
		r.SuccessRate = math.Round(float64(r.Delivered)/float64(r.Orders)*10000) / 10000
	}
	r.Spend = adapters.FormatDecimal(r.spend, 2)
	r.Cost, r.Revenue, r.Margin = r.Spend, adapters.FormatDecimal(r.revenue, 2), adapters.FormatDecimal(r.revenue-r.spend, 2)
	if n := len(r.ttc); n > 0 {
		sort.Slice(r.ttc, func(i, j int) bool { return r.ttc[i] < r.ttc[j] })
		var sum time.Duration
		for _, d := range r.ttc {
			sum += d
		}
		r.AvgTimeToCodeSec = math.Round(sum.Seconds()/float64(n)*1000) / 1000
		// Nearest-rank p95: the smallest value with at least 95% at or below it.
		idx := int(math.Ceil(0.95*float64(n))) - 1
		r.P95TimeToCodeSec = math.Round(r.ttc[idx].Seconds()*1000) / 1000
	}
}

func group(list []ledger.Outcome, key func(ledger.Outcome) string) []StatRow {
	m := map[string]*StatRow{}
	for _, o := range list {
		k := key(o)
		r := m[k]
		if r == nil {
			r = &StatRow{Key: k}
			m[k] = r
		}
		r.add(o)
	}
	out := make([]StatRow, 0, len(m))
	for _, r := range m {
		r.finish()
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// maxStatPeriods bounds the periods one statistics answer holds: the
// answer's size, not the calendar, is what a range costs, so two years by
// month is fine and two years by day is not.
const maxStatPeriods = 400

// periods is how many days, ISO weeks or months [from, to] touches (both
// UTC midnights, from <= to), counted without walking the range.
func periods(from, to time.Time, groupBy string) int {
	const day = 24 * time.Hour
	switch groupBy {
	case "week":
		monday := func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
		return int(monday(to).Sub(monday(from))/(7*day)) + 1
	case "month":
		return (to.Year()*12 + int(to.Month())) - (from.Year()*12 + int(from.Month())) + 1
	}
	return int(to.Sub(from)/day) + 1
}

// apiStatistics computes the tenant's statistics from the ledger.
func (s *API) apiStatistics(c *call) (any, error) { return s.statistics(c, c.t.Name, c.t.Allows) }

// statistics computes one tenant's statistics ("" = every tenant's) from
// the ledger: the orders are selected in SQL (date range and filters),
// grouped here.
func (s *API) statistics(c *call, tenantName string, allow func(platform string) bool) (any, error) {
	const day = 24 * time.Hour
	today := s.now().UTC().Truncate(day)
	from, to := today.Add(-29*day), today
	var err error
	if v := c.query("startDate"); v != "" {
		if from, err = time.Parse("2006-01-02", v); err != nil {
			return nil, badRequest("startDate must be YYYY-MM-DD")
		}
	}
	if v := c.query("endDate"); v != "" {
		if to, err = time.Parse("2006-01-02", v); err != nil {
			return nil, badRequest("endDate must be YYYY-MM-DD")
		}
	}
	if to.Before(from) {
		return nil, badRequest("endDate is before startDate")
	}
	groupBy := c.query("groupBy")
	switch groupBy {
	case "":
		groupBy = "day"
	case "day", "week", "month":
	default:
		return nil, badRequest("groupBy must be day, week or month")
	}
	if n := periods(from, to, groupBy); n > maxStatPeriods {
		return nil, badRequest("the range spans %d %ss; at most %d periods per request (group by a longer period or shorten the range)",
			n, groupBy, maxStatPeriods)
	}
	country, err := countryParam(c.query("country"))
	if err != nil {
		return nil, err
	}
	list, err := s.store.Outcomes(c.cctx, ledger.OutcomeFilter{From: from, To: to.Add(day), Tenant: tenantName,
		Platform: c.query("platform"), Country: country, Service: strings.ToLower(c.query("service"))})
	if err != nil {
		return nil, err
	}
	st := Statistics{From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), GroupBy: groupBy, BaseCurrency: s.fx.Base(),
		Periods:   group(list, func(o ledger.Outcome) string { return periodKey(o.CreatedAt, groupBy) }),
		Platforms: group(list, func(o ledger.Outcome) string { return o.Platform }),
		Countries: group(list, func(o ledger.Outcome) string { return o.Country }),
		Services:  group(list, func(o ledger.Outcome) string { return o.Service }),
		Estimates: s.routingEstimates(allow, c.query("platform"), country, strings.ToLower(c.query("service"))),
	}
	total := group(list, func(ledger.Outcome) string { return "total" })
	if len(total) == 1 {
		st.Total = total[0]
	} else {
		st.Total = StatRow{Key: "total", Spend: "0.00", Cost: "0.00", Revenue: "0.00", Margin: "0.00"}
	}
	return st, nil
}
