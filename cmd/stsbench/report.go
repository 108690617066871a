package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine describes where the benchmark ran.
type machine struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel"`
	CPUModel string `json:"cpu_model"`
	CPUs     int    `json:"cpus"`
	MemoryMB int    `json:"memory_mb"`
	RabbitMQ string `json:"rabbitmq"`
	Redis    string `json:"redis"`
	// LoadAvg are /proc/loadavg at the start and the end: other work on the machine skews the
	// figures (2 cores are shared by the daemons, the fakes, RabbitMQ and Redis).
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

// params are the benchmark's parameters.
type params struct {
	Units           int     `json:"units"`
	Persons         int     `json:"persons"`
	Seed            int64   `json:"seed"`
	LatencyMs       float64 `json:"sts_latency_ms"`
	MaxConcurrent   int     `json:"sts_max_concurrent"`
	Security        bool    `json:"sts_security"`
	FakeServiceKey  string  `json:"fake_sts_response_signing_key"`
	Workers         string  `json:"daemon_workers"`
	SyncConcurrency string  `json:"sync_concurrency"`
	ScaleProcesses  []int   `json:"scale_processes"`
	ScaleUnits      int     `json:"scale_units"`
	ScalePersons    int     `json:"scale_persons"`
	FullUnits       int     `json:"full_units"`
	FullPersons     int     `json:"full_persons"`
	FullLatencyMs   float64 `json:"full_sts_latency_ms"`
	FullSecurity    bool    `json:"full_sts_security"`
	FullStorm       bool    `json:"full_refresh_storm"`
	ChangeRate      float64 `json:"latency_changes_per_second"`
	ChangeSeconds   float64 `json:"latency_seconds"`
	MOEventDelay    string  `json:"mo_event_delay"`
	LoadTimeout     string  `json:"load_timeout"`
	Benchtime       string  `json:"micro_benchtime"`
	Phases          string  `json:"phases"`
}

// phaseTime is the wall time of one phase of the run.
type phaseTime struct {
	Phase   string  `json:"phase"`
	Seconds float64 `json:"seconds"`
}

type noopFigures struct {
	Storm        *stormResult `json:"storm,omitempty"`
	BareRate     float64      `json:"bare_consumer_events_per_second"`
	BareEvents   int          `json:"bare_consumer_events"`
	BareSeconds  float64      `json:"bare_consumer_seconds"`
	BarePrefetch int          `json:"bare_consumer_prefetch"`
}

type scaleFigures struct {
	Storms []stormResult `json:"noop_storms"`
	Loads  []loadResult  `json:"initial_loads"`
}

type figures struct {
	Economy []economyResult `json:"call_economy"`
	// MainGenerateSeconds is the time to generate the main municipality and load it into the
	// fake OS2MO.
	MainGenerateSeconds float64          `json:"main_generate_seconds,omitempty"`
	InitialLoad         *loadResult      `json:"initial_load,omitempty"`
	FullSync            *fullSyncFigures `json:"full_sync,omitempty"`
	NoOp                *noopFigures     `json:"noop_throughput,omitempty"`
	Latency             *latencyResult   `json:"latency,omitempty"`
	ScaleOut            *scaleFigures    `json:"scale_out,omitempty"`
	// Bridge are the no-op storm and the latency mix again, through the GraphQL event bridge.
	Bridge  *bridgeFigures `json:"graphql_bridge,omitempty"`
	Micro   []microResult  `json:"micro_benchmarks"`
	Profile *profileResult `json:"daemon_cpu_profiles,omitempty"`
}

type results struct {
	Machine     machine   `json:"machine"`
	GoVersion   string    `json:"go_version"`
	Commit      string    `json:"commit"`
	Dirty       bool      `json:"worktree_dirty"`
	Started     time.Time `json:"started"`
	WallSeconds float64   `json:"bench_wall_seconds"`
	// PhaseSeconds are the wall times of the phases, in the order run.
	PhaseSeconds []phaseTime `json:"phase_seconds"`
	Parameters   params      `json:"parameters"`
	Figures      figures     `json:"figures"`
	Notes        []string    `json:"notes,omitempty"`
	Table        string      `json:"table_markdown"`
	// BenchScale is make bench-scale's run (the signedload phase), with its own commit: kept
	// from the file when this run did not include it (mergeResults).
	BenchScale *signedRun `json:"bench_scale,omitempty"`
	// Targets is issue 21's table, from this run and the other one kept in the file.
	Targets *targetTable `json:"issue21_targets,omitempty"`
}

