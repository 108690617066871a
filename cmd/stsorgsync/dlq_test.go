package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

// recordingGetenv returns a getenv over env and a flag set once any setting is read (the
// --config default, STSORGSYNC_CONFIG, does not count).
func recordingGetenv(env map[string]string) (func(string) string, *bool) {
	loaded := new(bool)
	return func(k string) string {
		if k != "STSORGSYNC_CONFIG" {
			*loaded = true
		}
		return env[k]
	}, loaded
}

// TestDLQUsage: usage errors exit 2 before any configuration is loaded or broker contacted.
func TestDLQUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"purge"}, `unknown command "purge"`},
		{"extra argument", []string{"list", "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"list", "--dry-run"}, "unknown flag: --dry-run"},
		{"misspelt flag", []string{"replay", "--dryrun"}, "did you mean --dry-run?"},
		{"export without file", []string{"export", "--out"}, "flag needs an argument: --out"},
		{"unknown class", []string{"replay", "--class", "bogus"}, `--class: unknown error class "bogus"; want one of malformed, permanent`},
		{"misspelt class", []string{"replay", "--class", "retries-exhaustd"}, `did you mean "retries-exhausted"?`},
		{"unknown routing key", []string{"replay", "--routing-key", "orgunit"}, `--routing-key: "orgunit" is not an OS2MO routing key (did you mean "org_unit"?)`},
		{"legacy key with an unknown type", []string{"replay", "--routing-key", "org_unit.adress.update"}, `"org_unit.adress.update" is not an OS2MO routing key`},
		{"negative limit", []string{"replay", "--limit", "-1"}, "--limit"},
		{"bad rate", []string{"replay", "--rate", "fast"}, "--rate"},
		{"zero rate", []string{"replay", "--rate", "0/s"}, "--rate"},
		{"bad rate unit", []string{"replay", "--rate", "5/d"}, "--rate"},
		{"bad object", []string{"replay", "--object", "unit-1"}, "--object"},
		{"bad age", []string{"replay", "--older-than", "soon"}, "--older-than"},
		{"empty window", []string{"replay", "--older-than", "2h", "--newer-than", "1h"}, "--newer-than (1h0m0s) must be longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			getenv, loaded := recordingGetenv(validEnv())
			code := run(t.Context(), append([]string{"dlq"}, tt.args...), getenv, &stdout, &stderr)
			if code != exitConfig {
				t.Errorf("exit %d; want %d", code, exitConfig)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr does not mention %q:\n%s", tt.want, stderr.String())
			}
			if *loaded {
				t.Error("the configuration was loaded despite a usage error")
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		getenv, loaded := recordingGetenv(validEnv())
		if code := run(t.Context(), []string{"dlq", "replay", "--help"}, getenv, &stdout, &stderr); code != exitOK || *loaded {
			t.Errorf("replay --help: exit %d, configuration loaded %v; want exit 0 without loading it", code, *loaded)
		}
	})

	t.Run("broker unreachable", func(t *testing.T) {
		t.Parallel()
		env := validEnv()
		env["AMQP_URL"] = "amqp://guest:hunter2@127.0.0.1:1/"
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"dlq", "list"}, getenvOf(env), &stdout, &stderr); code != exitFailure {
			t.Errorf("exit %d; want %d", code, exitFailure)
		}
		if strings.Contains(stderr.String(), "hunter2") || !strings.Contains(stderr.String(), "connect to RabbitMQ amqp://guest:xxxxx@127.0.0.1:1/") {
			t.Errorf("stderr should name the broker without its password:\n%s", stderr.String())
		}
	})
}

