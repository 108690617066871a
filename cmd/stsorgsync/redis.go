package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/state"
)

// redisURL parses REDIS_URL: redis:// or rediss://, with a host unless the Sentinels or the
// Cluster seeds give the addresses (Config.validateRedis), and without skip_verify.
func redisURL(c *Config, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return fmt.Errorf("expected a URL with scheme redis or rediss, e.g. redis://:password@redis:6379/0, got %q", redactURL(v))
	}
	if u.Query().Has("skip_verify") {
		return errors.New("skip_verify is refused: TLS to Redis is always verified; give the CA that signed the server's certificate in REDIS_CA_FILE")
	}
	c.RedisURL = v
	return nil
}

// hostPorts parses a comma-separated list of host:port (REDIS_SENTINEL_ADDRS,
// REDIS_CLUSTER_ADDRS), dropping repeats.
func hostPorts(dst func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		items, err := listItems(v)
		if err != nil {
			return err
		}
		for _, it := range items {
			host, port, err := net.SplitHostPort(it)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				return fmt.Errorf("expected comma-separated host:port such as redis-0:26379,redis-1:26379, got %q", it)
			}
		}
		*dst(c) = items
		return nil
	}
}

// validateRedis checks the combination of the Redis settings.
func (c Config) validateRedis() error {
	var errs []error
	u, _ := url.Parse(c.RedisURL) // parsed by redisURL already
	sentinel, cluster := len(c.RedisSentinelAddrs) > 0, len(c.RedisClusterAddrs) > 0
	switch {
	case sentinel && cluster:
		errs = append(errs, errors.New("REDIS_SENTINEL_ADDRS and REDIS_CLUSTER_ADDRS exclude each other: give the Sentinels of a master, or the nodes of a Cluster"))
	case sentinel && c.RedisSentinelMaster == "":
		errs = append(errs, errors.New("REDIS_SENTINEL_MASTER is required with REDIS_SENTINEL_ADDRS: the name the Sentinels monitor the master by"))
	case !sentinel && c.RedisSentinelMaster != "":
		errs = append(errs, errors.New("REDIS_SENTINEL_MASTER is set without REDIS_SENTINEL_ADDRS: give the Sentinels' addresses too"))
	case !sentinel && c.RedisSentinelPassword != "":
		errs = append(errs, errors.New("REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINEL_ADDRS"))
	case !sentinel && !cluster && u != nil && u.Host == "":
		errs = append(errs, errors.New("REDIS_URL has no host: give one, or REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS"))
	}
	if cluster && strings.ContainsAny(c.RedisKeyPrefix, "{}") {
		errs = append(errs, fmt.Errorf("REDIS_KEY_PREFIX %q contains { or }, which a Redis Cluster (REDIS_CLUSTER_ADDRS) takes for the hash tag of every key: choose a prefix without braces, such as the default stsorgsync", c.RedisKeyPrefix))
	}
	if (c.RedisCertFile == "") != (c.RedisKeyFile == "") {
		errs = append(errs, errors.New("REDIS_CERT_FILE and REDIS_KEY_FILE go together: set both (a client certificate and its key) or neither"))
	}
	if u != nil && u.Scheme != "rediss" {
		for _, s := range []struct{ name, value string }{{"REDIS_CA_FILE", c.RedisCAFile}, {"REDIS_CERT_FILE", c.RedisCertFile}, {"REDIS_KEY_FILE", c.RedisKeyFile}} {
			if s.value != "" {
				errs = append(errs, fmt.Errorf("%s is set but REDIS_URL is redis://: TLS settings apply to rediss:// only (use rediss:// and the server's TLS port, or unset %s)", s.name, s.name))
			}
		}
	}
	return errors.Join(errs...)
}

// redisConfig returns the state.RedisConfig of cfg, with REDIS_CA_FILE and the client
// certificate read. A file that cannot be read or does not hold what it should is a configError
// naming the setting.
func redisConfig(cfg Config) (state.RedisConfig, error) {
	rc := state.RedisConfig{
		URL:              cfg.RedisURL,
		SentinelAddrs:    cfg.RedisSentinelAddrs,
		SentinelMaster:   cfg.RedisSentinelMaster,
		SentinelPassword: cfg.RedisSentinelPassword,
		ClusterAddrs:     cfg.RedisClusterAddrs,
	}
	var err error
	rc.RootCAs, rc.Certificates, err = clientTLSFiles(
		fileSetting{"REDIS_CA_FILE", cfg.RedisCAFile}, fileSetting{"REDIS_CERT_FILE", cfg.RedisCertFile}, fileSetting{"REDIS_KEY_FILE", cfg.RedisKeyFile})
	return rc, err
}

// newRedisClient builds the process's one Redis client (state.NewClient) from cfg; a fault in
// the settings is a configError.
func newRedisClient(cfg Config) (redis.UniversalClient, state.RedisConfig, error) {
	rc, err := redisConfig(cfg)
	if err != nil {
		return nil, rc, err
	}
	client, err := state.NewClient(rc)
	if err != nil {
		return nil, rc, configError{fmt.Errorf("REDIS_URL: %w", err)}
	}
	return client, rc, nil
}

// replicaAcks is state.RedisOptions.ReplicaAcks for rc: 1 for Sentinel (a failover promotes a
// replica), 0 otherwise (one server has no replica to promote; a Cluster's failover is not
// covered, see README).
func replicaAcks(rc state.RedisConfig) int {
	if rc.Topology() == state.TopologySentinel {
		return 1
	}
	return 0
}

// redisDescription names the Redis a process uses, for its start log line.
func redisDescription(rc state.RedisConfig) string {
	switch rc.Topology() {
	case state.TopologySentinel:
		return "Sentinel master " + rc.SentinelMaster + " via " + strings.Join(rc.SentinelAddrs, ",")
	case state.TopologyCluster:
		return "Cluster via " + strings.Join(rc.ClusterAddrs, ",")
	}
	return redactURL(rc.URL)
}

// checkRedis prints one line per item of the Redis topology found (state.Inspect): a server,
// Sentinel, replica or Cluster node, `name: ok (what was found)` or `name: FAILED: why`; it fails
// if any item is not as it should be, or the store does not answer.
func checkRedis(ctx context.Context, d *deps, out io.Writer) error {
	var failed []string
	for _, it := range state.Inspect(ctx, d.redisCfg, d.redis) {
		if it.Err != nil {
			fmt.Fprintf(out, "%s: FAILED: %v\n", it.Name, it.Err)
			failed = append(failed, it.Name)
			continue
		}
		fmt.Fprintf(out, "%s: ok (%s)\n", it.Name, it.Detail)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return d.store.Ping(ctx)
}
