package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"smsgate/config"
)

// adminKey is the admin key's sha256, when one is configured.
type adminKey struct {
	set  bool
	hash [32]byte
}

// newAdminKey hashes the configured admin key.
func newAdminKey(a config.Admin) (adminKey, error) {
	switch {
	case a.Key.Reveal() != "":
		return adminKey{set: true, hash: sha256.Sum256([]byte(a.Key.Reveal()))}, nil
	case a.KeySHA256 != "":
		b, err := hex.DecodeString(a.KeySHA256)
		if err != nil || len(b) != 32 {
			return adminKey{}, fmt.Errorf("admin.key_sha256: want 64 hex characters")
		}
		var k adminKey
		k.set = true
		copy(k.hash[:], b)
		return k, nil
	}
	return adminKey{}, nil
}

// matches compares in constant time; no admin key configured never matches.
func (k adminKey) matches(key string) bool {
	if !k.set || key == "" {
		return false
	}
	h := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1
}
