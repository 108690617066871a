package main

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// The heap bound of sync, verify and export (batchMemory) when neither GOGC nor GOMEMLIMIT is set.
// Go lets the heap grow to twice its live data before it collects. These commands hold a large
// model of OS2MO and STS Organisation for their whole run, so at Copenhagen size that doubling
// alone is a hundred MB. Their bound is the live heap plus half (plus batchMemorySlack for what Go
// counts besides the heap), and never below batchMemoryFloor: a small heap (an initial load, a
// small municipality) is collected as Go does by default, at no extra CPU; a large one more
// often, with its peak a quarter lower.
const (
	batchMemoryFloor = 128 << 20
	batchMemorySlack = 16 << 20
	// batchMemoryPoll is how often the bound follows the live heap (which Go measures at each
	// collection).
	batchMemoryPoll = 100 * time.Millisecond
)

// batchMemoryLimit is the soft memory limit (debug.SetMemoryLimit) for a live heap of live bytes.
func batchMemoryLimit(live uint64) int64 {
	l := int64(min(live, math.MaxInt64/2))
	return max(batchMemoryFloor, l+l/2+batchMemorySlack)
}

// batchMemory bounds the memory of a sync, verify or export (batchMemoryLimit) until stop is called,
// unless GOGC or GOMEMLIMIT is set (then Go's own reading of them stands). The limit is the
// process's: stop lifts it again.
func (a *app) batchMemory(logger *slog.Logger) (stop func()) {
	if a.getenv("GOGC") != "" || a.getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(a.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(batchMemoryPoll)
		defer t.Stop()
		var set, logged int64
		for {
			rtmetrics.Read(sample)
			if sample[0].Value.Kind() == rtmetrics.KindUint64 {
				if limit := batchMemoryLimit(sample[0].Value.Uint64()); limit != set {
					debug.SetMemoryLimit(limit)
					set = limit
					if limit > logged+logged/4 || limit < logged-logged/4 {
						logger.Debug("memory limit follows the live heap", "limit_mb", limit>>20)
						logged = limit
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
