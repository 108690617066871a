package main

// Issue 21's table, printed at the end of every run: each of its figures as measured, with the
// target, whether it is met, and the run that measured it. Two runs fill it: make bench (the
// Copenhagen-sized full sync, its refresh storm and the no-op storm) and make bench-scale (the
// signed 1,000/15,000 load). results.json holds both, each with its commit; a run replaces its
// own part and keeps the other's (mergeResults), so the table always shows the latest of each.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The sizes and STS profile issue 21's figures are stated for.
const (
	issueFullUnits      = 3000
	issueFullPersons    = 45000
	issueSignedUnits    = 1000
	issueSignedPersons  = 15000
	issueSignedLatency  = 50.0 // ms
	issueSignedCap      = 8
	issueStormRSSMB     = 150.0
	issueMemoryMB       = 200.0
	issueNoOpPerSecond  = 2000.0
	issueNoOpCPUMsEvent = 0.25
)

// Verdicts of a target row.
const (
	verdictMet         = "met"
	verdictMissed      = "**missed**"
	verdictNotMeasured = "not measured"
)

// targetRow is one row of issue 21's table.
type targetRow struct {
	Figure   string `json:"figure"`
	Measured string `json:"measured"`
	Target   string `json:"target"`
	// Met is verdictMet, verdictMissed, verdictNotMeasured, or "n/a: …" when the figure was
	// measured at another size or profile than the issue's.
	Met string `json:"met"`
	// Run names the run that measured it (make bench or make bench-scale), with its commit.
	Run string `json:"run"`
}

// targetTable is issue 21's table.
type targetTable struct {
	Rows     []targetRow `json:"rows"`
	Markdown string      `json:"markdown"`
}

// verdict turns a comparison into met or missed.
func verdict(ok bool) string {
	if ok {
		return verdictMet
	}
	return verdictMissed
}

// runLabel names a run for the table's Run column.
func runLabel(what, commit string, dirty bool, started string, fresh bool) string {
	l := what + " at " + commit
	if dirty {
		l += " + local changes"
	}
	l += ", " + started
	if fresh {
		return l + " (this run)"
	}
	return l + " (kept in results.json)"
}

