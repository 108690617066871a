package main

// The phases of a benchmark run are the rows of phaseTable: the name -only selects, a line for
// -only's help, the stack the phase runs on, what it needs from the other phases, and its run
// function. runner.runAll runs them in the table's order: first, on one shared main stack, the
// main stack's phases (and the main-stack parts of phases that live on other stacks), then the
// others, each on stacks of its own. Adding a phase is adding a row (and its figures to report.go).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// stackKind is the setup a phase runs on.
type stackKind int

const (
	// stackMain is the one stack of -units / -persons that the main stack's phases share: the
	// runner creates it before the first of them and closes it after the last; the load phase
	// fills its STS by `stsorgsync sync` and starts its first daemon, so every other phase on it
	// needs load, and each finds what the phases before it in the table left.
	stackMain stackKind = iota
	// stackScale is a fresh stack of -scale-units / -scale-persons per run, made by the phase.
	stackScale
	// stackFull is a fresh stack of -full-units / -full-persons, made by the phase.
	stackFull
	// stackSigned is a fresh stack of -signed-units / -signed-persons at the real STS profile
	// with WS-Security, made by the phase.
	stackSigned
	// stackNone is no stack at all.
	stackNone
)

func (k stackKind) String() string {
	return [...]string{"main stack", "scale-out stacks", "full-sync stack", "signed-load stack", "no stack"}[k]
}

// mainStackWall labels the main stack's phases, timed together, in results.json's phase_seconds.
const mainStackWall = "main stack (load, economy, noop, latency, scale-out storms, GraphQL bridge)"

// phase is one row of phaseTable.
type phase struct {
	// name selects the phase in -only and lists it in results.json's parameters.phases.
	name string
	// desc is one line for -only's help text and errors.
	desc string
	// stack is the setup run needs.
	stack stackKind
	// needs are the phases whose work this one uses: selecting it runs them too, before it (their
	// figures are reported like those of a selected phase).
	needs []string
	// after are phases that, when they run too, must run before this one: it uses what they
	// leave, or would spoil what they measure. The table's order keeps it (TestPhaseTable).
	after []string
	// onMain is the part of a phase of another stack that runs on the main stack, at the phase's
	// place in the table among the main stack's phases; nil for none.
	onMain *mainPart
	// wall labels the phase's wall time in results.json's phase_seconds (the main stack's phases
	// are timed together, as mainStackWall).
	wall string
	// skip, if set, reports when the phase's turn comes that nothing is left for it to run (it
	// may add a note saying why); the phase is then not timed either.
	skip func(r *runner) bool
	// run runs the phase and records its figures in r.res.
	run func(ctx context.Context, r *runner) error
	// optIn leaves the phase out of -only's default: it runs only when named (its own make
	// target), and its figures are kept apart in results.json (see mergeResults).
	optIn bool
}

// mainPart is the part of a phase that runs on the main stack.
type mainPart struct {
	// brings reports whether the part alone brings the main stack up (then it needs needs); when
	// the stack is up for other phases, the part runs anyway.
	brings func(cfg config) bool
	needs  []string
	run    func(ctx context.Context, r *runner) error
}

