// Package ops is the gateway's operations surface: metrics (the
// Prometheus exposition) and alerts (incidents to a webhook and the log).
package ops

import (
	"fmt"
	"io"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics is the gateway's Prometheus exposition. Each Gateway has its own
// set, so tests (and several gateways in one process) do not mix figures.
// Label values come from a closed vocabulary (actions, platform codes,
// canonical results): never a key, id or phone.
type Metrics struct {
	set *metrics.Set
	// counters caches series by their labels so the hot paths do not
	// format a series name per event.
	counters sync.Map // seriesKey → *metrics.Counter
	hists    sync.Map // seriesKey → *metrics.Histogram
}

type seriesKey struct{ name, a, b, c string }

// NewMetrics returns an empty metric set.
func NewMetrics() *Metrics { return &Metrics{set: metrics.NewSet()} }

func (m *Metrics) counter(k seriesKey, format string) *metrics.Counter {
	if c, ok := m.counters.Load(k); ok {
		return c.(*metrics.Counter)
	}
	c := m.set.GetOrCreateCounter(fmt.Sprintf(format, k.a, k.b, k.c))
	m.counters.Store(k, c)
	return c
}

func (m *Metrics) histogram(k seriesKey, format string) *metrics.Histogram {
	if h, ok := m.hists.Load(k); ok {
		return h.(*metrics.Histogram)
	}
	h := m.set.GetOrCreateHistogram(fmt.Sprintf(format, k.a, k.b))
	m.hists.Store(k, h)
	return h
}

// Write writes the Prometheus text format.
func (m *Metrics) Write(w io.Writer) { m.set.WritePrometheus(w) }

func (m *Metrics) Request(api, action, result string) {
	m.counter(seriesKey{"req", api, action, result}, `smsgate_requests_total{api=%q,action=%q,result=%q}`).Inc()
}

func (m *Metrics) Upstream(platform, op, result string, seconds float64) {
	m.counter(seriesKey{"up", platform, op, result}, `smsgate_upstream_calls_total{platform=%q,op=%q,result=%q}`).Inc()
	if result != "breaker_open" && result != "rate_limited" {
		m.histogram(seriesKey{"uph", platform, op, ""}, `smsgate_upstream_call_duration_seconds{platform=%q,op=%q}`).Update(seconds)
	}
}

func (m *Metrics) Failover(from string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_failovers_total{from=%q}`, from)).Inc()
}

func (m *Metrics) Routed(strategy, platform string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_routing_decisions_total{strategy=%q,platform=%q}`, strategy, platform)).Inc()
}

func (m *Metrics) BreakerChange(platform, to string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_breaker_transitions_total{platform=%q,to=%q}`, platform, to)).Inc()
}

func (m *Metrics) Gauge(name string, f func() float64) { m.set.GetOrCreateGauge(name, f) }

func (m *Metrics) Alert(kind, platform string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_alerts_total{kind=%q,platform=%q}`, kind, platform)).Inc()
}

// Action counts an outbox action's attempt by kind and result (done,
// final, retry, gave_up).
func (m *Metrics) Action(kind, result string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_actions_total{kind=%q,result=%q}`, kind, result)).Inc()
}

func (m *Metrics) Reconciled(platform, result string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`smsgate_unknown_purchases_total{platform=%q,result=%q}`, platform, result)).Inc()
}

func (m *Metrics) Cache(kind, result string) {
	m.counter(seriesKey{"cache", kind, result, ""}, `smsgate_cache_total{kind=%q,result=%q}%.0s`).Inc()
}

// AcceptErrors counts temporary accept errors (out of descriptors…) that
// the listener backed off from.
func (m *Metrics) AcceptErrors() *metrics.Counter {
	return m.set.GetOrCreateCounter("smsgate_accept_errors_total")
}

func (m *Metrics) AcceptError() { m.AcceptErrors().Inc() }

func (m *Metrics) ConnRejected(limit string) {
	m.counter(seriesKey{"connrej", limit, "", ""}, `smsgate_conns_rejected_total{limit=%q}%.0s%.0s`).Inc()
}
