package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testBinary is the stsorgsync binary the process tests run, built once per test binary.
var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// TestMain removes the binary built for the process tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		_ = os.RemoveAll(testBinary.dir)
	}
	os.Exit(code)
}

// buildDaemon returns the stsorgsync binary, built on first use into a temporary directory with
// the race detector if the test runs with it (the build then reuses the test's compiled
// packages). Every test runs the same build, as an operator would run the release.
func buildDaemon(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			testBinary.err = fmt.Errorf("the go command is needed to build the daemon: %w", err)
			return
		}
		if testBinary.dir, err = os.MkdirTemp("", "stsorgsync-bin-"); err != nil {
			testBinary.err = err
			return
		}
		bin := filepath.Join(testBinary.dir, "stsorgsync")
		args := []string{"build", "-o", bin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		start := time.Now()
		if out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput(); err != nil {
			testBinary.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		testBinary.path = bin
		t.Logf("built %s (race detector: %v) in %s", bin, raceEnabled(), time.Since(start).Round(time.Millisecond))
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}
