package main

// The one-shot commands of the real binary: `stsorgsync sync` makes the initial loads of the
// main stack and of the Copenhagen-sized full-sync phase, `stsorgsync verify` checks them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// cliRun is one run of a one-shot stsorgsync command (sync, verify) against a stack.
type cliRun struct {
	Command          string    `json:"command"`
	ExitCode         int       `json:"exit_code"`
	WallSeconds      float64   `json:"wall_seconds"`
	CPUSeconds       float64   `json:"cpu_seconds"` // user + system of the process
	PeakRSSMB        float64   `json:"peak_rss_mb"` // VmHWM of the process, polled every 50 ms
	DriverCPUSeconds float64   `json:"driver_cpu_seconds"`
	Calls            callStats `json:"calls"`
	ConcurrentWrites int       `json:"concurrent_writes"` // the fake's detector
	// Output are the lines the command printed on stdout (sync: its plan and result summary;
	// verify: the report's summary).
	Output []string `json:"output,omitempty"`
	Log    string   `json:"log"`

	stdout []byte
}

// runCLI runs the stsorgsync binary with args and the daemon's settings for this stack (the same
// OS2MO, STS, Redis and Redis key prefix, so that the sync's last-sent records are the ones the
// daemon reads). Its stderr (progress lines, not a terminal, and logs) goes to a log file. The
// STS call counters are reset at the start. A non-zero exit is not an error here: the caller
// judges ExitCode.
func (s *stack) runCLI(ctx context.Context, timeout time.Duration, args ...string) (cliRun, error) {
	r := cliRun{Command: "stsorgsync " + strings.Join(args, " ")}
	listen, err := freeAddr()
	if err != nil {
		return r, err
	}
	s.nextID++
	r.Log = filepath.Join(s.e.logDir, fmt.Sprintf("%s-%s%d.log", s.opts.name, args[0], s.nextID))
	f, err := os.Create(r.Log)
	if err != nil {
		return r, err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.e.daemonBin, args...)
	cmd.Env = s.daemonEnv(listen)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, f)
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	s.sts.ResetCalls()
	cw0, self0 := s.sts.ConcurrentWritesSeen(), selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("%s: %w", r.Command, err)
	}
	peakKB := make(chan int64, 1)
	exited := make(chan struct{})
	go func() { peakKB <- pollPeakRSS(cmd.Process.Pid, exited, 50*time.Millisecond) }()
	err = cmd.Wait()
	r.WallSeconds = time.Since(start).Seconds()
	close(exited)
	r.PeakRSSMB = float64(<-peakKB) / 1024
	r.DriverCPUSeconds = (selfCPU() - self0).Seconds()
	r.Calls = newCallStats(s.sts.Calls())
	r.ConcurrentWrites = s.sts.ConcurrentWritesSeen() - cw0
	r.stdout = out.Bytes()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return r, fmt.Errorf("%s did not finish within %s; log: %s\n%s", r.Command, timeout, r.Log, tail(r.Log, 15))
	}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		return r, fmt.Errorf("%s: %w", r.Command, err)
	}
	ps := cmd.ProcessState
	r.ExitCode = ps.ExitCode()
	r.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	return r, nil
}

// pollPeakRSS returns the largest VmHWM (peak resident set, KiB) of process pid seen every
// interval until exited is closed.
//
// Not ru_maxrss from wait4: Go starts children with a vfork-style clone that shares the parent's
// memory until exec, and Linux carries the high-water mark of the memory a process leaves at exec
// into its ru_maxrss, so every child of this driver (which holds the fakes' data, up to a GB and
// more) would report at least the driver's own peak. VmHWM is the new process image's alone.
func pollPeakRSS(pid int, exited <-chan struct{}, interval time.Duration) int64 {
	var peak int64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if st, err := readProcStats(pid); err == nil {
			peak = max(peak, st.peakKB)
		}
		select {
		case <-exited:
			return peak
		case <-t.C:
		}
	}
}