// phaseTable is every phase, in the order they run (within the main stack, then the others).
// The order is also that of -only's default and of results.json's parameters.phases.
var phaseTable = []phase{
	{name: "load", stack: stackMain, run: runLoad,
		desc: "initial load of -units/-persons into the empty fake STS by stsorgsync sync, checked by the driver and by stsorgsync verify (rows 2); sets the main stack up"},
	{name: "economy", stack: stackMain, needs: []string{"load"}, run: runEconomy,
		desc: "STS calls of single changes made in the fake OS2MO, a duplicate event and a refresh storm (rows 1)"},
	{name: "noop", stack: stackMain, needs: []string{"load"}, run: runNoOp,
		desc: "no-op refresh storm end to end through the daemon, next to a bare amqp091-go consumer (rows 3)"},
	{name: "latency", stack: stackMain, needs: []string{"load", "economy"}, run: runLatency,
		desc: "-rate changes per second for -duration, from the event's publish to the end of the STS write (row 4)"},
	{name: "scale", stack: stackScale, after: []string{"noop"}, wall: "scale-out initial loads", run: runScaleLoads,
		onMain: &mainPart{brings: scaleStormsNeedMain, needs: []string{"load"}, run: runScaleStorms},
		desc:   "the no-op storm with each -scale process count on the main stack, and event-driven initial loads of -scale-units/-scale-persons (rows 5)"},
	{name: "bridge", stack: stackMain, needs: []string{"load"}, after: []string{"economy", "noop", "latency", "scale"}, run: runBridge,
		desc: "the no-op storm and the latency mix again through the GraphQL event bridge, last on the main stack (rows 3b, 4b)"},
	{name: "profile", stack: stackScale, after: []string{"noop", "scale"}, wall: "profile", skip: profiled, run: runProfile,
		desc: "the daemon's CPU profiles of an event-driven initial load and a no-op storm, where noop and scale did not take them"},
	{name: "fullsync", stack: stackFull, after: []string{"load"}, wall: "full sync", skip: fullSyncOnMain, run: runFullSync,
		desc: "stsorgsync sync of -full-units/-full-persons into an empty fake STS, a second sync, stsorgsync verify, then one daemon's refresh storm of every unit and person (-full-storm) (rows 2)"},
	{name: "signedload", stack: stackSigned, wall: "signed initial load", run: runSignedLoad, optIn: true,
		desc: "make bench-scale: stsorgsync sync of -signed-units/-signed-persons into an empty fake STS at -sts-latency and -sts-cap with WS-Security, checked by the driver; its figures are merged into -out"},
	{name: "micro", stack: stackNone, wall: "micro-benchmarks", run: runMicroPhase,
		desc: "the Go micro-benchmarks, go test -bench -benchmem (rows 6)"},
}

// phaseNames returns the names of the phases in the table's order.
func phaseNames() []string {
	out := make([]string, len(phaseTable))
	for i, p := range phaseTable {
		out[i] = p.name
	}
	return out
}

// defaultPhaseNames returns the phases -only selects by default: all but the opt-in ones.
func defaultPhaseNames() []string {
	var out []string
	for _, p := range phaseTable {
		if !p.optIn {
			out = append(out, p.name)
		}
	}
	return out
}

// phaseByName returns the row of the phase called name.
func phaseByName(name string) (phase, bool) {
	i := slices.IndexFunc(phaseTable, func(p phase) bool { return p.name == name })
	if i < 0 {
		return phase{}, false
	}
	return phaseTable[i], true
}

// phaseHelp lists the phases, one line each: -only's help and its error for an unknown phase.
// (No back quotes: the flag package would take the first quoted word for the flag's argument.)
func phaseHelp() string {
	var b strings.Builder
	for _, p := range phaseTable {
		name := p.name
		if p.optIn {
			name += "*"
		}
		fmt.Fprintf(&b, "\n  %-11s  %s [%s", name, p.desc, p.stack)
		if p.onMain != nil {
			b.WriteString(" and the main stack")
		}
		if len(p.needs) > 0 {
			fmt.Fprintf(&b, "; runs %s too", strings.Join(p.needs, ", "))
		}
		b.WriteString("]")
	}
	return b.String()
}

// plan returns the phases that run: the selected ones and, transitively, what they need.
func plan(cfg config) map[string]bool {
	runs := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		p, ok := phaseByName(name)
		if !ok || runs[name] {
			return
		}
		runs[name] = true
		need := p.needs
		if p.onMain != nil && p.onMain.brings(cfg) {
			need = append(slices.Clone(need), p.onMain.needs...)
		}
		for _, n := range need {
			add(n)
		}
	}
	for _, name := range phaseNames() {
		if cfg.phases[name] {
			add(name)
		}
	}
	return runs
}

