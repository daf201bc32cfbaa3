package pool

import (
	"fmt"
	"regexp"
	"strings"

	"smsgate/adapters"
)

// Once an SMS is known to be the order's service's (attribution.go), the
// code in it is found the way a person would: by the service's own message
// format first, then by the first run of 4–8 digits. Marketplaces extract
// codes themselves; here nobody does it for us.

// builtinPatterns are the formats of services whose codes are not a plain
// run of digits, or whose messages carry other digit runs first. A capture
// group marks the code; several groups are joined ("123-456" → "123456").
var builtinPatterns = map[string]string{
	"tg": `(?i)(?:code|код)\D{0,20}(\d{5,6})\b`, // "Telegram code: 48213", "Login code: 48213"
	"wa": `\b(\d{3})-(\d{3})\b`,                 // "WhatsApp code 123-456"
	"go": `\bG-(\d{4,8})\b`,                     // "G-123456 is your Google verification code"
	"fb": `\bFB-(\d{5,8})\b`,                    // "FB-12345 is your confirmation code"
	"ig": `\b(\d{3}) ?(\d{3})\b`,                // "Use 123 456 to verify your Instagram account"
}

// nearCode is the format of services without one of their own: the digits
// right after "code" ("Your Uber code: 1234"), before "is your" ("123456
// is your X verification code") or after "Use" ("Use 1234 as Microsoft
// account security code"), so an order number earlier in the text is not
// taken for the code. Without any of these, the first run of digits is.
const nearCode = `(?i)\b(\d{4,8}) is your\b|(?:code|код)[^\d\n]{0,25}?(\d{4,8})\b|\buse (\d{4,8})\b`

// Extractor finds the code in an SMS for a service.
type Extractor struct {
	patterns map[string]*regexp.Regexp
	near     *regexp.Regexp
}

// NewExtractor compiles the built-in patterns with the overrides (service →
// regular expression) on top. A pattern without a capture group takes the
// whole match as the code.
func NewExtractor(overrides map[string]string) (*Extractor, error) {
	e := &Extractor{patterns: map[string]*regexp.Regexp{}, near: regexp.MustCompile(nearCode)}
	for svc, p := range builtinPatterns {
		e.patterns[svc] = regexp.MustCompile(p)
	}
	for svc, p := range overrides {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("code pattern for %q: %w", svc, err)
		}
		e.patterns[svc] = re
	}
	return e, nil
}

// Code returns the code in text for service, or "".
func (e *Extractor) Code(service, text string) string {
	re := e.patterns[service]
	if re == nil {
		re = e.near
	}
	if m := re.FindStringSubmatch(text); m != nil {
		if len(m) == 1 {
			return alnum(m[0])
		}
		var b strings.Builder
		for _, g := range m[1:] {
			b.WriteString(g)
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return adapters.ExtractCode(text)
}

func alnum(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