// TestDLQConfiguration: `dlq` reads only LOG_LEVEL and the AMQP_ settings, from the environment or
// the config file as the daemon does. It works with those alone, ignores the daemon's other
// settings even when they are missing or invalid, and exits 2 naming the setting when an AMQP
// setting is invalid. In env and file, {broker} stands for the test vhost's AMQP URL and {dir}
// for a temporary directory; cases that exit 0 get a broker with the topology declared.
func TestDLQConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		file     string // content of the --config file; none if empty
		wantCode int
		want     []string // in stdout or stderr
		notWant  []string
	}{
		{name: "only AMQP_URL in the environment", env: map[string]string{"AMQP_URL": "{broker}"},
			wantCode: exitOK, want: []string{"dead-letter queue stsorgsync.dlq is empty"}},
		{name: "only AMQP settings in the config file", file: "AMQP_URL={broker}\nAMQP_DLQ=stsorgsync.dlq\nLOG_LEVEL=debug\n",
			wantCode: exitOK, want: []string{"dead-letter queue stsorgsync.dlq is empty"}},
		{name: "config file named by STSORGSYNC_CONFIG", env: map[string]string{"STSORGSYNC_CONFIG": "{dir}/stsorgsync.env"}, file: "AMQP_URL={broker}\n",
			wantCode: exitOK, want: []string{"is empty"}},
		{name: "AMQP_URL as a secret file", env: map[string]string{"AMQP_URL_FILE": "{dir}/amqp-url"},
			wantCode: exitOK, want: []string{"is empty"}},
		{name: "daemon settings missing or invalid are ignored", env: map[string]string{
			"AMQP_URL": "{broker}", "MO_URL": "not a URL", "STS_CVR": "1", "WORKERS": "0", "STS_SECURITY": "maybe", "AMQP_LEGACY_EVENTS": "true",
		}, wantCode: exitOK, want: []string{"is empty"}},

		{name: "bad AMQP URL", env: map[string]string{"AMQP_URL": "http://guest:hunter2@rabbit/"},
			wantCode: exitConfig, want: []string{"invalid configuration", "AMQP_URL: expected a URL with scheme amqp or amqps"}, notWant: []string{"hunter2", "MO_URL", "STS_CVR"}},
		{name: "bad AMQP URL in the config file", file: "MO_URL=http://mo\nAMQP_URL=rabbit:5672\n",
			wantCode: exitConfig, want: []string{"AMQP_URL: expected a URL"}},
		{name: "unreadable AMQP_URL_FILE", env: map[string]string{"AMQP_URL_FILE": "{dir}/missing"},
			wantCode: exitConfig, want: []string{"AMQP_URL_FILE: cannot read"}},
		{name: "work queue is the DLQ", env: map[string]string{"AMQP_QUEUE": "q", "AMQP_DLQ": "q"},
			wantCode: exitConfig, want: []string{"AMQP_QUEUE and AMQP_DLQ must differ"}},
		{name: "unknown routing key", env: map[string]string{"AMQP_ROUTING_KEYS": "org_unit,persons"},
			wantCode: exitConfig, want: []string{"AMQP_ROUTING_KEYS", `"persons"`}},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"},
			wantCode: exitConfig, want: []string{"LOG_LEVEL"}},
		{name: "missing config file", env: map[string]string{"STSORGSYNC_CONFIG": "{dir}/missing.env"},
			wantCode: exitConfig, want: []string{"config file", "missing.env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			brokerURL := "amqp://guest:guest@127.0.0.1:1/" // never dialled: the configuration is refused first
			if tt.wantCode == exitOK {
				broker := testenv.AMQP(t)
				brokerURL = broker.URL
				declareTopology(t, broker.URL)
			}
			expand := strings.NewReplacer("{broker}", brokerURL, "{dir}", dir).Replace
			if err := os.WriteFile(filepath.Join(dir, "amqp-url"), []byte(brokerURL+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = expand(v)
			}
			var args []string
			if tt.file != "" {
				file := filepath.Join(dir, "stsorgsync.env")
				if err := os.WriteFile(file, []byte(expand(tt.file)), 0o600); err != nil {
					t.Fatal(err)
				}
				if env["STSORGSYNC_CONFIG"] == "" {
					args = append(args, "--config", file)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append(args, "dlq", "list"), getenvOf(env), &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
			for _, w := range append(tt.notWant, ":guest@") {
				if strings.Contains(out, w) {
					t.Errorf("output mentions %q:\n%s", w, out)
				}
			}
		})
	}
}

// declareTopology declares the consumer's default topology on the broker at url.
func declareTopology(t *testing.T, url string) {
	t.Helper()
	ch := amqpChannel(t, url)
	if err := consumer.DeclareTopology(ch, consumer.Config{URL: url}); err != nil {
		t.Fatalf("DeclareTopology: %v", err)
	}
}

func TestParseRateAndAge(t *testing.T) {
	t.Parallel()
	rates := map[string]float64{"10": 10, "10/s": 10, "600/m": 10, "0.5": 0.5, "7200/h": 2}
	for in, want := range rates {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v, nil", in, got, err, want)
		}
	}
	ages := map[string]time.Duration{"7d": 7 * 24 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute}
	for in, want := range ages {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v, nil", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1h", "0s", "0d", "d", "1.5d"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		12 * time.Second: "12s", 4*time.Minute + 30*time.Second: "4m30s", 5*time.Hour + 12*time.Minute: "5h12m",
		76 * time.Hour: "3d4h", -time.Minute: "0s",
	} {
		if got := humanAge(now, now.Add(-d)); got != want {
			t.Errorf("humanAge(%s) = %q; want %q", d, got, want)
		}
	}
	if got := humanAge(now, time.Time{}); got != "-" {
		t.Errorf("humanAge(unknown) = %q; want -", got)
	}
}

