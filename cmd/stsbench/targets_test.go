package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestResultsRoundTrip checks that the results type knows every field of the committed
// bench/results.json and writes it back unchanged: mergeResults keeps the other run's figures by
// decoding and encoding them.
func TestResultsRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../../bench/results.json")
	if err != nil {
		t.Skip("no bench/results.json:", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r results
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("bench/results.json has a field the results type does not know: %v", err)
	}
	again, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &b); err != nil {
		t.Fatal(err)
	}
	// The targets table is recomputed on every write; fields the type added since the file was
	// written may appear; everything else must survive.
	delete(a.(map[string]any), "issue21_targets")
	if p := lost("", a, b); p != "" {
		t.Errorf("bench/results.json's %s changes when decoded and encoded again", p)
	}
}

// lost returns the path of the first value of a that b does not hold equal (b may hold more
// object fields), "" for none.
func lost(path string, a, b any) string {
	if al, ok := a.([]any); ok {
		bl, ok := b.([]any)
		if !ok || len(al) != len(bl) {
			return path
		}
		for i := range al {
			if p := lost(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i]); p != "" {
				return p
			}
		}
		return ""
	}
	am, ok := a.(map[string]any)
	if !ok {
		if !reflect.DeepEqual(a, b) {
			return path
		}
		return ""
	}
	bm, ok := b.(map[string]any)
	if !ok {
		return path
	}
	for k, v := range am {
		if p := lost(path+"."+k, v, bm[k]); p != "" {
			return p
		}
	}
	return ""
}

// sampleMain is a make bench result at the issue's sizes.
func sampleMain(commit string, peak float64) *results {
	storm := &stormResult{Processes: 1, Events: 4500, EventType: "person", WallSeconds: 2, EventsPerSecond: 2250, PerProcess: 2250, DaemonCPUSeconds: 0.9}
	return &results{Commit: commit, Started: time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC), Table: "main table",
		Parameters: params{Units: 300, Persons: 4500},
		Figures: figures{
			NoOp: &noopFigures{Storm: storm},
			FullSync: &fullSyncFigures{Units: 3000, Persons: 45000,
				First: &loadResult{PeakRSSMB: peak}, Second: &cliRun{PeakRSSMB: 190}, Verify: &cliRun{PeakRSSMB: 210},
				Storm: &refreshStorm{Units: 3000, Persons: 45000, PeakRSSMB: 140,
					Storm: stormResult{Processes: 1, Events: 48000, EventsPerSecond: 1500, DaemonCPUSeconds: 14.4}}}}}
}

// sampleScale is a make bench-scale result at the issue's profile.
func sampleScale(commit string, ratio float64) *signedRun {
	return &signedRun{Commit: commit, Started: time.Date(2026, 12, 8, 11, 0, 0, 0, time.UTC), Units: 1000, Persons: 15000,
		LatencyMs: 50, MaxConcurrent: 8, Security: true,
		Load: &loadResult{WallSeconds: 450 * ratio, LimitSeconds: 450, RatioToLimit: ratio, Calls: callStats{Total: 72000}, PeakRSSMB: 120, DaemonCPUSeconds: 150}}
}

