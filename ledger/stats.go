package ledger

import (
	"time"

	"smsgate/adapters"
)

// Outcome is one order as statistics see it.
type Outcome struct {
	CreatedAt time.Time
	Platform  string
	Country   string
	Service   string
	State     adapters.State
	Delivered bool  // at least one code arrived
	BasePrice int64 // micro-units of the base currency
	// TimeToCode is first code minus creation; -1 when no code came or its
	// time is unknown.
	TimeToCode time.Duration
}

// OutcomeFilter selects orders for statistics: created in [From, To),
// optionally one tenant, platform, country, service.
type OutcomeFilter struct {
	From, To                           time.Time
	Tenant, Platform, Country, Service string
}

// PlatformOverride is a run-time change of a platform's configuration made
// through the admin API; nil fields keep the configured value.
type PlatformOverride struct {
	Enabled   *bool
	Priority  *int
	Weight    *int
	UpdatedAt time.Time
}

func outcomeOf(createdMs int64, platform, country, service, state string, base int64, codes string, firstCodeMs int64) Outcome {
	o := Outcome{
		CreatedAt: fromMillis(createdMs), Platform: platform, Country: country, Service: service,
		State: adapters.State(state), BasePrice: base, Delivered: codes != "" && codes != "[]", TimeToCode: -1,
	}
	if o.Delivered && firstCodeMs > 0 && firstCodeMs >= createdMs {
		o.TimeToCode = time.Duration(firstCodeMs-createdMs) * time.Millisecond
	}
	return o
}
