package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// commandPaths returns the path (without "stsorgsync") of every command and subcommand users can
// call, cobra's own help and completion commands included.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	root := (&app{ctx: context.Background(), getenv: getenvOf(nil), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}).rootCommand()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Hidden || strings.HasPrefix(sub.Name(), "__") {
				continue
			}
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	if len(paths) < 16 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	return paths
}

// TestEveryCommandHelpAndUsage runs every command and subcommand (1) with --help and -h in an
// empty environment and with a valid one that would start the daemon: exit 0, usage printed,
// nothing started (no log line, nothing listening); (2) with an unknown flag and (3) an
// unexpected argument: exit 2, the message names what was wrong, nothing loaded.
func TestEveryCommandHelpAndUsage(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	live := validEnv()
	live["HTTP_LISTEN"] = listen
	live["AMQP_URL"] = "amqp://guest:guest@127.0.0.1:5672/"
	for _, path := range commandPaths(t) {
		name := strings.Join(append([]string{"stsorgsync"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				flag string
				env  map[string]string
			}{{"--help", nil}, {"-h", nil}, {"--help", live}} {
				var stdout, stderr bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				code := run(ctx, append(append([]string(nil), path...), tc.flag), getenvOf(tc.env), &stdout, &stderr)
				cancel()
				if code != exitOK {
					t.Errorf("%s %s: exit %d, want 0; stderr:\n%s", name, tc.flag, code, stderr.String())
				}
				if out := stdout.String(); !strings.Contains(out, "Usage:") || !strings.Contains(out, name) {
					t.Errorf("%s %s: no usage for %q on stdout:\n%s", name, tc.flag, name, out)
				}
				if stderr.Len() > 0 {
					t.Errorf("%s %s: something ran (stderr):\n%s", name, tc.flag, stderr.String())
				}
				if c, err := net.DialTimeout("tcp", listen, 100*time.Millisecond); err == nil {
					c.Close()
					t.Errorf("%s %s: something listens on HTTP_LISTEN %s", name, tc.flag, listen)
				}
			}

			getenv, loaded := recordingGetenv(validEnv())
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(append([]string(nil), path...), "--no-such-flag"), getenv, &stdout, &stderr)
			if code != exitConfig || !strings.Contains(stderr.String(), "unknown flag: --no-such-flag") || *loaded {
				t.Errorf("%s --no-such-flag: exit %d (want 2), configuration loaded %v; stderr:\n%s", name, code, *loaded, stderr.String())
			}

			if len(path) > 0 && path[0] == "help" {
				return // help takes a command as its argument (TestHelpCommand)
			}
			getenv, loaded = recordingGetenv(validEnv())
			stdout.Reset()
			stderr.Reset()
			code = run(context.Background(), append(append([]string(nil), path...), "surplus"), getenv, &stdout, &stderr)
			if code != exitConfig || !strings.Contains(stderr.String(), `"surplus"`) || *loaded {
				t.Errorf("%s surplus: exit %d (want 2), configuration loaded %v; stderr:\n%s", name, code, *loaded, stderr.String())
			}
		})
	}
}

// TestHelpCommand: `help [command]` shows the command's help; an unknown one is refused.
func TestHelpCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, exitOK, "Available Commands:"},
		{[]string{"help", "sync"}, exitOK, "stsorgsync sync [flags]"},
		{[]string{"help", "dlq", "replay"}, exitOK, "--older-than"},
		{[]string{"help", "synk"}, exitConfig, `unknown command "synk" for "stsorgsync" (did you mean "sync"?)`},
		{[]string{"help", "dlq", "purge"}, exitConfig, `unknown command "purge" for "stsorgsync dlq"`},
		{nil, exitOK, "Available Commands:"},
		{[]string{"--version"}, exitOK, "stsorgsync dev"},
		{[]string{"verify", "-json"}, exitConfig, "did you mean --json?"},
		{[]string{"sync", "--dry-rn"}, exitConfig, "unknown flag: --dry-rn (did you mean --dry-run?)"},
		{[]string{"chek"}, exitConfig, `(did you mean "check"?)`},
		{[]string{"completion"}, exitConfig, "missing shell"},
		{[]string{"completion", "bash"}, exitOK, "complete -o default -F __start_stsorgsync stsorgsync"},
		{[]string{"sync", "--max-deactivations", "-3"}, exitConfig, "--max-deactivations"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, getenvOf(validEnv()), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.want) {
				t.Errorf("exit %d (want %d); output lacks %q:\n%s%s", code, tt.code, tt.want, stdout.String(), stderr.String())
			}
		})
	}
}

// TestConfigFileUnknownKey: a key in the --config file that is no setting is refused, naming the
// file, the line and the nearest setting, by every command that reads the file.
func TestConfigFileUnknownKey(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "stsorgsync.env")
	content := "# municipality\nSTS_CVRR=29189846\nMO_CLIENT_SECRET_FILE=/run/secrets/mo\nAMQP_QEUE=stsorgsync\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check"}, {"run"}, {"sync"}, {"verify"}, {"dlq", "list"}, {"healthcheck"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"--config", file}, args...), getenvOf(validEnv()), &stdout, &stderr)
			if code != exitConfig {
				t.Errorf("exit %d, want %d", code, exitConfig)
			}
			for _, want := range []string{
				file + " line 2: unknown setting STS_CVRR; did you mean STS_CVR?",
				file + " line 4: unknown setting AMQP_QEUE; did you mean AMQP_QUEUE?",
			} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "MO_CLIENT_SECRET_FILE") {
				t.Errorf("a secret's _FILE key was refused:\n%s", stderr.String())
			}
		})
	}
}

// TestLogDurationsAreSeconds: every duration in the log is a number of seconds under a _seconds
// key, whatever the caller passed.
func TestLogDurationsAreSeconds(t *testing.T) {
	var buf bytes.Buffer
	logger := newLogger(&buf, "info")
	logger.Info("done", "took", 2700*time.Millisecond, slog.Duration("wait_seconds", time.Second), "count", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["took_seconds"] != 2.7 || rec["wait_seconds"] != 1.0 || rec["count"] != 3.0 || rec["took"] != nil {
		t.Errorf("record %v: want took_seconds 2.7, wait_seconds 1, count 3", rec)
	}
}

// TestHealthcheckReadsTheConfigFile: `healthcheck --ready` probes the HTTP_LISTEN of the --config
// file (the environment still wins), not the default address.
func TestHealthcheckReadsTheConfigFile(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "stsorgsync.env")
	if err := os.WriteFile(file, []byte("HTTP_LISTEN="+srv.Listener.Addr().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--config", file, "healthcheck", "--ready"}, getenvOf(nil), &stdout, &stderr); code != exitOK {
		t.Errorf("healthcheck --ready with HTTP_LISTEN from the file: exit %d; stderr:\n%s", code, stderr.String())
	}
	if code := run(t.Context(), []string{"--config", file, "healthcheck", "--ready"}, getenvOf(map[string]string{"HTTP_LISTEN": "127.0.0.1:1"}), &stdout, &stderr); code != exitFailure {
		t.Errorf("healthcheck with HTTP_LISTEN from the environment (nothing listens): exit %d, want %d", code, exitFailure)
	}
}
