// Package simulator is the simulated SMS market every fake upstream shares:
// stock and prices per (country, service), an account balance, the order
// lifecycle with the real timings (2-minute cancel guard, 20-minute
// lifetime, refunds, another SMS after a code), SMS arrival after a delay,
// and fault injection. Each platform package puts its protocol skin (an
// HTTP handler speaking that platform's real protocol) over a Market.
//
// Time is read from an injected Clock and every transition is applied
// lazily when the market is next used: the times at which orders change on
// their own wait in a min-heap (events.go), and each operation applies
// those due by then. A test that advances a ManualClock by 20 minutes sees
// the expiry at once, with no goroutines, and no operation walks every
// active order except the one that lists them.
package simulator

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// Config sets up a Market. Zero fields take the defaults in their comments.
type Config struct {
	Currency string // ISO 4217 of the account; default "USD"
	// Balance is the starting balance in micro-units; 0 means 1000 units.
	// Use SetBalance(0) after New for an empty account.
	Balance int64
	// Stock per (country, service) at start; default 500. Negative: 0.
	Stock int
	// Countries and Services sold; default DefaultCountries/DefaultServices.
	Countries []string
	Services  []string
	// BasePrice is the mean price per activation in micro-units; default
	// 0.50 units. Each (country, service) gets a stable price from 0.5× to
	// 1.5× of it.
	BasePrice int64
	// CodeDelay is how long after purchase (or after a request for another
	// SMS) an SMS arrives; default 5s. Negative: never on its own (use
	// DeliverSMS).
	CodeDelay time.Duration
	// Lifetime of an order without a code; default 20m.
	Lifetime time.Duration
	// Retention is how long an ended order can still be looked up; after
	// that the market forgets it (its id answers ErrNoActivation), so a
	// long run's memory follows its active orders. 0 = for ever.
	Retention time.Duration
	// CancelGuard is the protective interval in which cancel is refused;
	// default 2m.
	CancelGuard time.Duration
	// NoRetryCountries cannot get another SMS on the same number.
	NoRetryCountries []string
	Clock            Clock  // default RealClock
	Seed             uint64 // random seed for phones and codes; default 1
	// IDOffset moves the order ids (they start after 100000000 + IDOffset)
	// and the phone numbers (it is part of their seed), so that demo
	// instances sharing one ledger, each with its own simulators, do not
	// hand out the same ids: the ledger refuses a second active order with
	// a platform's upstream id. 0 = this process's random offset (the same
	// for every market of the process, see ProcessOffset); negative = none,
	// for tests that want fixed ids and numbers.
	IDOffset int64
	// Key is the API key the skins accept; "" accepts any non-empty key.
	Key string
	// InboxEvery: every inbox number receives a code SMS this often (clock
	// time); 0 = never on its own (use Inject). For demo pools.
	InboxEvery time.Duration
	// Model makes the market realistic (model.go): delivery probability,
	// log-normal delays, refill, moving prices and drift per pair, in
	// place of CodeDelay for activations (an inbox's SMS keep CodeDelay).
	// nil = every SMS CodeDelay after purchase at fixed prices. New
	// panics on a model its Validate refuses.
	Model *Model
}

// DefaultCountries and DefaultServices are what a default market sells.
var (
	DefaultCountries = []string{"ru", "ua", "kz", "cn", "ph", "id", "my", "ke", "vn", "us", "gb", "pl", "in", "de", "fr", "nl", "br", "ca", "es", "it", "tr", "th", "mx", "ng", "eg", "za", "ar", "co", "pt", "se"}
	DefaultServices  = []string{"tg", "wa", "go", "fb", "ig", "vk", "ok", "tw", "ds", "vi", "wb", "mm", "am", "dr", "acz", "ot", "lf", "ya", "ma", "mb", "oi", "mt", "me", "kt", "qq", "nv", "tn", "nf", "ub", "uk"}
)

// Order is a simulated activation as the market sees it.
type Order struct {
	ID        int64
	Country   string
	Service   string
	Operator  string
	Phone     string
	Price     int64 // micro-units of the market currency
	State     adapters.State
	Ready     bool // status 1 was sent
	SMS       []adapters.SMS
	CreatedAt time.Time
	ExpiresAt time.Time
	// NextSMSAt is when the next simulated SMS arrives; zero when none is due.
	NextSMSAt time.Time
}

// Age is how long ago the order was created.
func (o Order) Age(now time.Time) time.Duration { return now.Sub(o.CreatedAt) }

