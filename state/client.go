package state

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// Topologies of Redis a client can be built for (RedisConfig.Topology).
const (
	TopologySingle   = "single"
	TopologySentinel = "sentinel"
	TopologyCluster  = "cluster"
)

// RedisConfig says how to reach Redis: one server, a master watched by Sentinels, or a Cluster.
//
// URL (redis:// or rediss://) always gives the scheme (rediss: TLS), the user, the password and
// the database of the data nodes, and go-redis's query options (dial_timeout, pool_size, …);
// with SentinelAddrs or ClusterAddrs its host is not contacted (it may be left out:
// rediss://:password@/0). With TLS the Sentinels are reached over TLS too, with the same CA
// and client certificate, and each node's certificate is checked against the address dialled.
type RedisConfig struct {
	URL string
	// SentinelAddrs (host:port) and SentinelMaster (the name the Sentinels monitor the master
	// by) select Sentinel; SentinelPassword authenticates to the Sentinels (requirepass of
	// sentinel.conf), not to the data nodes.
	SentinelAddrs    []string
	SentinelMaster   string
	SentinelPassword string
	// ClusterAddrs are seed nodes (host:port) of a Redis Cluster; the database must be 0.
	ClusterAddrs []string
	// RootCAs, when not nil, replace the system's roots for rediss; Certificates are the client
	// certificate presented (mutual TLS). Both are refused without rediss.
	RootCAs      *x509.CertPool
	Certificates []tls.Certificate
}

// Topology returns TopologySingle, TopologySentinel or TopologyCluster.
func (c RedisConfig) Topology() string {
	switch {
	case len(c.ClusterAddrs) > 0:
		return TopologyCluster
	case len(c.SentinelAddrs) > 0:
		return TopologySentinel
	}
	return TopologySingle
}

// NewClient builds the one Redis client of a process for cfg: a *redis.Client for one server
// (everything URL says), a failover client that follows the Sentinels' master, or a cluster
// client. TLS is always verified: skip_verify in the URL is refused. The caller closes the client.
func NewClient(cfg RedisConfig) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", redactedURL(cfg.URL), err)
	}
	if opts.TLSConfig == nil && (cfg.RootCAs != nil || len(cfg.Certificates) > 0) {
		return nil, fmt.Errorf("redis URL %s: a CA or client certificate is given, but the scheme is redis://, not rediss://", redactedURL(cfg.URL))
	}
	if opts.TLSConfig != nil {
		if opts.TLSConfig.InsecureSkipVerify {
			return nil, fmt.Errorf("redis URL %s: skip_verify is refused: TLS is always verified (give the server's CA instead)", redactedURL(cfg.URL))
		}
		opts.TLSConfig.RootCAs = cfg.RootCAs
		opts.TLSConfig.Certificates = cfg.Certificates
	}
	switch cfg.Topology() {
	case TopologySingle:
		if cfg.SentinelMaster != "" || cfg.SentinelPassword != "" {
			return nil, errors.New("redis: a Sentinel master name or password without Sentinel addresses")
		}
		return redis.NewClient(opts), nil
	case TopologySentinel:
		if cfg.SentinelMaster == "" {
			return nil, errors.New("redis: Sentinel addresses without the master's name")
		}
		if len(cfg.ClusterAddrs) > 0 {
			return nil, errors.New("redis: both Sentinel and Cluster addresses; give one")
		}
	case TopologyCluster:
		if opts.DB != 0 {
			return nil, fmt.Errorf("redis URL %s: database %d, but a Redis Cluster has database 0 only", redactedURL(cfg.URL), opts.DB)
		}
		if len(cfg.SentinelAddrs) > 0 || cfg.SentinelMaster != "" {
			return nil, errors.New("redis: both Sentinel and Cluster settings; give one")
		}
	}
	if opts.TLSConfig != nil {
		// Several hosts: each certificate is checked against the address dialled.
		opts.TLSConfig.ServerName = ""
	}
	uo := &redis.UniversalOptions{
		Addrs:            cfg.ClusterAddrs,
		IsClusterMode:    cfg.Topology() == TopologyCluster,
		MasterName:       cfg.SentinelMaster,
		SentinelPassword: cfg.SentinelPassword,
		ClientName:       opts.ClientName,
		DB:               opts.DB,
		Protocol:         opts.Protocol,
		Username:         opts.Username,
		Password:         opts.Password,
		MaxRetries:       opts.MaxRetries,
		MinRetryBackoff:  opts.MinRetryBackoff,
		MaxRetryBackoff:  opts.MaxRetryBackoff,
		DialTimeout:      opts.DialTimeout,
		ReadTimeout:      opts.ReadTimeout,
		WriteTimeout:     opts.WriteTimeout,
		PoolFIFO:         opts.PoolFIFO,
		PoolSize:         opts.PoolSize,
		PoolTimeout:      opts.PoolTimeout,
		MinIdleConns:     opts.MinIdleConns,
		MaxIdleConns:     opts.MaxIdleConns,
		MaxActiveConns:   opts.MaxActiveConns,
		ConnMaxIdleTime:  opts.ConnMaxIdleTime,
		ConnMaxLifetime:  opts.ConnMaxLifetime,
		TLSConfig:        opts.TLSConfig,

		ContextTimeoutEnabled: opts.ContextTimeoutEnabled,
	}
	if cfg.Topology() == TopologySentinel {
		uo.Addrs = cfg.SentinelAddrs
	}
	return redis.NewUniversalClient(uo), nil
}

// redactedURL hides the password of a Redis URL for error messages.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