// num formats an integer with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func secs(v float64) string {
	if v >= 120 {
		return fmt.Sprintf("%s s (%.1f min)", f1(v), v/60)
	}
	return f1(v) + " s"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func humanNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return f2(ns/1e6) + " ms"
	case ns >= 1e3:
		return f2(ns/1e3) + " µs"
	}
	return strconv.FormatFloat(ns, 'f', 0, 64) + " ns"
}

func humanBytes(b float64) string {
	switch {
	case b >= 1<<20:
		return f1(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return f1(b/(1<<10)) + " KiB"
	}
	return strconv.FormatFloat(b, 'f', 0, 64) + " B"
}

// bridgeFigures are the figures of the "bridge" phase: one daemon with EVENT_SOURCE=graphql.
type bridgeFigures struct {
	PollInterval string         `json:"poll_interval"`
	Parallelism  int            `json:"fetchers_per_listener"`
	Storm        *stormResult   `json:"noop_storm,omitempty"`
	Latency      *latencyResult `json:"latency,omitempty"`
}

type row struct{ n, scenario, measure, result, target, met string }

// table renders the figures as one Markdown table.
func (r *results) table() string {
	var rows []row
	add := func(n, scenario, measure, result, target, met string) {
		rows = append(rows, row{n, scenario, measure, result, target, met})
	}
	fg := r.Figures
	for _, e := range fg.Economy {
		result := ""
		met := yesNo(e.Met)
		switch e.Status {
		case "not-consumed":
			result = "not measured: " + e.Detail + fmt.Sprintf(" (events: %s; STS calls %d)", strings.Join(e.Events, ", "), e.Calls.Total)
			met = "n/a"
		case "unhandled":
			result = "not measured: " + e.Detail + fmt.Sprintf(" (events: %s; STS calls %d)", strings.Join(e.Events, ", "), e.Calls.Total)
			met = "n/a"
		default:
			result = fmt.Sprintf("%d calls: %s; %d object(s) changed", e.Calls.Total, e.Calls.byOp(), e.Changed)
			if e.Changed > 0 {
				result += fmt.Sprintf(" → %s calls per changed object", f2(e.CallsPerChanged))
			}
			result += fmt.Sprintf("; events: %s", strings.Join(e.Events, ", "))
			if e.Detail != "" {
				result += " (" + e.Detail + ")"
			}
		}
		add("1", "Call economy: "+e.Name, "STS calls by operation", result, e.Target, met)
	}
	if l := fg.InitialLoad; l != nil {
		name := fmt.Sprintf("Initial load %s, %s units / %s persons, STS %s ms × cap %d", loadPath(l), num(l.Units), num(l.Persons),
			f1(r.Parameters.LatencyMs), r.Parameters.MaxConcurrent)
		rows = append(rows, loadRows("2", name, l, mainRatioTarget)...)
	}
	if f := fg.FullSync; f != nil {
		rows = append(rows, fullSyncRows(f)...)
	}
	if n := fg.NoOp; n != nil && n.Storm != nil {
		s := n.Storm
		typ := s.EventType + " events"
		if s.EventType != "person" {
			typ += " cycling over the units (person events not consumed yet)"
		}
		name := fmt.Sprintf("No-op refresh storm, %s %s, %d process", num(s.Events), typ, s.Processes)
		if s.Profiled {
			name += " (CPU profile recorded)"
		}
		add("3", name, "events/s end to end (MO fetch, hash compare, ack)", fmt.Sprintf("%s events/s (%s s)", f1(s.EventsPerSecond), f2(s.WallSeconds)),
			"≥ 2,000 per process", yesNo(s.PerProcess >= 2000))
		what := "STS calls"
		if l := fg.InitialLoad; l != nil && l.Path == pathSync {
			what += " (after the load made by `stsorgsync sync`: the daemon trusts the sync's last-sent records)"
		}
		add("3", name, what, fmt.Sprintf("%d: %s", s.Calls.Total, s.Calls.byOp()), "0", yesNo(s.Calls.Total == 0))
		add("3", name, "CPU: daemon / driver with fakes", fmt.Sprintf("%s s / %s s (daemon %s ms per event)", f2(s.DaemonCPUSeconds), f2(s.DriverCPUSeconds), f2(s.DaemonCPUSeconds*1000/float64(s.Events))), "", "")
		add("3", "Bare amqp091-go consumer, same broker, acks only", "events/s",
			fmt.Sprintf("%s events/s (%s events, prefetch %d)", f1(n.BareRate), num(n.BareEvents), n.BarePrefetch), "", "")
	}
	if p := fg.Profile; p != nil && p.NoOp != nil {
		add("3", "Daemon CPU profile: "+p.NoOp.What, p.NoOp.Source, "top entries below the table", "", "")
	}
	if l := fg.Latency; l != nil {
		kinds := make([]string, 0, len(l.ByKind))
		for k, v := range l.ByKind {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		}
		name := fmt.Sprintf("Latency, %s changes/s for %s s via the fake OS2MO's API (event delay 0)", f1(l.Rate), f1(l.Seconds))
		res := fmt.Sprintf("p50 %s ms, p95 %s ms, p99 %s ms, max %s ms (%d changes: %s)", f1(l.P50ms), f1(l.P95ms), f1(l.P99ms), f1(l.MaxMs), l.Changes, strings.Join(kinds, ", "))
		if l.NotMeasured != "" {
			res += "; not in the mix (not consumed yet): " + l.NotMeasured
		}
		add("4", name, "AMQP publish → STS write complete", res, "p99 < 500 ms", yesNo(l.P99ms < 500))
	}
	if b := fg.Bridge; b != nil {
		if s := b.Storm; s != nil {
			name := fmt.Sprintf("No-op storm through the GraphQL event bridge, %s %s events in OS2MO's event system, %d process (poll %s, %d fetchers per type)",
				num(s.Events), s.EventType, s.Processes, b.PollInterval, b.Parallelism)
			res := fmt.Sprintf("%s events/s (%s s); STS calls %d", f1(s.EventsPerSecond), f2(s.WallSeconds), s.Calls.Total)
			if n := fg.NoOp; n != nil && n.Storm != nil && n.Storm.EventsPerSecond > 0 {
				res += fmt.Sprintf("; %s× the AMQP storm's %s events/s", f2(s.EventsPerSecond/n.Storm.EventsPerSecond), f1(n.Storm.EventsPerSecond))
			}
			add("3b", name, "events/s end to end (fetch, publish, confirm, acknowledge in OS2MO, then the no-op path)", res, "", "")
			perEvent := fmt.Sprintf("%s s / %s s (daemon %s ms per event", f2(s.DaemonCPUSeconds), f2(s.DriverCPUSeconds), f2(s.DaemonCPUSeconds*1000/float64(s.Events)))
			if n := fg.NoOp; n != nil && n.Storm != nil && n.Storm.Events > 0 {
				perEvent += fmt.Sprintf("; AMQP: %s ms", f2(n.Storm.DaemonCPUSeconds*1000/float64(n.Storm.Events)))
			}
			add("3b", name, "CPU: daemon / driver with fakes", perEvent+")", "", "")
		}
		if l := b.Latency; l != nil {
			res := fmt.Sprintf("p50 %s ms, p95 %s ms, p99 %s ms, max %s ms (%d changes)", f1(l.P50ms), f1(l.P95ms), f1(l.P99ms), f1(l.MaxMs), l.Changes)
			if a := fg.Latency; a != nil {
				res += fmt.Sprintf("; AMQP: p50 %s ms, p99 %s ms", f1(a.P50ms), f1(a.P99ms))
			}
			add("4b", fmt.Sprintf("Latency through the GraphQL event bridge, %s changes/s for %s s (poll %s)", f1(l.Rate), f1(l.Seconds), b.PollInterval),
				"OS2MO change → STS write complete", res, "p99 < poll interval + 500 ms", yesNo(l.P99ms < 2500))
		}
	}
	if sc := fg.ScaleOut; sc != nil {
		if len(sc.Storms) > 0 {
			var parts []string
			cw := 0
			for _, s := range sc.Storms {
				parts = append(parts, fmt.Sprintf("%d: %s events/s (%s per process)", s.Processes, f1(s.EventsPerSecond), f1(s.PerProcess)))
				cw += s.ConcurrentWrites
			}
			add("5", fmt.Sprintf("Scale-out, no-op storm (%s %s events)", num(sc.Storms[0].Events), sc.Storms[0].EventType), "throughput by processes",
				strings.Join(parts, "; "), "", "")
		}
		if len(sc.Loads) > 0 {
			var parts []string
			cw, ov := 0, 0
			for _, l := range sc.Loads {
				star := ""
				if l.Profiled {
					star = "*"
				}
				parts = append(parts, fmt.Sprintf("%d%s: %s (%s events/s, %s× limit, %s calls, %s calls per object)", l.Processes, star, secs(l.WallSeconds),
					f1(l.EventsPerSecond), f2(l.RatioToLimit), num(l.Calls.Total), f2(l.CallsPerObject)))
				cw += l.ConcurrentWrites
				ov += l.OverlappingWrites
			}
			name := fmt.Sprintf("Scale-out, initial load via events (the event path: every unit and person published, the daemons consume) %s units / %s persons, STS %s ms × cap %d",
				num(sc.Loads[0].Units), num(sc.Loads[0].Persons), f1(r.Parameters.LatencyMs), r.Parameters.MaxConcurrent)
			measure := "wall time by processes"
			if slices.ContainsFunc(sc.Loads, func(l loadResult) bool { return l.Profiled }) {
				measure += " (*: CPU profile recorded over HTTP_PPROF)"
			}
			add("5", name, measure, strings.Join(parts, "; "), "", "")
			add("5", name, "concurrent writes to one object (fake's detector; whole-call overlaps)", fmt.Sprintf("%d; %d", cw, ov), "0", yesNo(cw == 0 && ov == 0))
		}
	}
	if p := fg.Profile; p != nil && p.Load != nil {
		add("5", "Daemon CPU profile: "+p.Load.What, p.Load.Source, "top entries below the table", "", "")
	}
	for _, m := range fg.Micro {
		res := fmt.Sprintf("%s/op, %s/op, %s allocs/op", humanNs(m.NsPerOp), humanBytes(m.BytesPerOp), strconv.FormatFloat(m.AllocsPerOp, 'f', 0, 64))
		for k, v := range m.Extra {
			res += fmt.Sprintf(", %s %s", strconv.FormatFloat(v, 'g', 4, 64), k)
		}
		add("6", "Micro: "+m.Name, strings.TrimPrefix(m.Package, "github.com/stsorgsync/stsorgsync/"), res, "", "")
	}

	return renderRows(rows)
}

// renderRows renders rows as a Markdown table.
func renderRows(rows []row) string {
	var b strings.Builder
	b.WriteString("| # | Scenario | Measure | Result | Target | Met |\n|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", rw.n, esc(rw.scenario), esc(rw.measure), esc(rw.result), esc(rw.target), rw.met)
	}
	return b.String()
}

