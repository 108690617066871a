// Command stsbench is the load driver of `make bench` (issue 8): it runs the benchmark scenarios
// against the real RabbitMQ and Redis, the fakes (in this process, see stack.go) and the real
// stsorgsync binary (as subprocesses), runs the Go micro-benchmarks, prints one Markdown table and
// writes the figures to bench/results.json.
//
// Scenarios (phases for -only in brackets):
//
//  1. call economy [economy]: STS calls by operation for single changes made through the fake
//     OS2MO's mutation API (rename unit, change a unit's e-mail, move an employee, add a second
//     position, terminate an employee, change manager), a duplicate event and a refresh storm;
//  2. initial load [load] of a generated municipality (-units, -persons) into an empty fake STS
//     with -sts-latency per call and a cap of -sts-cap concurrent calls, made by the real binary's
//     `stsorgsync sync` with the daemon's settings: wall time, calls by operation, calls per
//     object, the ratio to the limit calls × latency ÷ cap and the sync's peak RSS; STS is then
//     checked by the driver (a re-plan of every bundle) and by `stsorgsync verify` (exit 0). The
//     daemon starts afterwards on the synced STS and the Redis records the sync wrote;
//     full sync [fullsync] (issue 7): a fresh stack of -full-units / -full-persons (Copenhagen:
//     3,000 / 45,000), `stsorgsync sync` into the empty fake STS with -full-latency per call (0 in
//     `make bench`, where 50 ms would not fit: the time at -sts-latency and -sts-cap is then
//     projected as calls × latency ÷ cap and labelled so), a second sync with nothing to do (0
//     writes) and `stsorgsync verify`. When the main stack already has that size (`make
//     bench-full`) its load is the full sync and only the second sync is added;
//  3. no-op throughput [noop]: a refresh storm of one event per person with nothing changed, end
//     to end through the daemon, next to a bare amqp091-go consumer that only acks, on the same
//     broker; after the sync-made load this also shows that the daemon trusts the sync's records
//     (0 STS calls);
//  4. latency [latency]: -rate changes per second for -duration, from the AMQP publish of the
//     event to the end of the STS write;
//  5. scale-out [scale]: the no-op storm with 1, 2 and 4 daemon processes on the main stack, and
//     event-driven initial loads (the event path's scale-out: every unit and person published,
//     the daemons consume) of a smaller municipality (-scale-units, -scale-persons) with 1, 2 and
//     4 processes, and the fake's concurrent-write detector;
//  6. the Go micro-benchmarks [micro] (`go test -bench -benchmem`).
//
// CPU profiles [profile] come from the daemon binary itself (HTTP_PPROF=true serves
// net/http/pprof on its HTTP_LISTEN): one during the 1-process event-driven initial load, one
// during the 1-process no-op storm; their pprof tops are printed below the table.
//
// Benchmarks print figures and never fail on speed. They fail (exit 1, no table, no results
// file) when a scenario does not converge: an event dead-lettered, events not settling, STS not
// matching OS2MO afterwards. Changes whose events the daemon does not consume yet are reported as
// "not measured", not as failures.
//
// Usage (from the repository root, as `make bench` does):
//
//	stsbench [-units 300] [-persons 4500] [-bin bin] [-out bench/results.json] …
//
// Honours TEST_AMQP_URL, TEST_RABBITMQ_API and TEST_REDIS_ADDR like the tests.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	units, persons             int
	seed                       int64
	latency                    time.Duration
	capN                       int
	security                   bool
	workers                    int
	scale                      []int
	scaleUnits, scalePersons   int
	rate                       float64
	duration                   time.Duration
	benchtime                  string
	binDir, out, logDir, goBin string
	loadTimeout                time.Duration
	fullUnits, fullPersons     int
	fullLatency                time.Duration
	fullDriverVerify           bool
	fullSecurity               bool
	phases                     map[string]bool
	driverProfile              string
	amqpURL, apiURL, redisAddr string
}

var allPhases = []string{"load", "economy", "noop", "latency", "scale", "bridge", "profile", "fullsync", "micro"}

