// Command stsbench is the load driver of `make bench` (issue 8): it runs the benchmark scenarios
// against the real RabbitMQ and Redis, the fakes (in this process, see stack.go) and the real
// stsorgsync binary (as subprocesses), runs the Go micro-benchmarks, prints one Markdown table and
// writes the figures to bench/results.json.
//
// Scenarios (phases for -only in brackets; each phase is a row of phaseTable in phases.go, which
// says on which stack it runs and what it needs from the others, and `stsbench -h` lists them):
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
//     writes) and `stsorgsync verify`; then (-full-storm) one daemon on that stack handles a
//     refresh event for every unit and person (mostly no-ops): its peak RSS, events/s and CPU
//     per event at that size. When the main stack already has that size (`make bench-full`) its
//     load is the full sync and only the second sync and the storm are added;
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
//  6. the Go micro-benchmarks [micro] (`go test -bench -benchmem`);
//  7. the signed initial load [signedload] (`make bench-scale`, not in -only's default: about
//     8 minutes): `stsorgsync sync` of -signed-units / -signed-persons (1,000 / 15,000) into an
//     empty fake STS at -sts-latency × -sts-cap with WS-Security (signed requests and responses,
//     tokens from the fake token service), measured: wall, calls, the limit calls × latency ÷
//     cap and the ratio, peak RSS and CPU of the sync.
//
// results.json holds two runs, each with its commit: make bench's (every phase but signedload)
// and make bench-scale's ("bench_scale"). A run replaces its own part and keeps the other's
// from the file, and every run ends with issue 21's table ("issue21_targets"): each figure as
// measured, its target, met or missed, and the run that measured it.
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
	"net/http"
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

	"github.com/stsorgsync/stsorgsync/internal/testenv"
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
	fullStorm                  bool
	// signedUnits and signedPersons are the size of the signedload phase (make bench-scale).
	signedUnits, signedPersons int
	// phases are the phases -only selected (plan adds what they need).
	phases                     map[string]bool
	driverProfile              string
	amqpURL, apiURL, redisAddr string
}

// fullIsMain reports whether the full-sync phase would repeat the main stack's initial load:
// same size, and the load phase was selected (bench-full).
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
	fs.BoolVar(&c.fullStorm, "full-storm", true, "in the full-sync phase, after verify, start one daemon on its stack and measure a refresh storm of every unit and person (the daemon's peak RSS, events/s, CPU per event)")
	fs.IntVar(&c.signedUnits, "signed-units", 1000, "org units of the signedload phase (make bench-scale)")
	fs.IntVar(&c.signedPersons, "signed-persons", 15000, "persons of the signedload phase (make bench-scale)")
	fs.BoolVar(&c.fullDriverVerify, "full-driver-verify", true, "in the full-sync phase, also re-plan every bundle in the driver after the first sync (besides stsorgsync verify)")
	fs.StringVar(&c.driverProfile, "driver-cpuprofile", "", "write a CPU profile of the driver (the fakes) to this file")
	only := fs.String("only", strings.Join(defaultPhaseNames(), ","), "phases to run, comma-separated (* not in the default):"+phaseHelp())
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
		if _, ok := phaseByName(p); !ok {
			return c, fmt.Errorf("-only: unknown phase %q (phases: %s)%s", p, strings.Join(phaseNames(), ","), phaseHelp())
		}
		c.phases[p] = true
	}
	if c.units < 3 || c.persons < 0 || c.rate <= 0 || c.duration <= 0 || c.capN < 0 || c.fullUnits < 1 || c.fullPersons < 0 || c.fullLatency < 0 ||
		c.signedUnits < 1 || c.signedPersons < 0 {
		return c, errors.New("-units ≥ 3, -persons ≥ 0, -rate > 0, -duration > 0, -sts-cap ≥ 0, -full-units ≥ 1, -full-persons ≥ 0, -full-latency ≥ 0, -signed-units ≥ 1 and -signed-persons ≥ 0 are required")
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
	runs := plan(cfg)
	ranMain := slices.ContainsFunc(phaseList(runs), func(name string) bool { return name != "signedload" })
	if ranMain {
		res.Table = res.table()
	}
	fresh := res.BenchScale
	if fresh != nil {
		fresh.Table = fresh.table()
	}
	out, kept := mergeResults(cfg.out, res, ranMain)
	out.Targets = issueTargets(out, ranMain, fresh != nil)
	data, err := json.MarshalIndent(out, "", "  ")
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
	if ranMain {
		printMain(stdout, res)
	}
	if fresh != nil {
		fmt.Fprintf(stdout, "\n%s\n\n%s", fresh.header(), fresh.Table)
		for _, n := range fresh.Notes {
			fmt.Fprintln(stdout, "\nNote:", n)
		}
	}
	fmt.Fprintf(stdout, "\n## Issue 21: the figures and their targets\n\n%s", out.Targets.Markdown)
	if kept != "" {
		fmt.Fprintf(stdout, "\n%s.\n", kept)
	}
	fmt.Fprintf(stdout, "\nBenchmark wall time %s; figures in %s.\n", secs(res.WallSeconds), cfg.out)
	return 0
}

