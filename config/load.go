package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable that overrides a key:
// SMSGATE_ + the key path upper-cased, with "__" for each dot and for each
// list index (SMSGATE_SERVER__LISTEN, SMSGATE_PLATFORMS__0__KEY). Every
// SMSGATE_ variable must name a known key.
const EnvPrefix = "SMSGATE_"

// TestEnvPrefix starts variables that tests read (SMSGATE_TEST_POSTGRES,
// SMSGATE_TEST_REDIS); Load ignores them so they can stay exported.
const TestEnvPrefix = "SMSGATE_TEST_"

// Load reads the configuration: Defaults, overlaid by the TOML file at path,
// overlaid by the SMSGATE_ variables in environ (pass os.Environ()). It then
// runs ApplyDefaults and Validate, and finally hashes tenant keys (see
// Tenant.Key). Unknown keys, in the file or the environment, are an error
// naming them.
func Load(path string, environ []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), toml.Parser()); err != nil {
		return Config{}, fileError(path, err)
	}

	// Variables with a list index (SMSGATE_PLATFORMS__0__KEY) cannot go
	// through koanf: its merge would replace the [[platforms]] list with a
	// map {"0": …}. They are set aside and patched into the raw map below.
	var (
		badEnv  []error
		indexed []envVar
		fromEnv = map[string]string{} // key as in errors → variable name
	)
	envProvider := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if strings.HasPrefix(name, TestEnvPrefix) {
				return "", nil // test settings (database URLs for go test), not config
			}
			keyPath, err := envKeyPath(name)
			if err != nil {
				badEnv = append(badEnv, err)
				return "", nil
			}
			fromEnv[keyName(keyPath)] = name
			if slices.ContainsFunc(keyPath, isIndex) {
				indexed = append(indexed, envVar{name, keyPath, value})
				return "", nil
			}
			return strings.Join(keyPath, "."), value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return Config{}, fmt.Errorf("cannot read environment: %w", err)
	}
	if len(badEnv) > 0 {
		return Config{}, fmt.Errorf("cannot load config %s: %w", path, errors.Join(badEnv...))
	}

	raw := k.Raw()
	slices.SortFunc(indexed, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
	for _, v := range indexed {
		if _, err := setPath(raw, v.path, 0, v.value); err != nil {
			return Config{}, fmt.Errorf("cannot load config %s: %s: %w", path, v.name, err)
		}
	}

	c := Defaults()
	if err := decode(raw, &c, fromEnv); err != nil {
		return Config{}, fmt.Errorf("cannot load config %s: %w", path, err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid config %s:\n%w", path, err)
	}
	c.hashTenantKeys()
	return c, nil
}

// fileError names the file, and for a TOML syntax error the line and
// column, in err.
func fileError(path string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("cannot read config: %w", err) // it names the path
	}
	// *toml.DecodeError from pelletier/go-toml/v2, behind koanf's parser.
	// Some go-toml errors (a key defined twice) carry no position.
	type positioned interface {
		error
		Position() (row, column int)
	}
	if pos, ok := errors.AsType[positioned](err); ok {
		row, col := pos.Position()
		return fmt.Errorf("cannot parse config: %s:%d:%d: %w", path, row, col, err)
	}
	return fmt.Errorf("cannot parse config: %s: %w", path, err)
}

// envVar is an environment override whose key path holds a list index.
type envVar struct {
	name  string
	path  []string
	value string
}

// envKeyPath turns SMSGATE_TENANTS__0__MAX_ACTIVE into
// [tenants 0 max_active]. The currency under fx.rates keeps its case.
func envKeyPath(name string) ([]string, error) {
	keyPath := strings.Split(strings.TrimPrefix(name, EnvPrefix), "__")
	for i, seg := range keyPath {
		if seg == "" {
			return nil, fmt.Errorf("%s: empty key segment (want %sSECTION__KEY)", name, EnvPrefix)
		}
		keyPath[i] = strings.ToLower(seg)
	}
	if isIndex(keyPath[len(keyPath)-1]) {
		return nil, fmt.Errorf("%s: names a whole list element; set one of its keys (%s__KEY)", name, name)
	}
	if len(keyPath) == 3 && keyPath[0] == "fx" && keyPath[1] == "rates" {
		keyPath[2] = strings.ToUpper(keyPath[2])
	}
	return keyPath, nil
}