// outputLines returns the non-empty lines of out, at most n.
func outputLines(out []byte, n int) []string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimRight(l, " \r"); strings.TrimSpace(l) != "" && len(lines) < n {
			lines = append(lines, l)
		}
	}
	return lines
}

// syncRun runs `stsorgsync sync` and fails unless it exits 0.
func (s *stack) syncRun(ctx context.Context, timeout time.Duration) (cliRun, error) {
	r, err := s.runCLI(ctx, timeout, "sync")
	if err != nil {
		return r, err
	}
	r.Output = outputLines(r.stdout, 40)
	if r.ExitCode != 0 {
		return r, fmt.Errorf("%s exited %d; log: %s\n%s", r.Command, r.ExitCode, r.Log, tail(r.Log, 20))
	}
	return r, nil
}

// verifySummary is the part of `stsorgsync verify --json` the driver reads.
type verifySummary struct {
	Summary struct {
		UnitsMO    int `json:"units_mo"`
		UnitsSTS   int `json:"units_sts"`
		PersonsMO  int `json:"persons_mo"`
		UsersSTS   int `json:"users_sts"`
		ObjectsSTS int `json:"objects_sts"`
	} `json:"summary"`
	Differences []json.RawMessage `json:"differences"`
}

// verifyRun runs `stsorgsync verify --json` and fails unless it exits 0 (in sync).
func (s *stack) verifyRun(ctx context.Context, timeout time.Duration) (cliRun, error) {
	r, err := s.runCLI(ctx, timeout, "verify", "--json")
	if err != nil {
		return r, err
	}
	var v verifySummary
	jsonErr := json.Unmarshal(r.stdout, &v)
	if jsonErr == nil {
		sm := v.Summary
		r.Output = []string{fmt.Sprintf("OS2MO %d units, %d persons; STS %d units, %d users, %d objects; %d differences",
			sm.UnitsMO, sm.PersonsMO, sm.UnitsSTS, sm.UsersSTS, sm.ObjectsSTS, len(v.Differences))}
	}
	switch {
	case r.ExitCode == 1 && jsonErr == nil:
		first := v.Differences[:min(3, len(v.Differences))]
		var ex []string
		for _, d := range first {
			ex = append(ex, string(d))
		}
		return r, fmt.Errorf("%s: STS drifted from OS2MO (exit 1): %s, e.g.\n  %s", r.Command, r.Output[0], strings.Join(ex, "\n  "))
	case r.ExitCode != 0:
		return r, fmt.Errorf("%s exited %d; log: %s\n%s", r.Command, r.ExitCode, r.Log, tail(r.Log, 20))
	case jsonErr != nil:
		return r, fmt.Errorf("%s: reading its JSON report: %w", r.Command, jsonErr)
	}
	return r, nil
}

// syncLoad is the initial load made by `stsorgsync sync` into the stack's empty fake STS. STS is
// then checked twice: by the driver (a re-plan of every bundle, as after the event-driven loads)
// and by `stsorgsync verify`, which must exit 0.
func (s *stack) syncLoad(ctx context.Context, timeout time.Duration, driverVerify, cliVerify bool) (loadResult, error) {
	r := loadResult{Path: pathSync, Processes: 1, Units: len(s.unitIDs), Persons: len(s.persIDs), PersonsHandled: true}
	run, err := s.syncRun(ctx, timeout)
	r.Sync = &run
	if err != nil {
		return r, fmt.Errorf("initial load: %w", err)
	}
	r.WallSeconds = run.WallSeconds
	r.Calls = run.Calls
	r.PeakRSSMB = run.PeakRSSMB
	r.DaemonCPUSeconds = run.CPUSeconds
	r.DriverCPUSeconds = run.DriverCPUSeconds
	r.ConcurrentWrites = run.ConcurrentWrites
	r.OverlappingWrites = s.tap.overlapCount()
	if err := s.loadFigures(&r); err != nil {
		return r, err
	}
	if driverVerify {
		start := time.Now()
		if err := s.verify(ctx, unitBundle, s.unitIDs); err != nil {
			return r, fmt.Errorf("initial load: %w", err)
		}
		if err := s.verify(ctx, personBundle, s.persIDs); err != nil {
			return r, fmt.Errorf("initial load: %w", err)
		}
		r.Verified = fmt.Sprintf("%d unit bundles, %d person bundles (driver, %s s)", len(s.unitIDs), len(s.persIDs), f1(time.Since(start).Seconds()))
	}
	if !cliVerify {
		return r, nil
	}
	v, err := s.verifyRun(ctx, timeout)
	r.Verify = &v
	if err != nil {
		return r, fmt.Errorf("initial load: %w", err)
	}
	if r.Verified != "" {
		r.Verified += "; "
	}
	r.Verified += fmt.Sprintf("`stsorgsync verify` exit 0 in %s s", f1(v.WallSeconds))
	return r, nil
}

