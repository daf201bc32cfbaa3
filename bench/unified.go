package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Unified API paths and actions.
const (
	pathGetPhone   = "/api/sms/getPhone"
	pathGetSmsCode = "/api/sms/getSmsCode"
	pathSetStatus  = "/api/sms/setStatus"
)

var unifiedActions = []string{"getPhone", "getSmsCode", "setStatus"}

// apiAnswer is every unified answer: {"code":0,"data":…} or
// {"code":n,"msg":"…"}.
type apiAnswer struct {
	Code int             `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

type phoneData struct {
	ID    int64  `json:"id"`
	Phone string `json:"phone"`
}

type codeData struct {
	Status string `json:"status"` // received | waiting
	Code   string `json:"code"`
}

type statusData struct {
	ID    int64  `json:"id"`
	State string `json:"state"`
}

// decodeAPI reads a unified answer into data; the error kind is "" when
// it is a 200 with code 0 and data decodes.
func decodeAPI(a answer, data any) string {
	if a.err != nil {
		return transportKind(a.err)
	}
	var ans apiAnswer
	if err := json.Unmarshal(a.body, &ans); err != nil {
		return bodyKind(a.status, a.body)
	}
	if a.status != 200 || ans.Code != 0 {
		msg := ans.Msg
		if len(msg) > 40 {
			msg = msg[:40]
		}
		return fmt.Sprintf("HTTP %d code %d %s", a.status, ans.Code, msg)
	}
	if err := json.Unmarshal(ans.Data, data); err != nil {
		return "bad data"
	}
	return ""
}

// unifiedClient is a virtual client of the JSON API.
type unifiedClient struct {
	buyBody []byte
	wait    time.Duration // long-poll wait asked for
	poll    time.Duration // pause after a "waiting" that came back early
	end     time.Time
	rec     *Recorder
}

func (u *unifiedClient) activation(w int, jc *jsonCaller, start time.Time) {
	a := jc.post(pathGetPhone, u.buyBody)
	var ph phoneData
	k := decodeAPI(a, &ph)
	if k == "" && ph.ID <= 0 {
		k = "no order id"
	}
	u.rec.note(w, 0, start, a, k)
	if k != "" {
		sleepUntil(time.Now().Add(u.poll), u.end)
		return
	}
	u.rec.bought(start)
	for {
		wait := min(u.wait, time.Until(u.end)).Truncate(time.Millisecond)
		if wait <= 0 {
			return
		}
		due := time.Now()
		a := jc.post(pathGetSmsCode, fmt.Appendf(nil, `{"orderId":%d,"wait":%q}`, ph.ID, wait.String()))
		var cd codeData
		k := decodeAPI(a, &cd)
		if k == "" && cd.Status != "received" && cd.Status != "waiting" {
			k = "status " + strconv.Quote(cd.Status)
		}
		u.rec.note(w, 1, due, a, k)
		if k == "" && cd.Status == "received" {
			break
		}
		if k != "" || time.Since(due) < wait/2 {
			// An error, or a server that did not hold the request: poll.
			if !sleepUntil(time.Now().Add(u.poll), u.end) {
				return
			}
		}
	}
	for attempt := 0; attempt < maxFinishAttempts; attempt++ {
		due := time.Now()
		if !due.Before(u.end) {
			return
		}
		a := jc.post(pathSetStatus, fmt.Appendf(nil, `{"orderId":%d,"status":"complete"}`, ph.ID))
		var sd statusData
		k := decodeAPI(a, &sd)
		u.rec.note(w, 2, due, a, k)
		if k == "" {
			u.rec.activation(start, time.Now())
			return
		}
		if !sleepUntil(time.Now().Add(u.poll), u.end) {
			return
		}
	}
}

// probeUnified checks that the gateway serves the unified endpoints in
// the documented shapes before any load: a missing API is a setup failure,
// not a run full of errors.
func probeUnified(cl *client, buyBody []byte) error {
	jc := newJSONCaller(cl)
	a := jc.post(pathGetPhone, buyBody)
	var ph phoneData
	if k := decodeAPI(a, &ph); k != "" || ph.ID <= 0 {
		return fmt.Errorf("the unified API is not available: POST %s answered %s", pathGetPhone, describe(a))
	}
	a = jc.post(pathGetSmsCode, fmt.Appendf(nil, `{"orderId":%d,"wait":"1ms"}`, ph.ID))
	var cd codeData
	if k := decodeAPI(a, &cd); k != "" || (cd.Status != "waiting" && cd.Status != "received") {
		return fmt.Errorf("the unified API is not available: POST %s answered %s", pathGetSmsCode, describe(a))
	}
	return nil
}

func describe(a answer) string {
	if a.err != nil {
		return transportKind(a.err)
	}
	body := a.body
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("HTTP %d %s", a.status, body)
}

// runUnified runs the JSON API flow through the gateway: getPhone,
// getSmsCode long-polls until the code, setStatus complete.
func runUnified(b *bench) error {
	buyBody := fmt.Appendf(nil, `{"country":%q,"service":%q}`, b.o.country, b.o.service)
	probe, err := newClient(b.w.gateway, 1, b.o.timeout, time.Time{})
	if err != nil {
		return err
	}
	err = probeUnified(probe, buyBody)
	probe.close()
	if err != nil {
		return err
	}
	d := b.o.duration
	start := time.Now()
	end := start.Add(d)
	// Long polls end with the run; allow their answer a little longer.
	cl, err := newClient(b.w.gateway, b.o.conns, b.o.timeout+b.o.wait, end.Add(time.Second))
	if err != nil {
		return err
	}
	defer cl.close()
	rec := b.recorder("gateway", unifiedActions, start, d, true)
	cc := countCalls(b.w.markets())
	u := &unifiedClient{buyBody: buyBody, wait: b.o.wait, poll: b.o.poll, end: end, rec: rec}
	if b.o.rate > 0 {
		runArrivals(b.o.rate, start, end, func(i int, due time.Time) { u.activation(i, newJSONCaller(cl), due) })
	} else {
		callers := make([]*jsonCaller, b.o.conns)
		for i := range callers {
			callers[i] = newJSONCaller(cl)
		}
		runStaggered(b.o.conns, b.o.codeDelay+b.o.poll, end, func(w int) { u.activation(w, callers[w], time.Now()) })
	}
	run := b.addRun(rec, "gateway", b.loadName(b.o.rate, true), 0)
	run.Flow = flowStats(rec, cc)
	b.rep.Notes = append(b.rep.Notes, "getSmsCode long-polls (-wait): its latency is mostly the wait for the SMS, not gateway cost")
	return nil
}
