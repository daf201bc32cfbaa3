package config

import (
	"fmt"
	"io"
	"strconv"
)

// redacted is what every printing path shows for a non-empty Secret.
const redacted = "[redacted]"

// Secret is a credential (platform API key, password, tenant or admin key).
// Every way of printing it — fmt verbs including %#v, String, MarshalText and
// so json.Marshal — shows "[redacted]", or "" when the secret is empty, so a
// Config can be logged or dumped whole. Reveal is the one way to read it.
type Secret string

// Reveal returns the secret in clear. Call it only where the value is sent
// (an upstream request) or compared, never to log it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format implements fmt.Formatter so that no verb (%x, %q, %d …) can reach
// the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q' || (verb == 'v' && f.Flag('#')):
		io.WriteString(f, strconv.Quote(s.String()))
	default:
		io.WriteString(f, s.String())
	}
}

// MarshalText implements encoding.TextMarshaler (used by encoding/json,
// TOML and YAML encoders, and zap's reflection encoder).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: the text is the secret.
func (s *Secret) UnmarshalText(text []byte) error {
	*s = Secret(text)
	return nil
}