// LastCode is the newest code, or "".
func (o Order) LastCode() string {
	if len(o.SMS) == 0 {
		return ""
	}
	return o.SMS[len(o.SMS)-1].Code
}

type pair struct{ country, service string }

// Market is one simulated platform account and its stock. Safe for
// concurrent use; one mutex guards everything below it.
type Market struct {
	cfg   Config
	clock Clock

	mu       sync.Mutex
	balance  int64
	stock    map[pair]int
	price    map[pair]int64
	orders   map[int64]*order
	active   map[int64]struct{} // ids of orders still in an active state
	live     actives            // the same orders in id order, for listing (actives.go)
	events   queue              // when orders change on their own (events.go)
	nextID   int64
	offset   int64      // cfg.IDOffset resolved
	rng      *rand.Rand // codes, operators
	phones   *rand.Rand // phone numbers: seeded with the offset, or rng without one
	faults   Faults
	faultsCh chan struct{} // closed and replaced when faults change (faults.go)
	calls    map[string]int64
	noRetry  map[string]bool
	services map[string]bool
	banned   time.Time // account banned until then (zero: not banned)
	// pairBans: one service × country banned until then (HeroSMS's
	// "specific" ban); channels: the most orders open at once before
	// purchases answer CHANNELS_LIMIT (0 = no limit).
	pairBans map[pair]time.Time
	channels int
	box      *inbox   // long-lived numbers and their SMS (inbox.go); nil until used
	real     *realism // Config.Model resolved, and its state; nil without one
}

// New builds a Market from cfg, applying defaults.
func New(cfg Config) *Market {
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.Balance == 0 {
		cfg.Balance = 1000 * adapters.Micro
	}
	if cfg.Stock == 0 {
		cfg.Stock = 500
	} else if cfg.Stock < 0 {
		cfg.Stock = 0
	}
	if len(cfg.Countries) == 0 {
		cfg.Countries = DefaultCountries
	}
	if len(cfg.Services) == 0 {
		cfg.Services = DefaultServices
	}
	if cfg.BasePrice == 0 {
		cfg.BasePrice = adapters.Micro / 2
	}
	if cfg.CodeDelay == 0 {
		cfg.CodeDelay = 5 * time.Second
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 20 * time.Minute
	}
	if cfg.CancelGuard == 0 {
		cfg.CancelGuard = 2 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	offset := cfg.IDOffset
	switch {
	case offset == 0:
		offset = ProcessOffset()
	case offset < 0:
		offset = 0
	}
	m := &Market{
		cfg:     cfg,
		clock:   cfg.Clock,
		balance: cfg.Balance,
		stock:   make(map[pair]int),
		price:   make(map[pair]int64),
		orders:  make(map[int64]*order),
		active:  make(map[int64]struct{}),
		nextID:  firstID + offset,
		offset:  offset,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),

		calls:    make(map[string]int64),
		noRetry:  make(map[string]bool),
		services: make(map[string]bool),
	}
	// Without an offset, phones come from the shared generator, as they
	// always have: fixed-offset tests keep their transcripts.
	m.phones = m.rng
	if offset != 0 {
		m.phones = rand.New(rand.NewPCG(cfg.Seed^uint64(offset), uint64(offset)^0x6a09e667f3bcc909))
	}
	if cfg.Model != nil {
		m.real = newRealism(*cfg.Model, cfg, m.clock.Now())
		m.cfg.Model = nil // the resolved model is m.real's; Config and Model copy it
	}
	for _, c := range cfg.NoRetryCountries {
		m.noRetry[c] = true
	}
	for _, s := range cfg.Services {
		m.services[s] = true
	}
	for _, c := range cfg.Countries {
		for _, s := range cfg.Services {
			p := pair{c, s}
			m.stock[p] = cfg.Stock
			m.price[p] = stablePrice(cfg.BasePrice, c, s)
		}
	}
	return m
}

// firstID is the order id counter's start without an offset: ids look like
// a real platform's (nine digits and more).
const firstID = 100000000

// ProcessOffset is this process's id offset for markets configured with
// IDOffset 0: drawn once per process, a multiple of 1000 below 10^9, so ids
// stay under 2^31 for any protocol that reads them as 32-bit numbers. Two
// processes' ranges of n orders overlap with probability about 2n/10^9.
var ProcessOffset = sync.OnceValue(DrawOffset)

// DrawOffset draws an offset as ProcessOffset does (tests play another
// process with it).
func DrawOffset() int64 { return 1000 * (1 + rand.Int64N(999_999)) }

