package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, nil, config{listen: ":8081"}, ""},
		{"env", nil, map[string]string{"FAKESTS_LISTEN": "127.0.0.1:9000", "FAKESTS_LATENCY": "150ms"}, config{listen: "127.0.0.1:9000", latency: 150 * time.Millisecond}, ""},
		{"flags override env", []string{"-listen", ":1", "-latency", "1s", "-debug"}, map[string]string{"FAKESTS_LISTEN": ":2"}, config{listen: ":1", latency: time.Second, debug: true}, ""},
		{"bad env latency", nil, map[string]string{"FAKESTS_LATENCY": "soon"}, config{}, "FAKESTS_LATENCY"},
		{"negative latency", []string{"-latency", "-1s"}, nil, config{}, "must not be negative"},
		{"extra args", []string{"x"}, nil, config{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestServeAndShutdown starts the command on a free port, drives it with the client, and stops
// it through the context as SIGTERM would.
func TestServeAndShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"-listen", "127.0.0.1:0"}, func(string) string { return "" }, logs,
			func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("exited with %d: %s", code, logs)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	base := "http://" + addr

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	client, err := stsclient.New(stsclient.Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(t.Context(), oio.KindBruger, uuid.New()); !strings.Contains(err.Error(), "StatusKode 44") {
		t.Fatalf("Read: %v, want StatusKode 44", err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	for _, want := range []string{`"msg":"fakests listening"`, `"msg":"fakests stopped"`, `"calls":1`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestListenFailure(t *testing.T) {
	if code := runWith(t.Context(), []string{"-listen", "256.0.0.1:0"}, func(string) string { return "" }, io.Discard, nil); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if code := runWith(t.Context(), []string{"-nope"}, func(string) string { return "" }, io.Discard, nil); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
}
