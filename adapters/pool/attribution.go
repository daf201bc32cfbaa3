package pool

import (
	"regexp"
	"sort"
	"strings"
	"unicode"

	"smsgate/adapters/catalog"
)

// A pool number receives whatever anyone sends it: while it waits for a
// Telegram code, Google may text it for someone who typed the number in
// months ago. So an SMS becomes an order's code only if it is the order's
// service's, told the way a person tells it — by who sent it and what it
// says:
//
//   - an SMS that names another known service (its sender is that
//     service's, or its text names that service) is never the order's;
//   - an SMS attributable to the order's service (sender or wording) is;
//   - an SMS nobody can place (a long number saying "your code is 1234")
//     is the order's only when the pool accepts unattributed messages.
//
// The table below holds, per service, its sender ids and its wording. The
// codes are SMS-Activate's (adapters/catalog/services.tsv).

// Verdict is what an SMS is to an order's service.
type Verdict int

const (
	// Unattributed: nothing in the SMS says which service sent it.
	Unattributed Verdict = iota
	// Own: the SMS is the service's (by sender or wording), and names no
	// other service.
	Own
	// Foreign: the SMS names another known service.
	Foreign
)

func (v Verdict) String() string {
	switch v {
	case Own:
		return "own"
	case Foreign:
		return "foreign"
	}
	return "unattributed"
}

// serviceID is how one service shows itself in an SMS.
type serviceID struct {
	// senders are the service's alphanumeric sender ids, compared with the
	// sender lower-cased and stripped of everything but letters and digits
	// ("VK.com" → "vkcom"), whole: a sender merely containing "x" is not X.
	senders []string
	// shortCodes are numeric sender ids the service is known to send from
	// (US short codes). A short code may serve several services (Meta's
	// 32665 sends Facebook's and Instagram's codes).
	shortCodes []string
	// words match the service's brand names and its unmistakable wording
	// (Google's "G-123456"). Go's \b is ASCII-only, so Cyrillic and CJK
	// names are matched as they are.
	words string
}

// services: the 20 most used services, and a few more whose names must
// also count as "another service" (Google Voice would otherwise read as
// Google). Brand names in other scripts are the ones the services use in
// their own SMS.
var services = map[string]serviceID{
	"tg": {senders: []string{"telegram"}, words: `(?i)\btelegram\b|телеграм|\bt\.me/`},
	"wa": {senders: []string{"whatsapp"}, words: `(?i)\bwhats ?app\b|ватсап`},
	"go": {senders: []string{"google", "googleverify", "youtube", "gmail"}, shortCodes: []string{"22000"},
		words: `(?i)\bgoogle\b|\byoutube\b|\bgmail\b|(?-i:\bG-\d{4,8}\b)`},
	"fb": {senders: []string{"facebook", "fbook"}, shortCodes: []string{"32665"},
		words: `(?i)\bfacebook\b|(?-i:\bFB-\d{4,8}\b)`},
	"ig": {senders: []string{"instagram"}, shortCodes: []string{"32665"}, words: `(?i)\binstagram\b`},
	"tw": {senders: []string{"twitter", "x"}, shortCodes: []string{"40404"},
		words: `(?i)\btwitter\b|\bx\.com\b|(?-i:\bX (?:verification|confirmation|login|account) code\b|\byour X (?:code|account)\b)`},
	"ds": {senders: []string{"discord"}, words: `(?i)\bdiscord\b`},
	"vk": {senders: []string{"vk", "vkcom", "vkontakte", "vkid"},
		words: `(?i)\bvk\.com\b|\bvkontakte\b|вконтакте|(?-i:\bVK\b)`},
	"ok": {senders: []string{"okru", "odnoklassniki"}, words: `(?i)\bok\.ru\b|\bodnoklassniki\b|одноклассники`},
	"mm": {senders: []string{"microsoft", "msft", "outlook", "xbox", "skype"},
		words: `(?i)\bmicrosoft\b|\boutlook\b|\bhotmail\b|\bxbox\b|\bskype\b`},
	"am": {senders: []string{"amazon", "amazoncom"}, words: `(?i)\bamazon\b`},
	"ub": {senders: []string{"uber"}, words: `(?i)\buber\b`},
	"ts": {senders: []string{"paypal"}, shortCodes: []string{"729725"}, words: `(?i)\bpaypal\b`},
	"wb": {senders: []string{"wechat", "weixin"}, words: `(?i)\bwechat\b|\bweixin\b|微信`},
	"lf": {senders: []string{"tiktok", "douyin"}, words: `(?i)\btik ?tok\b|\bdouyin\b|抖音`},
	"ya": {senders: []string{"yandex", "yandexid", "yandexgo"}, words: `(?i)\byandex\b|яндекс`},
	"av": {senders: []string{"avito"}, words: `(?i)\bavito\b|авито`},
	"mb": {senders: []string{"yahoo"}, words: `(?i)\byahoo\b`},
	"nf": {senders: []string{"netflix"}, words: `(?i)\bnetflix\b`},
	"tn": {senders: []string{"linkedin"}, words: `(?i)\blinked ?in\b`},
	// Known only so that their SMS are not taken for someone else's.
	"gf": {senders: []string{"googlevoice"}, words: `(?i)\bgoogle voice\b`},
	"bw": {senders: []string{"signal"}, words: `\bSignal\b`}, // capitalised: "poor signal" is not the app
	"fu": {senders: []string{"snapchat"}, words: `(?i)\bsnapchat\b`},
	"vi": {senders: []string{"viber"}, words: `(?i)\bviber\b`},
}

