package unified

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"smsgate/gateway/orders"
	"smsgate/gateway/tenant"
	"smsgate/ledger"
)

// maxBatch bounds getPhone's count.
const maxBatch = 100

// BatchAnswer is getPhone's data when the body has a count: the numbers
// bought, and why the rest were not.
type BatchAnswer struct {
	Requested int           `json:"requested"`
	Bought    int           `json:"bought"`
	Orders    []PhoneAnswer `json:"orders"`
	// Missing says why the other Requested − Bought were not bought: the
	// first refusal ends the batch (the router had already tried every
	// platform), and it is the reason for all of them.
	Missing *BatchMissing `json:"missing,omitempty"`
	// Request is what the batch asked for, so a reused Idempotency-Key
	// with another request is told apart.
	Request batchRequest `json:"request"`
}

// BatchMissing is why part of a batch was not bought.
type BatchMissing struct {
	Count  int    `json:"count"`
	Code   int    `json:"code"` // the error code a single getPhone would have answered
	Reason string `json:"reason"`
}

type batchRequest struct {
	Country  string `json:"country"`
	Service  string `json:"service"`
	Platform string `json:"platform,omitempty"`
	Count    int    `json:"count"`
}

// buyBatch buys up to n numbers, one after another, each routed by the
// strategy (stock running out on one platform moves the next ones on).
// With an Idempotency-Key the answer is stored in the ledger once the
// batch ends, and a retry gets exactly that answer and buys nothing; each
// number also carries its own key (key#i), so a retry after a crash in
// the middle finds the numbers already bought instead of buying them again.
func (s *API) buyBatch(c *call, r orders.BuyRequest, n int, key string) (any, error) {
	req := batchRequest{Country: r.Country, Service: r.Service, Platform: r.Platform, Count: n}
	if key == "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.cctx), time.Duration(n)*s.cfg.Routing.Deadline)
		defer cancel()
		return s.runBatch(ctx, c.t, r, req, "")
	}
	v, err, _ := s.idem.Do(c.t.Name+"\x00b:"+key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*s.cfg.Routing.Deadline)
		defer cancel()
		if a, err := s.storedBatch(ctx, c.t, key); err == nil || !errors.Is(err, ledger.ErrNotFound) {
			return a, err
		}
		a, err := s.runBatch(ctx, c.t, r, req, key)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("cannot encode batch answer: %w", err)
		}
		if err := s.store.PutBatch(ctx, c.t.Name, key, string(b), s.now().UTC()); errors.Is(err, ledger.ErrConflict) {
			return s.storedBatch(ctx, c.t, key) // another instance finished it first
		} else if err != nil {
			return nil, fmt.Errorf("cannot record batch answer: %w", err)
		}
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	a := v.(BatchAnswer)
	if a.Request != req {
		return nil, &apiErr{409, codeIdempotency, "Idempotency-Key already used for a different request", nil}
	}
	return a, nil
}

// storedBatch is a finished batch's answer.
func (s *API) storedBatch(ctx context.Context, t *tenant.Tenant, key string) (BatchAnswer, error) {
	raw, err := s.store.Batch(ctx, t.Name, key)
	if err != nil {
		return BatchAnswer{}, err
	}
	var a BatchAnswer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return BatchAnswer{}, fmt.Errorf("cannot decode stored batch answer: %w", err)
	}
	return a, nil
}

// runBatch buys the numbers; the first refusal ends it.
func (s *API) runBatch(ctx context.Context, t *tenant.Tenant, r orders.BuyRequest, req batchRequest, key string) (BatchAnswer, error) {
	a := BatchAnswer{Requested: req.Count, Orders: []PhoneAnswer{}, Request: req}
	for i := 1; i <= req.Count; i++ {
		ri := r
		if key != "" {
			ri.IdempotencyKey = fmt.Sprintf("b:%s#%d", key, i)
			if o, err := s.store.GetByIdempotencyKey(ctx, t.Name, ri.IdempotencyKey); err == nil {
				a.Orders = append(a.Orders, s.phoneAnswer(t, o))
				continue
			}
		}
		o, err := s.orders.Buy(ctx, t, ri)
		if err != nil {
			e := s.apiErrorOf(err, t.Currency)
			if e.code == codeInternalError && len(a.Orders) == 0 {
				return a, err // nothing bought and nothing to say but "error"
			}
			a.Missing = &BatchMissing{Count: req.Count - len(a.Orders), Code: e.code, Reason: e.msg}
			break
		}
		a.Orders = append(a.Orders, s.phoneAnswer(t, o))
	}
	a.Bought = len(a.Orders)
	return a, nil
}
