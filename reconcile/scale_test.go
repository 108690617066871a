package reconcile_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//
// It logs the heap's peak during each run (the fakes' included). With
// STSORGSYNC_SYNC_HEAPPROFILE=dir it also writes heap profiles into dir: of each run when OS2MO
// was read, when the STS objects the bundles name were read, after the first bundle converged
// (the end of planning) and halfway through the bundles, and after the initial load with its
// Result still held. The fakes' data is in the same heap: read the profiles with -focus on the
// engine, e.g.
//
//	go test -c ./reconcile
//	go tool pprof -sample_index=inuse_space -focus='reconcile\.\(\*Engine\)' -top reconcile.test dir/300-4500-first-planned.heap
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
			profDir := os.Getenv("STSORGSYNC_SYNC_HEAPPROFILE")
			// prof writes heap profiles of a run named run: when OS2MO was read, when the STS
			// objects the bundles name were read, after the first bundle converged, and halfway
			// through the bundles.
			prof := func(run string, log func(*reconcile.Options)) func(*reconcile.Options) {
				return func(o *reconcile.Options) {
					log(o)
					if profDir == "" {
						return
					}
					var mu sync.Mutex
					written := map[string]bool{}
					write := func(point string) {
						mu.Lock()
						defer mu.Unlock()
						if !written[point] {
							written[point] = true
							writeHeapProfile(t, profDir, size, run+"-"+point)
						}
					}
					o.Progress = func(p reconcile.Progress) {
						switch {
						case p.Phase == "OS2MO" && p.Done == p.Total:
							write("mo")
						case p.Phase == "STS objects" && p.Done == p.Total:
							write("read")
						case p.Phase == "sync" && p.Done == 1:
							write("planned")
						case p.Phase == "sync" && p.Done == p.Total/2:
							write("half")
						}
					}
				}
			}
			base := heapInUse()
			peak := watchHeap()
			start = time.Now()
			res, err := e.engine(t, prof("first", quiet)).Sync(t.Context())
			if err != nil {
				t.Fatalf("initial sync: %v", err)
			}
			t.Logf("initial load: %s; %d bundles written; STS calls %d (%d reads, %d writes) = %v",
				time.Since(start).Round(time.Millisecond), res.Converged, e.sts.TotalCalls(), res.Reads, res.Writes, e.sts.Calls())
			t.Logf("heap (the fakes' included): %d MiB in use before, peak %d MiB during the initial load", base>>20, peak()>>20)
			if profDir != "" {
				writeHeapProfile(t, profDir, size, "first-end")
			}
			withPlan := heapInUse()
			runtime.KeepAlive(res)
			res = nil
			t.Logf("heap in use after GC: %d MiB with the sync's snapshot and plan, %d MiB without (the fakes' data)", withPlan>>20, heapInUse()>>20)

			e.sts.ResetCalls()
			base = heapInUse()
			peak = watchHeap()
			start = time.Now()
			res, err = e.engine(t, prof("second", info)).Sync(t.Context())
			if err != nil {
				t.Fatalf("second sync: %v", err)
			}
			t.Logf("no-op sync: %s; %d in sync; STS calls %d (%d writes) = %v",
				time.Since(start).Round(time.Millisecond), res.InSync, e.sts.TotalCalls(), writes(e.sts.Calls()), e.sts.Calls())
			t.Logf("heap (the fakes' included): %d MiB in use before, peak %d MiB during the no-op sync", base>>20, peak()>>20)
			if writes(e.sts.Calls()) != 0 {
				t.Errorf("the second sync wrote")
			}
			res = nil

			e.sts.ResetCalls()
			base = heapInUse()
			peak = watchHeap()
			start = time.Now()
			r, err := e.engine(t, prof("verify", info)).Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("heap (the fakes' included): %d MiB in use before, peak %d MiB during verify", base>>20, peak()>>20)
			t.Logf("verify: %s; in sync %v; STS calls %d", time.Since(start).Round(time.Millisecond), r.InSync(), e.sts.TotalCalls())
		})
	}
}

// watchHeap samples the heap's live objects every 10 ms until the returned function is called,
// which returns the largest sample (the peak, within a collection cycle's garbage).
func watchHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// writeHeapProfile writes a heap profile (after a collection) to dir/<size>-<name>.heap.
func writeHeapProfile(t *testing.T, dir, size, name string) {
	runtime.GC()
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.heap", strings.ReplaceAll(size, "/", "-"), name))
	f, err := os.Create(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Error(err)
	}
	t.Logf("heap profile %s (%d MiB in use)", path, heapInUse()>>20)
}

// heapInUse returns the bytes in use on the heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
