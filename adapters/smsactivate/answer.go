package smsactivate

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

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

func (s *Server) failErr(ctx *fasthttp.RequestCtx, err error) { s.fail(ctx, ErrorToken(err)) }