// IDOffset is the offset the market's ids and phones start from; skins
// that number their own operations add it too.
func (m *Market) IDOffset() int64 { return m.offset }

// stablePrice spreads prices from 0.5× to 1.5× base, the same on every run,
// rounded to a whole cent so every platform's decimal format can carry it.
func stablePrice(base int64, country, service string) int64 {
	h := fnv.New32a()
	h.Write([]byte(country + "|" + service))
	p := base * int64(50+h.Sum32()%101) / 100
	cent := int64(adapters.Micro / 100)
	if p < cent {
		return cent
	}
	return p / cent * cent
}

// Currency is the account currency.
func (m *Market) Currency() string { return m.cfg.Currency }

// Key is the API key the skins accept ("" = any non-empty key).
func (m *Market) Key() string { return m.cfg.Key }

// CheckKey reports whether a skin should accept key.
func (m *Market) CheckKey(key string) bool {
	if key == "" {
		return false
	}
	return m.cfg.Key == "" || key == m.cfg.Key
}

// Now is the market clock's time.
func (m *Market) Now() time.Time { return m.clock.Now() }

// Config returns the market's effective configuration; its Model is a
// copy of the resolved one (see Model).
func (m *Market) Config() Config {
	c := m.cfg
	c.Model = m.Model()
	return c
}

// Balance is the account balance in micro-units, after settling refunds due.
func (m *Market) Balance() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleDue(m.clock.Now())
	return m.balance
}

// SetBanned bans the account until t (zero lifts the ban). Skins answer
// purchases with their platform's "account banned" error meanwhile.
func (m *Market) SetBanned(t time.Time) {
	m.mu.Lock()
	m.banned = t
	m.mu.Unlock()
}

// BannedUntil reports whether the account is banned now, and until when.
func (m *Market) BannedUntil() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.banned, !m.banned.IsZero() && m.clock.Now().Before(m.banned)
}

// SetPairBanned bans one service × country until t (zero lifts it):
// skins that can say so answer purchases of that pair with a ban of that
// scope meanwhile, and sell the other pairs.
func (m *Market) SetPairBanned(country, service string, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pairBans == nil {
		m.pairBans = map[pair]time.Time{}
	}
	if t.IsZero() {
		delete(m.pairBans, pair{country, service})
		return
	}
	m.pairBans[pair{country, service}] = t
}

// PairBannedUntil reports whether purchases of the pair are banned now,
// and until when.
func (m *Market) PairBannedUntil(country, service string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.pairBans[pair{country, service}]
	return t, ok && m.clock.Now().Before(t)
}

// SetChannelsLimit caps the orders open at once (0 lifts the cap): at the
// cap, skins answer purchases with their "too many open" error
// (CHANNELS_LIMIT).
func (m *Market) SetChannelsLimit(n int) {
	m.mu.Lock()
	m.channels = n
	m.mu.Unlock()
}

// OverChannels reports whether the open orders are at the channel cap.
func (m *Market) OverChannels() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleDue(m.clock.Now())
	return m.channels > 0 && len(m.active) >= m.channels
}

// SetBalance sets the account balance (0 empties it).
func (m *Market) SetBalance(micros int64) {
	m.mu.Lock()
	m.balance = micros
	m.mu.Unlock()
}

// SetStock sets the stock of one (country, service); the pair is sold from
// then on even if it was not in the config.
func (m *Market) SetStock(country, service string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := pair{country, service}
	if _, ok := m.price[p]; !ok {
		m.price[p] = stablePrice(m.cfg.BasePrice, country, service)
	}
	m.services[service] = true
	m.stock[p] = n
	m.restock(p, m.clock.Now())
}

// SetAllStock sets the stock of every pair (0 = sold out everywhere).
func (m *Market) SetAllStock(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	for p := range m.stock {
		m.stock[p] = n
		m.restock(p, now)
	}
}

// SetPrice sets the price of one (country, service) in micro-units.
func (m *Market) SetPrice(country, service string, micros int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := pair{country, service}
	m.price[p] = micros
	if _, ok := m.stock[p]; !ok {
		m.stock[p] = 0
	}
	m.services[service] = true
}

// Offer is price and stock for one pair.
type Offer struct {
	Country, Service string
	Price            int64
	Count            int
}