// loadFigures fills in what the fake STS holds after a load into an empty STS and the ratios
// derived from it and the calls.
func (s *stack) loadFigures(r *loadResult) error {
	r.Objects = map[string]int{}
	for _, k := range allKinds {
		if n := len(s.sts.Objects(k)); n > 0 {
			r.Objects[string(k)] = n
			r.ObjectsTotal += n
		}
	}
	if r.ObjectsTotal == 0 {
		return fmt.Errorf("initial load: the fake STS holds no object afterwards")
	}
	r.CallsPerObject = float64(r.Calls.Total) / float64(r.ObjectsTotal)
	r.LimitSeconds = limitSeconds(r.Calls.Total, s.opts.sts.Latency, s.opts.sts.MaxConcurrent)
	if r.LimitSeconds > 0 {
		r.RatioToLimit = r.WallSeconds / r.LimitSeconds
	}
	if r.WallSeconds > 0 {
		r.EventsPerSecond = float64(r.EventsConsumed) / r.WallSeconds
		r.ObjectsPerSecond = float64(r.ObjectsTotal) / r.WallSeconds
	}
	return nil
}

// limitSeconds is the least time calls STS calls take when each takes latency and at most capN
// run at once: calls × latency ÷ capN (capN ≤ 0, no cap, counts as 1).
func limitSeconds(calls int, latency time.Duration, capN int) float64 {
	if capN <= 0 {
		capN = 1
	}
	return float64(calls) * latency.Seconds() / float64(capN)
}

// fullSyncFigures are the Copenhagen-sized full sync (issue 7): `stsorgsync sync` into an empty
// fake STS, a second sync with nothing to do, and `stsorgsync verify`.
type fullSyncFigures struct {
	Units   int `json:"units"`
	Persons int `json:"persons"`
	// LatencyMs and MaxConcurrent are the fake STS's profile in this phase (-full-latency,
	// -sts-cap).
	LatencyMs     float64 `json:"sts_latency_ms"`
	MaxConcurrent int     `json:"sts_max_concurrent"`
	Security      bool    `json:"sts_security"` // KOMBIT's WS-Security profile (signed calls)
	// OnMainStack says the first sync is the main stack's initial load (same size; the phase was
	// not run apart).
	OnMainStack bool `json:"on_main_stack,omitempty"`
	// GenerateSeconds is the time to generate the municipality and load it into the fake OS2MO;
	// DriverRSSMB the driver's resident set afterwards and DriverPeakRSSMB its peak (VmHWM) at the
	// end of the phase (the fakes hold the municipality and every STS registration).
	GenerateSeconds float64     `json:"generate_seconds"`
	DriverRSSMB     float64     `json:"driver_rss_after_generate_mb"`
	DriverPeakRSSMB float64     `json:"driver_peak_rss_mb"`
	First           *loadResult `json:"first_sync,omitempty"`
	// ProjectedSeconds is the first sync's calls × -sts-latency ÷ -sts-cap: the least time it
	// would take at the real profile. A projection, not a measurement. ProjectedAtRatioSeconds
	// multiplies it by the wall ÷ limit ratio the main stack's sync measured at that profile.
	ProjectedLatencyMs      float64 `json:"projected_sts_latency_ms"`
	ProjectedCap            int     `json:"projected_sts_max_concurrent"`
	ProjectedSeconds        float64 `json:"projected_seconds"`
	ProjectedRatio          float64 `json:"projected_ratio,omitempty"`
	ProjectedAtRatioSeconds float64 `json:"projected_at_ratio_seconds,omitempty"`
	Second                  *cliRun `json:"second_sync,omitempty"`
	SecondProjectedSeconds  float64 `json:"second_sync_projected_seconds"`
	Verify                  *cliRun `json:"verify,omitempty"`
	// Storm is the daemon's refresh storm of every unit and person after the syncs (-full-storm).
	Storm *refreshStorm `json:"daemon_refresh_storm,omitempty"`
}

