package main

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestBatchMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int64
	}{
		{0, batchMemoryFloor},
		{40 << 20, batchMemoryFloor}, // 60+16 MiB < the floor
		{100 << 20, 166 << 20},
		{400 << 20, 616 << 20},
		{math.MaxUint64, math.MaxInt64/2 + math.MaxInt64/4 + batchMemorySlack},
	} {
		if got := batchMemoryLimit(tt.live); got != tt.want {
			t.Errorf("batchMemoryLimit(%d MiB) = %d MiB, want %d MiB", tt.live>>20, got>>20, tt.want>>20)
		}
	}
}

// TestBatchMemory: sync, verify and export bound their memory unless GOGC or GOMEMLIMIT is set
// (then Go's own reading of them stands), and lift the bound when done. Not parallel: the limit is
// the process's.
func TestBatchMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, tt := range []struct {
		env     map[string]string
		bounded bool
	}{
		{env: map[string]string{}, bounded: true},
		{env: map[string]string{"GOGC": "200"}},
		{env: map[string]string{"GOMEMLIMIT": "300MiB"}},
	} {
		a := &app{ctx: context.Background(), getenv: func(k string) string { return tt.env[k] }}
		stop := a.batchMemory(slog.New(slog.DiscardHandler))
		runtime.GC()
		waitFor(t, 5*time.Second, "the memory limit", func() bool { return !tt.bounded || debug.SetMemoryLimit(-1) != math.MaxInt64 })
		got := debug.SetMemoryLimit(-1)
		switch {
		case tt.bounded && got < batchMemoryFloor:
			t.Errorf("env %v: limit %d MiB, want at least the floor %d MiB", tt.env, got>>20, batchMemoryFloor>>20)
		case !tt.bounded && got != math.MaxInt64:
			t.Errorf("env %v: limit %d MiB, want none", tt.env, got>>20)
		}
		stop()
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("env %v: limit %d MiB after stop, want none", tt.env, got>>20)
		}
	}
}
