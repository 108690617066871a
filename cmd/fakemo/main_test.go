package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, nil, config{listen: ":5000", units: 20, seed: 1, clientID: "dipex", clientSecret: "603f1c82-d012-4d04-9382-dbe659c533fb"}, ""},
		{"env", nil, map[string]string{"FAKEMO_LISTEN": ":6000", "FAKEMO_CLIENT_ID": "a", "FAKEMO_CLIENT_SECRET": "b", "FAKEMO_AMQP_URL": "amqp://x"},
			config{listen: ":6000", units: 20, seed: 1, clientID: "a", clientSecret: "b", amqpURL: "amqp://x"}, ""},
		{"flags beat env", []string{"-listen", ":7000", "-units", "5", "-seed", "9", "-amqp-url", "amqp://y", "-publish-seed"}, map[string]string{"FAKEMO_LISTEN": ":6000"},
			config{listen: ":7000", units: 5, seed: 9, clientID: "dipex", clientSecret: "603f1c82-d012-4d04-9382-dbe659c533fb", amqpURL: "amqp://y", publishSeed: true}, ""},
		{"persons and event options", []string{"-persons", "45000", "-legacy-events", "-duplicate-events", "0.1", "-event-delay", "90s"}, nil,
			config{listen: ":5000", units: 20, persons: 45000, seed: 1, clientID: "dipex", clientSecret: "603f1c82-d012-4d04-9382-dbe659c533fb",
				legacyEvents: true, duplicateEvents: 0.1, eventDelay: 90 * time.Second}, ""},
		{"zero units", []string{"-units", "0"}, nil, config{}, "-units"},
		{"negative persons", []string{"-persons", "-1"}, nil, config{}, "-persons"},
		{"duplicate probability above 1", []string{"-duplicate-events", "1.5"}, nil, config{}, "-duplicate-events"},
		{"negative delay", []string{"-event-delay", "-1s"}, nil, config{}, "-event-delay"},
		{"publish without broker", []string{"-publish-seed"}, nil, config{}, "-amqp-url"},
		{"stray argument", []string{"extra"}, nil, config{}, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's logging goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startFakemo runs the command on a free port and returns its base URL, its logs and an
// idempotent stop function that returns the exit code.
func startFakemo(t testing.TB, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	codec := make(chan int, 1)
	logs := &syncBuffer{}
	go func() {
		codec <- runWith(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), func(string) string { return "" }, logs, func(a net.Addr) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		return "http://" + a.String(), logs, sync.OnceValue(func() int { cancel(); return <-codec })
	case code := <-codec:
		cancel()
		t.Fatalf("fakemo exited with %d before listening: %s", code, logs.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("fakemo did not start")
	}
	return "", nil, nil
}

func TestServeAndShutdown(t *testing.T) {
	base, logs, stop := startFakemo(t, "-units", "7", "-seed", "3")
	c, err := moclient.New(moclient.Config{URL: base, AuthServer: base + "/auth", ClientID: "dipex", ClientSecret: "603f1c82-d012-4d04-9382-dbe659c533fb"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping against fakemo: %v", err)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d, logs: %s", code, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"fakemo listening"`) || !strings.Contains(logs.String(), `"units":7`) {
		t.Errorf("logs are not the expected JSON: %s", logs.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answering after shutdown")
	}
}

// TestPublishSeed: -publish-seed publishes one org_unit event per unit and one person event per
// person, each body a quoted UUID, on an isolated vhost of the real broker.
func TestPublishSeed(t *testing.T) {
	broker := testenv.AMQP(t)
	conn, err := amqp.Dial(broker.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("os2mo", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"org_unit", "person"} {
		if err := ch.QueueBind(q.Name, key, "os2mo", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, logs, stop := startFakemo(t, "-units", "4", "-persons", "3", "-seed", "11", "-amqp-url", broker.URL, "-publish-seed")
	defer stop()
	got := map[string]map[string]bool{"org_unit": {}, "person": {}}
	deadline := time.After(5 * time.Second)
	for len(got["org_unit"]) < 4 || len(got["person"]) < 3 {
		select {
		case d := <-deliveries:
			id := strings.Trim(string(d.Body), `"`)
			if _, err := uuid.Parse(id); err != nil || len(d.Body) != 38 {
				t.Fatalf("body %q is not a quoted UUID", d.Body)
			}
			got[d.RoutingKey][id] = true
		case <-deadline:
			t.Fatalf("got %v of 4 unit and 3 person seed events; logs: %s", got, logs.String())
		}
	}
	for strings.Count(logs.String(), `"msg":"published seed events"`) < 2 {
		select {
		case <-deadline:
			t.Fatalf("no 'published seed events' logs; logs: %s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d; logs: %s", code, logs.String())
	}
}