// fullIsMain reports whether the full-sync phase would repeat the main stack's initial load:
// same size, and the main stack runs (bench-full).
func (c config) fullIsMain() bool {
	return c.phases["load"] && c.fullUnits == c.units && c.fullPersons == c.persons
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("stsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.units, "units", 300, "org units of the generated municipality")
	fs.IntVar(&c.persons, "persons", 4500, "persons of the generated municipality")
	fs.Int64Var(&c.seed, "seed", 1, "generator seed")
	fs.DurationVar(&c.latency, "sts-latency", 50*time.Millisecond, "latency of every fake STS call")
	fs.IntVar(&c.capN, "sts-cap", 8, "cap on concurrent fake STS calls")
	fs.BoolVar(&c.security, "security", true, "run the fake STS and the daemon with KOMBIT's WS-Security profile (signed requests and responses)")
	fs.IntVar(&c.workers, "workers", 0, "the daemon's WORKERS (0: its default)")
	scale := fs.String("scale", "1,2,4", "daemon process counts for the scale-out scenarios")
	fs.IntVar(&c.scaleUnits, "scale-units", 0, "units of the scale-out initial loads and the profile run (0: units/20, at least 10)")
	fs.IntVar(&c.scalePersons, "scale-persons", -1, "persons of the scale-out initial loads and the profile run (-1: persons/20)")
	fs.Float64Var(&c.rate, "rate", 20, "changes per second in the latency scenario")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "length of the latency scenario")
	fs.StringVar(&c.benchtime, "benchtime", "500ms", "go test -benchtime of the micro-benchmarks")
	fs.StringVar(&c.binDir, "bin", "bin", "directory with the stsorgsync binary")
	fs.StringVar(&c.out, "out", "bench/results.json", "results file")
	fs.StringVar(&c.logDir, "logs", "bench/out", "directory for the daemons' logs and the CPU profiles (git-ignored)")
	fs.StringVar(&c.goBin, "go", "go", "go command (micro-benchmarks, pprof)")
	fs.DurationVar(&c.loadTimeout, "load-timeout", 45*time.Minute, "give up an initial load (and a sync or verify run) after this long")
	fs.IntVar(&c.fullUnits, "full-units", 3000, "org units of the full-sync phase (Copenhagen size)")
	fs.IntVar(&c.fullPersons, "full-persons", 45000, "persons of the full-sync phase (Copenhagen size)")
	fs.DurationVar(&c.fullLatency, "full-latency", 0, "latency of every fake STS call in the full-sync phase (0: none; the table then also projects the time at -sts-latency and -sts-cap)")
	fs.BoolVar(&c.fullSecurity, "full-security", false, "run the full-sync phase with KOMBIT's WS-Security profile (with -security); off by default: signing every call would not fit make bench's budget (the main stack's load is signed)")
	fs.BoolVar(&c.fullDriverVerify, "full-driver-verify", true, "in the full-sync phase, also re-plan every bundle in the driver after the first sync (besides stsorgsync verify)")
	fs.StringVar(&c.driverProfile, "driver-cpuprofile", "", "write a CPU profile of the driver (the fakes) to this file")
	only := fs.String("only", strings.Join(allPhases, ","), "phases to run: "+strings.Join(allPhases, ","))
	fs.StringVar(&c.amqpURL, "amqp-url", envOr("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ URL without vhost [TEST_AMQP_URL]")
	fs.StringVar(&c.apiURL, "rabbitmq-api", envOr("TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672"), "RabbitMQ management API [TEST_RABBITMQ_API]")
	fs.StringVar(&c.redisAddr, "redis-addr", envOr("TEST_REDIS_ADDR", "127.0.0.1:6379"), "Redis address [TEST_REDIS_ADDR]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	for _, p := range strings.Split(*scale, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-scale %q: want process counts like 1,2,4", *scale)
		}
		c.scale = append(c.scale, n)
	}
	c.phases = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return c, fmt.Errorf("-only: unknown phase %q (phases: %s)", p, strings.Join(allPhases, ","))
		}
		c.phases[p] = true
	}
	if c.units < 3 || c.persons < 0 || c.rate <= 0 || c.duration <= 0 || c.capN < 0 || c.fullUnits < 1 || c.fullPersons < 0 || c.fullLatency < 0 {
		return c, errors.New("-units ≥ 3, -persons ≥ 0, -rate > 0, -duration > 0, -sts-cap ≥ 0, -full-units ≥ 1, -full-persons ≥ 0 and -full-latency ≥ 0 are required")
	}
	if c.scaleUnits == 0 {
		c.scaleUnits = max(10, c.units/20)
	}
	if c.scalePersons < 0 {
		c.scalePersons = c.persons / 20
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "stsbench:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cfg.driverProfile != "" {
		f, err := os.Create(cfg.driverProfile)
		if err != nil {
			fmt.Fprintln(stderr, "stsbench:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "stsbench:", err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	res, err := bench(ctx, cfg, log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "\nstsbench: FAILED: %v\nNo figures are reported from a broken run. Logs: %s\n", err, cfg.logDir)
		return 1
	}
	res.Table = res.table()
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "stsbench:", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		fmt.Fprintln(stderr, "stsbench:", err)
		return 1
	}
	if err := os.WriteFile(cfg.out, append(data, '\n'), 0o644); err != nil {
		fmt.Fprintln(stderr, "stsbench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n## stsorgsync benchmarks (%s, commit %s%s, %s, %d CPUs, %s; load average %s at the start, %s at the end)\n\n",
		res.Started.Format("2006-01-02 15:04"), res.Commit, map[bool]string{true: " + local changes"}[res.Dirty], res.GoVersion,
		res.Machine.CPUs, res.Machine.CPUModel, res.Machine.LoadAvgStart, res.Machine.LoadAvgEnd)
	fmt.Fprint(stdout, res.Table)
	if p := res.Figures.Profile; p != nil {
		for _, cp := range []*cpuProfile{p.Load, p.NoOp} {
			if cp == nil {
				continue
			}
			fmt.Fprintf(stdout, "\nDaemon CPU profile, %s (%s events/s, %s ms daemon CPU per event; %s), top by own time:\n\n```\n%s\n```\n\nby cumulative time:\n\n```\n%s\n```\n",
				cp.What, f1(cp.EventsPerSecond), f2(cp.DaemonCPUSeconds*1000/float64(max(1, cp.Events))), cp.Source,
				strings.Join(cp.TopFlat, "\n"), strings.Join(cp.TopCum, "\n"))
		}
	}
	if len(res.PhaseSeconds) > 0 {
		var parts []string
		for _, p := range res.PhaseSeconds {
			parts = append(parts, fmt.Sprintf("%s %s", p.Phase, secs(p.Seconds)))
		}
		fmt.Fprintf(stdout, "\nWall time by phase: %s.\n", strings.Join(parts, "; "))
	}
	for _, n := range res.Notes {
		fmt.Fprintln(stdout, "\nNote:", n)
	}
	fmt.Fprintf(stdout, "\nBenchmark wall time %s; figures in %s.\n", secs(res.WallSeconds), cfg.out)
	return 0
}

// bench runs the phases and returns the figures, or the first failure.
func bench(ctx context.Context, cfg config, log *slog.Logger, stderr io.Writer) (*results, error) {
	started := time.Now()
	res := &results{Started: started, GoVersion: runtime.Version()}
	res.Commit, res.Dirty = gitCommit()
	res.Parameters = params{Units: cfg.units, Persons: cfg.persons, Seed: cfg.seed, LatencyMs: ms(cfg.latency),
		MaxConcurrent: cfg.capN, Security: cfg.security, FakeServiceKey: "RSA-1024 (the daemon's organisation key: RSA-2048)", Workers: "default",
		SyncConcurrency: "default (8)", ScaleProcesses: cfg.scale, ScaleUnits: cfg.scaleUnits, ScalePersons: cfg.scalePersons,
		FullUnits: cfg.fullUnits, FullPersons: cfg.fullPersons, FullLatencyMs: ms(cfg.fullLatency), FullSecurity: cfg.security && cfg.fullSecurity, ChangeRate: cfg.rate,
		ChangeSeconds: cfg.duration.Seconds(), MOEventDelay: "0", LoadTimeout: cfg.loadTimeout.String(),
		Benchtime: cfg.benchtime, Phases: strings.Join(phaseList(cfg.phases), ",")}
	if cfg.workers > 0 {
		res.Parameters.Workers = strconv.Itoa(cfg.workers)
	}

	e, cleanup, err := newEnv(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res.Machine = describeMachine(ctx, e)
	stsOpts := stsOptions(cfg.latency, cfg.capN)
	mainPhases := cfg.phases["load"] || cfg.phases["economy"] || cfg.phases["noop"] || cfg.phases["latency"] || cfg.phases["bridge"] ||
		(cfg.phases["scale"] && slices.ContainsFunc(cfg.scale, func(n int) bool { return n > 1 }))
	phase := func(name string) func() {
		t0 := time.Now()
		return func() { res.PhaseSeconds = append(res.PhaseSeconds, phaseTime{name, time.Since(t0).Seconds()}) }
	}

	if mainPhases {
		done := phase("main stack (load, economy, noop, latency, scale-out storms, GraphQL bridge)")
		if err := mainStack(ctx, cfg, e, stsOpts, res); err != nil {
			return nil, err
		}
		done()
	}
	if cfg.phases["scale"] {
		done := phase("scale-out initial loads")
		if res.Figures.ScaleOut == nil {
			res.Figures.ScaleOut = &scaleFigures{}
		}
		for _, n := range cfg.scale {
			// The 1-process load is profiled (HTTP_PPROF): the event path's CPU for an initial load.
			want := profileWant{load: n == 1 && cfg.phases["profile"] && res.Figures.Profile.load() == nil}
			log.Info("scale-out: initial load (event path)", "processes", n, "units", cfg.scaleUnits, "persons", cfg.scalePersons, "cpu_profile", want.load)
			l, p, err := oneLoad(ctx, cfg, e, stsOpts, fmt.Sprintf("scale%d", n), n, want)
			if err != nil {
				return nil, fmt.Errorf("scale-out initial load with %d processes: %w", n, err)
			}
			res.Figures.Profile = res.Figures.Profile.merge(p)
			res.Figures.ScaleOut.Loads = append(res.Figures.ScaleOut.Loads, l)
		}
		done()
	}
	if cfg.phases["profile"] && (res.Figures.Profile.load() == nil || res.Figures.Profile.noop() == nil) {
		done := phase("profile")
		want := profileWant{load: res.Figures.Profile.load() == nil, noop: res.Figures.Profile.noop() == nil}
		log.Info("CPU profile of the daemon (HTTP_PPROF)", "units", cfg.scaleUnits, "persons", cfg.scalePersons, "load", want.load, "noop", want.noop)
		_, p, err := oneLoad(ctx, cfg, e, stsOpts, "profile", 1, want)
		if err != nil {
			return nil, fmt.Errorf("profile run: %w", err)
		}
		res.Figures.Profile = res.Figures.Profile.merge(p)
		done()
	}
	if cfg.phases["fullsync"] {
		switch {
		case cfg.fullIsMain():
			res.Notes = append(res.Notes, fmt.Sprintf("The full-sync phase was not run apart: its size (%s units / %s persons) is the main stack's, whose initial load is that sync (at the real STS profile); its second sync and verify are in the full-sync rows.",
				num(cfg.fullUnits), num(cfg.fullPersons)))
		default:
			done := phase("full sync")
			ratio := 0.0
			if l := res.Figures.InitialLoad; l != nil && l.Path == pathSync && cfg.latency > 0 {
				ratio = l.RatioToLimit
			}
			fs, err := fullSync(ctx, cfg, e, ratio)
			if err != nil {
				return nil, err
			}
			res.Figures.FullSync = fs
			done()
		}
	}
	if cfg.phases["micro"] {
		done := phase("micro-benchmarks")
		log.Info("micro-benchmarks", "benchtime", cfg.benchtime)
		m, err := runMicro(ctx, cfg.goBin, cfg.benchtime, stderr)
		if err != nil {
			return nil, err
		}
		res.Figures.Micro = m
		done()
	}
	res.Notes = append(res.Notes, "The fakes run inside the driver and share the 2 cores with the daemon or the sync (and with whatever else runs: see the load averages); the CPU rows show the split. The fake STS signs its responses with an RSA-1024 key to keep its share down; the daemon and the sync sign with the RSA-2048 organisation key.",
		"The CPU profiles come from the stsorgsync binary itself (HTTP_PPROF=true: net/http/pprof on HTTP_LISTEN), fetched in 5 s slices over the measured span and merged by pprof.")
	res.WallSeconds = time.Since(started).Seconds()
	res.Machine.LoadAvgEnd = loadAvg()
	return res, nil
}

// stsOptions is the fake STS's profile: latency per call and a cap on concurrent calls.
func stsOptions(latency time.Duration, capN int) ststest.Options {
	return ststest.Options{Latency: latency, MaxConcurrent: capN}
}

func phaseList(m map[string]bool) []string {
	var out []string
	for _, p := range allPhases {
		if m[p] {
			out = append(out, p)
		}
	}
	return out
}

// mainStack runs the initial load (`stsorgsync sync`), the call economy, the no-op storm, the
// latency and the scale-out storms on one stack of the full size.
func mainStack(ctx context.Context, cfg config, e *env, stsOpts ststest.Options, res *results) error {
	log := e.log
	log.Info("main stack: generating the municipality and starting the fakes", "units", cfg.units, "persons", cfg.persons)
	t0 := time.Now()
	s, err := e.newStack(ctx, stackOptions{name: "main", units: cfg.units, persons: cfg.persons, seed: cfg.seed, sts: stsOpts, watchWrites: true})
	if err != nil {
		return err
	}
	defer s.close()
	res.Figures.MainGenerateSeconds = time.Since(t0).Seconds()
	log.Info("initial load: stsorgsync sync into the empty fake STS", "units", cfg.units, "persons", cfg.persons,
		"sts_latency", cfg.latency, "sts_cap", cfg.capN, "generate_s", f1(res.Figures.MainGenerateSeconds))
	load, err := s.syncLoad(ctx, cfg.loadTimeout, true, true)
	if err != nil {
		return err
	}
	res.Figures.InitialLoad = &load
	log.Info("initial load done", "wall", secs(load.WallSeconds), "calls", load.Calls.Total, "objects", load.ObjectsTotal,
		"ratio_to_limit", f2(load.RatioToLimit), "peak_rss_mb", f1(load.PeakRSSMB), "verified", load.Verified)
	if cfg.phases["fullsync"] && cfg.fullIsMain() {
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
	handled := map[string]bool{}
	if cfg.phases["economy"] || cfg.phases["latency"] {
		log.Info("call economy")
		econ, err := s.economy(ctx)
		if err != nil {
			return err
		}
		res.Figures.Economy = econ
		for _, r := range econ {
			handled[r.Name] = r.Status == "ok"
		}
	}
	stormEvents, stormType := s.stormEvents(load.PersonsHandled, 0)
	if cfg.phases["noop"] {
		var capt *capture
		if cfg.phases["profile"] {
			if !s.daemons[0].hasPprof() {
				return fmt.Errorf("%s does not serve /debug/pprof/ although HTTP_PPROF=true", s.daemons[0].name)
			}
			capt = startCapture(ctx, s.daemons[0], e.logDir, "noop")
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
	}
	if cfg.phases["latency"] {
		kinds, skipped := s.latencyKinds(handled)
		if len(kinds) == 0 {
			return fmt.Errorf("latency: the daemon consumes none of the changes (rename unit, change a unit's email, move an employee)")
		}
		log.Info("latency", "rate", cfg.rate, "duration", cfg.duration, "kinds", len(kinds))
		lat, err := s.latency(ctx, cfg.rate, cfg.duration, kinds)
		if err != nil {
			return err
		}
		lat.NotMeasured = strings.Join(skipped, ", ")
		res.Figures.Latency = &lat
		log.Info("latency done", "p50_ms", lat.P50ms, "p95_ms", lat.P95ms, "p99_ms", lat.P99ms)
	}
	if cfg.phases["scale"] {
		sc := &scaleFigures{}
		res.Figures.ScaleOut = sc
		if res.Figures.NoOp != nil && res.Figures.NoOp.Storm != nil {
			sc.Storms = append(sc.Storms, *res.Figures.NoOp.Storm)
		}
		for _, n := range cfg.scale {
			if n == 1 && len(sc.Storms) > 0 {
				continue // measured above
			}
			if n < len(s.daemons) {
				return fmt.Errorf("-scale: process counts must increase, got %v", cfg.scale)
			}
			if err := s.startDaemons(ctx, n-len(s.daemons)); err != nil {
				return err
			}
			log.Info("scale-out: no-op storm", "processes", len(s.daemons), "events", len(stormEvents))
			st, err := s.storm(ctx, stormEvents, stormType)
			if err != nil {
				return fmt.Errorf("scale-out storm with %d processes: %w", n, err)
			}
			sc.Storms = append(sc.Storms, st)
		}
	}
	if cfg.phases["bridge"] {
		// Last: the daemons are replaced by one taking OS2MO's GraphQL events (EVENT_SOURCE=graphql,
		// default poll interval and parallelism), so that the same no-op storm and latency mix run
		// through the bridge.
		log.Info("GraphQL event bridge: one daemon with EVENT_SOURCE=graphql")
		if err := s.replaceDaemons(ctx, 1, "graphql"); err != nil {
			return err
		}
		bf := &bridgeFigures{PollInterval: "2s (default)", Parallelism: 4}
		res.Figures.Bridge = bf
		st, err := s.storm(ctx, stormEvents, stormType)
		if err != nil {
			return fmt.Errorf("no-op storm through the bridge: %w", err)
		}
		bf.Storm = &st
		log.Info("no-op storm through the bridge done", "events_per_s", f1(st.EventsPerSecond), "sts_calls", st.Calls.Total)
		if kinds, skipped := s.latencyKinds(handled); len(kinds) > 0 {
			lat, err := s.latency(ctx, cfg.rate, cfg.duration, kinds)
			if err != nil {
				return fmt.Errorf("latency through the bridge: %w", err)
			}
			lat.NotMeasured = strings.Join(skipped, ", ")
			bf.Latency = &lat
			log.Info("latency through the bridge done", "p50_ms", lat.P50ms, "p95_ms", lat.P95ms, "p99_ms", lat.P99ms)
		}
	}
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

// newEnv checks the servers and the binaries and prepares the shared certificates.
func newEnv(ctx context.Context, cfg config, log *slog.Logger) (*env, func(), error) {
	base, err := url.Parse(cfg.amqpURL)
	if err != nil {
		return nil, nil, fmt.Errorf("-amqp-url: %w", err)
	}
	base.Path = ""
	api, err := newRabbitAPI(cfg.apiURL)
	if err != nil {
		return nil, nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("reaching Redis at %s: %w (make services)", cfg.redisAddr, err)
	}
	daemonBin, err := filepath.Abs(filepath.Join(cfg.binDir, "stsorgsync"))
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(daemonBin); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("the daemon binary: %w (make bench builds it)", err)
	}
	if err := os.MkdirAll(cfg.logDir, 0o755); err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	secDir, err := os.MkdirTemp("", "stsbench-pki-")
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e := &env{amqpBase: base, api: api, rdb: rdb, redisAddr: cfg.redisAddr, daemonBin: daemonBin, daemonArg: []string{"run"},
		logDir: cfg.logDir, runID: hex.EncodeToString(b), secDir: secDir, security: cfg.security,
		workers: cfg.workers, log: log}
	cleanup := func() {
		_ = os.RemoveAll(secDir)
		_ = rdb.Close()
	}
	if _, err := api.boundKeys(ctx, "/", "none", "none"); err != nil && !strings.Contains(err.Error(), "HTTP 404") {
		cleanup()
		return nil, nil, fmt.Errorf("RabbitMQ management API: %w (make services)", err)
	}
	// The fake signs every response with its service key. RSA-2048 makes that the fake's largest
	// cost, CPU the daemon then lacks on 2 shared cores, although the real STS signs on KOMBIT's
	// machines. An RSA-1024 service key cuts it several times; the daemon's own organisation key,
	// whose signatures are the daemon's work, stays RSA-2048, and verifying either costs the
	// daemon microseconds.
	serviceKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if e.pki, err = ststest.NewPKI(ststest.PKIConfig{ServiceKey: serviceKey}); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := e.writeSecurityFiles(); err != nil {
		cleanup()
		return nil, nil, err
	}
	return e, cleanup, nil
}

func gitCommit() (string, bool) {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown", false
	}
	status, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(status))) > 0
}

func describeMachine(ctx context.Context, e *env) machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				m.MemoryMB = kb / 1024
			}
		}
	}
	m.RabbitMQ = e.api.version(ctx)
	m.Redis = redisVersion(ctx, e.rdb)
	m.LoadAvgStart = loadAvg()
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
