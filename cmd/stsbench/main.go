// Command stsbench is the load driver of `make bench` (issue 8): it runs the benchmark scenarios
// against the real RabbitMQ and Redis, the fakes (in this process, see stack.go) and the real
// stsorgsync binary (as subprocesses), runs the Go micro-benchmarks, prints one Markdown table and
// writes the figures to bench/results.json.
//
// Scenarios:
//
//  1. call economy: STS calls by operation for single changes made through the fake OS2MO's
//     mutation API (rename unit, change a unit's e-mail, move an employee, add a second position,
//     terminate an employee, change manager), a duplicate event and a refresh storm;
//  2. initial load of a generated municipality (-units, -persons) into an empty fake STS with
//     -sts-latency per call and a cap of -sts-cap concurrent calls: wall time, calls, calls per
//     object, the ratio to the limit calls × latency ÷ cap, the daemon's peak RSS, and where the
//     daemon's CPU went (pprof);
//  3. no-op throughput: a refresh storm of one event per person with nothing changed, end to
//     end, next to a bare amqp091-go consumer that only acks, on the same broker;
//  4. latency: -rate changes per second for -duration, from the AMQP publish of the event to the
//     end of the STS write;
//  5. scale-out: the no-op storm and an initial load with 1, 2 and 4 daemon processes, and the
//     fake's concurrent-write detector;
//  6. the Go micro-benchmarks (`go test -bench -benchmem`).
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
	phases                     map[string]bool
	driverProfile              string
	amqpURL, apiURL, redisAddr string
}

