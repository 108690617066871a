package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// TestDemoSettings: the mapping settings `make demo` and docker-compose run with are valid, and
// every class they name is one of fakemo's, so the demo exercises them instead of matching
// nothing.
func TestDemoSettings(t *testing.T) {
	demo, err := readEnvFile("../../scripts/demo.env")
	if err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	for k, v := range demo {
		env[k] = v
	}
	cfg, err := loadConfig(getenvOf(env), "")
	if err != nil {
		t.Fatalf("scripts/demo.env: %v", err)
	}
	data := motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 40, Persons: 120, Today: time.Now(), UnitAccounts: true})
	var classes []uuid.UUID
	for _, u := range data.Units {
		for _, c := range []*uuid.UUID{&u.UnitType.UUID, &u.Level.UUID} {
			classes = append(classes, *c)
		}
	}
	for _, p := range data.Persons {
		for _, a := range p.Addresses {
			classes = append(classes, a.Type.UUID)
		}
	}
	m := cfg.Mapping
	for name, ids := range map[string][]uuid.UUID{"IGNORED_UNIT_LEVELS": m.IgnoredUnitLevels, "TEAM_UNIT_TYPES": m.TeamUnitTypes,
		"EMAIL_SCOPE_CLASSES": m.EmailClasses, "PHONE_SCOPE_CLASSES": m.MobileClasses, "LANDLINE_SCOPE_CLASSES": m.LandlineClasses} {
		for _, id := range ids {
			if !slices.Contains(classes, id) {
				t.Errorf("scripts/demo.env: %s names %s, which is not a class of fakemo's municipality", name, id)
			}
		}
	}
	accounts := 0
	for _, u := range data.Units {
		for _, it := range u.ITUsers {
			if it.ITSystem.UUID == motest.UnitAccountSystem().UUID && slices.Contains(m.UUIDFromITSystems, it.ITSystem.Name) {
				accounts++
			}
		}
	}
	if accounts == 0 {
		t.Error("scripts/demo.env: UUID_FROM_IT_SYSTEMS matches no unit account of fakemo's municipality")
	}
}

// TestDemoStackPassesCheck runs the stack of `make demo` (scripts/demo.sh with DEMO_KEEP=1 and a
// DEMO_DIR of its own: the initial load, three renames through OS2MO's events, verify), then
// `stsorgsync --config <the settings file the demo wrote> check`, which must pass against it as
// the demo's closing lines promise; then it stops the demo as Ctrl-C would and checks that the
// demo cleaned up after itself (the settings file with its passwords is gone).
func TestDemoStackPassesCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo stack (about 15 s)")
	}
	for _, tool := range []string{"bash", "curl", "jq", "redis-cli", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := "the demo needs " + tool + " (Debian: apt-get install curl jq redis-tools): " + err.Error()
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	// The demo's RabbitMQ and Redis are the tests' (TEST_AMQP_URL, TEST_RABBITMQ_API,
	// TEST_REDIS_ADDR): skipped without them like the other integration tests, failed under CI.
	// Both answer now, so scripts/services.sh starts nothing the test would have to stop.
	testenv.AMQP(t)
	testenv.Redis(t)
	bin := buildDaemon(t)

	dir := t.TempDir()
	out := &lockedBuffer{}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	demo := exec.Command("bash", "../../scripts/demo.sh")
	demo.Env = append(os.Environ(), "DEMO_KEEP=1", "DEMO_DIR="+dir)
	demo.Stdout, demo.Stderr = w, w
	// Its own process group, so that what the demo started can be killed if it hangs on SIGTERM.
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	// keeping is closed when the demo says the stack keeps running (its last line before it
	// waits), i.e. everything passed.
	keeping := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "demo: the stack keeps running") {
				once.Do(func() { close(keeping) })
			}
		}
	}()
	stopped := false
	stop := func() error {
		stopped = true
		_ = demo.Process.Signal(syscall.SIGTERM) // as Ctrl-C: the demo stops its processes
		select {
		case err := <-exited:
			return err
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
			t.Errorf("the demo did not stop within 60 s after SIGTERM; killed its process group\n%s", out)
			return <-exited
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_ = stop()
		}
	})

	select {
	case <-keeping:
	case err := <-exited:
		stopped = true
		t.Fatalf("the demo exited (%v) before its stack was up:\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("the demo's stack was not up after 3 minutes:\n%s", out)
	}
	t.Logf("demo stack up after %s", time.Since(started).Round(100*time.Millisecond))

	config := filepath.Join(dir, "stsorgsync.env")
	info, err := os.Stat(config)
	if err != nil {
		t.Fatalf("the demo wrote no settings file: %v\n%s", err, out)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600 (it holds passwords)", config, info.Mode().Perm())
	}
	if !strings.Contains(out.String(), "--config "+config+" check") {
		t.Errorf("the demo does not print how to run check against its stack:\n%s", out)
	}

	// check with the file alone: none of the test's environment reaches it but PATH and HOME.
	check := exec.Command(bin, "--config", config, "check")
	check.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	checkOut, err := check.CombinedOutput()
	if err != nil {
		t.Errorf("stsorgsync --config %s check: %v, want exit code 0:\n%s", config, err, checkOut)
	}
	if want := "(laes organisation 3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11): ok"; !strings.Contains(string(checkOut), want) {
		t.Errorf("check does not report the municipality's Organisation as found (%q):\n%s", want, checkOut)
	}

	err = stop()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 143 {
		t.Errorf("the demo exited with %v after SIGTERM, want exit code 143", err)
	}
	if !strings.Contains(out.String(), "stopped (stsorgsync exit code 0)") {
		t.Errorf("the demo's daemon did not stop cleanly:\n%s", out)
	}
	if _, err := os.Stat(config); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the settings file is still there after the demo stopped (%v)", err)
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}

// lockedBuffer is a strings.Builder safe for a writing goroutine and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
