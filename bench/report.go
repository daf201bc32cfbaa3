package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is one scenario's result: the table bench prints and the -json
// file. Every ratio in Figures is computed from the Runs it names.
type Report struct {
	Scenario string          `json:"scenario"`
	Date     string          `json:"date"` // RFC 3339, UTC
	Go       string          `json:"go"`
	CPUs     int             `json:"cpus"` // GOMAXPROCS
	Target   string          `json:"target"`
	Setup    string          `json:"setup"`
	Runs     []Run           `json:"runs"`
	Figures  []Figure        `json:"figures,omitempty"`
	Failover []FailoverPhase `json:"failover,omitempty"`
	Storm    []StormPhase    `json:"storm,omitempty"`
	Routing  []routingResult `json:"routing,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

// Stats summarise answered requests; Requests = OK + Errors and RPS =
// Requests / the run's Seconds. Latencies cover every answered request.
type Stats struct {
	Requests uint64  `json:"requests"`
	OK       uint64  `json:"ok"`
	Errors   uint64  `json:"errors"`
	RPS      float64 `json:"rps"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// Run is one measured load phase against one endpoint.
type Run struct {
	Name    string  `json:"name"`
	Target  string  `json:"target"` // gateway, direct or ceiling
	Load    string  `json:"load"`   // "closed c=32", "open 5000/s c=32", …
	Seconds float64 `json:"seconds"`
	Stats
	// Cut: in flight when the run ended (neither ok nor error). Missed:
	// open loop, came due but no worker was free before the end.
	Cut        uint64            `json:"cut"`
	Missed     uint64            `json:"missed"`
	Actions    []ActionStats     `json:"actions,omitempty"`
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	Flow       *FlowStats        `json:"flow,omitempty"`
}

// ActionStats are one protocol action's share of a run.
type ActionStats struct {
	Name string `json:"name"`
	Stats
}

// FlowStats are a flow run's orders and the upstream traffic they caused.
type FlowStats struct {
	Orders          uint64  `json:"orders"`       // numbers bought in the measured window
	PhaseOrders     uint64  `json:"phase_orders"` // numbers bought in the whole phase, warmup included
	Completed       uint64  `json:"completed"`    // finished after a code
	Abandoned       uint64  `json:"abandoned"`    // given up without a code after -give-up
	ActivationP50Ms float64 `json:"activation_p50_ms"`
	ActivationP99Ms float64 `json:"activation_p99_ms"`
	// Upstream protocol calls during the whole phase, all actions and
	// getStatus only, and per PhaseOrders; -1 when bench cannot see the
	// upstreams (-target).
	UpstreamCalls       int64   `json:"upstream_calls"`
	UpstreamStatusCalls int64   `json:"upstream_status_calls"`
	CallsPerOrder       float64 `json:"calls_per_order"`
	StatusCallsPerOrder float64 `json:"status_calls_per_order"`
	// OwnedErrors: client errors on orders held by the faulted platform.
	OwnedErrors uint64 `json:"owned_errors,omitempty"`
}

// Figure is a derived number read against the targets.
type Figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`             // "x", "ms", "calls/order"
	Of     string  `json:"of"`               // how it is computed from the runs
	Target string  `json:"target,omitempty"` // e.g. ">= 0.8"
	Met    *bool   `json:"met,omitempty"`
}

// FailoverPhase is one step of the failover schedule.
type FailoverPhase struct {
	Phase    string `json:"phase"`
	Fault    string `json:"fault"`
	Run      string `json:"run"` // the Run holding its figures
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// ErrorsByAction: client-visible errors per legacy action.
	ErrorsByAction map[string]uint64 `json:"errors_by_action"`
	OwnedErrors    uint64            `json:"owned_errors"` // on orders the faulted platform holds
	// UpstreamBuys: purchase calls (getNumber, getNumberV2) each platform
	// received.
	UpstreamBuys map[string]int64 `json:"upstream_buys"`
	Completed    uint64           `json:"completed"`
	Abandoned    uint64           `json:"abandoned"` // orders given up without a code
	P99Ms        float64          `json:"p99_ms"`
}

// StormPhase is upstream amplification under a polling storm.
type StormPhase struct {
	Run                  string  `json:"run"`
	Platform             string  `json:"platform"`
	ClientPoll           string  `json:"client_poll"`
	Orders               int     `json:"orders"`
	LifetimeS            float64 `json:"lifetime_s"`      // mean per order, purchase to end of phase
	PollIntervalS        float64 `json:"poll_interval_s"` // the gateway's, for that platform
	ClientStatusPerOrder float64 `json:"client_status_per_order"`
	UpstreamStatusCalls  int64   `json:"upstream_status_calls"`
	UpstreamPerOrder     float64 `json:"upstream_per_order"`
	Bound                float64 `json:"bound"` // lifetime / poll interval + 2
	Met                  bool    `json:"met"`
}

func boolp(b bool) *bool { return &b }

// run returns the named run, or nil.
func (r *Report) run(name string) *Run {
	for i := range r.Runs {
		if r.Runs[i].Name == name {
			return &r.Runs[i]
		}
	}
	return nil
}

// ratio adds Figure num.rps / den.rps when both runs exist and den has
// throughput; target "" means none.
func (r *Report) ratio(name, num, den, target string, min float64) {
	a, b := r.run(num), r.run(den)
	if a == nil || b == nil || b.RPS == 0 {
		return
	}
	f := Figure{Name: name, Value: a.RPS / b.RPS, Unit: "x", Of: num + ".rps / " + den + ".rps"}
	if target != "" {
		f.Target, f.Met = target, boolp(f.Value >= min)
	}
	r.Figures = append(r.Figures, f)
}

// WriteText prints the report as tables.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "scenario %s — %s — %s, GOMAXPROCS=%d, %s\n", r.Scenario, r.Date, r.Go, r.CPUs, r.Target)
	if r.Setup != "" {
		fmt.Fprintf(w, "setup: %s\n", r.Setup)
	}
	fmt.Fprintln(w)
	r.writeRuns(w)
	r.writeFlows(w)
	r.writeFailover(w)
	r.writeStorm(w)
	r.writeRouting(w)
	r.writeFigures(w)
	r.writeErrorsAndNotes(w)
}

// writeRuns is the table of runs (and of each run's actions).
func (r *Report) writeRuns(w io.Writer) {
	if len(r.Runs) == 0 {
		return // routing has no load runs
	}
	// Names and loads are left-aligned by padding them to one width;
	// tabwriter right-aligns the numbers.
	nameW, loadW := len("run"), len("load")
	for _, run := range r.Runs {
		nameW, loadW = max(nameW, len(run.Name)), max(loadW, len(run.Load))
		for _, a := range run.Actions {
			nameW = max(nameW, len(a.Name)+2)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t%-*s\trequests\tok\terrors\treq/s\tp50\tp90\tp99\tmax\t\n", nameW, "run", loadW, "load")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%-*s\t%-*s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", nameW, run.Name, loadW, run.Load, run.Requests, run.OK, run.Errors, run.RPS,
			fmtMs(run.P50Ms), fmtMs(run.P90Ms), fmtMs(run.P99Ms), fmtMs(run.MaxMs))
		if len(run.Actions) > 1 {
			for _, a := range run.Actions {
				if a.Requests == 0 && a.Errors == 0 {
					continue // not in this run's mix
				}
				fmt.Fprintf(tw, "%-*s\t%-*s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", nameW, "  "+a.Name, loadW, "", a.Requests, a.OK, a.Errors, a.RPS,
					fmtMs(a.P50Ms), fmtMs(a.P90Ms), fmtMs(a.P99Ms), fmtMs(a.MaxMs))
			}
		}
	}
	tw.Flush()
}

// section starts a table after a blank line.
func section(w io.Writer, header string) *tabwriter.Writer {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

func (r *Report) writeFlows(w io.Writer) {
	var flows []Run
	for _, run := range r.Runs {
		if run.Flow != nil {
			flows = append(flows, run)
		}
	}
	if len(flows) == 0 {
		return
	}
	tw := section(w, "run\torders\tcompleted\tabandoned\tactivation p50\tactivation p99\tupstream calls/order\tupstream getStatus/order\t")
	for _, run := range flows {
		f := run.Flow
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", run.Name, f.Orders, f.Completed, f.Abandoned, fmtMs(f.ActivationP50Ms), fmtMs(f.ActivationP99Ms),
			perOrder(f.UpstreamCalls, f.CallsPerOrder), perOrder(f.UpstreamStatusCalls, f.StatusCallsPerOrder))
	}
	tw.Flush()
}

func (r *Report) writeFailover(w io.Writer) {
	if len(r.Failover) == 0 {
		return
	}
	tw := section(w, "phase\tfault on first platform\trequests\tclient errors\tby action\ton its orders\tcompleted\tabandoned\tp99\tupstream buys\t")
	for _, p := range r.Failover {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t\n", p.Phase, p.Fault, p.Requests, p.Errors, kv(p.ErrorsByAction),
			p.OwnedErrors, p.Completed, p.Abandoned, fmtMs(p.P99Ms), kvInt(p.UpstreamBuys))
	}
	tw.Flush()
}

func (r *Report) writeStorm(w io.Writer) {
	if len(r.Storm) == 0 {
		return
	}
	tw := section(w, "run\tplatform\tclient poll\torders\tlifetime\tclient getStatus/order\tupstream getStatus/order\tbound\tmet\t")
	for _, s := range r.Storm {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2fs\t%.1f\t%.2f\t%.2f\t%s\t\n", s.Run, s.Platform, s.ClientPoll, s.Orders, s.LifetimeS,
			s.ClientStatusPerOrder, s.UpstreamPerOrder, s.Bound, yesNo(s.Met))
	}
	tw.Flush()
}

func (r *Report) writeFigures(w io.Writer) {
	if len(r.Figures) == 0 {
		return
	}
	tw := section(w, "figure\tvalue\ttarget\tmet\tcomputed as")
	for _, f := range r.Figures {
		met := ""
		if f.Met != nil {
			met = yesNo(*f.Met)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, fmtFigure(f), f.Target, met, f.Of)
	}
	tw.Flush()
}

func (r *Report) writeErrorsAndNotes(w io.Writer) {
	var errs []string
	for _, run := range r.Runs {
		if len(run.ErrorKinds) > 0 {
			errs = append(errs, fmt.Sprintf("%s: %s", run.Name, kv(run.ErrorKinds)))
		}
		if run.Cut > 0 || run.Missed > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d cut by the end of the run, %d due but never sent (not counted)", run.Name, run.Cut, run.Missed))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w)
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintln(w, "note:", n)
		}
	}
}

func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 1000:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

func fmtFigure(f Figure) string {
	switch f.Unit {
	case "x":
		return fmt.Sprintf("%.2f×", f.Value)
	case "ms":
		return fmt.Sprintf("%+.3f ms", f.Value)
	case "errors":
		return fmt.Sprintf("%.0f", f.Value)
	}
	return fmt.Sprintf("%.2f %s", f.Value, f.Unit)
}

func perOrder(n int64, v float64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// kv prints a map as "a 1, b 2", keys sorted, zeros left out; "0" when
// nothing is left.
func kv(m map[string]uint64) string {
	nonzero := map[string]uint64{}
	for k, v := range m {
		if v > 0 {
			nonzero[k] = v
		}
	}
	if len(nonzero) == 0 {
		return "0"
	}
	return joinSorted(nonzero, func(v uint64) string { return fmt.Sprint(v) }, ", ")
}

func kvInt(m map[string]int64) string {
	return joinSorted(m, func(v int64) string { return fmt.Sprint(v) }, " / ")
}

// joinSorted prints m as "key value" pairs, keys sorted, joined by sep.
func joinSorted[V any](m map[string]V, value func(V) string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + value(m[k])
	}
	return strings.Join(parts, sep)
}

// writeJSON writes the report to file.
func (r *Report) writeJSON(file string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode report: %w", err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write report: %w", err)
	}
	return nil
}
