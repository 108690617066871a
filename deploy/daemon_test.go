package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// daemon is what the manifests must agree with, asked of the daemon's binary itself: the settings
// it knows (`stsorgsync settings`), which of them are secrets, and whether a command line is one it
// accepts.
type daemon struct {
	bin      string
	settings map[string]bool // name → secret (it may also be given as <name>_FILE)
}

// buildDaemon builds ../cmd/stsorgsync into dir and reads its settings table.
func buildDaemon(dir string) (*daemon, error) {
	bin := filepath.Join(dir, "stsorgsync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/stsorgsync")
	build.Dir = ".." // the daemon's module
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/stsorgsync: %w\n%s", err, out)
	}
	d := &daemon{bin: bin}
	out, err := d.run("settings")
	if err != nil {
		return nil, err
	}
	if d.settings, err = parseSettings(out); err != nil {
		return nil, err
	}
	// STSORGSYNC_CONFIG is the --config flag's default, read by the command line, not a setting.
	if out, err = d.run("--help"); err != nil {
		return nil, err
	}
	if !bytes.Contains(out, []byte("$STSORGSYNC_CONFIG")) {
		return nil, errors.New("stsorgsync --help no longer names $STSORGSYNC_CONFIG: the manifests read their config file through it")
	}
	return d, nil
}

// run runs the daemon's binary with an empty environment and returns its standard output.
func (d *daemon) run(args ...string) ([]byte, error) {
	cmd := exec.Command(d.bin, args...)
	cmd.Env = []string{}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("stsorgsync %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// settingRow is one row of `stsorgsync settings`: | `NAME` | default | meaning |.
var settingRow = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\|")

// parseSettings reads the Markdown tables `stsorgsync settings` prints: each setting's name, and
// whether it is a secret (its meaning then ends "Secret: may be given as `NAME_FILE`").
func parseSettings(table []byte) (map[string]bool, error) {
	settings := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := settingRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		settings[m[1]] = strings.Contains(sc.Text(), "Secret: may be given as `"+m[1]+"_FILE`")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(settings) < 20 || !settings["AMQP_URL"] {
		return nil, fmt.Errorf("stsorgsync settings: found %d settings (AMQP_URL secret: %v); has its table's format changed?", len(settings), settings["AMQP_URL"])
	}
	return settings, nil
}

// runtimeEnv are the environment variables a pod may set that are not the daemon's settings.
var runtimeEnv = map[string]string{
	"STSORGSYNC_CONFIG": "the --config file (checked in stsorgsync --help)",
	"GOMEMLIMIT":        "Go's soft memory limit",
}

// knows reports whether name is an environment variable the daemon reads: a setting, a secret's
// NAME_FILE, or one of runtimeEnv.
func (d *daemon) knows(name string) bool {
	if _, ok := runtimeEnv[name]; ok {
		return true
	}
	if _, ok := d.settings[name]; ok {
		return true
	}
	base, ok := strings.CutSuffix(name, "_FILE")
	return ok && d.settings[base]
}

// validCommand reports whether args is a command line the daemon accepts: `help <command>` knows
// the command (a bare `<typo> --help` would print the root's help and exit 0), and `<args> --help`
// accepts the flags (an unknown flag is exit 2).
func (d *daemon) validCommand(args []string) error {
	if len(args) == 0 {
		return errors.New("no command: the image's default would run")
	}
	if strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%q: the command must come first", args)
	}
	if _, err := d.run("help", args[0]); err != nil {
		return fmt.Errorf("%q: %w", args, err)
	}
	if _, err := d.run(append(append([]string{}, args...), "--help")...); err != nil {
		return fmt.Errorf("%q: %w", args, err)
	}
	return nil
}

// testDaemon is built once by TestMain.
var testDaemon *daemon

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "stsorgsync-deploy-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if testDaemon, err = buildDaemon(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

func TestParseSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		table   string
		want    map[string]bool
		wantErr bool
	}{
		{
			name: "the daemon's own table",
			want: map[string]bool{"AMQP_URL": true, "REDIS_URL": true, "MO_CLIENT_SECRET": true, "STS_P12_PASSWORD": true, "MO_URL": false, "HTTP_LISTEN": false},
		},
		{name: "a changed format is refused", table: "NAME | default\nAMQP_URL | x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.table == "" {
				for name, secret := range tt.want {
					if got, ok := testDaemon.settings[name]; !ok || got != secret {
						t.Errorf("%s: known %v, secret %v; want known, secret %v", name, ok, got, secret)
					}
				}
				return
			}
			if _, err := parseSettings([]byte(tt.table)); (err != nil) != tt.wantErr {
				t.Errorf("parseSettings: err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestValidCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"run"}, true},
		{[]string{"verify", "--json"}, true},
		{[]string{"sync"}, true},
		{[]string{"vrify", "--json"}, false}, // `vrify --help` alone would exit 0
		{[]string{"verify", "--jsno"}, false},
		{[]string{"--json"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			if err := testDaemon.validCommand(tt.args); (err == nil) != tt.ok {
				t.Errorf("validCommand(%q) = %v, want ok %v", tt.args, err, tt.ok)
			}
		})
	}
}