// isIndex reports whether a key path segment is a list index.
func isIndex(seg string) bool {
	if seg == "" {
		return false
	}
	for _, r := range seg {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// keyName writes a key path the way errors name keys: platforms[0].key.
func keyName(keyPath []string) string {
	var b strings.Builder
	for i, seg := range keyPath {
		switch {
		case isIndex(seg):
			b.WriteString("[" + seg + "]")
		case i > 0:
			b.WriteString("." + seg)
		default:
			b.WriteString(seg)
		}
	}
	return b.String()
}

// setPath sets keyPath[i:] below node to value and returns the new node.
// Tables are created as needed; list elements must already exist, so an
// index override can change a configured platform or tenant but not
// conjure up a half-configured one.
func setPath(node any, keyPath []string, i int, value string) (any, error) {
	if i == len(keyPath) {
		return value, nil
	}
	seg := keyPath[i]
	switch n := node.(type) {
	case map[string]any:
		if isIndex(seg) {
			return nil, fmt.Errorf("%s is a table, not a list", keyName(keyPath[:i]))
		}
		child, err := setPath(n[seg], keyPath, i+1, value)
		if err != nil {
			return nil, err
		}
		n[seg] = child
		return n, nil
	case []any:
		idx, err := strconv.Atoi(seg)
		if err != nil {
			return nil, fmt.Errorf("%s is a list: want an index, got %q", keyName(keyPath[:i]), seg)
		}
		if idx >= len(n) {
			return nil, fmt.Errorf("%s does not exist (%d configured)", keyName(keyPath[:i+1]), len(n))
		}
		child, err := setPath(n[idx], keyPath, i+1, value)
		if err != nil {
			return nil, err
		}
		n[idx] = child
		return n, nil
	case nil:
		if isIndex(seg) {
			return nil, fmt.Errorf("%s does not exist (0 configured)", keyName(keyPath[:i+1]))
		}
		return setPath(map[string]any{}, keyPath, i, value)
	default:
		return nil, fmt.Errorf("%s is a value, not a table", keyName(keyPath[:i]))
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// durationHook turns "750ms" into a time.Duration and refuses bare numbers,
// which mapstructure would otherwise take as nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	if from.Kind() != reflect.String {
		return nil, fmt.Errorf("want a duration string such as \"5s\" or \"750ms\", got %v", data)
	}
	d, err := time.ParseDuration(reflect.ValueOf(data).String())
	if err != nil {
		return nil, fmt.Errorf("want a duration such as \"5s\" or \"750ms\", got %q", data)
	}
	return d, nil
}

// decode decodes the merged map onto c (which holds the defaults). Keys
// that match no field are an error naming each, and where it came from.
func decode(raw map[string]any, c *Config, fromEnv map[string]string) error {
	var md mapstructure.Metadata
	dc := mapstructure.DecoderConfig{
		// Our own DecoderConfig drops koanf's hooks; these re-add them.
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			decimalHook,                             // before the string hooks: markup_percent = 12.5 is a TOML float
			mapstructure.StringToSliceHookFunc(","), // SMSGATE_TENANTS__0__PLATFORMS=a,b
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true, // env values are strings: "3" → 3, "false" → false
		// Unknown keys are collected in md.Unused rather than failed on with
		// ErrorUnused, so that each error can name the full key path
		// (platforms[0].kye) and whether it came from the file or env.
		Metadata: &md,
		TagName:  "koanf",
		Result:   c,
	}
	d, err := mapstructure.NewDecoder(&dc)
	if err != nil {
		return err
	}
	if err := d.Decode(raw); err != nil {
		return decodeError(err)
	}
	if len(md.Unused) == 0 {
		return nil
	}
	slices.Sort(md.Unused)
	errs := make([]error, 0, len(md.Unused))
	for _, key := range md.Unused {
		msg := "unknown key " + key
		if why, ok := removedKeys[indexless(key)]; ok {
			msg = key + ": removed: " + why
		}
		if name := envSource(key, fromEnv); name != "" {
			msg += " (from env " + name + ")"
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// removedKeys are keys the gateway once accepted, by their path without
// list indices, with what to use instead. They are rejected like unknown
// keys (a key is enforced or refused, never ignored), with the way out.
var removedKeys = map[string]string{
	// budget was validated and never enforced.
	"tenants.budget": "use wallet = true with a top-up as the spend cap",
}

// indexless drops the list indices of a key as errors name it:
// tenants[0].budget → tenants.budget.
func indexless(key string) string {
	var b strings.Builder
	skip := false
	for _, r := range key {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// envSource returns the variable that set key (or a key below it), or "" if
// key came from the file.
func envSource(key string, fromEnv map[string]string) string {
	for k, name := range fromEnv {
		if k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			return name
		}
	}
	return ""
}

// decodeError rewrites mapstructure's "decoding failed due to the following
// error(s): 'server.listen' …" into one "server.listen: …" line per problem.
func decodeError(err error) error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *mapstructure.DecodeError: // one field's problem
			out = append(out, fmt.Errorf("%s: %w", e.Name(), e.Unwrap()))
		case interface{ Unwrap() []error }: // errors.Join
			for _, err := range e.Unwrap() {
				walk(err)
			}
		default:
			// Look through the "decoding failed" wrapper, and only that.
			if _, ok := errors.AsType[*mapstructure.DecodeError](err); ok && errors.Unwrap(err) != nil {
				walk(errors.Unwrap(err))
				return
			}
			out = append(out, err)
		}
	}
	walk(err)
	return errors.Join(out...)
}

// hashTenantKeys replaces each plain tenant key by its sha256, so that a
// loaded Config never holds tenant keys in clear.
func (c *Config) hashTenantKeys() {
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Key == "" {
			continue
		}
		sum := sha256.Sum256([]byte(t.Key.Reveal()))
		t.KeySHA256 = hex.EncodeToString(sum[:])
		t.Key = ""
	}
}