// refreshStorm is a refresh event for every unit and person of a municipality in sync, handled
// by one daemon started on the synced STS and the sync's Redis records: mostly no-ops. It
// measures the daemon's memory under a storm of the municipality's size, and its no-op
// throughput and CPU at that size.
type refreshStorm struct {
	Units   int `json:"units"`
	Persons int `json:"persons"`
	// Storm are the events (org_unit events first, then person events), the wall time until the
	// daemon settled them, its CPU and the STS calls.
	Storm stormResult `json:"storm"`
	// DaemonCPUPerEventMs is Storm's daemon CPU ÷ events.
	DaemonCPUPerEventMs float64 `json:"daemon_cpu_per_event_ms"`
	// RSSReadyMB is the daemon's resident set (VmRSS) when it was ready, before the storm;
	// PeakRSSMB its peak resident set (VmHWM) after the storm, which covers its whole life (it
	// was started for the storm); RSSEndMB its VmRSS at the end.
	RSSReadyMB float64 `json:"daemon_rss_ready_mb"`
	PeakRSSMB  float64 `json:"daemon_peak_rss_mb"`
	RSSEndMB   float64 `json:"daemon_rss_end_mb"`
	Log        string  `json:"log"`
}

// refreshStorm starts one daemon on the stack unless one runs, and publishes a refresh event for
// every unit and person (as OS2MO's refresh mutations do), measured until the daemon settled
// them.
func (s *stack) refreshStorm(ctx context.Context) (*refreshStorm, error) {
	if len(s.daemons) == 0 {
		if err := s.startDaemons(ctx, 1); err != nil {
			return nil, err
		}
	}
	if len(s.daemons) != 1 {
		return nil, fmt.Errorf("refresh storm: want one daemon, the stack runs %d", len(s.daemons))
	}
	d := s.daemons[0]
	f := &refreshStorm{Units: len(s.unitIDs), Persons: len(s.persIDs), Log: d.log}
	st0, err := d.stats()
	if err != nil {
		return nil, fmt.Errorf("refresh storm: %s: %w", d.name, err)
	}
	f.RSSReadyMB = float64(st0.rssKB) / 1024
	typ := motest.ObjectOrgUnit + ", " + motest.ObjectPerson
	if len(s.persIDs) == 0 {
		typ = motest.ObjectOrgUnit
	}
	st, err := s.storm(ctx, s.seedEvents(), typ)
	if err != nil {
		return nil, fmt.Errorf("refresh storm of every unit and person: %w", err)
	}
	f.Storm = st
	f.DaemonCPUPerEventMs = st.DaemonCPUSeconds * 1000 / float64(max(1, st.Events))
	st1, err := d.stats()
	if err != nil {
		return nil, fmt.Errorf("refresh storm: %s: %w", d.name, err)
	}
	f.PeakRSSMB, f.RSSEndMB = float64(st1.peakKB)/1024, float64(st1.rssKB)/1024
	return f, nil
}

