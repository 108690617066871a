package main

import (
	"fmt"
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
	Units          int     `json:"units"`
	Persons        int     `json:"persons"`
	Seed           int64   `json:"seed"`
	LatencyMs      float64 `json:"sts_latency_ms"`
	MaxConcurrent  int     `json:"sts_max_concurrent"`
	Security       bool    `json:"sts_security"`
	FakeServiceKey string  `json:"fake_sts_response_signing_key"`
	Workers        string  `json:"daemon_workers"`
	ScaleProcesses []int   `json:"scale_processes"`
	ScaleUnits     int     `json:"scale_units"`
	ScalePersons   int     `json:"scale_persons"`
	ChangeRate     float64 `json:"latency_changes_per_second"`
	ChangeSeconds  float64 `json:"latency_seconds"`
	MOEventDelay   string  `json:"mo_event_delay"`
	Benchtime      string  `json:"micro_benchtime"`
	Phases         string  `json:"phases"`
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
	Economy     []economyResult `json:"call_economy"`
	InitialLoad *loadResult     `json:"initial_load,omitempty"`
	NoOp        *noopFigures    `json:"noop_throughput,omitempty"`
	Latency     *latencyResult  `json:"latency,omitempty"`
	ScaleOut    *scaleFigures   `json:"scale_out,omitempty"`
	Micro       []microResult   `json:"micro_benchmarks"`
	Profile     *profileResult  `json:"daemon_cpu_profile,omitempty"`
}

type results struct {
	Machine     machine   `json:"machine"`
	GoVersion   string    `json:"go_version"`
	Commit      string    `json:"commit"`
	Dirty       bool      `json:"worktree_dirty"`
	Started     time.Time `json:"started"`
	WallSeconds float64   `json:"bench_wall_seconds"`
	Parameters  params    `json:"parameters"`
	Figures     figures   `json:"figures"`
	Notes       []string  `json:"notes,omitempty"`
	Table       string    `json:"table_markdown"`
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
		name := fmt.Sprintf("Initial load %s units / %s persons, %d process, STS %s ms × cap %d", num(l.Units), num(l.Persons), l.Processes,
			f1(r.Parameters.LatencyMs), r.Parameters.MaxConcurrent)
		handled := "units and persons"
		if !l.PersonsHandled {
			handled = "units only: person events not consumed by the daemon yet"
		}
		add("2", name, "events consumed", fmt.Sprintf("%s of %s published (%s)", num(l.EventsConsumed), num(l.EventsPublished), handled), "", "")
		add("2", name, "wall time", secs(l.WallSeconds)+fmt.Sprintf(" (%s events/s, %s objects/s)", f1(l.EventsPerSecond), f1(l.ObjectsPerSecond)), "", "")
		add("2", name, "STS calls by operation", fmt.Sprintf("%s: %s", num(l.Calls.Total), l.Calls.byOp()), "", "")
		add("2", name, "calls per STS object created", fmt.Sprintf("%s (%s objects: %s)", f2(l.CallsPerObject), num(l.ObjectsTotal), kindCounts(l.Objects)), "≤ 1.1", yesNo(l.CallsPerObject <= 1.1))
		add("2", name, "limit calls × latency ÷ cap; wall ÷ limit", fmt.Sprintf("%s; %s×", secs(l.LimitSeconds), f2(l.RatioToLimit)), "≤ 1.2×", yesNo(l.RatioToLimit <= 1.2))
		add("2", name, "peak RSS of the daemon (VmHWM)", f1(l.PeakRSSMB)+" MB", "< 200 MB", yesNo(l.PeakRSSMB < 200))
		add("2", name, "CPU: daemon / driver with fakes", fmt.Sprintf("%s s / %s s", f1(l.DaemonCPUSeconds), f1(l.DriverCPUSeconds)), "", "")
		add("2", name, "converged (re-plan of every bundle is empty)", l.Verified, "", "")
	}
	if p := fg.Profile; p != nil && len(p.TopFlat) > 0 {
		add("2", fmt.Sprintf("Daemon CPU profile, initial load of %s units / %s persons", num(p.Units), num(p.Persons)), p.Source,
			"top entries below the table", "", "")
	}
	if n := fg.NoOp; n != nil && n.Storm != nil {
		s := n.Storm
		typ := s.EventType + " events"
		if s.EventType != "person" {
			typ += " cycling over the units (person events not consumed yet)"
		}
		name := fmt.Sprintf("No-op refresh storm, %s %s, %d process", num(s.Events), typ, s.Processes)
		add("3", name, "events/s end to end (MO fetch, hash compare, ack)", fmt.Sprintf("%s events/s (%s s); STS calls %d", f1(s.EventsPerSecond), f2(s.WallSeconds), s.Calls.Total),
			"≥ 2,000 per process", yesNo(s.PerProcess >= 2000))
		add("3", name, "CPU: daemon / driver with fakes", fmt.Sprintf("%s s / %s s (daemon %s ms per event)", f2(s.DaemonCPUSeconds), f2(s.DriverCPUSeconds), f2(s.DaemonCPUSeconds*1000/float64(s.Events))), "", "")
		add("3", "Bare amqp091-go consumer, same broker, acks only", "events/s",
			fmt.Sprintf("%s events/s (%s events, prefetch %d)", f1(n.BareRate), num(n.BareEvents), n.BarePrefetch), "", "")
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
				parts = append(parts, fmt.Sprintf("%d%s: %s (%s events/s, %s× limit, %s calls)", l.Processes, star, secs(l.WallSeconds), f1(l.EventsPerSecond), f2(l.RatioToLimit), num(l.Calls.Total)))
				cw += l.ConcurrentWrites
				ov += l.OverlappingWrites
			}
			name := fmt.Sprintf("Scale-out, initial load %s units / %s persons", num(sc.Loads[0].Units), num(sc.Loads[0].Persons))
			measure := "wall time by processes"
			if slices.ContainsFunc(sc.Loads, func(l loadResult) bool { return l.Profiled }) {
				measure += " (*: the daemon run in-process by its test binary with the CPU profiler)"
			}
			add("5", name, measure, strings.Join(parts, "; "), "", "")
			add("5", name, "concurrent writes to one object (fake's detector; whole-call overlaps)", fmt.Sprintf("%d; %d", cw, ov), "0", yesNo(cw == 0 && ov == 0))
		}
	}
	for _, m := range fg.Micro {
		res := fmt.Sprintf("%s/op, %s/op, %s allocs/op", humanNs(m.NsPerOp), humanBytes(m.BytesPerOp), strconv.FormatFloat(m.AllocsPerOp, 'f', 0, 64))
		for k, v := range m.Extra {
			res += fmt.Sprintf(", %s %s", strconv.FormatFloat(v, 'g', 4, 64), k)
		}
		add("6", "Micro: "+m.Name, strings.TrimPrefix(m.Package, "github.com/stsorgsync/stsorgsync/"), res, "", "")
	}

	var b strings.Builder
	b.WriteString("| # | Scenario | Measure | Result | Target | Met |\n|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", rw.n, esc(rw.scenario), esc(rw.measure), esc(rw.result), esc(rw.target), rw.met)
	}
	return b.String()
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