// runner runs the phases of one benchmark and hands on what they leave each other.
type runner struct {
	cfg     config
	e       *env
	log     *slog.Logger
	stderr  io.Writer
	stsOpts ststest.Options
	res     *results
	// runs are the phases that run (plan).
	runs map[string]bool
	// main is the main stack while its phases run.
	main *stack
	// handled are the economy's changes by name ("rename unit", …): true when the daemon
	// consumes their events (the latency mixes measure only those).
	handled map[string]bool
}

// runAll runs the phases: the main stack's, then the others, in the table's order.
func (r *runner) runAll(ctx context.Context) error {
	if r.mainStackUp() {
		t0 := time.Now()
		if err := r.runMain(ctx); err != nil {
			return err
		}
		r.timed(mainStackWall, t0)
	}
	for _, p := range phaseTable {
		if p.stack == stackMain || !r.runs[p.name] || (p.skip != nil && p.skip(r)) {
			continue
		}
		t0 := time.Now()
		if err := p.run(ctx, r); err != nil {
			return err
		}
		r.timed(p.wall, t0)
	}
	return nil
}

// onMain returns what phase p runs on the main stack, nil for nothing.
func (r *runner) onMain(p phase) func(context.Context, *runner) error {
	switch {
	case !r.runs[p.name]:
		return nil
	case p.stack == stackMain:
		return p.run
	case p.onMain != nil:
		return p.onMain.run
	}
	return nil
}

// mainStackUp reports whether any phase runs on the main stack.
func (r *runner) mainStackUp() bool {
	for _, p := range phaseTable {
		if p.stack == stackMain && r.runs[p.name] || p.onMain != nil && r.runs[p.name] && p.onMain.brings(r.cfg) {
			return true
		}
	}
	return false
}