// fullSync runs the full-sync phase on a fresh stack of -full-units / -full-persons.
func fullSync(ctx context.Context, cfg config, e *env, mainRatio float64) (*fullSyncFigures, error) {
	log := e.log
	f := &fullSyncFigures{Units: cfg.fullUnits, Persons: cfg.fullPersons, LatencyMs: ms(cfg.fullLatency), MaxConcurrent: cfg.capN,
		Security: cfg.security && cfg.fullSecurity, ProjectedLatencyMs: ms(cfg.latency), ProjectedCap: cfg.capN}
	log.Info("full sync: generating the municipality and starting the fakes", "units", cfg.fullUnits, "persons", cfg.fullPersons)
	start := time.Now()
	// No write watching: this phase measures no latencies, and parsing every write would take CPU
	// from the sync on a CPU-bound run (the fake's own concurrent-write detector stays on).
	s, err := e.newStack(ctx, stackOptions{name: "fullsync", units: cfg.fullUnits, persons: cfg.fullPersons, seed: cfg.seed,
		sts: stsOptions(cfg.fullLatency, cfg.capN), insecure: !cfg.fullSecurity})
	if err != nil {
		return nil, err
	}
	defer s.close()
	f.GenerateSeconds = time.Since(start).Seconds()
	if st, err := readProcStats(os.Getpid()); err == nil {
		f.DriverRSSMB = float64(st.rssKB) / 1024
	}
	log.Info("full sync: first sync into the empty fake STS", "generate_s", f1(f.GenerateSeconds), "driver_rss_mb", f1(f.DriverRSSMB),
		"sts_latency", cfg.fullLatency, "sts_cap", cfg.capN, "ws_security", f.Security)
	first, err := s.syncLoad(ctx, cfg.loadTimeout, cfg.fullDriverVerify, false)
	f.First = &first
	if err != nil {
		return nil, fmt.Errorf("full sync: %w", err)
	}
	f.ProjectedSeconds = limitSeconds(first.Calls.Total, cfg.latency, cfg.capN)
	if mainRatio > 0 {
		f.ProjectedRatio = mainRatio
		f.ProjectedAtRatioSeconds = f.ProjectedSeconds * mainRatio
	}
	log.Info("full sync: first sync done", "wall", secs(first.WallSeconds), "calls", first.Calls.Total, "objects", first.ObjectsTotal,
		"peak_rss_mb", f1(first.PeakRSSMB), "projected", secs(f.ProjectedSeconds), "verified", first.Verified)
	second, err := s.syncRun(ctx, cfg.loadTimeout)
	f.Second = &second
	if err != nil {
		return nil, fmt.Errorf("full sync, second sync: %w", err)
	}
	f.SecondProjectedSeconds = limitSeconds(second.Calls.Total, cfg.latency, cfg.capN)
	log.Info("full sync: second sync done", "wall", secs(second.WallSeconds), "calls", second.Calls.Total, "writes", second.Calls.Writes)
	v, err := s.verifyRun(ctx, cfg.loadTimeout)
	f.Verify = &v
	if err != nil {
		return nil, fmt.Errorf("full sync: %w", err)
	}
	log.Info("full sync: verify done", "wall", secs(v.WallSeconds), "calls", v.Calls.Total, "report", strings.Join(v.Output, " "))
	if cfg.fullStorm {
		log.Info("full sync: one daemon, refresh storm of every unit and person", "events", len(s.unitIDs)+len(s.persIDs))
		if f.Storm, err = s.refreshStorm(ctx); err != nil {
			return nil, fmt.Errorf("full sync: %w", err)
		}
		log.Info("full sync: refresh storm done", "events_per_s", f1(f.Storm.Storm.EventsPerSecond), "cpu_ms_per_event", f2(f.Storm.DaemonCPUPerEventMs),
			"daemon_peak_rss_mb", f1(f.Storm.PeakRSSMB), "sts_calls", f.Storm.Storm.Calls.Total)
	}
	if st, err := readProcStats(os.Getpid()); err == nil {
		f.DriverPeakRSSMB = float64(st.peakKB) / 1024
	}
	return f, nil
}