// TestDLQCommands drives `stsorgsync dlq` through run against a real broker: list, export, dry
// run, a replay that fails for an unroutable event (exit 1, event kept), and filtered replays.
func TestDLQCommands(t *testing.T) {
	t.Parallel()
	broker := testenv.AMQP(t)
	conn, err := amqp.Dial(broker.URL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.DeclareTopology(ch, consumer.Config{URL: broker.URL}); err != nil {
		t.Fatalf("DeclareTopology: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	a, b, p := uuid.New(), uuid.New(), uuid.New()
	seeds := []struct {
		key   string
		id    uuid.UUID
		class string
		age   time.Duration
	}{
		{"org_unit", a, "permanent", 2 * time.Hour},
		{"org_unit", b, "retries-exhausted", 5 * time.Minute},
		{"related_unit", p, "permanent", time.Hour}, // an OS2MO type no queue is bound for: unroutable
	}
	for _, s := range seeds {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "stsorgsync.dlx", s.key, false, false, amqp.Publishing{
			Headers: amqp.Table{
				consumer.HeaderError: "STS status 40", consumer.HeaderErrorClass: s.class, consumer.HeaderAttempts: int64(1),
				consumer.HeaderFailedAt:           time.Now().Add(-s.age).UTC().Format(time.RFC3339Nano),
				consumer.HeaderOriginalRoutingKey: s.key, consumer.HeaderOriginalExchange: "os2mo",
			},
			DeliveryMode: amqp.Persistent, MessageId: uuid.NewString(), Body: []byte(`"` + s.id.String() + `"`),
		})
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("seed confirm: %v %v", ok, err)
		}
	}
	env := validEnv()
	env["AMQP_URL"] = broker.URL
	dlq := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"dlq"}, args...), getenvOf(env), &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), "guest:guest") {
			t.Errorf("dlq %v printed the broker password", args)
		}
		return code, stdout.String(), stderr.String()
	}
	depth := func(queue string) int {
		t.Helper()
		c, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		q, err := c.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			t.Fatalf("passive declare %s: %v", queue, err)
		}
		return q.Messages
	}
	expectDepths := func(step string, dlqWant, workWant int) {
		t.Helper()
		if d, w := depth("stsorgsync.dlq"), depth("stsorgsync"); d != dlqWant || w != workWant {
			t.Errorf("after %s: DLQ holds %d and the work queue %d; want %d and %d", step, d, w, dlqWant, workWant)
		}
	}

	code, out, errOut := dlq("list")
	if code != exitOK {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"stsorgsync.dlq: 3 messages", "CLASS", "permanent          org_unit      1      2h00m   2h00m",
		"permanent          related_unit  1      1h00m   1h00m", "retries-exhausted  org_unit      1      5m00s   5m00s"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	expectDepths("list", 3, 0)

	file := filepath.Join(t.TempDir(), "dlq.jsonl")
	if code, _, errOut := dlq("export", "--out", file); code != exitOK || !strings.Contains(errOut, `"msg":"dlq export done; the messages stay in the queue"`) || !strings.Contains(errOut, `"messages":3`) {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	objects := map[string]string{}
	for _, line := range lines {
		var m consumer.ExportedMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		objects[m.Object] = m.RoutingKey
	}
	if len(lines) != 3 || objects[a.String()] != "org_unit" || objects[p.String()] != "related_unit" {
		t.Errorf("export has %d lines with objects %v", len(lines), objects)
	}
	if code, out, _ := dlq("export"); code != exitOK || strings.Count(out, "\n") != 3 {
		t.Errorf("export to stdout: exit %d, output:\n%s", code, out)
	}
	expectDepths("export", 3, 0)

	code, out, _ = dlq("replay", "--dry-run")
	if code != exitOK || strings.Count(out, "would replay ") != 3 || !strings.Contains(out, "nothing was changed") {
		t.Errorf("dry run: exit %d, output:\n%s", code, out)
	}
	expectDepths("dry run", 3, 0)

	code, out, errOut = dlq("replay", "--routing-key", "related_unit")
	if code != exitFailure || !strings.Contains(out, "FAILED  related_unit "+p.String()) || !strings.Contains(errOut, "1 of 1 matching event could not be replayed") {
		t.Errorf("unroutable replay: exit %d, output:\n%s\n%s", code, out, errOut)
	}
	expectDepths("unroutable replay", 3, 0)

	code, out, errOut = dlq("replay", "--class", "permanent", "--routing-key", "org_unit", "--older-than", "1h", "--force", "--rate", "100/s")
	if code != exitOK || !strings.Contains(out, "replayed org_unit "+a.String()) || !strings.Contains(out, "replayed 1, failed 0, skipped 2") {
		t.Errorf("filtered replay: exit %d, output:\n%s\n%s", code, out, errOut)
	}
	expectDepths("filtered replay", 2, 1)
	got, ok, err := ch.Get("stsorgsync", true)
	if err != nil || !ok {
		t.Fatalf("get replayed event: %v %v", ok, err)
	}
	if string(got.Body) != `"`+a.String()+`"` || got.RoutingKey != "org_unit" || got.Headers[consumer.HeaderForce] != true || got.Headers[consumer.HeaderReplayed] != int64(1) {
		t.Errorf("replayed event: key %q body %q headers %v", got.RoutingKey, got.Body, got.Headers)
	}

	code, out, _ = dlq("replay")
	if code != exitFailure || !strings.Contains(out, "matched 2, replayed 1, failed 1, skipped 0") {
		t.Errorf("replay of the rest: exit %d, output:\n%s", code, out)
	}
	expectDepths("replay of the rest", 1, 1)

	code, out, _ = dlq("replay", "--object", b.String())
	if code != exitOK || !strings.Contains(out, "matched 0, replayed 0") {
		t.Errorf("replay of an object no longer there: exit %d, output:\n%s", code, out)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"dlq", "list"}, getenvOf(env), &stdout, &stderr); code != exitFailure {
		t.Errorf("list with a cancelled context: exit %d; want %d\n%s", code, exitFailure, stderr.String())
	}
	expectDepths("cancelled list", 1, 1)
}