// runMain generates the main municipality, starts the fakes of the main stack, runs the main
// stack's phases on it and closes it.
func (r *runner) runMain(ctx context.Context) error {
	cfg := r.cfg
	r.log.Info("main stack: generating the municipality and starting the fakes", "units", cfg.units, "persons", cfg.persons)
	t0 := time.Now()
	s, err := r.e.newStack(ctx, stackOptions{name: "main", units: cfg.units, persons: cfg.persons, seed: cfg.seed, sts: r.stsOpts, watchWrites: true})
	if err != nil {
		return err
	}
	defer s.close()
	r.main = s
	defer func() { r.main = nil }()
	r.res.Figures.MainGenerateSeconds = time.Since(t0).Seconds()
	for _, p := range phaseTable {
		if run := r.onMain(p); run != nil {
			if err := run(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// timed records the wall time since t0 under label (nothing for an empty label).
func (r *runner) timed(label string, t0 time.Time) {
	if label != "" {
		r.res.PhaseSeconds = append(r.res.PhaseSeconds, phaseTime{label, time.Since(t0).Seconds()})
	}
}

// stormEvents are the main stack's no-op storm: one refresh event per person (per unit when
// the load did not handle persons).
func (r *runner) stormEvents() ([]event, string) {
	return r.main.stormEvents(r.res.Figures.InitialLoad.PersonsHandled, 0)
}

// runLoad is the load phase: `stsorgsync sync` into the main stack's empty fake STS, checked.
// When the full-sync phase is this load (fullIsMain) it adds the second sync. It leaves one
// daemon running on the synced STS and the Redis records the sync wrote.
func runLoad(ctx context.Context, r *runner) error {
	cfg, s, res, log := r.cfg, r.main, r.res, r.log
	log.Info("initial load: stsorgsync sync into the empty fake STS", "units", cfg.units, "persons", cfg.persons,
		"sts_latency", cfg.latency, "sts_cap", cfg.capN, "generate_s", f1(res.Figures.MainGenerateSeconds))
	load, err := s.syncLoad(ctx, cfg.loadTimeout, true, true)
	if err != nil {
		return err
	}
	res.Figures.InitialLoad = &load
	log.Info("initial load done", "wall", secs(load.WallSeconds), "calls", load.Calls.Total, "objects", load.ObjectsTotal,
		"ratio_to_limit", f2(load.RatioToLimit), "peak_rss_mb", f1(load.PeakRSSMB), "verified", load.Verified)
	if r.runs["fullsync"] && cfg.fullIsMain() {
		// bench-full: this load is the Copenhagen-sized sync; add the second sync.
		log.Info("full sync: second sync on the main stack")
		second, err := s.syncRun(ctx, cfg.loadTimeout)
		if err != nil {
			return fmt.Errorf("second sync: %w", err)
		}
		res.Figures.FullSync = &fullSyncFigures{Units: cfg.units, Persons: cfg.persons, LatencyMs: ms(cfg.latency), MaxConcurrent: cfg.capN,
			OnMainStack: true, Security: cfg.security, GenerateSeconds: res.Figures.MainGenerateSeconds, Second: &second, Verify: load.Verify,
			ProjectedLatencyMs: ms(cfg.latency), ProjectedCap: cfg.capN, ProjectedSeconds: load.LimitSeconds,
			SecondProjectedSeconds: limitSeconds(second.Calls.Total, cfg.latency, cfg.capN)}
		if st, err := readProcStats(os.Getpid()); err == nil {
			res.Figures.FullSync.DriverPeakRSSMB = float64(st.peakKB) / 1024
		}
		log.Info("second sync done", "wall", secs(second.WallSeconds), "calls", second.Calls.Total, "writes", second.Calls.Writes)
	}
	if err := s.startDaemons(ctx, 1); err != nil {
		return err
	}
	if r.runs["fullsync"] && cfg.fullIsMain() && cfg.fullStorm {
		// bench-full: the full sync's refresh storm, with the daemon the other phases use.
		log.Info("full sync: refresh storm of every unit and person on the main stack", "events", len(s.unitIDs)+len(s.persIDs))
		if res.Figures.FullSync.Storm, err = s.refreshStorm(ctx); err != nil {
			return fmt.Errorf("full sync: %w", err)
		}
	}
	return nil
}

// runEconomy is the economy phase: the STS calls of single changes; it notes which changes the
// daemon consumes (r.handled).
func runEconomy(ctx context.Context, r *runner) error {
	r.log.Info("call economy")
	econ, err := r.main.economy(ctx)
	if err != nil {
		return err
	}
	r.res.Figures.Economy = econ
	for _, e := range econ {
		r.handled[e.Name] = e.Status == "ok"
	}
	return nil
}

// runNoOp is the noop phase: the no-op storm through the daemon (CPU-profiled when the profile
// phase runs) and a bare consumer on the same broker.
func runNoOp(ctx context.Context, r *runner) error {
	cfg, s, res, log := r.cfg, r.main, r.res, r.log
	stormEvents, stormType := r.stormEvents()
	var capt *capture
	if r.runs["profile"] {
		if !s.daemons[0].hasPprof() {
			return fmt.Errorf("%s does not serve /debug/pprof/ although HTTP_PPROF=true", s.daemons[0].name)
		}
		capt = startCapture(ctx, s.daemons[0], r.e.logDir, "noop")
	}
	log.Info("no-op storm", "events", len(stormEvents), "type", stormType, "cpu_profile", capt != nil)
	st, err := s.storm(ctx, stormEvents, stormType)
	if capt != nil {
		files, cerr := capt.stop()
		if err == nil {
			if cerr != nil {
				return fmt.Errorf("CPU profile of the no-op storm: %w", cerr)
			}
			p := &cpuProfile{Source: "the daemon's /debug/pprof/profile (HTTP_PPROF), during the measured no-op storm",
				What:  fmt.Sprintf("no-op storm of %s %s events after the sync-made load of %s units / %s persons, 1 process", num(st.Events), st.EventType, num(cfg.units), num(cfg.persons)),
				Files: files, WallSeconds: st.WallSeconds, Events: st.Events, EventsPerSecond: st.EventsPerSecond, DaemonCPUSeconds: st.DaemonCPUSeconds}
			if err := p.tops(ctx, cfg.goBin); err != nil {
				return err
			}
			res.Figures.Profile = res.Figures.Profile.merge(&profileResult{NoOp: p})
			st.Profiled = true
		}
	}
	if err != nil {
		return err
	}
	nf := &noopFigures{Storm: &st, BarePrefetch: 16}
	if cfg.workers > 0 {
		nf.BarePrefetch = 2 * cfg.workers
	}
	log.Info("bare amqp091-go consumer", "events", len(stormEvents))
	rate, took, err := bareConsumerRate(ctx, s.amqpURL, len(stormEvents), nf.BarePrefetch)
	if err != nil {
		return fmt.Errorf("bare consumer: %w", err)
	}
	nf.BareRate, nf.BareEvents, nf.BareSeconds = rate, len(stormEvents), took.Seconds()
	res.Figures.NoOp = nf
	log.Info("no-op storm done", "events_per_s", f1(st.EventsPerSecond), "sts_calls", st.Calls.Total, "bare_per_s", f1(rate))
	return nil
}

// runLatency is the latency phase: the mix of the changes the daemon consumes (r.handled).
func runLatency(ctx context.Context, r *runner) error {
	cfg := r.cfg
	kinds, skipped := r.main.latencyKinds(r.handled)
	if len(kinds) == 0 {
		return fmt.Errorf("latency: the daemon consumes none of the changes (rename unit, change a unit's email, move an employee)")
	}
	r.log.Info("latency", "rate", cfg.rate, "duration", cfg.duration, "kinds", len(kinds))
	lat, err := r.main.latency(ctx, cfg.rate, cfg.duration, kinds)
	if err != nil {
		return err
	}
	lat.NotMeasured = strings.Join(skipped, ", ")
	r.res.Figures.Latency = &lat
	r.log.Info("latency done", "p50_ms", lat.P50ms, "p95_ms", lat.P95ms, "p99_ms", lat.P99ms)
	return nil
}

// scaleStormsNeedMain reports whether the scale phase needs the main stack for its storms: for
// one process, the noop phase's storm is the measurement when the stack is up anyway.
func scaleStormsNeedMain(cfg config) bool {
	return slices.ContainsFunc(cfg.scale, func(n int) bool { return n > 1 })
}

// runScaleStorms is the scale phase's part on the main stack: the no-op storm with each -scale
// process count (the noop phase's storm stands for 1 process when it ran).
func runScaleStorms(ctx context.Context, r *runner) error {
	s := r.main
	stormEvents, stormType := r.stormEvents()
	sc := &scaleFigures{}
	r.res.Figures.ScaleOut = sc
	if nf := r.res.Figures.NoOp; nf != nil && nf.Storm != nil {
		sc.Storms = append(sc.Storms, *nf.Storm)
	}
	for _, n := range r.cfg.scale {
		if n == 1 && len(sc.Storms) > 0 {
			continue // measured above
		}
		if n < len(s.daemons) {
			return fmt.Errorf("-scale: process counts must increase, got %v", r.cfg.scale)
		}
		if err := s.startDaemons(ctx, n-len(s.daemons)); err != nil {
			return err
		}
		r.log.Info("scale-out: no-op storm", "processes", len(s.daemons), "events", len(stormEvents))
		st, err := s.storm(ctx, stormEvents, stormType)
		if err != nil {
			return fmt.Errorf("scale-out storm with %d processes: %w", n, err)
		}
		sc.Storms = append(sc.Storms, st)
	}
	return nil
}

// runBridge is the bridge phase. Last on the main stack: the daemons are replaced by one taking
// OS2MO's GraphQL events (EVENT_SOURCE=graphql, default poll interval and parallelism), so that
// the same no-op storm and latency mix run through the bridge.
func runBridge(ctx context.Context, r *runner) error {
	cfg, s, log := r.cfg, r.main, r.log
	stormEvents, stormType := r.stormEvents()
	log.Info("GraphQL event bridge: one daemon with EVENT_SOURCE=graphql")
	if err := s.replaceDaemons(ctx, 1, "graphql"); err != nil {
		return err
	}
	bf := &bridgeFigures{PollInterval: "2s (default)", Parallelism: 4}
	r.res.Figures.Bridge = bf
	st, err := s.storm(ctx, stormEvents, stormType)
	if err != nil {
		return fmt.Errorf("no-op storm through the bridge: %w", err)
	}
	bf.Storm = &st
	log.Info("no-op storm through the bridge done", "events_per_s", f1(st.EventsPerSecond), "sts_calls", st.Calls.Total)
	if kinds, skipped := s.latencyKinds(r.handled); len(kinds) > 0 {
		lat, err := s.latency(ctx, cfg.rate, cfg.duration, kinds)
		if err != nil {
			return fmt.Errorf("latency through the bridge: %w", err)
		}
		lat.NotMeasured = strings.Join(skipped, ", ")
		bf.Latency = &lat
		log.Info("latency through the bridge done", "p50_ms", lat.P50ms, "p95_ms", lat.P95ms, "p99_ms", lat.P99ms)
	}
	return nil
}

// runScaleLoads is the scale phase's own part: event-driven initial loads with each -scale
// process count, each on a fresh stack; the 1-process load is CPU-profiled when the profile
// phase runs.
func runScaleLoads(ctx context.Context, r *runner) error {
	cfg, res := r.cfg, r.res
	if res.Figures.ScaleOut == nil {
		res.Figures.ScaleOut = &scaleFigures{}
	}
	for _, n := range cfg.scale {
		// The 1-process load is profiled (HTTP_PPROF): the event path's CPU for an initial load.
		want := profileWant{load: n == 1 && r.runs["profile"] && res.Figures.Profile.load() == nil}
		r.log.Info("scale-out: initial load (event path)", "processes", n, "units", cfg.scaleUnits, "persons", cfg.scalePersons, "cpu_profile", want.load)
		l, p, err := oneLoad(ctx, cfg, r.e, r.stsOpts, fmt.Sprintf("scale%d", n), n, want)
		if err != nil {
			return fmt.Errorf("scale-out initial load with %d processes: %w", n, err)
		}
		res.Figures.Profile = res.Figures.Profile.merge(p)
		res.Figures.ScaleOut.Loads = append(res.Figures.ScaleOut.Loads, l)
	}
	return nil
}

// profiled reports whether noop and scale have taken both CPU profiles already.
func profiled(r *runner) bool {
	p := r.res.Figures.Profile
	return p.load() != nil && p.noop() != nil
}

// runProfile is the profile phase: a 1-process event-driven load on a fresh stack of the scale
// size, profiling the load and a no-op storm after it, as far as noop and scale did not.
func runProfile(ctx context.Context, r *runner) error {
	cfg, res := r.cfg, r.res
	want := profileWant{load: res.Figures.Profile.load() == nil, noop: res.Figures.Profile.noop() == nil}
	r.log.Info("CPU profile of the daemon (HTTP_PPROF)", "units", cfg.scaleUnits, "persons", cfg.scalePersons, "load", want.load, "noop", want.noop)
	_, p, err := oneLoad(ctx, cfg, r.e, r.stsOpts, "profile", 1, want)
	if err != nil {
		return fmt.Errorf("profile run: %w", err)
	}
	res.Figures.Profile = res.Figures.Profile.merge(p)
	return nil
}

// fullSyncOnMain reports whether the full sync was the main stack's load (fullIsMain), and
// notes it.
func fullSyncOnMain(r *runner) bool {
	if !r.cfg.fullIsMain() {
		return false
	}
	r.res.Notes = append(r.res.Notes, fmt.Sprintf("The full-sync phase was not run apart: its size (%s units / %s persons) is the main stack's, whose initial load is that sync (at the real STS profile); its second sync and verify are in the full-sync rows.",
		num(r.cfg.fullUnits), num(r.cfg.fullPersons)))
	return true
}

// runFullSync is the fullsync phase on a fresh stack of -full-units / -full-persons.
func runFullSync(ctx context.Context, r *runner) error {
	ratio := 0.0
	if l := r.res.Figures.InitialLoad; l != nil && l.Path == pathSync && r.cfg.latency > 0 {
		ratio = l.RatioToLimit
	}
	fs, err := fullSync(ctx, r.cfg, r.e, ratio)
	if err != nil {
		return err
	}
	r.res.Figures.FullSync = fs
	return nil
}

// runMicroPhase is the micro phase: the Go micro-benchmarks.
func runMicroPhase(ctx context.Context, r *runner) error {
	r.log.Info("micro-benchmarks", "benchtime", r.cfg.benchtime)
	m, err := runMicro(ctx, r.cfg.goBin, r.cfg.benchtime, r.stderr)
	if err != nil {
		return err
	}
	r.res.Figures.Micro = m
	return nil
}

// profileWant says what oneLoad profiles: the initial load, and a no-op storm after it.
type profileWant struct{ load, noop bool }

// oneLoad runs an event-driven initial load on a fresh stack of the scale size with n daemons.
// With want.load it records the daemon's CPU profile over HTTP (HTTP_PPROF) during the load;
// with want.noop it then runs a no-op storm (at least 2,000 events) and profiles that.
func oneLoad(ctx context.Context, cfg config, e *env, stsOpts ststest.Options, name string, n int, want profileWant) (loadResult, *profileResult, error) {
	s, err := e.newStack(ctx, stackOptions{name: name, units: cfg.scaleUnits, persons: cfg.scalePersons, seed: cfg.seed, sts: stsOpts, watchWrites: true})
	if err != nil {
		return loadResult{}, nil, err
	}
	defer s.close()
	if err := s.startDaemons(ctx, n); err != nil {
		return loadResult{}, nil, err
	}
	if (want.load || want.noop) && !s.daemons[0].hasPprof() {
		return loadResult{}, nil, fmt.Errorf("%s does not serve /debug/pprof/ although HTTP_PPROF=true", s.daemons[0].name)
	}
	var capt *capture
	if want.load {
		capt = startCapture(ctx, s.daemons[0], e.logDir, "load")
	}
	l, err := s.initialLoad(ctx, cfg.loadTimeout)
	var p *profileResult
	if capt != nil {
		files, cerr := capt.stop()
		if err != nil {
			return l, nil, err
		}
		if cerr != nil {
			return l, nil, fmt.Errorf("CPU profile of the initial load: %w", cerr)
		}
		l.Profiled = true
		cp := &cpuProfile{Source: "the daemon's /debug/pprof/profile (HTTP_PPROF), during the measured load",
			What:  fmt.Sprintf("initial load (event path) of %s units / %s persons, %d process", num(l.Units), num(l.Persons), n),
			Files: files, WallSeconds: l.WallSeconds, Events: l.EventsConsumed, EventsPerSecond: l.EventsPerSecond, DaemonCPUSeconds: l.DaemonCPUSeconds}
		if err := cp.tops(ctx, cfg.goBin); err != nil {
			return l, nil, err
		}
		p = &profileResult{Load: cp}
	}
	if err != nil || !want.noop {
		return l, p, err
	}
	events, typ := s.stormEvents(l.PersonsHandled, max(2000, 4*len(s.persIDs)))
	e.log.Info("profiled no-op storm", "events", len(events), "type", typ)
	capt = startCapture(ctx, s.daemons[0], e.logDir, "noop")
	st, err := s.storm(ctx, events, typ)
	files, cerr := capt.stop()
	if err != nil {
		return l, p, fmt.Errorf("profiled no-op storm: %w", err)
	}
	if cerr != nil {
		return l, p, fmt.Errorf("CPU profile of the no-op storm: %w", cerr)
	}
	cp := &cpuProfile{Source: "the daemon's /debug/pprof/profile (HTTP_PPROF), during a no-op storm after the event-driven load",
		What:  fmt.Sprintf("no-op storm of %s %s events after an event-driven load of %s units / %s persons, 1 process", num(st.Events), typ, num(l.Units), num(l.Persons)),
		Files: files, WallSeconds: st.WallSeconds, Events: st.Events, EventsPerSecond: st.EventsPerSecond, DaemonCPUSeconds: st.DaemonCPUSeconds}
	if err := cp.tops(ctx, cfg.goBin); err != nil {
		return l, p, err
	}
	return l, p.merge(&profileResult{NoOp: cp}), nil
}
