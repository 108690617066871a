package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"testing"
)

// BenchmarkDaemonProfile runs the daemon in-process (runDaemon with the configuration read from
// the environment, as `stsorgsync run` does) until SIGTERM or SIGINT, recording CPU profiles. It
// is not a timed benchmark: it exists so that cmd/stsbench can see where the daemon spends its
// CPU while it drives a load through it (the daemon has no pprof endpoint). cmd/stsbench starts
// the compiled test binary exactly like the daemon binary:
//
//	STSBENCH_DAEMON_PROFILE=1 STSBENCH_PROFILE_DIR=dir <daemon settings…> \
//	    stsorgsync.test -test.run '^$' -test.bench '^BenchmarkDaemonProfile$' -test.benchtime 1x
//
// The CPU profile goes to dir/daemon-cpu-0.pprof; each SIGUSR1 closes the current file and
// starts the next (daemon-cpu-1.pprof, …), so that the phases of a run (an initial load, then a
// no-op storm) are profiled apart. Without STSBENCH_DAEMON_PROFILE=1 it is skipped, so
// `go test -bench .` is unaffected.
func BenchmarkDaemonProfile(b *testing.B) {
	if os.Getenv("STSBENCH_DAEMON_PROFILE") != "1" {
		b.Skip("driven by cmd/stsbench (STSBENCH_DAEMON_PROFILE=1 and the daemon's settings in the environment)")
	}
	cfg, err := loadConfig(os.Getenv, "")
	if err != nil {
		b.Fatalf("configuration: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if dir := os.Getenv("STSBENCH_PROFILE_DIR"); dir != "" {
		stopProfiling, err := profilePhases(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		defer stopProfiling()
	}
	logger := newLogger(os.Stderr, cfg.LogLevel)
	for b.Loop() {
		if err := runDaemon(ctx, cfg, logger); err != nil {
			b.Fatalf("daemon: %v", err)
		}
	}
}

// profilePhases records CPU profiles to dir/daemon-cpu-N.pprof, moving to the next N on SIGUSR1.
func profilePhases(ctx context.Context, dir string) (stop func(), err error) {
	var f *os.File
	phase := 0
	start := func() error {
		path := filepath.Join(dir, fmt.Sprintf("daemon-cpu-%d.pprof", phase))
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		return pprof.StartCPUProfile(f)
	}
	finish := func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
	if err := start(); err != nil {
		return nil, err
	}
	next := make(chan os.Signal, 1)
	signal.Notify(next, syscall.SIGUSR1)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-next:
				finish()
				phase++
				if err := start(); err != nil {
					fmt.Fprintln(os.Stderr, "profile:", err)
					return
				}
			case <-done:
				finish()
				return
			case <-ctx.Done():
				// runDaemon drains; keep profiling until the benchmark returns.
				<-done
				finish()
				return
			}
		}
	}()
	return func() {
		signal.Stop(next)
		close(done)
		<-finished
	}, nil
}
