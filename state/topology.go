package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// TopologyItem is one thing Inspect looked at: a server, a Sentinel, a replica, the Cluster's
// slots. Err is nil when it is as it should be; Detail says what was found.
type TopologyItem struct {
	Name   string
	Detail string
	Err    error
}

// Inspect reports the Redis topology client (built by NewClient from cfg) reaches, one item per
// server or property: for one server its role and version; for Sentinel each Sentinel, the
// current master (address, role, version), each replica the Sentinels know and whether the
// Sentinels can agree on a failover (quorum); for a Cluster each node and whether every slot is
// served. It never changes anything.
func Inspect(ctx context.Context, cfg RedisConfig, client redis.UniversalClient) []TopologyItem {
	switch cfg.Topology() {
	case TopologySentinel:
		return inspectSentinel(ctx, cfg, client)
	case TopologyCluster:
		if cc, ok := client.(*redis.ClusterClient); ok {
			return inspectCluster(ctx, cc)
		}
		return []TopologyItem{{Name: "Redis Cluster", Err: errors.New("the client is not a cluster client")}}
	}
	item := TopologyItem{Name: "Redis " + redactedURL(cfg.URL)}
	info, err := serverInfo(ctx, client)
	if err != nil {
		item.Err = err
		return []TopologyItem{item}
	}
	item.Detail = fmt.Sprintf("single server, role %s, Redis %s", info["role"], info["redis_version"])
	if info["role"] != "master" {
		item.Err = fmt.Errorf("the server is a %s (read-only): give REDIS_URL the master, or its Sentinels (REDIS_SENTINEL_ADDRS)", info["role"])
	}
	return []TopologyItem{item}
}

// serverInfo returns the fields of INFO server and replication (redis_version, role,
// connected_slaves, …) of the server c's next command goes to.
func serverInfo(ctx context.Context, c redis.Cmdable) (map[string]string, error) {
	text, err := c.Info(ctx, "server", "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO: %w", err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && !strings.HasPrefix(k, "#") {
			fields[k] = v
		}
	}
	return fields, nil
}

func inspectSentinel(ctx context.Context, cfg RedisConfig, client redis.UniversalClient) []TopologyItem {
	var items []TopologyItem
	var answering *redis.SentinelClient
	for _, addr := range cfg.SentinelAddrs {
		sc := redis.NewSentinelClient(sentinelOptions(cfg, client, addr))
		defer sc.Close()
		item := TopologyItem{Name: "Redis Sentinel " + addr}
		master, err := sc.GetMasterAddrByName(ctx, cfg.SentinelMaster).Result()
		switch {
		case errors.Is(err, redis.Nil):
			item.Err = fmt.Errorf("does not monitor a master named %q (REDIS_SENTINEL_MASTER)", cfg.SentinelMaster)
		case err != nil:
			item.Err = err
		case len(master) != 2:
			item.Err = fmt.Errorf("unexpected answer %q to SENTINEL GET-MASTER-ADDR-BY-NAME", master)
		default:
			item.Detail = fmt.Sprintf("master %s at %s", cfg.SentinelMaster, net.JoinHostPort(master[0], master[1]))
			if answering == nil {
				answering = sc
			}
		}
		items = append(items, item)
	}
	if answering == nil {
		return append(items, TopologyItem{Name: "Redis Sentinel master " + cfg.SentinelMaster, Err: errors.New("no Sentinel answered for it")})
	}

	master := TopologyItem{Name: "Redis Sentinel master " + cfg.SentinelMaster}
	if info, err := serverInfo(ctx, client); err != nil {
		master.Err = err
	} else {
		addr, _ := answering.GetMasterAddrByName(ctx, cfg.SentinelMaster).Result()
		if len(addr) == 2 {
			master.Detail = net.JoinHostPort(addr[0], addr[1]) + ", "
		}
		master.Detail += fmt.Sprintf("role %s, Redis %s, %s connected replicas", info["role"], info["redis_version"], info["connected_slaves"])
		if info["role"] != "master" {
			master.Err = fmt.Errorf("the server the Sentinels name is a %s", info["role"])
		}
	}
	items = append(items, master)

	replicas, err := answering.Replicas(ctx, cfg.SentinelMaster).Result()
	if err != nil {
		items = append(items, TopologyItem{Name: "Redis replicas of " + cfg.SentinelMaster, Err: err})
	}
	online := 0
	for _, r := range replicas {
		item := TopologyItem{Name: "Redis replica " + net.JoinHostPort(r["ip"], r["port"]) + " of " + cfg.SentinelMaster}
		flags := strings.Split(r["flags"], ",")
		switch {
		case slices.Contains(flags, "s_down") || slices.Contains(flags, "o_down") || slices.Contains(flags, "disconnected"):
			item.Err = fmt.Errorf("down (Sentinel flags %s)", r["flags"])
		case r["master-link-status"] != "ok":
			item.Err = fmt.Errorf("online, but its link to the master is %s (not in sync yet)", r["master-link-status"])
		default:
			online++
			item.Detail = "online, in sync with the master"
		}
		items = append(items, item)
	}
	if err == nil && online == 0 {
		items = append(items, TopologyItem{Name: "Redis replicas of " + cfg.SentinelMaster, Err: errors.New("none online: a failover would have nothing to promote")})
	}

	quorum := TopologyItem{Name: "Redis Sentinel quorum for " + cfg.SentinelMaster}
	if reply, err := answering.CkQuorum(ctx, cfg.SentinelMaster).Result(); err != nil {
		quorum.Err = err
	} else {
		quorum.Detail = reply
	}
	return append(items, quorum)
}