// Offers lists the pairs sold, filtered by country and service ("" = all),
// sorted by country then service.
func (m *Market) Offers(country, service string) []Offer {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	var out []Offer
	for p := range m.price {
		if (country != "" && p.country != country) || (service != "" && p.service != service) {
			continue
		}
		price, _ := m.priceNow(p, now)
		out = append(out, Offer{Country: p.country, Service: p.service, Price: price, Count: m.stockNow(p, now)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Country != out[j].Country {
			return out[i].Country < out[j].Country
		}
		return out[i].Service < out[j].Service
	})
	return out
}

// Countries lists the countries with at least one pair, sorted.
func (m *Market) Countries() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for p := range m.price {
		if !seen[p.country] {
			seen[p.country] = true
			out = append(out, p.country)
		}
	}
	sort.Strings(out)
	return out
}

// Sells reports whether the market knows the service at all.
func (m *Market) Sells(service string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.services[service]
}

// SellsCountry reports whether the market sells anything in country.
func (m *Market) SellsCountry(country string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.price {
		if p.country == country {
			return true
		}
	}
	return false
}

// Operators lists a country's operators (the catalog's).
func Operators(country string) []string { return catalog.Operators(country) }

// RetryAllowed reports whether the country supports another SMS.
func (m *Market) RetryAllowed(country string) bool { return !m.noRetry[country] }

// BuyArgs is a purchase request in market terms.
type BuyArgs struct {
	Country, Service, Operator string
	MaxPrice                   int64 // micro-units; 0 = no cap
}

// Buy sells one number: ErrBadService, ErrBadCountry, ErrNoNumbers,
// *PriceFloorError, ErrNoBalance, in that order of checking.
func (m *Market) Buy(a BuyArgs) (Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	m.settleDue(now)
	if !m.services[a.Service] {
		return Order{}, adapters.ErrBadService
	}
	p := pair{a.Country, a.Service}
	price, ok := m.priceNow(p, now)
	if !ok {
		if _, known := catalog.CountryByISO(a.Country); !known {
			return Order{}, adapters.ErrBadCountry
		}
		return Order{}, adapters.ErrNoNumbers
	}
	if m.stockNow(p, now) <= 0 {
		return Order{}, adapters.ErrNoNumbers
	}
	if a.MaxPrice > 0 && price > a.MaxPrice {
		return Order{}, &adapters.PriceFloorError{Min: adapters.Money{Micros: price, Currency: m.cfg.Currency}}
	}
	if m.balance < price {
		return Order{}, adapters.ErrNoBalance
	}
	return m.snapshot(m.sell(p, price, a.Operator, now)), nil
}

// sell takes one number of p out of stock at price and opens its order;
// m.mu held, stock and balance checked.
func (m *Market) sell(p pair, price int64, operator string, now time.Time) *order {
	m.stock[p]--
	m.balance -= price
	m.nextID++
	ops := Operators(p.country)
	op := ops[m.rng.IntN(len(ops))]
	if slices.Contains(ops, operator) {
		op = operator
	}
	o := newOrder(Order{
		ID:        m.nextID,
		Country:   p.country,
		Service:   p.service,
		Operator:  op,
		Phone:     m.phone(p.country),
		Price:     price,
		State:     adapters.StateWaiting,
		CreatedAt: now,
		ExpiresAt: now.Add(m.cfg.Lifetime),
	})
	if m.real != nil {
		o.draw = m.real.orderKey(p)
		m.scheduleDraw(o, now)
	} else if m.cfg.CodeDelay > 0 {
		o.NextSMSAt = now.Add(m.cfg.CodeDelay)
		o.nextCode = m.drawCode()
	}
	m.orders[o.ID] = o
	m.active[o.ID] = struct{}{}
	m.live.add(o)
	m.events.set(&o.life, o.ExpiresAt)
	m.scheduleSMS(o)
	return o
}

func (m *Market) phone(country string) string {
	dial := "1"
	if c, ok := catalog.CountryByISO(country); ok && c.Dial != "" {
		dial = c.Dial
	}
	n := 10
	if len(dial) >= 3 {
		n = 8
	} else if len(dial) == 2 {
		n = 9
	}
	b := []byte(dial)
	b = append(b, byte('1'+m.phones.IntN(9)))
	for i := 1; i < n; i++ {
		b = append(b, byte('0'+m.phones.IntN(10)))
	}
	return string(b)
}

// snapshot copies o so callers never share the market's slices.
func (m *Market) snapshot(o *order) Order {
	c := o.Order
	c.SMS = slices.Clone(o.SMS)
	return c
}

