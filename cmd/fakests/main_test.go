package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
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
	base := func(mod func(*config)) config {
		c := config{listen: ":8081", clientCVR: "11111111", entityID: ststest.DefaultEntityID}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, nil, base(nil), ""},
		{"env", nil, map[string]string{"FAKESTS_LISTEN": "127.0.0.1:9000", "FAKESTS_LATENCY": "150ms", "FAKESTS_SECURITY": "true",
			"FAKESTS_ERROR_RATE": "0.1", "FAKESTS_OUTAGES": "1m+30s, 5m+1m", "FAKESTS_AGREEMENTS": "11111111=rw,22222222=r"},
			base(func(c *config) {
				c.listen, c.latency, c.security, c.errorRate = "127.0.0.1:9000", 150*time.Millisecond, true, 0.1
				c.outages = []outageSpec{{time.Minute, 30 * time.Second}, {5 * time.Minute, time.Minute}}
				c.agreements = map[string]ststest.Access{"11111111": ststest.AccessReadWrite, "22222222": ststest.AccessRead}
			}), ""},
		{"flags override env", []string{"-listen", ":1", "-latency", "1s", "-latency-tail", "200ms", "-max-concurrent", "4", "-seed", "7",
			"-pki-dir", "/tmp/pki", "-write-client-p12", "/tmp/pki/c.p12", "-client-cvr", "29189846", "-debug"}, map[string]string{"FAKESTS_LISTEN": ":2"},
			base(func(c *config) {
				c.listen, c.latency, c.latencyTail, c.maxConcurrent, c.seed, c.debug = ":1", time.Second, 200*time.Millisecond, 4, 7, true
				c.pkiDir, c.clientP12, c.clientCVR = "/tmp/pki", "/tmp/pki/c.p12", "29189846"
			}), ""},
		{"organisation with the client's CVR", []string{"-organisation", "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11", "-client-cvr", "29189846"}, nil,
			base(func(c *config) {
				c.organisation, c.orgCVR, c.clientCVR = uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), "29189846", "29189846"
			}), ""},
		{"organisation from env with its own CVR", nil, map[string]string{"FAKESTS_ORGANISATION": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
			"FAKESTS_ORGANISATION_CVR": "12345678"},
			base(func(c *config) {
				c.organisation, c.orgCVR = uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), "12345678"
			}), ""},
		{"bad organisation", []string{"-organisation", "kommunen"}, nil, config{}, "-organisation must be a UUID"},
		{"bad organisation CVR", []string{"-organisation", "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11", "-organisation-cvr", "1234"}, nil, config{}, "8 digits"},
		{"organisation CVR alone", []string{"-organisation-cvr", "12345678"}, nil, config{}, "needs -organisation"},
		{"bad env latency", nil, map[string]string{"FAKESTS_LATENCY": "soon"}, config{}, "-latency"},
		{"negative latency", []string{"-latency", "-1s"}, nil, config{}, "non-negative duration"},
		{"bad error rate", []string{"-error-rate", "2"}, nil, config{}, "between 0 and 1"},
		{"bad outage", []string{"-outage", "1m"}, nil, config{}, "START+DURATION"},
		{"bad agreement", []string{"-agreements", "1=x"}, nil, config{}, "CVR=rw"},
		{"bad security", nil, map[string]string{"FAKESTS_SECURITY": "maybe"}, config{}, "true or false"},
		{"p12 without pki dir", []string{"-write-client-p12", "x.p12"}, nil, config{}, "needs -pki-dir"},
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
			if err != nil || !reflect.DeepEqual(got, tt.want) {
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

// TestSecureDemo runs the command with -security, a PKI directory and a client PKCS#12, and
// drives it as the daemon would: credentials from the p12, trust from the written PEM files.
func TestSecureDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	p12 := filepath.Join(dir, "client.p12")
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	env := map[string]string{"FAKESTS_CLIENT_P12_PASSWORD": "demo-secret"}
	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"-listen", "127.0.0.1:0", "-security", "-pki-dir", dir, "-write-client-p12", p12, "-organisation", org.String()},
			func(k string) string { return env[k] }, logs, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("exited with %d: %s", code, logs)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	base := "http://" + addr

	creds, err := stsclient.LoadCredentials(p12, []byte("demo-secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stsCerts, err := stsclient.LoadCertificates(filepath.Join(dir, ststest.FileSTSCert))
	if err != nil {
		t.Fatal(err)
	}
	serviceCerts, err := stsclient.LoadCertificates(filepath.Join(dir, ststest.FileServiceCert))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := stsclient.NewTokenClient(stsclient.TokenConfig{Endpoint: base + stsclient.STSPath,
		EntityID: ststest.DefaultEntityID, Credentials: creds, STSCertificates: stsCerts})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := stsclient.NewTokenSecurity(stsclient.SecurityConfig{Tokens: tokens, CVR: "11111111", ServiceCertificates: serviceCerts})
	if err != nil {
		t.Fatal(err)
	}
	client, err := stsclient.New(stsclient.Config{BaseURL: base, Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(t.Context(), oio.KindBruger, uuid.New()); !errors.Is(err, stsclient.ErrNotFound) {
		t.Fatalf("Read: %v, want ErrNotFound", err)
	}
	// The municipality's Organisation is there from the start, as `stsorgsync check` expects.
	if o, err := client.Read(t.Context(), oio.KindOrganisation, org); err != nil || o.Registration.Egenskaber[0].BrugervendtNoegle != "11111111" {
		t.Errorf("laes organisation: %+v, %v", o, err)
	}
	// An unsecured client is refused.
	plain, _ := stsclient.New(stsclient.Config{BaseURL: base})
	var fe *stsclient.FaultError
	if _, err := plain.Read(t.Context(), oio.KindBruger, uuid.New()); !errors.As(err, &fe) || !fe.Security() {
		t.Errorf("unsecured Read: %v, want a security fault", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d: %s", code, logs)
	}
	if strings.Contains(logs.String(), "demo-secret") {
		t.Error("the password reached the logs")
	}
	for _, want := range []string{`"msg":"client p12 written"`, `"default_password":false`, `"security":true`, `"tokens":1`,
		`"organisation":"3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11 (CVR 11111111)"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}
