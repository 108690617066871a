package state_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/state"
)

// TestNewClientTopology: the settings choose the client, and contradictions are refused.
func TestNewClientTopology(t *testing.T) {
	tests := []struct {
		name    string
		cfg     state.RedisConfig
		want    string // %T of the client, or "" for an error
		wantErr string
	}{
		{"single", state.RedisConfig{URL: "redis://127.0.0.1:1/2"}, "*redis.Client", ""},
		{"sentinel", state.RedisConfig{URL: "redis://:pw@/3", SentinelAddrs: []string{"127.0.0.1:1"}, SentinelMaster: "m"}, "*redis.Client", ""},
		{"cluster", state.RedisConfig{URL: "redis:///0", ClusterAddrs: []string{"127.0.0.1:1"}}, "*redis.ClusterClient", ""},
		{"cluster with a database", state.RedisConfig{URL: "redis:///1", ClusterAddrs: []string{"127.0.0.1:1"}}, "", "database 1"},
		{"sentinel without master", state.RedisConfig{URL: "redis:///0", SentinelAddrs: []string{"127.0.0.1:1"}}, "", "master's name"},
		{"master without sentinels", state.RedisConfig{URL: "redis:///0", SentinelMaster: "m"}, "", "without Sentinel addresses"},
		{"sentinel and cluster", state.RedisConfig{URL: "redis:///0", SentinelAddrs: []string{"a:1"}, SentinelMaster: "m", ClusterAddrs: []string{"b:1"}}, "", "Sentinel and Cluster"},
		{"skip_verify", state.RedisConfig{URL: "rediss://:secret@127.0.0.1:1/0?skip_verify=true"}, "", "skip_verify is refused"},
		{"CA without rediss", state.RedisConfig{URL: "redis://127.0.0.1:1/0", RootCAs: x509.NewCertPool()}, "", "not rediss"},
		{"bad URL", state.RedisConfig{URL: "redis://127.0.0.1:1/x"}, "", "invalid database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := state.NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := typeName(c); got != tt.want {
				t.Errorf("client %s, want %s", got, tt.want)
			}
		})
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	}
	return "other"
}

// TestNewClientTLS: rediss to a redis-server that accepts TLS only and requires a client
// certificate (started by the test, with a CA it generated): the CA and the client certificate
// given make it work; the system's roots, another CA, or no client certificate do not.
func TestNewClientTLS(t *testing.T) {
	files := chaosenv.WriteTLSFiles(t)
	srv := chaosenv.StartRedisTLS(t, files)
	pool := func(path string) *x509.CertPool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(b) {
			t.Fatalf("no certificate in %s", path)
		}
		return p
	}
	client, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     state.RedisConfig
		wantErr string
	}{
		{"CA and client certificate", state.RedisConfig{RootCAs: pool(files.CA), Certificates: []tls.Certificate{client}}, ""},
		{"system roots", state.RedisConfig{Certificates: []tls.Certificate{client}}, "certificate signed by unknown authority"},
		{"another CA", state.RedisConfig{RootCAs: pool(files.OtherCA), Certificates: []tls.Certificate{client}}, "certificate signed by unknown authority"},
		{"no client certificate", state.RedisConfig{RootCAs: pool(files.CA)}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL = "rediss://" + srv.Addr() + "/0?max_retries=-1"
			c, err := state.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Ping(t.Context()).Err()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("PING over TLS: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("PING over TLS: err = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.wantErr != "" {
				return
			}
			items := state.Inspect(t.Context(), cfg, c)
			if len(items) != 1 || items[0].Err != nil || !strings.HasPrefix(items[0].Detail, "single server, role master, Redis ") {
				t.Errorf("Inspect = %+v, want one ok item of a single master", items)
			}
		})
	}
}
