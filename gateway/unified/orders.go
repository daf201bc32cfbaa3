package unified

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
	"smsgate/gateway/orders"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

func zapErr(err error) zap.Field { return zap.Error(err) }

// PhoneAnswer is getPhone's data.
type PhoneAnswer struct {
	ID           int64  `json:"id"`
	Phone        string `json:"phone"`
	Country      string `json:"country"`
	Service      string `json:"service"`
	Price        string `json:"price"`
	Currency     string `json:"currency"`
	Platform     string `json:"platform"`
	PlatformName string `json:"platformName"`
}

type getPhoneBody struct {
	Country  string `json:"country"`
	Service  string `json:"service"`
	Platform string `json:"platform"`
	Strategy string `json:"strategy"`
	MaxPrice any    `json:"maxPrice"` // number or decimal string
	Operator string `json:"operator"`
	Failover bool   `json:"failover"`
	// Count, when present, buys up to that many numbers (1..100) and
	// answers a BatchAnswer.
	Count *int `json:"count"`
}

// buyRequest validates a getPhone body into a orders.BuyRequest.
func (b getPhoneBody) buyRequest(t *tenant.Tenant) (orders.BuyRequest, error) {
	if b.Service == "" {
		b.Service = "tg" // the integration guide's default
	}
	r := orders.BuyRequest{Service: strings.ToLower(b.Service), Operator: b.Operator, Strategy: b.Strategy, Platform: b.Platform, Failover: b.Failover}
	if b.Country == "" {
		return r, badRequest("country is required (ISO 3166-1 alpha-2, e.g. \"us\")")
	}
	c, ok := catalog.CountryByISO(b.Country)
	if !ok {
		// Legacy clients may pass SMS-Activate's numeric ids.
		if id, err := strconv.Atoi(b.Country); err == nil {
			c, ok = catalog.CountryBySMSActivateID(id)
		}
	}
	if !ok {
		return r, &apiErr{400, codeBadCountry, "unknown country " + strconv.Quote(b.Country), nil}
	}
	r.Country = c.ISO
	if _, ok := catalog.ServiceByCode(r.Service); !ok {
		return r, &apiErr{400, codeBadService, "unknown service " + strconv.Quote(b.Service), nil}
	}
	switch v := b.MaxPrice.(type) {
	case nil:
	case float64:
		if v <= 0 {
			return r, badRequest("maxPrice must be positive")
		}
		r.MaxPrice = adapters.Money{Micros: adapters.FromFloat(v), Currency: t.Currency}
	case string:
		m, err := adapters.ParseDecimal(v)
		if err != nil || m <= 0 {
			return r, badRequest("maxPrice must be a positive decimal")
		}
		r.MaxPrice = adapters.Money{Micros: m, Currency: t.Currency}
	default:
		return r, badRequest("maxPrice must be a number or a decimal string")
	}
	return r, nil
}

// sameRequest reports whether an order answers the request (for a reused
// Idempotency-Key): same country and service, and the same pinned
// platform and operator when the request names them.
func sameRequest(o ledger.Order, r orders.BuyRequest) bool {
	return o.Country == r.Country && o.Service == r.Service &&
		(r.Platform == "" || o.Platform == r.Platform)
}

func (s *API) phoneAnswer(t *tenant.Tenant, o ledger.Order) PhoneAnswer {
	price, err := t.OrderPrice(s.fx, &o)
	if err != nil {
		price = o.Price
	}
	return PhoneAnswer{ID: o.ID, Phone: o.Phone, Country: o.Country, Service: o.Service,
		Price: adapters.FormatDecimal(price.Micros, 2), Currency: price.Currency,
		Platform: o.Platform, PlatformName: s.platformName(o.Platform)}
}

