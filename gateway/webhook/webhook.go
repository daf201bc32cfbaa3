// Package webhook delivers tenants' order events to their webhook URLs:
// the runner of the outbox's webhook actions (one per event, written with
// the event). A delivery is a JSON POST signed with the tenant's secret;
// the outbox retries it with backoff, in order per order, for up to a day.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"smsgate/adapters/catalog"
	"smsgate/adapters/smsactivate"
	"smsgate/gateway/events"
	"smsgate/gateway/outbox"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// Headers of a delivery.
const (
	HeaderEventID   = "X-Smsgate-Event-Id"  // "<tenant>:<seq>": the same on every retry, for dedupe
	HeaderEvent     = "X-Smsgate-Event"     // the event's kind
	HeaderTimestamp = "X-Smsgate-Timestamp" // Unix seconds of this attempt
	HeaderSignature = "X-Smsgate-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// Store is what deliveries read of the ledger (ledger.Store).
type Store interface {
	Event(ctx context.Context, tenant string, seq int64) (ledger.Event, error)
	EarlierPending(ctx context.Context, a ledger.Action) (bool, error)
}

// Tenants finds a delivery's tenant (tenant.Tenants).
type Tenants interface {
	ByName(name string) (*tenant.Tenant, bool)
}

// Sender posts webhooks.
type Sender struct {
	store   Store
	tenants Tenants
	client  *http.Client
	now     func() time.Time
}

// New returns a sender whose POSTs take at most timeout each.
func New(store Store, tenants Tenants, timeout time.Duration, now func() time.Time) *Sender {
	return &Sender{store: store, tenants: tenants, now: now, client: &http.Client{
		Timeout: timeout,
		// A receiver that redirects is misconfigured; following it would
		// send the signed body somewhere the tenant did not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Run is the outbox runner of one webhook action: nil when the receiver
// answered 2xx, outbox.Later while an earlier event of the same order is
// still owed, outbox.Final when there is nothing to send.
func (s *Sender) Run(ctx context.Context, a ledger.Action) error {
	t, ok := s.tenants.ByName(a.Tenant)
	if !ok || !t.Hooked() {
		return outbox.Final(fmt.Errorf("tenant %q has no webhook_url now", a.Tenant))
	}
	earlier, err := s.store.EarlierPending(ctx, a)
	if err != nil {
		return fmt.Errorf("cannot check earlier webhooks: %w", err)
	}
	if earlier {
		return outbox.Later(fmt.Errorf("waiting for an earlier webhook of order %d", a.OrderID))
	}
	seq, err := strconv.ParseInt(a.Payload, 10, 64)
	if err != nil {
		return outbox.Final(fmt.Errorf("webhook action names no event (payload %q)", a.Payload))
	}
	e, err := s.store.Event(ctx, a.Tenant, seq)
	if errors.Is(err, ledger.ErrNotFound) {
		return outbox.Final(fmt.Errorf("event %d not found", seq))
	}
	if err != nil {
		return fmt.Errorf("cannot read event %d: %w", seq, err)
	}
	body, ok := Body(t.WebhookFormat, e)
	if !ok {
		return outbox.Final(fmt.Errorf("not sent: the %s format carries codes only", t.WebhookFormat))
	}
	return s.post(ctx, t, e, body)
}

// post sends one signed delivery.
func (s *Sender) post(ctx context.Context, t *tenant.Tenant, e ledger.Event, body []byte) error {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return outbox.Final(errors.New("cannot build webhook request: bad webhook_url"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smsgate-webhook")
	req.Header.Set(HeaderEventID, EventID(e))
	req.Header.Set(HeaderEvent, string(e.Kind))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(t.WebhookSecret().Reveal(), ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may carry a token in its query
		}
		return fmt.Errorf("cannot post webhook: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook receiver answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// EventID is a delivery's dedupe id: "<tenant>:<seq>".
func EventID(e ledger.Event) string { return e.Tenant + ":" + strconv.FormatInt(e.Seq, 10) }

// Sign is the X-Smsgate-Signature of body sent at ts (Unix seconds, as
// in X-Smsgate-Timestamp): "sha256=" + hex HMAC-SHA256(secret, ts + "." + body).
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature at ts (constant time).
func Verify(secret, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// SMSActivateBody is SMS-Activate's webhook body (its documented shape:
// sent when an SMS arrives on an activation).
type SMSActivateBody struct {
	ActivationID int64  `json:"activationId"`
	Service      string `json:"service"`
	Text         string `json:"text"`
	Code         string `json:"code"`
	Country      int    `json:"country"` // SMS-Activate's country id
	ReceivedAt   string `json:"receivedAt"`
}

// Body is what a delivery of e posts in format ("smsgate": the event's
// view; "smsactivate": SMS-Activate's body, for codes only — false for
// any other event).
func Body(format string, e ledger.Event) ([]byte, bool) {
	if format != "smsactivate" {
		return events.JSON(e), true
	}
	if e.Kind != ledger.EventCode {
		return nil, false
	}
	c, _ := catalog.CountryByISO(e.Country)
	b, err := json.Marshal(SMSActivateBody{ActivationID: e.OrderID, Service: e.Service, Text: e.Text, Code: e.Code,
		Country: c.SMSActivateID, ReceivedAt: e.At.UTC().Format(smsactivate.TimeLayout)})
	if err != nil {
		panic("BUG: cannot encode a webhook body: " + err.Error())
	}
	return b, true
}
