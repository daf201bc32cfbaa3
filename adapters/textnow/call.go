package textnow

import (
	"context"
	"errors"
	"fmt"
	"smsgate/adapters"
	"smsgate/adapters/pool"
	"smsgate/adapters/upstream"
	"strconv"
	"strings"
	"time"
)

// lookupRetry is how long accountOf leaves an account whose lookup failed
// before looking it up again: every poll of the order would otherwise
// spend its time on it.
const lookupRetry = 30 * time.Second

// call makes one GET for a: after a's previous call and MinGap after its
// end, unless a is down or backing off. It returns a 200's body; every
// other answer is judged here, and a 401/403 or 429 changes a's state.
func (r *Reader) call(ctx context.Context, a *account, op, path string, query map[string]string) ([]byte, error) {
	select {
	case a.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx, op)
	}
	defer func() { <-a.slot }()
	if err := r.wait(ctx, a, op); err != nil {
		return nil, err
	}
	hdr := map[string]string{"User-Agent": r.ua, "Accept": "application/json, text/plain, */*"}
	for k, v := range a.header {
		hdr[k] = v
	}
	call := upstream.Call{Path: path, Query: query, Header: hdr, Op: op}
	resp, err := r.http.Do(ctx, call)
	a.mu.Lock()
	a.lastEnd = time.Now()
	a.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, adapters.ErrUnavailable) {
			return nil, ctxErr(ctx, op)
		}
		return nil, err
	}
	body := resp.Body
	for _, s := range a.secrets {
		body = upstream.Redact(body, s)
	}
	switch st := resp.Status; {
	case st == 200:
		if err := r.http.Readable(call, body); err != nil {
			return nil, err
		}
		return body, nil
	case st == 401 || st == 403:
		why := "http " + strconv.Itoa(st)
		if upstream.LooksHTML(body) {
			why += " with a challenge page"
		}
		a.mu.Lock()
		a.down = why
		a.mu.Unlock()
		return nil, a.downError(op)
	case st == 429:
		d := r.backoff
		if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header["Retry-After"])); err == nil && ra > 0 {
			d = max(d, min(time.Duration(ra)*time.Second, maxRetryAfter))
		}
		a.mu.Lock()
		a.backoffUntil = time.Now().Add(d)
		a.mu.Unlock()
		return nil, pool.Throttled(r.http.Unavailable(call, "http 429: too many requests, backing off for %s", d))
	default:
		return nil, r.http.Unavailable(call, "http %d %q", st, upstream.Snippet(body))
	}
}

// wait holds a call until it may start: not while a needs a login or
// backs off, and not before MinGap after a's previous call. A wait that
// would outlast ctx's deadline is not begun. The caller holds a.slot.
func (r *Reader) wait(ctx context.Context, a *account, op string) error {
	now := time.Now()
	a.mu.Lock()
	down, until, last := a.down, a.backoffUntil, a.lastEnd
	a.mu.Unlock()
	if down != "" {
		return a.downError(op)
	}
	if now.Before(until) {
		return pool.Throttled(fmt.Errorf("textnow %s: throttled by TextNow, not calling for another %s: %w", op, until.Sub(now).Round(time.Millisecond), adapters.ErrUnavailable))
	}
	if r.minGap <= 0 || last.IsZero() {
		return nil
	}
	d := last.Add(r.minGap).Sub(now)
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && !now.Add(d).Before(dl) {
		return pool.Throttled(fmt.Errorf("textnow %s: the account's next call is due in %s, after the deadline: %w", op, d.Round(time.Millisecond), adapters.ErrUnavailable))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, op)
	}
}

// downError is the error for every call of a down account. It is not
// adapters.ErrAuth: one account's session takes out that account, not the
// whole source.
func (a *account) downError(op string) error {
	a.mu.Lock()
	why := a.down
	a.mu.Unlock()
	return &pool.DownError{Reason: pool.DownNeedsLogin, Err: fmt.Errorf("textnow %s: %s: the session expired or met a challenge; log in again in a browser", op, why)}
}

// ctxErr reports a call given up because ctx ended: a passed deadline is
// the upstream being too slow (ErrUnavailable); a cancel is the caller's.
func ctxErr(ctx context.Context, op string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("textnow %s: %w: %w", op, ctx.Err(), adapters.ErrUnavailable)
	}
	return fmt.Errorf("textnow %s: %w", op, ctx.Err())
}