// issueTargets builds issue 21's table from res: the main figures are this run's when freshMain,
// else kept from the file; BenchScale likewise with freshScale.
func issueTargets(res *results, freshMain, freshScale bool) *targetTable {
	fg := res.Figures
	mainRun := runLabel("make bench", res.Commit, res.Dirty, res.Started.Format("2006-01-02 15:04"), freshMain)
	var rows []targetRow
	add := func(figure, measured, target, met, run string) {
		if met == verdictNotMeasured {
			run = "—"
		}
		rows = append(rows, targetRow{figure, measured, target, met, run})
	}
	mb := func(v float64) string { return f1(v) + " MB" }

	// The full sync of 3,000/45,000: its first sync (the main stack's load under bench-full),
	// second sync, verify and the daemon's refresh storm.
	f := fg.FullSync
	var first *loadResult
	size := ""
	if f != nil {
		first = f.First
		if f.OnMainStack {
			first = fg.InitialLoad
		}
		if f.Units != issueFullUnits || f.Persons != issueFullPersons {
			size = fmt.Sprintf("n/a: measured at %s units / %s persons", num(f.Units), num(f.Persons))
		}
	}
	sized := func(ok bool) string {
		if size != "" {
			return size
		}
		return verdict(ok)
	}
	fig := "Peak RSS, initial load by `stsorgsync sync` (3,000 units / 45,000 persons)"
	if first != nil && first.PeakRSSMB > 0 {
		add(fig, mb(first.PeakRSSMB), "< 200 MB", sized(first.PeakRSSMB < issueMemoryMB), mainRun)
	} else {
		add(fig, "—", "< 200 MB", verdictNotMeasured, mainRun)
	}
	fig = "Peak RSS, `sync` of a municipality in sync / `verify` (3,000/45,000)"
	if f != nil && (f.Second != nil || f.Verify != nil) {
		second, verify, ok := "—", "—", true
		if f.Second != nil {
			second, ok = mb(f.Second.PeakRSSMB), ok && f.Second.PeakRSSMB < issueMemoryMB
		}
		if f.Verify != nil {
			verify, ok = mb(f.Verify.PeakRSSMB), ok && f.Verify.PeakRSSMB < issueMemoryMB
		}
		add(fig, second+" / "+verify, "< 200 MB", sized(ok), mainRun)
	} else {
		add(fig, "—", "< 200 MB", verdictNotMeasured, mainRun)
	}
	fig = "Peak RSS, daemon during a refresh storm of every unit and person (3,000/45,000)"
	if f != nil && f.Storm != nil {
		add(fig, fmt.Sprintf("%s (VmHWM; %s events)", mb(f.Storm.PeakRSSMB), num(f.Storm.Storm.Events)), "< 150 MB",
			sized(f.Storm.PeakRSSMB < issueStormRSSMB), mainRun)
	} else {
		add(fig, "—", "< 150 MB", verdictNotMeasured, mainRun)
	}

	// The no-op storms: the noop phase's on the main stack and the refresh storm at 3,000/45,000.
	fig = "No-op refresh storm, one process: events/s; daemon CPU per event"
	target := "≥ 2,000 ev/s; ≤ 0.25 ms"
	var parts []string
	ok, seen := true, false
	storm := func(what string, s *stormResult) {
		if s == nil || s.Events == 0 || s.Processes != 1 {
			return
		}
		perEvent := s.DaemonCPUSeconds * 1000 / float64(s.Events)
		parts = append(parts, fmt.Sprintf("%s: %s ev/s, %s ms", what, f1(s.EventsPerSecond), f2(perEvent)))
		ok = ok && s.EventsPerSecond >= issueNoOpPerSecond && perEvent <= issueNoOpCPUMsEvent
		seen = true
	}
	if n := fg.NoOp; n != nil && n.Storm != nil {
		storm(fmt.Sprintf("noop phase, %s %s events (%s units / %s persons)", num(n.Storm.Events), n.Storm.EventType,
			num(res.Parameters.Units), num(res.Parameters.Persons)), n.Storm)
	}
	if f != nil && f.Storm != nil {
		storm(fmt.Sprintf("every unit and person, %s events (%s units / %s persons)", num(f.Storm.Storm.Events), num(f.Storm.Units), num(f.Storm.Persons)), &f.Storm.Storm)
	}
	if seen {
		add(fig, strings.Join(parts, "; "), target, verdict(ok), mainRun)
	} else {
		add(fig, "—", target, verdictNotMeasured, mainRun)
	}

	// make bench-scale's signed load.
	fig = "Initial load 1,000 units / 15,000 persons, STS 50 ms × cap 8, WITH WS-Security (signing, token), measured"
	target = "≤ 1.15× of calls × latency ÷ cap"
	if sr := res.BenchScale; sr != nil && sr.Load != nil {
		l := sr.Load
		measured := fmt.Sprintf("wall %s; %s calls; limit %s = calls × %s ms ÷ %d; %s×; peak RSS %s; CPU of the sync %s s",
			secs(l.WallSeconds), num(l.Calls.Total), secs(l.LimitSeconds), f1(sr.LatencyMs), sr.MaxConcurrent, f2(l.RatioToLimit), mb(l.PeakRSSMB), f1(l.DaemonCPUSeconds))
		met := verdict(l.RatioToLimit <= signedRatioTarget)
		var other []string
		if sr.Units != issueSignedUnits || sr.Persons != issueSignedPersons {
			other = append(other, fmt.Sprintf("%s units / %s persons", num(sr.Units), num(sr.Persons)))
		}
		if sr.LatencyMs != issueSignedLatency || sr.MaxConcurrent != issueSignedCap {
			other = append(other, fmt.Sprintf("STS %s ms × cap %d", f1(sr.LatencyMs), sr.MaxConcurrent))
		}
		if !sr.Security {
			other = append(other, "without WS-Security")
		}
		if len(other) > 0 {
			met = "n/a: measured at " + strings.Join(other, ", ")
		}
		add(fig, measured, target, met, runLabel("make bench-scale", sr.Commit, sr.Dirty, sr.Started.Format("2006-01-02 15:04"), freshScale))
	} else {
		add(fig, "—", target, verdictNotMeasured, "")
	}

	t := &targetTable{Rows: rows}
	var b strings.Builder
	b.WriteString("| Figure | Measured | Target | Met | Run |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", esc(r.Figure), esc(r.Measured), esc(r.Target), r.Met, esc(r.Run))
	}
	t.Markdown = b.String()
	return t
}

// decodeResults reads a results file.
func decodeResults(data []byte) (*results, error) {
	var r results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// mergeResults combines this run's results with the earlier run's in the file at path: a run
// without the main phases (make bench-scale) keeps the file's main figures and replaces its
// bench_scale part; a run without the signedload phase (make bench) keeps the file's bench_scale
// part. It returns what to write and a note on what was kept (empty for nothing).
func mergeResults(path string, res *results, ranMain bool) (*results, string) {
	prev, err := readResults(path)
	switch {
	case err != nil:
		return res, fmt.Sprintf("%s could not be read (%v): the other run's figures are not kept", path, err)
	case prev == nil:
		return res, ""
	case !ranMain:
		merged := *prev
		merged.BenchScale = res.BenchScale
		return &merged, fmt.Sprintf("make bench's figures (commit %s, %s) are kept from %s", prev.Commit, prev.Started.Format("2006-01-02 15:04"), path)
	case res.BenchScale == nil && prev.BenchScale != nil:
		res.BenchScale = prev.BenchScale
		return res, fmt.Sprintf("make bench-scale's figures (commit %s, %s) are kept from %s", prev.BenchScale.Commit, prev.BenchScale.Started.Format("2006-01-02 15:04"), path)
	}
	return res, ""
}