// printMain prints the table of the main phases (every phase but signedload), the daemon's CPU
// profiles, the wall time by phase and the notes.
func printMain(stdout io.Writer, res *results) {
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
}

// bench runs the phases and returns the figures, or the first failure.
func bench(ctx context.Context, cfg config, log *slog.Logger, stderr io.Writer) (*results, error) {
	started := time.Now()
	res := &results{Started: started, GoVersion: runtime.Version()}
	res.Commit, res.Dirty = gitCommit()
	res.Parameters = params{Units: cfg.units, Persons: cfg.persons, Seed: cfg.seed, LatencyMs: ms(cfg.latency),
		MaxConcurrent: cfg.capN, Security: cfg.security, FakeServiceKey: "RSA-1024 (the daemon's organisation key: RSA-2048)", Workers: "default",
		SyncConcurrency: "default (8)", ScaleProcesses: cfg.scale, ScaleUnits: cfg.scaleUnits, ScalePersons: cfg.scalePersons,
		FullUnits: cfg.fullUnits, FullPersons: cfg.fullPersons, FullLatencyMs: ms(cfg.fullLatency), FullSecurity: cfg.security && cfg.fullSecurity, FullStorm: cfg.fullStorm, ChangeRate: cfg.rate,
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
	r := &runner{cfg: cfg, e: e, log: log, stderr: stderr, stsOpts: stsOptions(cfg.latency, cfg.capN), res: res,
		runs: plan(cfg), handled: map[string]bool{}}
	if err := r.runAll(ctx); err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes, fmt.Sprintf("The fakes run inside the driver and share the %d CPUs with the daemon or the sync (and with whatever else runs: see the load averages); the CPU rows show the split. The fake STS signs its responses with an RSA-1024 key to keep its share down; the daemon and the sync sign with the RSA-2048 organisation key. The fake STS's latency is a call's service time, its own work done within it (ststest.Options.ServiceTime), as a real service's response time includes its processing.", res.Machine.CPUs),
		"The CPU profiles come from the stsorgsync binary itself (HTTP_PPROF=true: net/http/pprof on HTTP_LISTEN), fetched in 5 s slices over the measured span and merged by pprof.")
	res.WallSeconds = time.Since(started).Seconds()
	res.Machine.LoadAvgEnd = loadAvg()
	return res, nil
}

// stsOptions is the fake STS's profile: service time per call (its own work within it) and a cap
// on concurrent calls.
func stsOptions(latency time.Duration, capN int) ststest.Options {
	return ststest.Options{Latency: latency, MaxConcurrent: capN, ServiceTime: true}
}

// phaseList returns the phases in m in the table's order.
func phaseList(m map[string]bool) []string {
	var out []string
	for _, p := range phaseNames() {
		if m[p] {
			out = append(out, p)
		}
	}
	return out
}

// newEnv checks the servers and the binaries and prepares the shared certificates.
func newEnv(ctx context.Context, cfg config, log *slog.Logger) (*env, func(), error) {
	base, err := url.Parse(cfg.amqpURL)
	if err != nil {
		return nil, nil, fmt.Errorf("-amqp-url: %w", err)
	}
	base.Path = ""
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
	e := &env{amqpBase: base, api: cfg.apiURL, rdb: rdb, redisAddr: cfg.redisAddr, daemonBin: daemonBin, daemonArg: []string{"run"},
		logDir: cfg.logDir, runID: hex.EncodeToString(b), secDir: secDir, security: cfg.security,
		workers: cfg.workers, log: log}
	cleanup := func() {
		_ = os.RemoveAll(secDir)
		_ = rdb.Close()
	}
	if status, err := testenv.ManagementAt(cfg.apiURL, http.MethodGet, "/api/queues/%2F/none/bindings", "", nil); err != nil && status != http.StatusNotFound {
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
	m.RabbitMQ = rabbitVersion(e.api)
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
