package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"

	"go.uber.org/zap"

	"smsgate/config"
	"smsgate/ledger"
)

// PlatformPatch is an admin change of a platform's routing settings; nil
// fields keep their value, Reset drops every override first.
type PlatformPatch struct {
	Enabled  *bool `json:"enabled,omitempty"`
	Priority *int  `json:"priority,omitempty"`
	Weight   *int  `json:"weight,omitempty"`
	Reset    bool  `json:"reset,omitempty"`
}

// PlatformAdmin is a platform's settings as the admin API shows them.
type PlatformAdmin struct {
	Code      string                   `json:"code"`
	Config    Settings                 `json:"config"`
	Override  *ledger.PlatformOverride `json:"-"`
	Overrides map[string]any           `json:"override"`
	Effective Settings                 `json:"effective"`
}

// applyOverrides reads the ledger's overrides and puts every platform's
// effective settings in force. Overrides live in the ledger so they survive
// restarts and every instance sharing it converges on them.
func (g *Gateway) applyOverrides(ctx context.Context) (map[string]ledger.PlatformOverride, error) {
	ov, err := g.store.Overrides(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range g.platforms {
		s := p.Configured()
		if o, ok := ov[p.Code]; ok {
			if o.Enabled != nil {
				s.Enabled = *o.Enabled
			}
			if o.Priority != nil {
				s.Priority = *o.Priority
			}
			if o.Weight != nil {
				s.Weight = *o.Weight
			}
		}
		p.SetLive(s)
	}
	return ov, nil
}

// refreshOverrides re-reads overrides every interval until the gateway
// stops (other instances may have changed them).
func (g *Gateway) refreshOverrides(every time.Duration) {
	g.bg.Go(func(ctx context.Context) {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := g.applyOverrides(ctx); err != nil && ctx.Err() == nil {
					g.log.Warn("cannot refresh platform overrides", zap.Error(err))
				}
			}
		}
	})
}

// AdminPlatforms lists every platform's configured, overridden and
// effective settings.
func (g *Gateway) AdminPlatforms(ctx context.Context) ([]PlatformAdmin, error) {
	ov, err := g.applyOverrides(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PlatformAdmin, 0, len(g.platforms))
	for _, p := range g.platforms {
		a := PlatformAdmin{Code: p.Code, Config: p.Configured(), Effective: p.Current(), Overrides: map[string]any{}}
		if o, ok := ov[p.Code]; ok {
			if o.Enabled != nil {
				a.Overrides["enabled"] = *o.Enabled
			}
			if o.Priority != nil {
				a.Overrides["priority"] = *o.Priority
			}
			if o.Weight != nil {
				a.Overrides["weight"] = *o.Weight
			}
			a.Overrides["updatedAt"] = o.UpdatedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, a)
	}
	return out, nil
}

// PatchPlatform stores an admin change and puts it in force at once.
func (g *Gateway) PatchPlatform(ctx context.Context, code string, patch PlatformPatch) (PlatformAdmin, error) {
	if _, ok := g.byCode[code]; !ok {
		return PlatformAdmin{}, ErrBadPlatform
	}
	if patch.Weight != nil && *patch.Weight < 1 {
		return PlatformAdmin{}, fmt.Errorf("weight must be >= 1: %w", errBadRequest)
	}
	ov, err := g.store.Overrides(ctx)
	if err != nil {
		return PlatformAdmin{}, err
	}
	o := ov[code]
	if patch.Reset {
		o = ledger.PlatformOverride{}
	}
	if patch.Enabled != nil {
		o.Enabled = patch.Enabled
	}
	if patch.Priority != nil {
		o.Priority = patch.Priority
	}
	if patch.Weight != nil {
		o.Weight = patch.Weight
	}
	o.UpdatedAt = g.now().UTC()
	if err := g.store.SetOverride(ctx, code, o); err != nil {
		return PlatformAdmin{}, err
	}
	list, err := g.AdminPlatforms(ctx)
	if err != nil {
		return PlatformAdmin{}, err
	}
	g.log.Info("platform settings changed by admin", zap.String("platform", code))
	for _, a := range list {
		if a.Code == code {
			return a, nil
		}
	}
	return PlatformAdmin{}, ErrBadPlatform
}

// adminKey is the admin key's sha256, when one is configured.
type adminKey struct {
	set  bool
	hash [32]byte
}

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