// loadPath names how a load was made, for the table.
func loadPath(l *loadResult) string {
	if l.Path == pathSync {
		return "by `stsorgsync sync`"
	}
	return fmt.Sprintf("via events (the event path), %d process(es)", l.Processes)
}

// mainRatioTarget is the target of the main stack's initial load for wall ÷ (calls × latency ÷
// cap) (issue 8); the signed 1,000/15,000 load of make bench-scale has issue 21's, signedRatioTarget.
const mainRatioTarget = 1.2

// loadRows are the table rows of one initial load into an empty STS; a ratioTarget > 0 adds the
// limit calls × latency ÷ cap and the ratio to it with that target (the load ran at the real
// profile).
func loadRows(n, name string, l *loadResult, ratioTarget float64) []row {
	var rows []row
	add := func(measure, result, target, met string) {
		rows = append(rows, row{n, name, measure, result, target, met})
	}
	who := "the sync process (VmHWM)"
	cpu := "CPU: sync / driver with fakes"
	if l.Path != pathSync {
		handled := "units and persons"
		if !l.PersonsHandled {
			handled = "units only: person events not consumed by the daemon yet"
		}
		add("events consumed", fmt.Sprintf("%s of %s published (%s)", num(l.EventsConsumed), num(l.EventsPublished), handled), "", "")
		who = "the daemon (VmHWM)"
		cpu = "CPU: daemon / driver with fakes"
	}
	wall := secs(l.WallSeconds) + fmt.Sprintf(" (%s objects/s)", f1(l.ObjectsPerSecond))
	if l.Path != pathSync {
		wall = secs(l.WallSeconds) + fmt.Sprintf(" (%s events/s, %s objects/s)", f1(l.EventsPerSecond), f1(l.ObjectsPerSecond))
	}
	withLimit := ratioTarget > 0
	if !withLimit {
		wall += "; measured without STS latency"
	}
	add("wall time", wall, "", "")
	add("STS calls by operation", fmt.Sprintf("%s (%s reads, %s writes): %s", num(l.Calls.Total), num(l.Calls.Reads), num(l.Calls.Writes), l.Calls.byOp()), "", "")
	add("calls per STS object created", fmt.Sprintf("%s (%s objects: %s)", f2(l.CallsPerObject), num(l.ObjectsTotal), kindCounts(l.Objects)), "≤ 1.1", yesNo(l.CallsPerObject <= 1.1))
	if withLimit {
		add("limit calls × latency ÷ cap; wall ÷ limit", fmt.Sprintf("%s; %s×", secs(l.LimitSeconds), f2(l.RatioToLimit)),
			"≤ "+strconv.FormatFloat(ratioTarget, 'f', -1, 64)+"×", yesNo(l.RatioToLimit <= ratioTarget))
	}
	add("peak RSS of "+who, f1(l.PeakRSSMB)+" MB", "< 200 MB", yesNo(l.PeakRSSMB < 200))
	add(cpu, fmt.Sprintf("%s s / %s s", f1(l.DaemonCPUSeconds), f1(l.DriverCPUSeconds)), "", "")
	if l.Sync != nil {
		add("the sync's own summary (stdout)", strings.Join(syncSummary(l.Sync.Output), " "), "", "")
	}
	add("concurrent writes to one object (fake's detector; whole-call overlaps)", fmt.Sprintf("%d; %d", l.ConcurrentWrites, l.OverlappingWrites), "0",
		yesNo(l.ConcurrentWrites == 0 && l.OverlappingWrites == 0))
	if l.Verified != "" {
		add("converged (driver: re-plan of every bundle is empty; `stsorgsync verify`)", l.Verified, "", "")
	}
	return rows
}