// apiGetPhone buys a number. With an Idempotency-Key, the same key from
// the same tenant gives the same order, even while the first request is
// still buying (the requests share one flight), and a reused key with a
// different request is a conflict.
func (s *API) apiGetPhone(c *call) (any, error) {
	var b getPhoneBody
	if err := c.decode(&b); err != nil {
		return nil, err
	}
	r, err := b.buyRequest(c.t)
	if err != nil {
		return nil, err
	}
	key := string(c.ctx.Request.Header.Peek("Idempotency-Key"))
	if len(key) > 200 {
		return nil, badRequest("Idempotency-Key longer than 200 characters")
	}
	if b.Count != nil {
		if *b.Count < 1 || *b.Count > maxBatch {
			return nil, badRequest("count must be 1..100")
		}
		return s.buyBatch(c, r, *b.Count, key)
	}
	if key == "" {
		o, err := s.orders.Buy(c.cctx, c.t, r)
		if err != nil {
			return nil, err
		}
		return s.phoneAnswer(c.t, o), nil
	}
	r.IdempotencyKey = "u:" + key // a namespace apart from legacy getNumberV2 orderIds
	v, err, _ := s.idem.Do(c.t.Name+"\x00"+r.IdempotencyKey, func() (any, error) {
		// Detached from this caller: a caller that gives up must not fail
		// the purchase the others wait for.
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Routing.Deadline+s.cfg.Server.RequestTimeout)
		defer cancel()
		if o, err := s.store.GetByIdempotencyKey(ctx, c.t.Name, r.IdempotencyKey); err == nil {
			return o, nil
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return nil, err
		}
		o, err := s.orders.Buy(ctx, c.t, r)
		if errors.Is(err, orders.ErrDuplicateOrder) {
			// Bought by another instance meanwhile: answer with that order.
			return s.store.GetByIdempotencyKey(ctx, c.t.Name, r.IdempotencyKey)
		}
		return o, err
	})
	if err != nil {
		return nil, err
	}
	o := v.(ledger.Order)
	if !sameRequest(o, r) {
		return nil, &apiErr{409, codeIdempotency, "Idempotency-Key already used for a different request", nil}
	}
	return s.phoneAnswer(c.t, o), nil
}

// CodeAnswer is getSmsCode's data.
type CodeAnswer struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"` // received, waiting, or the ended state
	State      string `json:"state"`
	Code       string `json:"code,omitempty"`
	Text       string `json:"text,omitempty"`
	ReceivedAt string `json:"receivedAt,omitempty"`
}

type getCodeBody struct {
	OrderID       flexID       `json:"orderId"`
	Wait          flexDuration `json:"wait"`
	Phone         string       `json:"phone"`
	Platform      string       `json:"platform"`
	MaxRetries    int          `json:"maxRetries"`
	RetryInterval flexDuration `json:"retryInterval"`
}

// codeAnswer says what the order offers a waiting client now; done is
// false while it should keep waiting.
func codeAnswer(o ledger.Order) (CodeAnswer, bool) {
	a := CodeAnswer{ID: o.ID, State: string(o.State)}
	last := func() {
		c := o.Codes[len(o.Codes)-1]
		a.Code, a.Text, a.ReceivedAt = c.Code, c.Text, c.ReceivedAt.UTC().Format(time.RFC3339)
	}
	switch {
	case o.State == adapters.StateCodeReceived && len(o.Codes) > 0:
		a.Status = "received"
		last()
		return a, true
	case o.State.Active():
		a.Status = "waiting"
		return a, false
	case len(o.Codes) > 0:
		a.Status = "received"
		last()
		return a, true
	}
	a.Status = string(o.State)
	return a, true
}

// apiGetSmsCode long-polls the ledger for the order's code. It never calls
// the upstream: the poller does, and wakes the waiters when a code lands.
func (s *API) apiGetSmsCode(c *call) (any, error) {
	var b getCodeBody
	if err := c.decode(&b); err != nil {
		return nil, err
	}
	id := int64(b.OrderID)
	if id <= 0 {
		if b.Phone == "" {
			return nil, badRequest("orderId (or phone) is required")
		}
		o, err := s.orderByPhone(c.cctx, c.t, b.Phone, b.Platform)
		if err != nil {
			return nil, err
		}
		id = o.ID
	}
	wait := b.Wait.d
	if !b.Wait.set && b.MaxRetries > 0 {
		wait = time.Duration(b.MaxRetries) * b.RetryInterval.d
	}
	if max := s.cfg.API.MaxWait; wait > max {
		wait = max
	}
	deadline := time.Now().Add(wait)
	for {
		o, err := s.orders.Order(c.cctx, c.t, id)
		if err != nil {
			return nil, err
		}
		a, done := codeAnswer(o)
		left := time.Until(deadline)
		if done || left <= 0 {
			return a, nil
		}
		ctx, cancel := context.WithTimeout(c.cctx, left)
		// Woken by the poller; the periodic re-read covers a code written
		// by another instance.
		s.orders.WaitChange(ctx, id, 250*time.Millisecond)
		cancel()
		if c.cctx.Err() != nil {
			return a, nil
		}
	}
}

// orderByPhone finds the tenant's newest active order for a phone number.
func (s *API) orderByPhone(ctx context.Context, t *tenant.Tenant, phone, platform string) (ledger.Order, error) {
	phone = strings.TrimPrefix(strings.TrimSpace(phone), "+")
	list, err := s.store.List(ctx, ledger.Filter{Tenant: t.Name, ActiveOnly: true, Platform: platform})
	if err != nil {
		return ledger.Order{}, err
	}
	for _, o := range list {
		if o.Phone == phone {
			return o, nil
		}
	}
	return ledger.Order{}, adapters.ErrNoActivation
}