// settle applies o's due transitions (SMS arrival, expiry) and keeps its
// queued events in step; m.mu held.
func (m *Market) settle(o *order, now time.Time) {
	if !o.State.Active() {
		return
	}
	if !o.NextSMSAt.IsZero() && !now.Before(o.NextSMSAt) {
		if o.NextSMSAt.Before(o.ExpiresAt) && (o.State == adapters.StateWaiting || o.State == adapters.StateRetryWaiting) {
			m.addSMS(o, o.NextSMSAt, "")
		} else if now.Before(o.ExpiresAt) {
			// Unreachable by the transitions below (an SMS is only on its
			// way while the order waits for one); were it reached, a due
			// SMS that cannot arrive must leave the queue, or settleDue
			// would meet it again and again.
			o.NextSMSAt, o.nextCode = time.Time{}, ""
		}
		m.scheduleSMS(o)
	}
	if !now.Before(o.ExpiresAt) {
		if o.State == adapters.StateWaiting {
			// No code in the lifetime: the activation ends and is refunded.
			o.State = adapters.StateExpired
			m.refund(o)
		} else {
			// A code was delivered: the window closes as a success.
			o.State = adapters.StateFinished
		}
		m.end(o, o.ExpiresAt)
	}
}

func (m *Market) refund(o *order) {
	m.balance += o.Price
	p := pair{o.Country, o.Service}
	m.refill(p, m.clock.Now())
	m.stock[p]++
}

// addSMS appends an SMS (generated when text is "") and moves the order to
// code_received; m.mu held.
func (m *Market) addSMS(o *order, at time.Time, text string) {
	code := ""
	if text == "" {
		code = o.nextCode
		if code == "" {
			code = m.drawCode()
		}
		name := o.Service
		if s, ok := catalog.ServiceByCode(o.Service); ok {
			name = s.Name
		}
		text = fmt.Sprintf("Your %s code: %s. Do not share it with anyone.", name, code)
	} else {
		code = adapters.ExtractCode(text)
	}
	o.SMS = append(o.SMS, adapters.SMS{Code: code, Text: text, From: o.Service, ReceivedAt: at})
	o.State = adapters.StateCodeReceived
	o.NextSMSAt = time.Time{}
	o.nextCode = ""
}

func (m *Market) drawCode() string { return strconv.Itoa(100000 + m.rng.IntN(900000)) }

// get returns the live order after applying the events due (the order's
// own among them); m.mu held.
func (m *Market) get(id int64) (*order, error) {
	m.settleDue(m.clock.Now())
	o, ok := m.orders[id]
	if !ok {
		return nil, adapters.ErrNoActivation
	}
	return o, nil
}

// Get returns an order's current state.
func (m *Market) Get(id int64) (Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.get(id)
	if err != nil {
		return Order{}, err
	}
	return m.snapshot(o), nil
}

// Active lists orders in an active state, oldest first.
func (m *Market) Active() []Order {
	out, _ := m.ActivePage(nil, 0, 0)
	for i := range out {
		out[i].SMS = slices.Clone(out[i].SMS)
	}
	return out
}

// ActivePage appends to dst the orders in an active state, oldest first,
// from the start-th (0-based) on and at most limit of them (limit <= 0:
// all the rest); total is how many are active. It is Active for a list
// read every poll round at 100,000 orders: the lock is held only to copy
// the orders (no sort, no walk to the page's start), and dst can be
// reused. Unlike Active's, the copies share the market's SMS slices: the
// market only ever appends to them, so what a copy shows never changes,
// but the caller must not write to them.
func (m *Market) ActivePage(dst []Order, start, limit int) (page []Order, total int) {
	total = m.EachActive(start, limit, func(n int) { dst = slices.Grow(dst, n) }, func(o *Order) { dst = append(dst, *o) })
	return dst, total
}

// EachActive is ActivePage for a caller that converts the orders as it
// copies them: it calls size with how many orders follow, then f with
// each, under the market's lock. f must copy what it needs (the SMS
// slices may be shared, never written) and call nothing of the market.
func (m *Market) EachActive(start, limit int, size func(n int), f func(o *Order)) (total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleDue(m.clock.Now())
	n := max(0, m.live.n-max(start, 0))
	if limit > 0 {
		n = min(n, limit)
	}
	size(n)
	m.live.each(start, limit, func(o *order) { f(&o.Order) })
	return m.live.n
}

