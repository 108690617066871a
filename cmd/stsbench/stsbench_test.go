package main

import (
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTopicMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"org_unit", "org_unit", true},
		{"org_unit", "person", false},
		{"#", "org_unit", true},
		{"#", "employee.address.edit", true},
		{"employee.address.*", "employee.address.edit", true},
		{"employee.address.*", "employee.address", false},
		{"employee.#", "employee.address.edit", true},
		{"employee.#", "employee", true},
		{"*.address.#", "org_unit.address.create", true},
		{"*", "a.b", false},
	} {
		if got := topicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP stsorgsync_events_total OS2MO events settled.
# TYPE stsorgsync_events_total counter
stsorgsync_events_total{class="",outcome="done",type="org_unit"} 300
stsorgsync_events_total{class="",outcome="unhandled",type="kle"} 2
stsorgsync_events_in_flight 3
stsorgsync_build_info{version="a \"quoted\" v"} 1
`
	ms, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d samples, want 4: %+v", len(ms), ms)
	}
	if ms[0].name != "stsorgsync_events_total" || ms[0].labels["outcome"] != "done" || ms[0].labels["type"] != "org_unit" || ms[0].value != 300 {
		t.Errorf("first sample %+v", ms[0])
	}
	if ms[2].name != "stsorgsync_events_in_flight" || ms[2].value != 3 || len(ms[2].labels) != 0 {
		t.Errorf("gauge %+v", ms[2])
	}
	if ms[3].labels["version"] != `a "quoted" v` {
		t.Errorf("escaped label %q", ms[3].labels["version"])
	}
}

func TestParseBench(t *testing.T) {
	in := `goos: linux
pkg: github.com/stsorgsync/stsorgsync/translate
BenchmarkTranslatePlan/unit/initial-2         	    1024	    230040 ns/op	        11.00 ops	   71470 B/op	     515 allocs/op
BenchmarkParseEvent/bare-2 	 5000000	       250.5 ns/op	      48 B/op	       1 allocs/op
BenchmarkFoo logs something
PASS
`
	res, err := parseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(res), res)
	}
	r := res[0]
	if r.Name != "BenchmarkTranslatePlan/unit/initial" || r.N != 1024 || r.NsPerOp != 230040 || r.BytesPerOp != 71470 ||
		r.AllocsPerOp != 515 || r.Extra["ops"] != 11 || r.Package != "github.com/stsorgsync/stsorgsync/translate" {
		t.Errorf("parsed %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	var lats []time.Duration
	for i := 1; i <= 100; i++ {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{.5: 50 * time.Millisecond, .95: 95 * time.Millisecond, .99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := percentile(lats, q); got != want {
			t.Errorf("percentile(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 45000: "45,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLimitSeconds(t *testing.T) {
	for _, tc := range []struct {
		calls int
		lat   time.Duration
		capN  int
		want  float64
	}{
		{154770, 50 * time.Millisecond, 8, 967.3125},
		{800, 50 * time.Millisecond, 8, 5},
		{100, 50 * time.Millisecond, 0, 5}, // no cap counts as one call at a time
		{1000, 0, 8, 0},
	} {
		if got := limitSeconds(tc.calls, tc.lat, tc.capN); got != tc.want {
			t.Errorf("limitSeconds(%d, %v, %d) = %v, want %v", tc.calls, tc.lat, tc.capN, got, tc.want)
		}
	}
}

func TestPollPeakRSS(t *testing.T) {
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	exited := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { peak <- pollPeakRSS(cmd.Process.Pid, exited, 10*time.Millisecond) }()
	_ = cmd.Wait()
	close(exited)
	// sleep's own peak, a few MB at most — not this test process's (see pollPeakRSS).
	if kb := <-peak; kb <= 0 || kb > 64<<10 {
		t.Errorf("peak RSS of sleep: %d KiB", kb)
	}
}

func TestOutputLinesAndSyncSummary(t *testing.T) {
	out := []byte("Plan:  1,075 bundles to write\n\nSync:  1,075 bundles written, 25 already in sync\r\nSTS calls: 38 reads, 3,572 writes in 11.2s\n")
	lines := outputLines(out, 10)
	if len(lines) != 3 || lines[1] != "Sync:  1,075 bundles written, 25 already in sync" {
		t.Fatalf("outputLines = %q", lines)
	}
	if got := outputLines(out, 1); len(got) != 1 {
		t.Errorf("outputLines(…, 1) = %q", got)
	}
	got := syncSummary(lines)
	want := []string{"Sync: 1,075 bundles written, 25 already in sync", "STS calls: 38 reads, 3,572 writes in 11.2s"}
	if !slices.Equal(got, want) {
		t.Errorf("syncSummary = %q, want %q", got, want)
	}
	if got := syncSummary(nil); !slices.Equal(got, []string{"(none)"}) {
		t.Errorf("syncSummary(nil) = %q", got)
	}
}

func TestFullIsMain(t *testing.T) {
	c := config{units: 3000, persons: 45000, fullUnits: 3000, fullPersons: 45000, phases: map[string]bool{"load": true, "fullsync": true}}
	if !c.fullIsMain() {
		t.Error("same size with the load phase: want the full sync on the main stack")
	}
	c.phases["load"] = false
	if c.fullIsMain() {
		t.Error("without the load phase the full sync must run apart")
	}
	c.phases["load"], c.units = true, 300
	if c.fullIsMain() {
		t.Error("different sizes: want the full sync apart")
	}
}

func TestParseFlagsFullSync(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.fullUnits != 3000 || c.fullPersons != 45000 || c.fullLatency != 0 || !c.phases["fullsync"] {
		t.Errorf("defaults: full %d/%d, latency %v, phases %v", c.fullUnits, c.fullPersons, c.fullLatency, c.phases)
	}
	if c.phases["signedload"] || !c.fullStorm || c.signedUnits != 1000 || c.signedPersons != 15000 {
		t.Errorf("defaults: signedload selected %v (want it only by name: make bench-scale), full storm %v, signed %d/%d",
			c.phases["signedload"], c.fullStorm, c.signedUnits, c.signedPersons)
	}
	if _, err := parseFlags([]string{"-only", "fullsync,nosuch"}, io.Discard); err == nil {
		t.Error("unknown phase accepted")
	}
	if _, err := parseFlags([]string{"-full-latency", "-1s"}, io.Discard); err == nil {
		t.Error("negative -full-latency accepted")
	}
}

func TestProfileMerge(t *testing.T) {
	var p *profileResult
	if p.load() != nil || p.noop() != nil || p.merge(nil) != nil {
		t.Fatal("nil profileResult")
	}
	load, noop := &cpuProfile{What: "load"}, &cpuProfile{What: "noop"}
	p = p.merge(&profileResult{Load: load})
	p = p.merge(&profileResult{NoOp: noop})
	if p.load() != load || p.noop() != noop {
		t.Errorf("merged %+v", p)
	}
}

func TestFullSyncRows(t *testing.T) {
	load := &loadResult{Path: pathSync, Units: 3000, Persons: 45000, Calls: callStats{Total: 154770, Writes: 154000, Reads: 770},
		ObjectsTotal: 153000, CallsPerObject: 1.01, PeakRSSMB: 150, Sync: &cliRun{}}
	f := &fullSyncFigures{Units: 3000, Persons: 45000, MaxConcurrent: 8, First: load, ProjectedLatencyMs: 50, ProjectedCap: 8,
		ProjectedSeconds: limitSeconds(154770, 50*time.Millisecond, 8), Second: &cliRun{Calls: callStats{Total: 633, Reads: 633}},
		Verify: &cliRun{ExitCode: 0, WallSeconds: 54}}
	var measures []string
	for _, r := range fullSyncRows(f) {
		if !strings.Contains(r.scenario, "WITHOUT latency") {
			t.Errorf("scenario %q does not say the fake STS had no latency", r.scenario)
		}
		measures = append(measures, r.measure)
	}
	all := strings.Join(measures, "\n")
	if i := slices.Index(measures, "wall time"); i < 0 || !strings.HasPrefix(measures[i+1], "PROJECTED") {
		t.Errorf("the projection does not follow the measured wall time:\n%s", all)
	}
	for _, want := range []string{"PROJECTED wall time at the real profile 50.0 ms × cap 8", "second sync", "`stsorgsync verify`"} {
		if !strings.Contains(all, want) {
			t.Errorf("no row %q in\n%s", want, all)
		}
	}
	if strings.Contains(all, "limit calls × latency ÷ cap; wall ÷ limit") {
		t.Error("a ratio to the limit is not a measurement without latency")
	}
	// On the main stack (bench-full): no repeat of the load's rows, no projection.
	f.OnMainStack, f.LatencyMs, f.First = true, 50, nil
	for _, r := range fullSyncRows(f) {
		if strings.Contains(r.measure, "PROJECTED") || strings.Contains(r.measure, "calls per STS object") {
			t.Errorf("on the main stack: unexpected row %q", r.measure)
		}
	}
}

func TestPhaseTable(t *testing.T) {
	// results.json's parameters.phases and -only's default list the phases in this order.
	if got, want := strings.Join(phaseNames(), ","), "load,economy,noop,latency,scale,bridge,profile,fullsync,signedload,micro"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	seen := map[string]int{}
	for i, p := range phaseTable {
		if _, dup := seen[p.name]; dup || p.name == "" || strings.ContainsAny(p.name, ", ") {
			t.Errorf("phase %d: bad or repeated name %q", i, p.name)
		}
		seen[p.name] = i
		if p.desc == "" || strings.ContainsAny(p.desc, "\n`") {
			t.Errorf("%s: the description must be one line without back quotes: %q", p.name, p.desc)
		}
		if p.run == nil {
			t.Errorf("%s: no run function", p.name)
		}
		if (p.stack == stackMain) != (p.wall == "") {
			t.Errorf("%s on the %s: wall label %q (the main stack's phases are timed together, the others each)", p.name, p.stack, p.wall)
		}
		needs := p.needs
		if p.onMain != nil {
			if p.stack == stackMain || p.onMain.run == nil || p.onMain.brings == nil {
				t.Errorf("%s: incomplete main-stack part", p.name)
			}
			needs = append(slices.Clone(needs), p.onMain.needs...)
			if !slices.Contains(p.onMain.needs, "load") {
				t.Errorf("%s: its main-stack part does not need load, which sets the main stack up", p.name)
			}
		}
		if p.stack == stackMain && p.name != "load" && !slices.Contains(p.needs, "load") {
			t.Errorf("%s on the main stack does not need load, which sets the stack up", p.name)
		}
		for _, n := range append(slices.Clone(needs), p.after...) {
			if j, ok := seen[n]; !ok || j >= i {
				t.Errorf("%s needs or follows %q, which is not a phase before it in the table", p.name, n)
			}
		}
	}
	if p, _ := phaseByName("load"); p.stack != stackMain || len(p.needs) > 0 {
		t.Error("load must set the main stack up and need nothing")
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		only, scale string
		want        string // the phases that run, in the table's order
		mainStack   bool
	}{
		{"load", "1,2,4", "load", true},
		{"latency", "1,2,4", "load,economy,latency", true},
		{"bridge", "1,2,4", "load,bridge", true},
		{"scale", "1,2,4", "load,scale", true},
		{"scale", "1", "scale", false},
		{"scale,profile", "1", "scale,profile", false},
		{"profile", "1,2,4", "profile", false},
		{"fullsync", "1,2,4", "fullsync", false},
		{"micro", "1,2,4", "micro", false},
		{"signedload", "1,2,4", "signedload", false},
		{"load,economy,noop,latency,scale,bridge,profile,fullsync,micro", "1,2,4", "load,economy,noop,latency,scale,bridge,profile,fullsync,micro", true},
	} {
		cfg, err := parseFlags([]string{"-only", tc.only, "-scale", tc.scale}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		r := &runner{cfg: cfg, runs: plan(cfg)}
		if got := strings.Join(phaseList(r.runs), ","); got != tc.want {
			t.Errorf("-only %s -scale %s runs %s, want %s", tc.only, tc.scale, got, tc.want)
		}
		if got := r.mainStackUp(); got != tc.mainStack {
			t.Errorf("-only %s -scale %s: main stack up %v, want %v", tc.only, tc.scale, got, tc.mainStack)
		}
		if got := strings.Join(phaseList(cfg.phases), ","); got != tc.only {
			t.Errorf("-only %s: selected %s (results.json's parameters.phases)", tc.only, got)
		}
	}
}

func TestOnlyHelpAndErrors(t *testing.T) {
	var help strings.Builder
	if _, err := parseFlags([]string{"-h"}, &help); err == nil {
		t.Fatal("-h: no flag.ErrHelp")
	}
	_, err := parseFlags([]string{"-only", "load,bogus"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown phase "bogus"`) {
		t.Fatalf("-only load,bogus: %v", err)
	}
	for _, p := range phaseTable {
		if !strings.Contains(help.String(), p.desc) || !strings.Contains(err.Error(), "  "+p.name) || !strings.Contains(err.Error(), p.desc) {
			t.Errorf("phase %s is missing from -only's help or error", p.name)
		}
	}
	if !strings.Contains(help.String(), "  -only string\n") {
		t.Errorf("-only's argument is not called string (a back quote in the help?):\n%s", help.String())
	}
}
