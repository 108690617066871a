package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/state"
)

// TestRedisSettings: the Redis settings select the topology, and contradictions are refused
// with the setting to fix named.
func TestRedisSettings(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		topology string
		wantErr  []string
	}{
		{"default", nil, state.TopologySingle, nil},
		{"sentinel", map[string]string{"REDIS_URL": "rediss://:pw@/2", "REDIS_SENTINEL_ADDRS": "s0:26379, s1:26379,s0:26379", "REDIS_SENTINEL_MASTER": "mymaster", "REDIS_SENTINEL_PASSWORD": "spw", "REDIS_CA_FILE": "/ca.pem"}, state.TopologySentinel, nil},
		{"cluster", map[string]string{"REDIS_URL": "redis://:pw@/0", "REDIS_CLUSTER_ADDRS": "r0:6379,r1:6379"}, state.TopologyCluster, nil},
		{"sentinel without master", map[string]string{"REDIS_SENTINEL_ADDRS": "s0:26379"}, "", []string{"REDIS_SENTINEL_MASTER is required"}},
		{"master without sentinels", map[string]string{"REDIS_SENTINEL_MASTER": "m"}, "", []string{"REDIS_SENTINEL_MASTER is set without REDIS_SENTINEL_ADDRS"}},
		{"sentinel password alone", map[string]string{"REDIS_SENTINEL_PASSWORD": "x"}, "", []string{"REDIS_SENTINEL_PASSWORD is set without"}},
		{"sentinel and cluster", map[string]string{"REDIS_SENTINEL_ADDRS": "s0:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER_ADDRS": "r0:6379"}, "", []string{"exclude each other"}},
		{"no host, no sentinels", map[string]string{"REDIS_URL": "redis:///0"}, "", []string{"REDIS_URL has no host"}},
		{"address without port", map[string]string{"REDIS_CLUSTER_ADDRS": "r0"}, "", []string{"REDIS_CLUSTER_ADDRS: expected comma-separated host:port"}},
		{"cluster prefix with a hash tag", map[string]string{"REDIS_CLUSTER_ADDRS": "r0:6379", "REDIS_KEY_PREFIX": "sts{x}:"}, "", []string{"REDIS_KEY_PREFIX", "choose a prefix without braces"}},
		{"CA with redis://", map[string]string{"REDIS_CA_FILE": "/ca.pem"}, "", []string{"REDIS_CA_FILE is set but REDIS_URL is redis://"}},
		{"certificate without key", map[string]string{"REDIS_URL": "rediss://r:6380/0", "REDIS_CERT_FILE": "/c.pem"}, "", []string{"REDIS_CERT_FILE and REDIS_KEY_FILE go together"}},
		{"skip_verify", map[string]string{"REDIS_URL": "rediss://:hunter2@r:6380/0?skip_verify=true"}, "", []string{"REDIS_URL: skip_verify is refused"}},
		{"other scheme", map[string]string{"REDIS_URL": "http://r:6379"}, "", []string{"REDIS_URL: expected a URL with scheme redis or rediss"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(getenvOf(env), "")
			if err == nil {
				err = cfg.Validate()
			}
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("accepted, want an error with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc := state.RedisConfig{URL: cfg.RedisURL, SentinelAddrs: cfg.RedisSentinelAddrs, SentinelMaster: cfg.RedisSentinelMaster, ClusterAddrs: cfg.RedisClusterAddrs}
			if rc.Topology() != tt.topology {
				t.Errorf("topology %s, want %s", rc.Topology(), tt.topology)
			}
			if tt.topology == state.TopologySentinel && (!slices.Equal(cfg.RedisSentinelAddrs, []string{"s0:26379", "s1:26379"}) || cfg.RedisSentinelPassword != "spw") {
				t.Errorf("Sentinel settings %v %q", cfg.RedisSentinelAddrs, cfg.RedisSentinelPassword)
			}
		})
	}
}

