package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

// TestAMQPURLList: AMQP_URL takes a cluster's node URLs; a bad entry is named by its position
// under AMQP_URL, without the password.
func TestAMQPURLList(t *testing.T) {
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{"one", "amqp://u:hunter2@rabbit:5672/vh", ""},
		{"three", "amqps://u:hunter2@r0:5671/vh,amqps://u:hunter2@r1:5671/vh,amqps://u:hunter2@r2:5671/vh", ""},
		{"mixed", "amqps://u:hunter2@r0/vh,amqp://u:hunter2@r1/vh", "AMQP_URL: entry 2 of 2: amqp://"},
		{"not amqp", "amqp://u:hunter2@r0/vh,redis://u:hunter2@r1/vh", "AMQP_URL: entry 2 of 2: expected a URL with scheme amqp or amqps, got scheme \"redis\""},
		{"empty entry", "amqp://u:hunter2@r0/vh,", "AMQP_URL: entry 2 of 2: empty"},
		{"bad port", "amqp://u:hunter2@r0/vh,amqp://u:hunter2@r1:x/vh", "AMQP_URL: entry 2 of 2: expected a URL with scheme amqp or amqps such as"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["AMQP_URL"] = tt.url
			cfg, err := loadConfig(getenvOf(env), "")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.AMQPURL != tt.url {
					t.Errorf("AMQPURL = %q", cfg.AMQPURL)
				}
				if r := redactURLs(cfg.AMQPURL); strings.Contains(r, "hunter2") || strings.Count(r, "u:xxxxx@") != strings.Count(tt.url, ",")+1 {
					t.Errorf("redactURLs = %q", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestAMQPTLSSettingErrors: the TLS settings need amqps:// and a certificate its key; files that
// cannot be used stop every command that talks to RabbitMQ with exit 2 and a report naming the
// setting (the path of the other certificate faults).
func TestAMQPTLSSettingErrors(t *testing.T) {
	files := chaosenv.WriteTLSFiles(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	const tlsURL = "amqps://guest:hunter2@127.0.0.1:1/,amqps://guest:hunter2@127.0.0.2:1/"
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"CA with amqp://", map[string]string{"AMQP_URL": "amqp://guest:hunter2@127.0.0.1:1/", "AMQP_CA_FILE": files.CA},
			[]string{"AMQP_CA_FILE is set but AMQP_URL is amqp://"}},
		{"certificate without key", map[string]string{"AMQP_URL": tlsURL, "AMQP_CERT_FILE": files.ClientCert},
			[]string{"AMQP_CERT_FILE and AMQP_KEY_FILE go together"}},
		{"CA missing", map[string]string{"AMQP_URL": tlsURL, "AMQP_CA_FILE": filepath.Join(dir, "missing.pem")},
			[]string{"AMQP_CA_FILE", "missing.pem"}},
		{"CA not PEM", map[string]string{"AMQP_URL": tlsURL, "AMQP_CA_FILE": notPEM}, []string{"AMQP_CA_FILE", "no PEM certificates"}},
		{"key of another certificate", map[string]string{"AMQP_URL": tlsURL, "AMQP_CERT_FILE": files.ClientCert, "AMQP_KEY_FILE": files.ServerKey},
			[]string{"AMQP_CERT_FILE", "AMQP_KEY_FILE", "does not match"}},
		{"certificate not PEM", map[string]string{"AMQP_URL": tlsURL, "AMQP_CERT_FILE": notPEM, "AMQP_KEY_FILE": files.ClientKey},
			[]string{"AMQP_CERT_FILE", "AMQP_KEY_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["STS_SECURITY"] = "false"
			env["HTTP_LISTEN"] = "127.0.0.1:0"
			for k, v := range tt.env {
				env[k] = v
			}
			for _, args := range [][]string{{"check"}, {"run"}, {"sync"}, {"verify"}, {"dlq", "list"}, {"audit"}} {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, getenvOf(env), &stdout, &stderr)
				if code != exitConfig {
					t.Errorf("%s: exit code %d, want %d; stderr:\n%s", args[0], code, exitConfig, stderr.String())
				}
				report := stderr.String()
				if !strings.Contains(report, "invalid configuration") {
					t.Errorf("%s: no configuration report:\n%s", args[0], report)
				}
				for _, w := range tt.want {
					if !strings.Contains(report, w) {
						t.Errorf("%s: report does not mention %q:\n%s", args[0], w, report)
					}
				}
				if strings.Contains(report+stdout.String(), "hunter2") {
					t.Errorf("%s: the password was printed", args[0])
				}
			}
		})
	}
}

// TestAMQPTLS: against a RabbitMQ node of the test's own with an amqps listener that requires a
// client certificate (certificates from a CA made by the test): the right CA and a client
// certificate connect; another CA, the system's roots, or no client certificate are refused.
func TestAMQPTLS(t *testing.T) {
	files := chaosenv.WriteTLSFiles(t)
	b := chaosenv.StartBrokerWith(t, chaosenv.BrokerOptions{TLS: &files, RequireClientCert: true})
	url := b.TLSURL("/")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name            string
		ca, cert, key   string
		wantErrContains []string // nil: connects; else the error contains one of them
	}{
		{"right CA and a client certificate", files.CA, files.ClientCert, files.ClientKey, nil},
		{"another CA", files.OtherCA, files.ClientCert, files.ClientKey, []string{"certificate signed by unknown authority"}},
		{"the system's roots", "", files.ClientCert, files.ClientKey, []string{"certificate signed by unknown authority"}},
		// With TLS 1.3 the server refuses after the client's handshake is done: the client sees
		// the alert, or the reset, on its first AMQP read or write.
		{"no client certificate", files.CA, "", "", []string{"certificate required", "connection reset by peer", "broken pipe", "EOF", "connection is not open", "use of closed network connection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{AMQPURL: url, AMQPCAFile: tt.ca, AMQPCertFile: tt.cert, AMQPKeyFile: tt.key}
			d, _, err := amqpDialer(cfg, logger)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			conn, addr, err := d.Dial(ctx, "stsorgsync TLS test")
			if tt.wantErrContains == nil {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer conn.Close()
				if want := fmt.Sprintf("127.0.0.1:%d", b.TLSPort); addr != want {
					t.Errorf("connected to %s, want %s", addr, want)
				}
				ch, err := conn.Channel()
				if err != nil {
					t.Fatal(err)
				}
				_ = ch.Close()
				return
			}
			if err == nil {
				_ = conn.Close()
				t.Fatal("Dial succeeded, want it refused")
			}
			if !slices.ContainsFunc(tt.wantErrContains, func(w string) bool { return strings.Contains(err.Error(), w) }) {
				t.Errorf("error = %v, want one containing one of %q", err, tt.wantErrContains)
			}
		})
	}
}

// TestCheckAMQPNodes: `check` reports each node of a cluster on its own line; the cluster is ok
// while one node takes connections, and the nodes that are down are named.
func TestCheckAMQPNodes(t *testing.T) {
	broker := testenv.AMQP(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	_ = ln.Close()
	dead := strings.Replace(broker.URL, "127.0.0.1:5672", deadAddr, 1)
	if dead == broker.URL {
		t.Skipf("TEST_AMQP_URL %s is not on 127.0.0.1:5672", redactURL(broker.URL))
	}
	tests := []struct {
		name      string
		urls      string
		wantErr   bool
		wantLines []string
	}{
		{"one node up", broker.URL, false, nil},
		{"one node down", dead, true, nil},
		{"one of two down", broker.URL + "," + dead, false, []string{
			"RabbitMQ node 127.0.0.1:5672 (1 of 2): ok\n",
			"RabbitMQ node " + deadAddr + " (2 of 2): down: connect: ",
			"RabbitMQ cluster: 1 of 2 nodes take connections; down: " + deadAddr + "\n",
		}},
		{"both down", dead + "," + dead, true, []string{"(1 of 2): down", "(2 of 2): down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := amqpdial.New(amqpdial.Config{URLs: tt.urls, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = checkAMQP(t.Context(), d, &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkAMQP error = %v, want error %v; output:\n%s", err, tt.wantErr, out.String())
			}
			for _, l := range tt.wantLines {
				if !strings.Contains(out.String(), l) {
					t.Errorf("output lacks %q:\n%s", l, out.String())
				}
			}
			if tt.wantLines == nil && out.Len() != 0 {
				t.Errorf("one node: want no per-node lines, got:\n%s", out.String())
			}
			if strings.Contains(out.String(), "guest:guest") {
				t.Errorf("output shows credentials:\n%s", out.String())
			}
		})
	}
}