type setStatusBody struct {
	OrderID flexID `json:"orderId"`
	Status  any    `json:"status"`
}

// statusNames are the unified names of the legacy status numbers.
var statusNames = map[string]int{"ready": orders.StatusReady, "retry": orders.StatusAnother, "complete": orders.StatusFinish, "finish": orders.StatusFinish, "cancel": orders.StatusCancel, "ban": orders.StatusBan,
	"1": orders.StatusReady, "3": orders.StatusAnother, "6": orders.StatusFinish, "8": orders.StatusCancel}

// StatusAnswer is setStatus's data.
type StatusAnswer struct {
	ID    int64  `json:"id"`
	State string `json:"state"`
}

func (s *API) apiSetStatus(c *call) (any, error) {
	var b setStatusBody
	if err := c.decode(&b); err != nil {
		return nil, err
	}
	if b.OrderID <= 0 {
		return nil, badRequest("orderId is required")
	}
	var name string
	switch v := b.Status.(type) {
	case string:
		name = strings.ToLower(v)
	case float64:
		name = strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return nil, badRequest("status is required (complete|cancel|retry|ready|ban|6|8|3|1)")
	}
	st, ok := statusNames[name]
	if !ok {
		return nil, badRequest("unknown status %q (complete|cancel|retry|ready|ban|6|8|3|1)", name)
	}
	o, err := s.orders.SetStatus(c.cctx, c.t, int64(b.OrderID), st)
	if err != nil {
		return nil, err
	}
	return StatusAnswer{ID: o.ID, State: string(o.State)}, nil
}

// OrderView is an order as the unified API shows it.
type OrderView struct {
	ID           int64      `json:"id"`
	Phone        string     `json:"phone"`
	Country      string     `json:"country"`
	Service      string     `json:"service"`
	Operator     string     `json:"operator,omitempty"`
	Platform     string     `json:"platform"`
	PlatformName string     `json:"platformName"`
	Price        string     `json:"price"`
	Currency     string     `json:"currency"`
	BasePrice    string     `json:"basePrice"`
	BaseCurrency string     `json:"baseCurrency"`
	State        string     `json:"state"`
	Codes        []CodeView `json:"codes"`
	CreatedAt    string     `json:"createdAt"`
	ExpiresAt    string     `json:"expiresAt"`
}

// CodeView is one received SMS.
type CodeView struct {
	Code       string `json:"code"`
	Text       string `json:"text"`
	ReceivedAt string `json:"receivedAt"`
}

func (s *API) orderView(t *tenant.Tenant, o ledger.Order) OrderView {
	price, err := t.OrderPrice(s.fx, &o)
	if err != nil {
		price = o.Price
	}
	v := OrderView{ID: o.ID, Phone: o.Phone, Country: o.Country, Service: o.Service, Operator: o.Operator,
		Platform: o.Platform, PlatformName: s.platformName(o.Platform),
		Price: adapters.FormatDecimal(price.Micros, 2), Currency: price.Currency,
		BasePrice: adapters.FormatDecimal(o.BasePrice.Micros, 2), BaseCurrency: s.fx.Base(),
		State: string(o.State), Codes: []CodeView{},
		CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: o.ExpiresAt.UTC().Format(time.RFC3339)}
	for _, c := range o.Codes {
		v.Codes = append(v.Codes, CodeView{Code: c.Code, Text: c.Text, ReceivedAt: c.ReceivedAt.UTC().Format(time.RFC3339)})
	}
	return v
}

func (s *API) apiOrder(c *call) (any, error) {
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || id <= 0 {
		return nil, &apiErr{404, codeNotFound, "order not found", nil}
	}
	o, err := s.orders.Order(c.cctx, c.t, id)
	if err != nil {
		return nil, err
	}
	return s.orderView(c.t, o), nil
}

func (s *API) apiOrders(c *call) (any, error) {
	f, err := orderFilter(c, c.t.Name, 100)
	if err != nil {
		return nil, err
	}
	list, err := s.store.List(c.cctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]OrderView, 0, len(list))
	for _, o := range list {
		out = append(out, s.orderView(c.t, o))
	}
	return map[string]any{"orders": out}, nil
}

// orderFilter reads an order listing's ?state=active|all and ?limit=1..1000
// (default def) for tenant ("" = every tenant).
func orderFilter(c *call, tenant string, def int) (ledger.Filter, error) {
	f := ledger.Filter{Tenant: tenant, Limit: def}
	switch st := c.query("state"); st {
	case "", "all":
	case "active":
		f.ActiveOnly = true
	default:
		return f, badRequest("state must be active or all")
	}
	if l := c.query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return f, badRequest("limit must be 1..1000")
		}
		f.Limit = n
	}
	return f, nil
}