// History lists the orders the market holds, in every state, as a
// platform's order history pages them: newest first when newest, else
// oldest first; limit of them after skipping offset; and how many it
// holds in all. Ended orders leave it Retention after they end. Ids are
// handed out in sequence, so a page walks the id range from one end:
// O(offset + limit) plus the forgotten ids it passes.
func (m *Market) History(offset, limit int, newest bool) ([]Order, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settleDue(m.clock.Now())
	first, last := firstID+m.offset+1, m.nextID
	id, step := first, int64(1)
	if newest {
		id, step = last, -1
	}
	var out []Order
	for ; id >= first && id <= last && len(out) < limit; id += step {
		o, ok := m.orders[id]
		if !ok {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		out = append(out, m.snapshot(o))
	}
	return out, len(m.orders)
}

// Ready marks the order ready (SMS-Activate status 1); allowed while waiting.
func (m *Market) Ready(id int64) (Order, error) {
	return m.transition(id, func(o *order, _ time.Time) error {
		if o.State != adapters.StateWaiting && o.State != adapters.StateRetryWaiting {
			return adapters.ErrBadState
		}
		o.Ready = true
		return nil
	})
}

// RequestAnother asks for one more SMS after a code (status 3).
func (m *Market) RequestAnother(id int64) (Order, error) {
	return m.transition(id, func(o *order, now time.Time) error {
		if o.State != adapters.StateCodeReceived || !m.RetryAllowed(o.Country) {
			return adapters.ErrBadState
		}
		o.State = adapters.StateRetryWaiting
		if m.real != nil {
			m.scheduleDraw(o, now)
		} else if m.cfg.CodeDelay > 0 {
			o.NextSMSAt = now.Add(m.cfg.CodeDelay)
			o.nextCode = m.drawCode()
		}
		return nil
	})
}

// Finish completes an order that has a code (status 6); the charge is kept.
func (m *Market) Finish(id int64) (Order, error) {
	return m.transition(id, func(o *order, _ time.Time) error {
		if o.State != adapters.StateCodeReceived && o.State != adapters.StateRetryWaiting {
			return adapters.ErrBadState
		}
		o.State = adapters.StateFinished
		return nil
	})
}

// Cancel ends an order without a code and refunds it (status 8):
// ErrEarlyCancel inside the guard, ErrBadState once a code arrived.
func (m *Market) Cancel(id int64) (Order, error) {
	return m.transition(id, func(o *order, now time.Time) error {
		if o.State != adapters.StateWaiting {
			return adapters.ErrBadState
		}
		if now.Sub(o.CreatedAt) < m.cfg.CancelGuard {
			return adapters.ErrEarlyCancel
		}
		o.State = adapters.StateCancelled
		m.refund(o)
		return nil
	})
}

// Ban marks the number banned by the service (refunded, as platforms do).
func (m *Market) Ban(id int64) (Order, error) {
	return m.transition(id, func(o *order, _ time.Time) error {
		if !o.State.Active() {
			return adapters.ErrBadState
		}
		if len(o.SMS) == 0 {
			m.refund(o)
		}
		o.State = adapters.StateBanned
		return nil
	})
}

// DeliverSMS injects an SMS with the given text now (the code is extracted
// from it); the order must be waiting for one.
func (m *Market) DeliverSMS(id int64, text string) (Order, error) {
	return m.transition(id, func(o *order, now time.Time) error {
		if o.State != adapters.StateWaiting && o.State != adapters.StateRetryWaiting && o.State != adapters.StateCodeReceived {
			return adapters.ErrBadState
		}
		m.addSMS(o, now, text)
		return nil
	})
}

func (m *Market) transition(id int64, f func(o *order, now time.Time) error) (Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.get(id)
	if err != nil {
		return Order{}, err
	}
	now := m.clock.Now()
	if err := f(o, now); err != nil {
		return m.snapshot(o), err
	}
	if _, was := m.active[o.ID]; was && !o.State.Active() {
		m.end(o, now)
	} else if was {
		m.scheduleSMS(o)
	}
	return m.snapshot(o), nil
}

// CountCall records one protocol call by name (skins call it per request),
// so tests and the bench can see upstream traffic.
func (m *Market) CountCall(name string) {
	m.mu.Lock()
	m.calls[name]++
	m.mu.Unlock()
}

// Calls returns how many calls of that name were counted ("" = all).
func (m *Market) Calls(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if name != "" {
		return m.calls[name]
	}
	var n int64
	for _, c := range m.calls {
		n += c
	}
	return n
}
