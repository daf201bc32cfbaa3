package smsactivate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smsgate/adapters"
	"smsgate/adapters/catalog"
)

// referenceEntry is the struct getActiveActivations was encoded from with
// encoding/json before the list was appended by hand: the wire bytes must
// not change (protocols/sms-activate.md §2.18), so it stays here as the
// reference the hand-written encoder is held to.
type referenceEntry struct {
	ActivationID     string      `json:"activationId"`
	ServiceCode      string      `json:"serviceCode"`
	PhoneNumber      string      `json:"phoneNumber"`
	ActivationCost   json.Number `json:"activationCost"`
	ActivationStatus string      `json:"activationStatus"`
	SMSCode          []string    `json:"smsCode"`
	SMSText          *string     `json:"smsText"`
	ActivationTime   string      `json:"activationTime"`
	Discount         string      `json:"discount"`
	Repeated         string      `json:"repeated"`
	CountryCode      string      `json:"countryCode"`
	CountryName      string      `json:"countryName"`
	CanGetAnotherSms string      `json:"canGetAnotherSms"`
	Currency         int         `json:"currency"`
}

// referenceAnswer is the answer as the old code built it.
func referenceAnswer(t testing.TB, list []Activation, layout ActiveList) []byte {
	entries := make([]referenceEntry, 0, len(list))
	for _, a := range list {
		e := referenceEntry{
			ActivationID:     itoa(a.ID),
			ServiceCode:      a.Service,
			PhoneNumber:      a.Phone,
			ActivationCost:   json.Number(money(a.Cost.Micros)),
			ActivationStatus: ActivationStatus(a.State),
			ActivationTime:   FormatTime(a.CreatedAt),
			Discount:         "0.00",
			Repeated:         "0",
			CountryCode:      strconv.Itoa(saID(a.Country)),
			CanGetAnotherSms: boolDigit(a.CanRetry),
			Currency:         CurrencyNumeric(a.Cost.Currency),
		}
		if c, ok := catalog.CountryByISO(a.Country); ok {
			e.CountryName = c.Name
		}
		if len(a.SMS) > 0 {
			for _, m := range a.SMS {
				e.SMSCode = append(e.SMSCode, m.Code)
			}
			t := a.SMS[len(a.SMS)-1].Text
			e.SMSText = &t
		}
		if a.State == adapters.StateRetryWaiting {
			e.Repeated = "1"
		}
		entries = append(entries, e)
	}
	var v any
	switch layout {
	case ActiveListData:
		v = struct {
			Status string           `json:"status"`
			Data   []referenceEntry `json:"data"`
		}{"success", entries}
	case ActiveListRows:
		type rows struct {
			Rows  []referenceEntry `json:"rows"`
			Count int              `json:"count"`
		}
		v = struct {
			Status string `json:"status"`
			Active rows   `json:"activeActivations"`
		}{"success", rows{entries, len(entries)}}
	default:
		v = struct {
			Status            string           `json:"status"`
			ActiveActivations []referenceEntry `json:"activeActivations"`
		}{"success", entries}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only an amount no order has (math.MinInt64 micro-units, whose
		// negation overflows) makes an invalid number; the old server
		// answered ERROR_SQL there.
		t.Skipf("the reference cannot encode it: %v", err)
	}
	return b
}

// written is the body writeActive answers for list.
func written(list []Activation, layout ActiveList) []byte {
	s := &Server{Active: ActiveLayout{List: layout}}
	ctx := &fasthttp.RequestCtx{}
	s.writeActive(ctx, list)
	return ctx.Response.Body()
}

// TestActiveListBytes holds the hand-written list to the bytes
// encoding/json wrote, in every layout, for the entries that exercise
// each field: waiting (nulls), a code, several codes, another awaited,
// texts that need escaping (quotes, HTML characters, control characters,
// non-ASCII, invalid UTF-8, U+2028), an unknown country, a zero time,
// amounts that round, other currencies.
func TestActiveListBytes(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 4, 5, 0, time.FixedZone("x", 3*3600))
	sms := func(code, text string) adapters.SMS { return adapters.SMS{Code: code, Text: text} }
	list := []Activation{
		{ID: 100000001, Phone: "12025550123", Country: "us", Service: "tg", Cost: adapters.Money{Micros: 500_000, Currency: "USD"}, State: adapters.StateWaiting, CreatedAt: at, CanRetry: true},
		{ID: 100000002, Phone: "79001234567", Country: "ru", Service: "vk", Cost: adapters.Money{Micros: 12_505_000, Currency: "RUB"}, State: adapters.StateCodeReceived,
			SMS: []adapters.SMS{sms("123456", "Your VK code: 123456")}, CreatedAt: at},
		{ID: 100000003, Phone: "447700900123", Country: "gb", Service: "wa", Cost: adapters.Money{Micros: 1_994_999, Currency: "EUR"}, State: adapters.StateRetryWaiting,
			SMS: []adapters.SMS{sms("111111", "a"), sms("222222", `He said "<b>&</b>" \ ok`)}, CreatedAt: at, CanRetry: true},
		{ID: 5, Phone: "79********1", Country: "zz", Service: "ot", Cost: adapters.Money{Micros: -10_000, Currency: "XXX"}, State: adapters.StateCodeReceived,
			SMS: []adapters.SMS{sms("", "tab\there\nnew\x01line \u2028 ünïcødé \xff\xfe bad")}},
		{ID: 6, Phone: "", Country: "", Service: "", State: adapters.StateFinished},
		{ID: 7, Phone: "1", Country: "kz", Service: "tg", State: adapters.StateCancelled, SMS: []adapters.SMS{sms("9", "")}},
		{ID: 8, Phone: "1", Country: "kz", Service: "tg", State: adapters.StateExpired, Cost: adapters.Money{Micros: 4_999}},
	}
	for _, layout := range []ActiveList{ActiveListDocs, ActiveListData, ActiveListRows} {
		for n := 1; n <= len(list); n++ {
			want := referenceAnswer(t, list[:n], layout)
			if got := written(list[:n], layout); !bytes.Equal(got, want) {
				t.Fatalf("layout %d, %d entries:\n got %s\nwant %s", layout, n, got, want)
			}
		}
	}
	// A list longer than the write buffer: the flushes lose nothing.
	long := make([]Activation, 3000)
	for i := range long {
		long[i] = list[i%len(list)]
		long[i].ID = int64(i + 1)
	}
	if got, want := written(long, ActiveListDocs), referenceAnswer(t, long, ActiveListDocs); !bytes.Equal(got, want) {
		t.Fatalf("3000 entries: %d bytes written, %d expected, first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// FuzzActiveEntry: whatever an entry's strings and amount, the list is
// what encoding/json wrote.
func FuzzActiveEntry(f *testing.F) {
	f.Add("tg", "12025550123", "123456", "Your code: 123456", "us", int64(500_000), uint8(1), true)
	f.Add("<&>", "\"", "\\", "\u2028\x00\xff", "zz", int64(-1), uint8(3), false)
	f.Add("", "", "", "", "", int64(math.MinInt64), uint8(0), false)
	f.Add("", "", "", "", "", int64(math.MaxInt64), uint8(0), false)
	f.Fuzz(func(t *testing.T, service, phone, code, text, country string, micros int64, state uint8, retry bool) {
		states := []adapters.State{adapters.StateWaiting, adapters.StateCodeReceived, adapters.StateRetryWaiting, adapters.StateFinished, adapters.StateCancelled}
		a := Activation{ID: 1, Service: service, Phone: phone, Country: country, Cost: adapters.Money{Micros: micros, Currency: "USD"},
			State: states[int(state)%len(states)], CanRetry: retry}
		if state%2 == 1 {
			a.SMS = []adapters.SMS{{Code: code, Text: text}}
		}
		list := []Activation{a}
		if got, want := written(list, ActiveListDocs), referenceAnswer(t, list, ActiveListDocs); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// TestQuickReadsServerAnswers: the quick reader takes the server's own
// answers in every layout (it would be no use if they fell back to
// encoding/json), and reads back what was written.
func TestQuickReadsServerAnswers(t *testing.T) {
	list := []Activation{
		{ID: 1, Phone: "12025550123", Country: "us", Service: "tg", State: adapters.StateWaiting},
		{ID: 2, Phone: "79001234567", Country: "ru", Service: "vk", State: adapters.StateCodeReceived,
			SMS: []adapters.SMS{{Code: "111111", Text: "first"}, {Code: "222222", Text: "He said \"<b>\"\n"}}},
		{ID: 3, Phone: "1", Country: "ba", Service: "wa", State: adapters.StateRetryWaiting, SMS: []adapters.SMS{{Code: "9", Text: "Bosnia & Herzegovina"}}},
	}
	for _, layout := range []ActiveList{ActiveListDocs, ActiveListData, ActiveListRows} {
		var got []string
		ok := quickActive(written(list, layout), func(e *activeEntry) {
			u, _ := e.update()
			got = append(got, string(e.id)+" "+string(e.phone)+" "+string(e.service)+" "+string(e.country)+" "+string(u.State)+" "+fmt.Sprint(u.SMS))
		})
		want := []string{"1 12025550123 tg 187 waiting []", "2 79001234567 vk 0 code_received [{222222 He said \"<b>\"\n  0001-01-01 00:00:00 +0000 UTC}]",
			"3 1 wa " + strconv.Itoa(saID("ba")) + " retry_waiting [{9 Bosnia & Herzegovina  0001-01-01 00:00:00 +0000 UTC}]"}
		if !ok || !slices.Equal(got, want) {
			t.Fatalf("layout %d: quick read %v, %q; want true, %q", layout, ok, got, want)
		}
	}
}

// BenchmarkQuickActive is the adapter's reading of a 100,000-entry list
// alone (no HTTP, no entries kept), in bytes per second.
func BenchmarkQuickActive(b *testing.B) {
	list := make([]Activation, 100_000)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range list {
		code := strconv.Itoa(100000 + i%900000)
		list[i] = Activation{ID: int64(100000001 + i), Phone: "1202555" + strconv.Itoa(1000+i%9000), Country: "us", Service: "tg",
			Cost: adapters.Money{Micros: 500_000, Currency: "USD"}, State: adapters.StateCodeReceived, CreatedAt: at, CanRetry: true,
			SMS: []adapters.SMS{{Code: code, Text: "Your Telegram code: " + code + ". Do not share it with anyone."}}}
	}
	body := append([]byte(nil), written(list, ActiveListDocs)...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if !quickActive(body, func(*activeEntry) { n++ }) || n != len(list) {
			b.Fatalf("read %d entries", n)
		}
	}
}