// AttributedServices lists the services the pool can tell apart, sorted.
func AttributedServices() []string {
	out := make([]string, 0, len(services))
	for s := range services {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// catalogNames are the wording of catalogue services outside the table:
// their names as the catalogue spells them ("Claude (Anthropic)" →
// "Claude", "Anthropic"). A name there only ever speaks for its own
// service — an order for OpenAI takes an SMS that says "OpenAI" — never
// against another: many are common words ("Wise", "Grab"), so an SMS that
// happens to use one is not refused for that.
var catalogNames = func() map[string]catalogName {
	out := map[string]catalogName{}
	for _, s := range catalog.Services() {
		if _, ok := services[s.Code]; ok {
			continue
		}
		var alts []string
		senders := map[string]bool{}
		for _, a := range strings.FieldsFunc(s.Name, func(r rune) bool { return r == '/' || r == '(' || r == ')' }) {
			a = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a), "+"))
			if len([]rune(a)) < 3 || strings.Trim(a, "0123456789") == "" {
				continue // too short or a number: it would name half the SMS there are
			}
			alts = append(alts, regexp.QuoteMeta(a))
			senders[normSender(a)] = true
		}
		if len(alts) > 0 {
			out[s.Code] = catalogName{words: regexp.MustCompile(`(?i)\b(?:` + strings.Join(alts, "|") + `)\b`), senders: senders}
		}
	}
	return out
}()

type catalogName struct {
	words   *regexp.Regexp
	senders map[string]bool
}

// Attributor tells which services an SMS names. Safe for concurrent use.
type Attributor struct {
	bySender map[string][]string // normalized sender id → services
	words    map[string]*regexp.Regexp
	// allow holds the operator's sender allow-lists (Options.Senders),
	// lower-cased: a sender containing one of a service's entries is that
	// service's.
	allow map[string][]string
}

// NewAttributor builds the table with the operator's per-service sender
// allow-lists on top (Options.Senders: a sender containing an entry,
// case-insensitive, is that service's).
func NewAttributor(senders map[string][]string) *Attributor {
	a := &Attributor{bySender: map[string][]string{}, words: map[string]*regexp.Regexp{}, allow: map[string][]string{}}
	for svc, id := range services {
		for _, s := range id.senders {
			a.bySender[s] = append(a.bySender[s], svc)
		}
		for _, s := range id.shortCodes {
			a.bySender[s] = append(a.bySender[s], svc)
		}
		a.words[svc] = regexp.MustCompile(id.words)
	}
	for svc, list := range senders {
		for _, s := range list {
			if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
				a.allow[svc] = append(a.allow[svc], s)
			}
		}
	}
	return a
}

// normSender is a sender id lower-cased, with only its letters and digits.
func normSender(from string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(from) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Named returns the services the SMS names: by its sender, and by its
// text. A name inside a longer one ("Google" in "Google Voice") counts as
// the longer one only.
func (a *Attributor) Named(from, text string) (bySender, byText map[string]bool) {
	bySender, byText = map[string]bool{}, map[string]bool{}
	for _, s := range a.bySender[normSender(from)] {
		bySender[s] = true
	}
	lf := strings.ToLower(from)
	for svc, list := range a.allow {
		for _, s := range list {
			if strings.Contains(lf, s) {
				bySender[svc] = true
				break
			}
		}
	}
	type span struct {
		svc        string
		start, end int
	}
	var spans []span
	for svc, re := range a.words {
		for _, m := range re.FindAllStringIndex(text, -1) {
			spans = append(spans, span{svc, m[0], m[1]})
		}
	}
	for i, s := range spans {
		inside := false
		for j, o := range spans {
			if i != j && o.svc != s.svc && o.start <= s.start && s.end <= o.end && o.end-o.start > s.end-s.start {
				inside = true
				break
			}
		}
		if !inside {
			byText[s.svc] = true
		}
	}
	return bySender, byText
}

// Judge says what the SMS is to service. A sender serving several
// services (a shared short code) is the service's when it serves it; one
// that does not names the others.
func (a *Attributor) Judge(service, from, text string) Verdict {
	bySender, byText := a.Named(from, text)
	for s := range byText {
		if s != service {
			return Foreign
		}
	}
	if len(bySender) > 0 && !bySender[service] {
		return Foreign
	}
	if bySender[service] || byText[service] {
		return Own
	}
	if n, ok := catalogNames[service]; ok && (n.senders[normSender(from)] || n.words.MatchString(text)) {
		return Own
	}
	return Unattributed
}
