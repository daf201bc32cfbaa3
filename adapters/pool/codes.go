package pool

import (
	"fmt"
	"regexp"
	"strings"

	"smsgate/adapters"
)

// A pool number receives whatever anyone sends it, so the code is found
// the way a person would: by the service's own message format first, then
// by the first run of 4–8 digits. Marketplaces extract codes themselves;
// here nobody does it for us.

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

// Extractor finds the code in an SMS for a service.
type Extractor struct {
	patterns map[string]*regexp.Regexp
}

// NewExtractor compiles the built-in patterns with the overrides (service →
// regular expression) on top. A pattern without a capture group takes the
// whole match as the code.
func NewExtractor(overrides map[string]string) (*Extractor, error) {
	e := &Extractor{patterns: map[string]*regexp.Regexp{}}
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
	if re := e.patterns[service]; re != nil {
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