// sentinelOptions are the options of a client of the Sentinel at addr: the Sentinel password,
// and the data nodes' TLS (the Sentinels are reached like them).
func sentinelOptions(cfg RedisConfig, client redis.UniversalClient, addr string) *redis.Options {
	opts := &redis.Options{Addr: addr, Password: cfg.SentinelPassword, MaxRetries: -1}
	if c, ok := client.(*redis.Client); ok && c.Options().TLSConfig != nil {
		opts.TLSConfig = c.Options().TLSConfig.Clone()
		opts.TLSConfig.ServerName = ""
	}
	return opts
}

func inspectCluster(ctx context.Context, cc *redis.ClusterClient) []TopologyItem {
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		return []TopologyItem{{Name: "Redis Cluster", Err: fmt.Errorf("CLUSTER SHARDS (Redis 7 or later): %w", err)}}
	}
	tls := cc.Options().TLSConfig != nil
	var items []TopologyItem
	covered, masters, nodes := 0, 0, 0
	for _, shard := range shards {
		var ranges []string
		for _, r := range shard.Slots {
			covered += int(r.End - r.Start + 1)
			ranges = append(ranges, strconv.FormatInt(r.Start, 10)+"-"+strconv.FormatInt(r.End, 10))
		}
		for _, n := range shard.Nodes {
			port := n.Port
			if tls && n.TLSPort != 0 {
				port = n.TLSPort
			}
			addr := net.JoinHostPort(n.IP, strconv.FormatInt(port, 10))
			item := TopologyItem{Name: "Redis Cluster node " + addr}
			nodes++
			if n.Role == "master" {
				masters++
			}
			c := redis.NewClient(nodeOptions(cc, addr))
			info, err := serverInfo(ctx, c)
			_ = c.Close()
			switch {
			case n.Health != "online":
				item.Err = fmt.Errorf("%s, health %s", n.Role, n.Health)
			case err != nil:
				item.Err = err
			case n.Role == "master":
				item.Detail = fmt.Sprintf("master of slots %s, Redis %s", strings.Join(ranges, " "), info["redis_version"])
			default:
				item.Detail = fmt.Sprintf("replica of slots %s, Redis %s", strings.Join(ranges, " "), info["redis_version"])
			}
			items = append(items, item)
		}
	}
	summary := TopologyItem{Name: "Redis Cluster", Detail: fmt.Sprintf("%d nodes, %d masters, %d of 16384 slots covered", nodes, masters, covered)}
	if covered != 16384 {
		summary.Err = fmt.Errorf("%d of 16384 slots covered: keys in the others cannot be read or written", covered)
	}
	return append(items, summary)
}

// nodeOptions are the options of a client of one Cluster node: the cluster client's credentials
// and TLS.
func nodeOptions(cc *redis.ClusterClient, addr string) *redis.Options {
	o := cc.Options()
	opts := &redis.Options{Addr: addr, Username: o.Username, Password: o.Password, MaxRetries: -1, DialTimeout: o.DialTimeout}
	if o.TLSConfig != nil {
		opts.TLSConfig = o.TLSConfig.Clone()
	}
	return opts
}