var allPhases = []string{"load", "economy", "noop", "latency", "scale", "profile", "micro"}

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
	fs.StringVar(&c.binDir, "bin", "bin", "directory with stsorgsync (and stsorgsync.test for the CPU profile)")
	fs.StringVar(&c.out, "out", "bench/results.json", "results file")
	fs.StringVar(&c.logDir, "logs", "bench/out", "directory for the daemons' logs and the CPU profiles (git-ignored)")
	fs.StringVar(&c.goBin, "go", "go", "go command (micro-benchmarks, pprof)")
	fs.DurationVar(&c.loadTimeout, "load-timeout", 45*time.Minute, "give up an initial load after this long")
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
	if c.units < 3 || c.persons < 0 || c.rate <= 0 || c.duration <= 0 || c.capN < 0 {
		return c, errors.New("-units ≥ 3, -persons ≥ 0, -rate > 0, -duration > 0 and -sts-cap ≥ 0 are required")
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
	if p := res.Figures.Profile; p != nil && len(p.TopFlat) > 0 {
		fmt.Fprintf(stdout, "\nDaemon CPU profile, initial load of %d units / %d persons (%s), top by own time:\n\n```\n%s\n```\n\nby cumulative time:\n\n```\n%s\n```\n",
			p.Units, p.Persons, p.Source, strings.Join(p.TopFlat, "\n"), strings.Join(p.TopCum, "\n"))
		if len(p.NoOpTopFlat) > 0 {
			fmt.Fprintf(stdout, "\nDaemon CPU profile, no-op storm of %d %s events after that load (%s events/s, %s ms daemon CPU per event), top by own time:\n\n```\n%s\n```\n\nby cumulative time:\n\n```\n%s\n```\n",
				p.NoOpEvents, p.NoOpEventType, f1(p.NoOpPerSecond), f2(p.NoOpDaemonCPUs*1000/float64(max(1, p.NoOpEvents))), strings.Join(p.NoOpTopFlat, "\n"), strings.Join(p.NoOpTopCum, "\n"))
		}
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
	res.Parameters = params{Units: cfg.units, Persons: cfg.persons, Seed: cfg.seed, LatencyMs: float64(cfg.latency) / 1e6,
		MaxConcurrent: cfg.capN, Security: cfg.security, FakeServiceKey: "RSA-1024 (the daemon's organisation key: RSA-2048)", Workers: "default", ScaleProcesses: cfg.scale, ScaleUnits: cfg.scaleUnits,
		ScalePersons: cfg.scalePersons, ChangeRate: cfg.rate, ChangeSeconds: cfg.duration.Seconds(), MOEventDelay: "0",
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
	stsOpts := ststest.Options{Latency: cfg.latency, MaxConcurrent: cfg.capN}
	mainPhases := cfg.phases["load"] || cfg.phases["economy"] || cfg.phases["noop"] || cfg.phases["latency"] ||
		(cfg.phases["scale"] && slices.ContainsFunc(cfg.scale, func(n int) bool { return n > 1 }))

	if mainPhases {
		if err := mainStack(ctx, cfg, e, stsOpts, res); err != nil {
			return nil, err
		}
	}
	if cfg.phases["scale"] {
		if res.Figures.ScaleOut == nil {
			res.Figures.ScaleOut = &scaleFigures{}
		}
		for _, n := range cfg.scale {
			// The 1-process load is run by the test binary with the CPU profiler (the daemon has no
			// pprof endpoint yet): the same daemon code, and one load less to wait for.
			profile := n == 1 && cfg.phases["profile"] && res.Figures.Profile == nil && fileExists(e.testBin)
			log.Info("scale-out: initial load", "processes", n, "units", cfg.scaleUnits, "persons", cfg.scalePersons, "cpu_profile", profile)
			l, p, err := oneLoad(ctx, cfg, e, stsOpts, fmt.Sprintf("scale%d", n), n, profile)
			if err != nil {
				return nil, fmt.Errorf("scale-out initial load with %d processes: %w", n, err)
			}
			if profile {
				l.Profiled = true
				p.Source = "runtime/pprof in the test binary running the daemon in-process (BenchmarkDaemonProfile), during the 1-process scale-out load"
				res.Figures.Profile = p
			}
			res.Figures.ScaleOut.Loads = append(res.Figures.ScaleOut.Loads, l)
		}
	}
	if cfg.phases["profile"] && res.Figures.Profile == nil {
		p, note, err := profileRun(ctx, cfg, e, stsOpts)
		if err != nil {
			return nil, fmt.Errorf("profile run: %w", err)
		}
		res.Figures.Profile = p
		if note != "" {
			res.Notes = append(res.Notes, note)
		}
	}
	if cfg.phases["micro"] {
		log.Info("micro-benchmarks", "benchtime", cfg.benchtime)
		m, err := runMicro(ctx, cfg.goBin, cfg.benchtime, stderr)
		if err != nil {
			return nil, err
		}
		res.Figures.Micro = m
	}
	res.Notes = append(res.Notes, "The fakes run inside the driver and share the 2 cores with the daemon (and with whatever else runs: see the load averages); the CPU rows show the split. The fake STS signs its responses with an RSA-1024 key to keep its share down; the daemon signs with its RSA-2048 organisation key.",
		"HTTP_PPROF=true is passed to the daemon (a proposed setting: net/http/pprof on HTTP_LISTEN); until the daemon serves /debug/pprof/, the profile comes from the same code run in-process by the cmd/stsorgsync test binary (BenchmarkDaemonProfile).")
	res.WallSeconds = time.Since(started).Seconds()
	res.Machine.LoadAvgEnd = loadAvg()
	return res, nil
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

// mainStack runs the initial load, the call economy, the no-op storm, the latency and the
// scale-out storms on one stack of the full size.
func mainStack(ctx context.Context, cfg config, e *env, stsOpts ststest.Options, res *results) error {
	log := e.log
	log.Info("main stack: generating the municipality and starting the fakes", "units", cfg.units, "persons", cfg.persons)
	s, err := e.newStack(ctx, stackOptions{name: "main", units: cfg.units, persons: cfg.persons, seed: cfg.seed, sts: stsOpts, watchWrites: true})
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.startDaemons(ctx, 1); err != nil {
		return err
	}
	var capt *capture
	if cfg.phases["profile"] && s.daemons[0].hasPprof() {
		capt = startCapture(ctx, s.daemons[0], e.logDir)
	}
	log.Info("initial load", "events", len(s.seedEvents()), "sts_latency", cfg.latency, "sts_cap", cfg.capN)
	load, err := s.initialLoad(ctx, cfg.loadTimeout)
	if capt != nil {
		files, cerr := capt.stop()
		if err == nil && cerr == nil && len(files) > 0 {
			p := &profileResult{Source: "the stsorgsync binary's /debug/pprof/profile (HTTP_PPROF)", Units: cfg.units, Persons: cfg.persons,
				Files: files, WallSeconds: load.WallSeconds}
			if p.TopFlat, cerr = pprofTop(ctx, cfg.goBin, files, 15, false); cerr == nil {
				p.TopCum, cerr = pprofTop(ctx, cfg.goBin, files, 25, true)
			}
			if cerr != nil {
				return cerr
			}
			res.Figures.Profile = p
		}
	}
	if err != nil {
		return err
	}
	res.Figures.InitialLoad = &load
	log.Info("initial load done", "wall", secs(load.WallSeconds), "calls", load.Calls.Total, "objects", load.ObjectsTotal,
		"ratio_to_limit", f2(load.RatioToLimit), "peak_rss_mb", f1(load.PeakRSSMB))

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
		log.Info("no-op storm", "events", len(stormEvents), "type", stormType)
		st, err := s.storm(ctx, stormEvents, stormType)
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
		log.Info("no-op storm done", "events_per_s", f1(st.EventsPerSecond), "bare_per_s", f1(rate))
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
	return nil
}

// oneLoad runs an initial load on a fresh stack of the scale size with n daemons. With profile,
// the daemon is the cmd/stsorgsync test binary (BenchmarkDaemonProfile) recording CPU profiles:
// one for the load and one for a no-op storm after it.
func oneLoad(ctx context.Context, cfg config, e *env, stsOpts ststest.Options, name string, n int, profile bool) (loadResult, *profileResult, error) {
	s, err := e.newStack(ctx, stackOptions{name: name, units: cfg.scaleUnits, persons: cfg.scalePersons, seed: cfg.seed, sts: stsOpts, watchWrites: true})
	if err != nil {
		return loadResult{}, nil, err
	}
	defer s.close()
	dir, err := filepath.Abs(e.logDir)
	if err != nil {
		return loadResult{}, nil, err
	}
	if !profile {
		err = s.startDaemons(ctx, n)
	} else {
		for i := range 2 {
			_ = os.Remove(filepath.Join(dir, fmt.Sprintf("daemon-cpu-%d.pprof", i)))
		}
		err = s.startDaemonsWith(ctx, 1, e.testBin, []string{"-test.run", "^$", "-test.bench", "^BenchmarkDaemonProfile$",
			"-test.benchtime", "1x"}, []string{"STSBENCH_DAEMON_PROFILE=1", "STSBENCH_PROFILE_DIR=" + dir})
	}
	if err != nil {
		return loadResult{}, nil, err
	}
	l, err := s.initialLoad(ctx, cfg.loadTimeout)
	if err != nil || !profile {
		return l, nil, err
	}
	d := s.daemons[0]
	loadFile, stormFile := filepath.Join(dir, "daemon-cpu-0.pprof"), filepath.Join(dir, "daemon-cpu-1.pprof")
	if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return l, nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); !fileExists(stormFile); {
		if time.Now().After(deadline) {
			return l, nil, fmt.Errorf("the test binary did not start a second CPU profile; log: %s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	events, typ := s.stormEvents(l.PersonsHandled, max(2000, 4*len(s.persIDs)))
	e.log.Info("profiled no-op storm", "events", len(events), "type", typ)
	st, err := s.storm(ctx, events, typ)
	if err != nil {
		return l, nil, fmt.Errorf("profiled no-op storm: %w", err)
	}
	d.stop() // the test binary writes the last profile when the benchmark returns
	for _, f := range []string{loadFile, stormFile} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			return l, nil, fmt.Errorf("the test binary wrote no CPU profile %s (%v); log: %s", f, err, d.log)
		}
	}
	p := &profileResult{Units: l.Units, Persons: l.Persons, Files: []string{loadFile}, WallSeconds: l.WallSeconds,
		NoOpEvents: st.Events, NoOpEventType: typ, NoOpPerSecond: st.EventsPerSecond, NoOpFiles: []string{stormFile},
		NoOpDaemonCPUs: st.DaemonCPUSeconds}
	if p.TopFlat, err = pprofTop(ctx, cfg.goBin, p.Files, 15, false); err == nil {
		if p.TopCum, err = pprofTop(ctx, cfg.goBin, p.Files, 25, true); err == nil {
			if p.NoOpTopFlat, err = pprofTop(ctx, cfg.goBin, p.NoOpFiles, 15, false); err == nil {
				p.NoOpTopCum, err = pprofTop(ctx, cfg.goBin, p.NoOpFiles, 25, true)
			}
		}
	}
	return l, p, err
}

// profileRun profiles the daemon during an initial load of the scale size and a no-op storm, in
// the cmd/stsorgsync test binary (the daemon has no pprof endpoint yet).
func profileRun(ctx context.Context, cfg config, e *env, stsOpts ststest.Options) (*profileResult, string, error) {
	if !fileExists(e.testBin) {
		return nil, fmt.Sprintf("no CPU profile: %s is missing (`go test -c -o %s ./cmd/stsorgsync`; make bench builds it)", e.testBin, e.testBin), nil
	}
	e.log.Info("CPU profile of the daemon (in-process, test binary)", "units", cfg.scaleUnits, "persons", cfg.scalePersons)
	_, p, err := oneLoad(ctx, cfg, e, stsOpts, "profile", 1, true)
	if err != nil {
		return nil, "", err
	}
	p.Source = "profile of BenchmarkDaemonProfile (runDaemon in-process, test binary)"
	return p, "", nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
	testBin, _ := filepath.Abs(filepath.Join(cfg.binDir, "stsorgsync.test"))
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
		testBin: testBin, logDir: cfg.logDir, runID: hex.EncodeToString(b), secDir: secDir, security: cfg.security,
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
