// Package overrides keeps the admin's changes to platforms' routing
// settings in the ledger (so they survive restarts and every instance
// sharing it converges on them) and puts them in force.
package overrides

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"smsgate/gateway/lifetime"
	"smsgate/gateway/platform"
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
	Config    platform.Settings        `json:"config"`
	Override  *ledger.PlatformOverride `json:"-"`
	Overrides map[string]any           `json:"override"`
	Effective platform.Settings        `json:"effective"`
}

// Apply reads the ledger's overrides and puts every platform's
// effective settings in force. Overrides live in the ledger so they survive
// restarts and every instance sharing it converges on them.
func (g *Overrides) Apply(ctx context.Context) (map[string]ledger.PlatformOverride, error) {
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

// Refresh re-reads overrides every interval until the gateway stops
// (other instances may have changed them).
func (g *Overrides) Refresh(every time.Duration) {
	g.bg.Every(every, func(ctx context.Context) {
		if _, err := g.Apply(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("cannot refresh platform overrides", zap.Error(err))
		}
	})
}

// List lists every platform's configured, overridden and
// effective settings.
func (g *Overrides) List(ctx context.Context) ([]PlatformAdmin, error) {
	ov, err := g.Apply(ctx)
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

// Patch stores an admin change and puts it in force at once.
func (g *Overrides) Patch(ctx context.Context, code string, patch PlatformPatch) (PlatformAdmin, error) {
	if _, ok := g.byCode[code]; !ok {
		return PlatformAdmin{}, platform.ErrUnknown
	}
	if patch.Weight != nil && *patch.Weight < 1 {
		return PlatformAdmin{}, fmt.Errorf("weight must be >= 1: %w", ErrBadRequest)
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
	list, err := g.List(ctx)
	if err != nil {
		return PlatformAdmin{}, err
	}
	g.log.Info("platform settings changed by admin", zap.String("platform", code))
	for _, a := range list {
		if a.Code == code {
			return a, nil
		}
	}
	return PlatformAdmin{}, platform.ErrUnknown
}

// ErrBadRequest: the patch is malformed.
var ErrBadRequest = errors.New("bad request")

// Store is where overrides live (ledger.Store).
type Store interface {
	Overrides(ctx context.Context) (map[string]ledger.PlatformOverride, error)
	SetOverride(ctx context.Context, code string, o ledger.PlatformOverride) error
}

// Overrides applies and changes the platforms' live settings.
type Overrides struct {
	store     Store
	platforms []*platform.Platform // by priority
	byCode    map[string]*platform.Platform
	bg        *lifetime.Group // runs the refresh loop
	now       func() time.Time
	log       *zap.Logger
}

// New returns the overrides of platforms (by priority and by code).
func New(store Store, platforms []*platform.Platform, byCode map[string]*platform.Platform, bg *lifetime.Group,
	now func() time.Time, log *zap.Logger) *Overrides {
	return &Overrides{store: store, platforms: platforms, byCode: byCode, bg: bg, now: now, log: log}
}
