package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"smsgate/gateway/lifetime"
)

// Alert is one incident worth a human's attention.
type Alert struct {
	Kind     string    `json:"kind"` // breaker_open, auth, low_balance, health_failing
	Platform string    `json:"platform"`
	Message  string    `json:"message"`
	At       time.Time `json:"at"`
}

// Alerter raises each incident once: a second raise of the same kind for
// the same platform is ignored until the incident is cleared, so one
// outage is one alert, not one per failed request.
type Alerter struct {
	url   string
	log   *zap.Logger
	m     *Metrics
	now   func() time.Time
	queue chan Alert
	hc    *http.Client

	mu     sync.Mutex
	active map[string]bool // kind|platform; guarded by mu
}

// NewAlerter posts alerts to url (none: log and count only).
func NewAlerter(url string, log *zap.Logger, m *Metrics, now func() time.Time) *Alerter {
	return &Alerter{url: url, log: log, m: m, now: now, queue: make(chan Alert, 256),
		hc: &http.Client{Timeout: 5 * time.Second}, active: map[string]bool{}}
}

// Raise reports an incident (once until it is cleared).
func (a *Alerter) Raise(kind, platform, msg string) {
	k := kind + "|" + platform
	a.mu.Lock()
	if a.active[k] {
		a.mu.Unlock()
		return
	}
	a.active[k] = true
	a.mu.Unlock()
	al := Alert{Kind: kind, Platform: platform, Message: msg, At: a.now().UTC()}
	a.log.Warn("alert", zap.String("kind", kind), zap.String("platform", platform), zap.String("message", msg))
	a.m.Alert(kind, platform)
	if a.url == "" {
		return
	}
	select {
	case a.queue <- al:
	default:
		a.log.Error("alert queue full; webhook not sent", zap.String("kind", kind), zap.String("platform", platform))
	}
}

// Clear ends an incident: the next raise alerts again.
func (a *Alerter) Clear(kind, platform string) {
	a.mu.Lock()
	delete(a.active, kind+"|"+platform)
	a.mu.Unlock()
}

// Run posts queued alerts until ctx ends, retrying each a few times; its
// owner runs it on a goroutine it waits for.
func (a *Alerter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case al := <-a.queue:
			a.post(ctx, al)
		}
	}
}

func (a *Alerter) post(ctx context.Context, al Alert) {
	body, _ := json.Marshal(al)
	backoff := 500 * time.Millisecond
	for attempt := 1; attempt <= 4; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
		}
		if !lifetime.Sleep(ctx, backoff) {
			return
		}
		backoff *= 2
	}
	a.log.Error("alert webhook failed", zap.String("kind", al.Kind), zap.String("platform", al.Platform))
}

// Close drops the webhook client's idle connections (and their
// goroutines), once run has returned.
func (a *Alerter) Close() { a.hc.CloseIdleConnections() }