// syncSummary picks the result lines of `stsorgsync sync`'s output ("Sync: …", "STS calls: …").
func syncSummary(out []string) []string {
	var lines []string
	for _, l := range out {
		if strings.HasPrefix(l, "Sync:") || strings.HasPrefix(l, "STS calls:") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	if len(lines) == 0 {
		return []string{"(none)"}
	}
	return lines
}

// fullSyncRows are the table rows of the full-sync phase.
func fullSyncRows(f *fullSyncFigures) []row {
	var rows []row
	profile := fmt.Sprintf("STS %s ms × cap %d", f1(f.LatencyMs), f.MaxConcurrent)
	if f.LatencyMs == 0 {
		profile = fmt.Sprintf("fake STS WITHOUT latency (0 ms per call, cap %d)", f.MaxConcurrent)
	}
	if !f.Security {
		profile += ", WITHOUT WS-Security (no signed requests or responses)"
	}
	name := fmt.Sprintf("Full sync (issue 7), `stsorgsync sync` %s units / %s persons, %s", num(f.Units), num(f.Persons), profile)
	add := func(measure, result, target, met string) {
		rows = append(rows, row{"2", name, measure, result, target, met})
	}
	realProfile := fmt.Sprintf("%s ms × cap %d", f1(f.ProjectedLatencyMs), f.ProjectedCap)
	switch {
	case f.OnMainStack:
		add("first sync into the empty STS", "the initial load above (this size, "+realProfile+")", "", "")
	case f.First != nil:
		add("setup (driver): generate the municipality into the fake OS2MO", fmt.Sprintf("%s; driver RSS %s MB after it, peak %s MB at the end of the phase",
			secs(f.GenerateSeconds), f1(f.DriverRSSMB), f1(f.DriverPeakRSSMB)), "", "")
		for _, rw := range loadRows("2", name, f.First, map[bool]float64{true: mainRatioTarget}[f.LatencyMs > 0]) {
			rows = append(rows, rw)
			if rw.measure == "wall time" && f.LatencyMs == 0 {
				proj := fmt.Sprintf("%s = %s calls × %s ms ÷ %d", secs(f.ProjectedSeconds), num(f.First.Calls.Total), f1(f.ProjectedLatencyMs), f.ProjectedCap)
				if f.ProjectedAtRatioSeconds > 0 {
					proj += fmt.Sprintf("; × %s (wall ÷ limit of the main stack's sync at that profile) ≈ %s", f2(f.ProjectedRatio), secs(f.ProjectedAtRatioSeconds))
				}
				add(fmt.Sprintf("PROJECTED wall time at the real profile %s (calls × latency ÷ cap; a projection, not a measurement)", realProfile), proj, "", "")
			}
		}
	}
	if s := f.Second; s != nil {
		res := fmt.Sprintf("%s calls (%s reads, %s writes): %s; wall %s", num(s.Calls.Total), num(s.Calls.Reads), num(s.Calls.Writes), s.Calls.byOp(), secs(s.WallSeconds))
		if f.LatencyMs == 0 {
			res += fmt.Sprintf(" without STS latency (projected at %s: + %s of STS calls)", realProfile, secs(f.SecondProjectedSeconds))
		}
		res += fmt.Sprintf("; peak RSS %s MB; the sync's summary: %s", f1(s.PeakRSSMB), strings.Join(syncSummary(s.Output), " "))
		add("second sync (nothing changed): STS calls by operation, writes", res, "0 writes", yesNo(s.Calls.Writes == 0))
	}
	if v := f.Verify; v != nil {
		add("`stsorgsync verify`: exit code, wall time", fmt.Sprintf("exit %d in %s; %s calls; peak RSS %s MB; %s", v.ExitCode, secs(v.WallSeconds), num(v.Calls.Total), f1(v.PeakRSSMB), strings.Join(v.Output, " ")),
			"exit 0", yesNo(v.ExitCode == 0))
	}
	if st := f.Storm; st != nil {
		rows = append(rows, refreshStormRows(st)...)
	}
	return rows
}

// refreshStormRows are the table rows of the daemon's refresh storm of every unit and person.
func refreshStormRows(f *refreshStorm) []row {
	s := f.Storm
	name := fmt.Sprintf("Daemon refresh storm after the sync, %s units / %s persons: a refresh event for every unit and person (%s events: %s), %d process",
		num(f.Units), num(f.Persons), num(s.Events), s.EventType, s.Processes)
	return []row{
		{"2", name, "peak RSS of the daemon (VmHWM, started for the storm)", fmt.Sprintf("%s MB (%s MB when ready, %s MB at the end)", f1(f.PeakRSSMB), f1(f.RSSReadyMB), f1(f.RSSEndMB)),
			"< 150 MB", yesNo(f.PeakRSSMB < 150)},
		{"2", name, "events/s end to end", fmt.Sprintf("%s events/s (%s s); outcomes %s", f1(s.EventsPerSecond), f2(s.WallSeconds), outcomes(s.Outcomes)),
			"≥ 2,000 per process", yesNo(s.PerProcess >= 2000)},
		{"2", name, "CPU: daemon / driver with fakes", fmt.Sprintf("%s s / %s s (daemon %s ms per event)", f2(s.DaemonCPUSeconds), f2(s.DriverCPUSeconds), f2(f.DaemonCPUPerEventMs)),
			"≤ 0.25 ms per event", yesNo(f.DaemonCPUPerEventMs <= 0.25)},
		{"2", name, "STS calls (the daemon trusts the sync's last-sent records)", fmt.Sprintf("%d: %s", s.Calls.Total, s.Calls.byOp()), "0", yesNo(s.Calls.Total == 0)},
	}
}

// outcomes formats settled events by "type/outcome", sorted.
func outcomes(c eventCounts) string {
	keys := slices.Sorted(maps.Keys(c))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, num(c[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func kindCounts(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range m {
		list = append(list, kv{k, v})
	}
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			if list[j].v > list[i].v || (list[j].v == list[i].v && list[j].k < list[i].k) {
				list[i], list[j] = list[j], list[i]
			}
		}
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%s %s", e.k, num(e.v))
	}
	return strings.Join(parts, ", ")
}
