package main

// The signedload phase (`make bench-scale`, issue 21): the initial load of a 1,000-unit /
// 15,000-person municipality by `stsorgsync sync` at the real STS profile (50 ms per call, 8 at
// once) with KOMBIT's WS-Security profile, measured rather than projected. About 70,000 calls ×
// 50 ms ÷ 8 ≈ 7½ minutes at best, so it is not part of `make bench`; its figures are kept in
// results.json beside those of `make bench`, each with the commit it was measured at
// (mergeResults).

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// signedRatioTarget is issue 21's target for the signed 1,000/15,000 load: wall ÷ (calls ×
// latency ÷ cap).
const signedRatioTarget = 1.15

// signedRun is the signedload phase with the run it came from. results.json keeps it apart from
// the other phases' figures ("bench_scale"), so that make bench and make bench-scale each replace
// only their own.
type signedRun struct {
	Commit    string    `json:"commit"`
	Dirty     bool      `json:"worktree_dirty"`
	Started   time.Time `json:"started"`
	GoVersion string    `json:"go_version"`
	Machine   machine   `json:"machine"`
	// WallSeconds is the phase's: generating the municipality, the sync, the driver's check.
	WallSeconds     float64 `json:"wall_seconds"`
	Units           int     `json:"units"`
	Persons         int     `json:"persons"`
	Seed            int64   `json:"seed"`
	LatencyMs       float64 `json:"sts_latency_ms"`
	MaxConcurrent   int     `json:"sts_max_concurrent"`
	Security        bool    `json:"sts_security"`
	FakeServiceKey  string  `json:"fake_sts_response_signing_key"`
	GenerateSeconds float64 `json:"generate_seconds"`
	// TokensIssued are the tokens the fake token service issued to the sync; Faults the SOAP
	// faults the fake STS sent during the sync, by subcode (a rejected signature or token would
	// be one).
	TokensIssued int            `json:"tokens_issued"`
	Faults       map[string]int `json:"sts_faults"`
	Load         *loadResult    `json:"initial_load,omitempty"`
	Notes        []string       `json:"notes,omitempty"`
	Table        string         `json:"table_markdown"`
}

// runSignedLoad is the signedload phase, on a fresh stack of -signed-units / -signed-persons at
// -sts-latency and -sts-cap, with WS-Security unless -security=false.
func runSignedLoad(ctx context.Context, r *runner) error {
	cfg, log := r.cfg, r.log
	start := time.Now()
	sr := &signedRun{Commit: r.res.Commit, Dirty: r.res.Dirty, Started: start, GoVersion: r.res.GoVersion, Machine: r.res.Machine,
		Units: cfg.signedUnits, Persons: cfg.signedPersons, Seed: cfg.seed, LatencyMs: ms(cfg.latency), MaxConcurrent: cfg.capN,
		Security: cfg.security, FakeServiceKey: r.res.Parameters.FakeServiceKey}
	sr.Machine.LoadAvgStart = loadAvg()
	log.Info("signed initial load: generating the municipality and starting the fakes", "units", cfg.signedUnits, "persons", cfg.signedPersons)
	// No write watching (the fake's own concurrent-write detector stays on): parsing every write
	// would take the driver's CPU from the sync on the machine's cores, and this phase measures no latencies.
	s, err := r.e.newStack(ctx, stackOptions{name: "signedload", units: cfg.signedUnits, persons: cfg.signedPersons, seed: cfg.seed, sts: r.stsOpts})
	if err != nil {
		return err
	}
	defer s.close()
	sr.GenerateSeconds = time.Since(start).Seconds()
	sr.Security = s.security()
	log.Info("signed initial load: stsorgsync sync into the empty fake STS", "sts_latency", cfg.latency, "sts_cap", cfg.capN, "ws_security", sr.Security)
	load, err := s.syncLoad(ctx, cfg.loadTimeout, true, false)
	sr.Load = &load
	if err != nil {
		return fmt.Errorf("signed initial load: %w", err)
	}
	sr.TokensIssued = s.sts.TokensIssued()
	sr.Faults = s.sts.Faults()
	if sr.Security && sr.TokensIssued == 0 {
		return fmt.Errorf("signed initial load: the fake token service issued no token although WS-Security is on")
	}
	sr.WallSeconds = time.Since(start).Seconds()
	sr.Machine.LoadAvgEnd = loadAvg()
	sr.Notes = append(sr.Notes, fmt.Sprintf("The fake STS runs inside the driver on the same %d CPUs as the sync: it verifies every request's signature and token and signs every response (with an RSA-1024 service key, to keep its share down; the sync signs with the RSA-2048 organisation key). Its latency is a call's service time, its own work done within it (ststest.Options.ServiceTime), as a real service's response time includes its processing; the sync keeps at most the cap's calls on the wire and signs and checks others meanwhile.", sr.Machine.CPUs))
	r.res.BenchScale = sr
	log.Info("signed initial load done", "wall", secs(load.WallSeconds), "calls", load.Calls.Total, "limit", secs(load.LimitSeconds),
		"ratio_to_limit", f2(load.RatioToLimit), "peak_rss_mb", f1(load.PeakRSSMB), "cpu_s", f1(load.DaemonCPUSeconds), "tokens", sr.TokensIssued)
	return nil
}

// name is the scenario's name in the tables.
func (sr *signedRun) name() string {
	sec := "WITH WS-Security (signed requests and responses, a token from the fake token service)"
	if !sr.Security {
		sec = "WITHOUT WS-Security"
	}
	return fmt.Sprintf("Initial load by `stsorgsync sync` (make bench-scale), %s units / %s persons, STS %s ms × cap %d, %s",
		num(sr.Units), num(sr.Persons), f1(sr.LatencyMs), sr.MaxConcurrent, sec)
}

// table renders the signed load as a Markdown table like make bench's.
func (sr *signedRun) table() string {
	if sr.Load == nil {
		return ""
	}
	name := sr.name()
	rows := []row{{"2s", name, "setup (driver): generate the municipality into the fake OS2MO", secs(sr.GenerateSeconds), "", ""}}
	rows = append(rows, loadRows("2s", name, sr.Load, signedRatioTarget)...)
	faults := "none"
	if len(sr.Faults) > 0 {
		var parts []string
		for k, v := range sr.Faults {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		faults = strings.Join(parts, ", ")
	}
	rows = append(rows, row{"2s", name, "WS-Security: tokens issued by the fake token service; SOAP faults of the fake STS", fmt.Sprintf("%d; %s", sr.TokensIssued, faults), "", ""})
	return renderRows(rows)
}

// header is the heading printed above the signed load's table.
func (sr *signedRun) header() string {
	return fmt.Sprintf("## make bench-scale (%s, commit %s%s, %s, %d CPUs, %s; load average %s at the start, %s at the end)",
		sr.Started.Format("2006-01-02 15:04"), sr.Commit, map[bool]string{true: " + local changes"}[sr.Dirty], sr.GoVersion,
		sr.Machine.CPUs, sr.Machine.CPUModel, sr.Machine.LoadAvgStart, sr.Machine.LoadAvgEnd)
}

// readResults reads a results file written by an earlier run; nil, nil when there is none.
func readResults(path string) (*results, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeResults(data)
}