// TestRedisTLS: `check` against a redis-server that speaks TLS only and requires a client
// certificate (started by the test with a CA of its own) reports it with REDIS_CA_FILE and the
// client certificate; an unreadable or wrong file is a configuration fault (exit 2) naming the
// setting, for every command that opens Redis.
func TestRedisTLS(t *testing.T) {
	files := chaosenv.WriteTLSFiles(t)
	srv := chaosenv.StartRedisTLS(t, files)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := validEnv()
	for k, v := range map[string]string{
		"STS_SECURITY": "false", "REDIS_URL": "rediss://" + srv.Addr() + "/0", "REDIS_CA_FILE": files.CA,
		"REDIS_CERT_FILE": files.ClientCert, "REDIS_KEY_FILE": files.ClientKey,
		// Nothing listens there: the other dependencies fail quickly; only Redis is looked at.
		"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/", "MO_URL": "http://127.0.0.1:1", "MO_AUTH_SERVER": "http://127.0.0.1:1/auth",
		"STS_BASE_URL": "http://127.0.0.1:1", "HTTP_LISTEN": "127.0.0.1:0",
	} {
		base[k] = v
	}
	t.Run("check", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"check"}, getenvOf(base), &stdout, &stderr)
		out := stdout.String()
		if code != exitFailure {
			t.Errorf("check exited %d, want %d (RabbitMQ, OS2MO and STS are not there)", code, exitFailure)
		}
		want := regexp.MustCompile(`(?m)^Redis rediss://` + regexp.QuoteMeta(srv.Addr()) + `/0: ok \(single server, role master, Redis [0-9.]+\)$`)
		if !want.MatchString(out) || !strings.Contains(out, "Redis (single): ok\n") {
			t.Errorf("check does not report the TLS Redis as ok:\n%s%s", out, stderr.String())
		}
	})
	tests := []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{"CA missing", map[string]string{"REDIS_CA_FILE": filepath.Join(t.TempDir(), "missing.pem")}, []string{"REDIS_CA_FILE", "no such file"}},
		{"CA not PEM", map[string]string{"REDIS_CA_FILE": notPEM}, []string{"REDIS_CA_FILE", "no PEM certificates"}},
		{"client certificate not PEM", map[string]string{"REDIS_CERT_FILE": notPEM}, []string{"REDIS_CERT_FILE", "REDIS_KEY_FILE"}},
		{"key of another certificate", map[string]string{"REDIS_KEY_FILE": files.ServerKey}, []string{"REDIS_CERT_FILE", "private key does not match"}},
		{"cluster with a database", map[string]string{"REDIS_URL": "redis:///1", "REDIS_CA_FILE": "", "REDIS_CERT_FILE": "", "REDIS_KEY_FILE": "", "REDIS_CLUSTER_ADDRS": "127.0.0.1:1"}, []string{"REDIS_URL", "database 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			for _, command := range []string{"check", "sync", "verify"} {
				report, _, _ := configFault(t, command, env)
				for _, w := range tt.want {
					if !strings.Contains(report, w) {
						t.Errorf("%s: report does not mention %q:\n%s", command, w, report)
					}
				}
			}
		})
	}
}

// configFault runs command with env and returns the report of its configuration fault (what
// follows "stsorgsync: invalid configuration:" on stderr) and its whole output; the test fails
// unless it exits exitConfig with such a report.
func configFault(t *testing.T, command string, env map[string]string) (report, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{command}, getenvOf(env), &out, &errOut)
	if code != exitConfig {
		t.Errorf("%s: exit code %d, want %d; stderr:\n%s", command, code, exitConfig, errOut.String())
	}
	_, report, ok := strings.Cut(errOut.String(), "stsorgsync: invalid configuration:\n")
	if !ok {
		t.Errorf("%s: no configuration report on stderr:\n%s", command, errOut.String())
	}
	return report, out.String(), errOut.String()
}
