package reconcile_test

import (
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
)

// quiet logs warnings only (not one audit line per write).
func quiet(o *reconcile.Options) {
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestFullSyncScale measures a full sync of generated municipalities into an empty fake STS
// (the initial load), the no-op sync after it, and a verify, and logs wall time and STS calls.
// It runs only when STSORGSYNC_SYNC_SCALE lists sizes as units/persons, e.g.
//
//	STSORGSYNC_SYNC_SCALE=300/4500,3000/45000 go test ./reconcile -run TestFullSyncScale -v -timeout 1h
//
// The fakes run in this process over HTTP without KOMBIT's security profile, so the figures are
// the sync's own cost plus the fakes' (XML, validation), not STS Organisation's latency.
func TestFullSyncScale(t *testing.T) {
	spec := os.Getenv("STSORGSYNC_SYNC_SCALE")
	if spec == "" {
		t.Skip("set STSORGSYNC_SYNC_SCALE=units/persons[,…] to measure full syncs")
	}
	for size := range strings.SplitSeq(spec, ",") {
		u, p, ok := strings.Cut(size, "/")
		units, err1 := strconv.Atoi(u)
		persons, err2 := strconv.Atoi(p)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("STSORGSYNC_SYNC_SCALE: %q is not units/persons", size)
		}
		t.Run(size, func(t *testing.T) {
			start := time.Now()
			data := motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: units, Persons: persons, Today: time.Now()})
			e := newEnv(t, data)
			t.Logf("generated and loaded %d units, %d persons in %s", units, persons, time.Since(start).Round(time.Millisecond))

			info := func(o *reconcile.Options) {
				o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			start = time.Now()
			res, err := e.engine(t, quiet).Sync(t.Context())
			if err != nil {
				t.Fatalf("initial sync: %v", err)
			}
			t.Logf("initial load: %s; %d bundles written; STS calls %d (%d reads, %d writes) = %v",
				time.Since(start).Round(time.Millisecond), res.Converged, e.sts.TotalCalls(), res.Reads, res.Writes, e.sts.Calls())
			withPlan := heapInUse()
			runtime.KeepAlive(res)
			res = nil
			t.Logf("heap in use after GC: %d MiB with the sync's snapshot and plan, %d MiB without (the fakes' data)", withPlan>>20, heapInUse()>>20)

			e.sts.ResetCalls()
			start = time.Now()
			res, err = e.engine(t, info).Sync(t.Context())
			if err != nil {
				t.Fatalf("second sync: %v", err)
			}
			t.Logf("no-op sync: %s; %d in sync; STS calls %d (%d writes) = %v",
				time.Since(start).Round(time.Millisecond), res.InSync, e.sts.TotalCalls(), writes(e.sts.Calls()), e.sts.Calls())
			if writes(e.sts.Calls()) != 0 {
				t.Errorf("the second sync wrote")
			}

			e.sts.ResetCalls()
			start = time.Now()
			r, err := e.engine(t, info).Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("verify: %s; in sync %v; STS calls %d", time.Since(start).Round(time.Millisecond), r.InSync(), e.sts.TotalCalls())
		})
	}
}

// heapInUse returns the bytes in use on the heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