func TestIssueTargets(t *testing.T) {
	res := sampleMain("aaaa", 180)
	res.BenchScale = sampleScale("bbbb", 1.10)
	tt := issueTargets(res, true, false)
	want := []struct{ figure, met, run string }{
		{"Peak RSS, initial load by `stsorgsync sync` (3,000 units / 45,000 persons)", verdictMet, "make bench at aaaa"},
		{"Peak RSS, `sync` of a municipality in sync / `verify` (3,000/45,000)", verdictMissed, "make bench at aaaa"},
		{"Peak RSS, daemon during a refresh storm of every unit and person (3,000/45,000)", verdictMet, "make bench at aaaa"},
		{"No-op refresh storm, one process: events/s; daemon CPU per event", verdictMissed, "make bench at aaaa"},
		{"Initial load 1,000 units / 15,000 persons, STS 50 ms × cap 8, WITH WS-Security (signing, token), measured", verdictMet, "make bench-scale at bbbb"},
	}
	if len(tt.Rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(tt.Rows), len(want), tt.Markdown)
	}
	for i, w := range want {
		r := tt.Rows[i]
		if r.Figure != w.figure || r.Met != w.met || !strings.HasPrefix(r.Run, w.run) {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if !strings.Contains(tt.Rows[0].Run, "(this run)") || !strings.Contains(tt.Rows[4].Run, "(kept in results.json)") {
		t.Errorf("runs not marked: %q, %q", tt.Rows[0].Run, tt.Rows[4].Run)
	}
	// The no-op row names both storms and their figures: 2,250 ev/s and 0.20 ms meet the
	// targets, 1,500 ev/s and 0.30 ms do not.
	for _, s := range []string{"2250.0 ev/s, 0.20 ms", "1500.0 ev/s, 0.30 ms", "48,000 events"} {
		if !strings.Contains(tt.Rows[3].Measured, s) {
			t.Errorf("no-op row %q lacks %q", tt.Rows[3].Measured, s)
		}
	}
	if !strings.Contains(tt.Rows[4].Measured, "1.10×") || !strings.Contains(tt.Markdown, "| Figure | Measured | Target | Met | Run |") {
		t.Errorf("signed row or header:\n%s", tt.Markdown)
	}

	// Another size is not the issue's figure; a missing run is not measured.
	res.Figures.FullSync.Units = 30
	res.BenchScale.Security = false
	res.Figures.NoOp = nil
	tt = issueTargets(res, true, true)
	for i := range 3 {
		if !strings.HasPrefix(tt.Rows[i].Met, "n/a: measured at 30 units") {
			t.Errorf("row %d at 30 units: %q", i, tt.Rows[i].Met)
		}
	}
	if !strings.Contains(tt.Rows[4].Met, "without WS-Security") {
		t.Errorf("signed row without security: %q", tt.Rows[4].Met)
	}
	tt = issueTargets(&results{}, true, false)
	for i, r := range tt.Rows {
		if r.Met != verdictNotMeasured {
			t.Errorf("empty results, row %d: %+v", i, r)
		}
	}
}

func TestMergeResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	write := func(r *results) {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No file yet: written as is.
	res := sampleMain("main1", 180)
	if out, kept := mergeResults(path, res, true); out != res || kept != "" {
		t.Errorf("no file: %v, %q", out, kept)
	}
	old := sampleMain("main1", 180)
	old.BenchScale = sampleScale("scale1", 1.2)
	write(old)

	// make bench-scale: the file's main figures stay, bench_scale is replaced.
	scaleOnly := &results{Commit: "scale2", BenchScale: sampleScale("scale2", 1.1)}
	out, kept := mergeResults(path, scaleOnly, false)
	if out.Commit != "main1" || out.Table != "main table" || out.Figures.FullSync == nil || out.BenchScale.Commit != "scale2" {
		t.Errorf("bench-scale merge: commit %s, table %q, scale %s", out.Commit, out.Table, out.BenchScale.Commit)
	}
	if !strings.Contains(kept, "make bench's figures (commit main1") {
		t.Errorf("kept note %q", kept)
	}

	// make bench: its own figures, the file's bench_scale kept.
	fresh := sampleMain("main2", 170)
	out, kept = mergeResults(path, fresh, true)
	if out.Commit != "main2" || out.BenchScale == nil || out.BenchScale.Commit != "scale1" || !strings.Contains(kept, "bench-scale's figures (commit scale1") {
		t.Errorf("bench merge: commit %s, scale %+v, kept %q", out.Commit, out.BenchScale, kept)
	}

	// A run with both replaces both.
	both := sampleMain("main3", 170)
	both.BenchScale = sampleScale("main3", 1.0)
	if out, kept := mergeResults(path, both, true); out != both || out.BenchScale.Commit != "main3" || kept != "" {
		t.Errorf("both: %s, %q", out.BenchScale.Commit, kept)
	}

	// An unreadable file is reported, not fatal.
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, kept := mergeResults(path, fresh, true); out != fresh || !strings.Contains(kept, "could not be read") {
		t.Errorf("broken file: %q", kept)
	}
}

func TestRefreshStormRows(t *testing.T) {
	f := &refreshStorm{Units: 3000, Persons: 45000, PeakRSSMB: 160, RSSReadyMB: 30, RSSEndMB: 120, DaemonCPUPerEventMs: 0.2,
		Storm: stormResult{Processes: 1, Events: 48000, EventType: "org_unit, person", EventsPerSecond: 2100, PerProcess: 2100,
			Outcomes: eventCounts{"person/done": 45000, "org_unit/done": 3000}}}
	rows := refreshStormRows(f)
	got := map[string]string{}
	for _, r := range rows {
		got[r.measure] = r.met
		if !strings.Contains(r.scenario, "48,000 events") {
			t.Errorf("scenario %q", r.scenario)
		}
	}
	if got["peak RSS of the daemon (VmHWM, started for the storm)"] != "**no**" || got["events/s end to end"] != "yes" ||
		got["CPU: daemon / driver with fakes"] != "yes" || got["STS calls (the daemon trusts the sync's last-sent records)"] != "yes" {
		t.Errorf("verdicts %v", got)
	}
	if s := outcomes(f.Storm.Outcomes); s != "org_unit/done 3,000, person/done 45,000" {
		t.Errorf("outcomes %q", s)
	}
}
