package smsactivate

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// How the server writes its answers: text and JSON bodies, error tokens
// in either dialect, and the classification of bodies for metrics.

// Result classifies an answer body for metrics: "ok", or the error token
// it carries (its part before ':'), or "error" for a JSON error object.
func Result(body []byte) string {
	if len(body) > 0 && body[0] == '{' {
		if bytes.Contains(body, []byte(`"status":"error"`)) {
			return "error"
		}
		return "ok"
	}
	tok, _, _ := bytes.Cut(body, []byte(":"))
	if name, bad := resultTokens[string(tok)]; bad {
		return name // the map's own string: no copy of the body
	}
	return "ok"
}

// resultTokens are the error answers, by their part before ':'.
var resultTokens = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{
		TokNoKey, TokBadKey, TokBadAction, TokErrorSQL, TokNoNumbers, TokNoBalance,
		TokWrongMaxPrice, TokBadService, TokWrongCountry, TokNoActivation, TokWrongActivationID,
		TokBadStatus, TokEarlyCancelDenied, TokChannelsLimit, TokBanned, TokOrderExists,
		"BAD_PLATFORM", "BAD_STRATEGY",
	} {
		m[t] = t
	}
	return m
}()

func (s *Server) text(ctx *fasthttp.RequestCtx, body string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// text2 answers tok + ":" + rest, written in parts into the response
// body (no string is built for it).
func (s *Server) text2(ctx *fasthttp.RequestCtx, tok, rest string) {
	s.text(ctx, tok)
	ctx.Response.AppendBodyString(":")
	ctx.Response.AppendBodyString(rest)
}

func (s *Server) json(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(ctx, TokErrorSQL)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// heroStatus is the HTTP status HeroSMS uses for each error token.
var heroStatus = map[string]int{
	TokBadKey: 401, TokNoBalance: 402, TokBanned: 403, TokChannelsLimit: 403,
	TokBadAction: 404, TokNoActivation: 404, TokEarlyCancelDenied: 409, TokBadStatus: 409,
	TokNoKey: 422, TokBadService: 422, TokWrongCountry: 422, TokWrongActivationID: 422,
	TokWrongMaxPrice: 400, TokOrderExists: 409, TokErrorSQL: 500, TokOperatorsNotFound: 404,
}

// fail answers an error token in the server's dialect. NO_NUMBERS stays a
// 200 text answer in both (HeroSMS kept it so for getNumber).
func (s *Server) fail(ctx *fasthttp.RequestCtx, token string) {
	if s.Dialect != Hero || token == TokNoNumbers {
		s.text(ctx, token)
		return
	}
	title, rest, _ := strings.Cut(token, ":")
	status, ok := heroStatus[title]
	if !ok {
		status = 400
	}
	body := map[string]any{"title": title, "details": strings.ToLower(strings.ReplaceAll(title, "_", " "))}
	switch title {
	case TokWrongMaxPrice:
		if min, err := strconv.ParseFloat(rest, 64); err == nil {
			body["info"] = map[string]any{"min": min}
		}
	case TokNoKey:
		body["title"] = "UNPROCESSABLE_ENTITY"
		body["info"] = map[string]any{"field": "api_key", "code": "REQUIRED"}
	case TokEarlyCancelDenied:
		body["info"] = map[string]any{"minActivationTime": 120}
	}
	b, _ := json.Marshal(body)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (s *Server) failErr(ctx *fasthttp.RequestCtx, err error) {
	var be *BanError
	if errors.As(err, &be) {
		s.banned(ctx, be)
		return
	}
	s.fail(ctx, ErrorToken(err))
}

// BanError makes a backend answer BANNED (a simulated upstream's ban):
// in the classic dialect BANNED:'<date>' (the protocol has no scope, so
// a client reads the whole account); in the HeroSMS dialect 403 JSON
// with info.scope ("global" or "specific" with the service and country
// id), banned_until (RFC 3339) and retry_after_seconds.
type BanError struct {
	Pair       bool   // one service × country, else the whole account
	Service    string // canonical service code
	CountryID  int    // the protocol's country id
	Until      time.Time
	RetryAfter time.Duration
}

func (e *BanError) Error() string { return TokBanned + " until " + e.Until.UTC().Format(time.RFC3339) }

func (s *Server) banned(ctx *fasthttp.RequestCtx, e *BanError) {
	if s.Dialect != Hero {
		// The docs show the date quoted, in this odd layout: BANNED:'2026-1-2 3-04-05'.
		s.text(ctx, TokBanned+":'"+e.Until.UTC().Format("2006-1-2 15-04-05")+"'")
		return
	}
	info := map[string]any{"scope": "global", "banned_until": e.Until.UTC().Format(time.RFC3339),
		"retry_after_seconds": int64(math.Ceil(e.RetryAfter.Seconds()))}
	if e.Pair {
		info["scope"], info["service"], info["country"] = "specific", e.Service, e.CountryID
	}
	b, _ := json.Marshal(map[string]any{"title": TokBanned, "details": "banned", "info": info})
	ctx.SetStatusCode(heroStatus[TokBanned])
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
