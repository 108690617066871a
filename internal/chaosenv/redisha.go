package chaosenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisNode is a redis-server, or a Sentinel, of the test's own, started with the arguments of
// its role (StartSentinelGroup, StartRedisCluster, StartRedisTLS) on its own port and directory.
// Kill sends it SIGKILL; it is killed when the test ends.
type RedisNode struct {
	// Port is its port on 127.0.0.1 (the TLS port for StartRedisTLS).
	Port int

	dir    string
	server string
	args   []string
	// ready is how Start tells that the node answers.
	ready *redis.Options

	mu   sync.Mutex
	proc *process
}

// Addr returns host:port.
func (n *RedisNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// redisServer returns the redis-server program, or skips (fails under CI=true) without it.
func redisServer(t testing.TB) string {
	t.Helper()
	server := findProgram(os.Getenv("CHAOS_REDIS_SERVER"), "redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if server == "" {
		unusable(t, "the test starts Redis servers of its own and needs redis-server (apt-get install redis-server; or set CHAOS_REDIS_SERVER)")
	}
	return server
}

// startRedisNode starts a node on port in dir with args (after which --logfile is added unless
// args start with a configuration file) and waits until it answers; it is killed when the test
// ends.
func startRedisNode(t testing.TB, server string, port int, dir string, args []string, ready *redis.Options) *RedisNode {
	t.Helper()
	n := &RedisNode{Port: port, dir: dir, server: server, args: args, ready: ready}
	t.Cleanup(func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if err := n.proc.kill(); err != nil {
			t.Errorf("redis node on %d: %v", n.Port, err)
		}
		if t.Failed() {
			if tail := tailOf(n.logPath(), 15); tail != "" {
				t.Logf("redis node on %d:\n%s", n.Port, tail)
			}
		}
	})
	n.Start(t)
	return n
}

func (n *RedisNode) logPath() string { return filepath.Join(n.dir, "redis.log") }

// Start starts the node (again, after Kill) and waits until it answers.
func (n *RedisNode) Start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	if n.proc != nil && !n.proc.exited() {
		n.mu.Unlock()
		t.Fatalf("redis node on %d is running; Kill it first", n.Port)
	}
	proc, err := startProcess(n.server, n.args, []string{"PATH=" + os.Getenv("PATH")}, n.dir, filepath.Join(n.dir, "stdout.log"))
	if err != nil {
		n.mu.Unlock()
		t.Fatal(err)
	}
	n.proc = proc
	n.mu.Unlock()
	awaitRedis(t, "redis node", proc, n.ready, n.logPath())
}

// Kill sends SIGKILL to the node and waits until it is gone.
func (n *RedisNode) Kill(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.proc.kill(); err != nil {
		t.Fatalf("redis node on %d: %v", n.Port, err)
	}
	n.proc = nil
}

// awaitRedis waits until the server proc runs answers PING with opts (StartTimeout), failing the
// test if it exits first.
func awaitRedis(t testing.TB, what string, proc *process, opts *redis.Options, logPath string) {
	t.Helper()
	o := *opts
	o.DialTimeout, o.MaxRetries = time.Second, -1
	c := redis.NewClient(&o)
	defer c.Close()
	deadline := time.Now().Add(StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if proc.exited() {
			t.Fatalf("%s on %s exited while starting: %v\n%s", what, o.Addr, proc.err, tailOf(logPath, 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s does not answer %s after start: %v", what, o.Addr, StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dataNodeArgs are the arguments of a data node without persistence on port in dir.
func dataNodeArgs(port int, dir string, extra ...string) []string {
	return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
}

// SentinelGroup is a Redis master with replicas watched by Sentinels, all of the test's own.
type SentinelGroup struct {
	// MasterName is the name the Sentinels monitor the master by.
	MasterName string
	// Data are the data nodes: Data[0] is the first master, the others its replicas.
	Data []*RedisNode
	// Sentinels are the Sentinels (quorum: a majority of them).
	Sentinels []*RedisNode
}

// StartSentinelGroup starts a master, replicas replicas of it and sentinels Sentinels (quorum a
// majority, down-after-milliseconds 1000, failover-timeout 5000) and waits until the replicas
// are in sync and every Sentinel knows the replicas and the other Sentinels, so that a failover
// can start as soon as the master is gone. Everything is killed when the test ends.
func StartSentinelGroup(t testing.TB, replicas, sentinels int) *SentinelGroup {
	t.Helper()
	server := redisServer(t)
	g := &SentinelGroup{MasterName: "chaos-" + randomSuffix()}
	masterPort := freePort(t)
	for i := range replicas + 1 {
		port, dir := masterPort, t.TempDir()
		var extra []string
		if i > 0 {
			port = freePort(t)
			extra = []string{"--replicaof", "127.0.0.1", strconv.Itoa(masterPort)}
		}
		g.Data = append(g.Data, startRedisNode(t, server, port, dir, dataNodeArgs(port, dir, extra...),
			&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)}))
	}
	quorum := sentinels/2 + 1
	for range sentinels {
		port, dir := freePort(t), t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
daemonize no
logfile %s
sentinel monitor %s 127.0.0.1 %d %d
sentinel down-after-milliseconds %[4]s 1000
sentinel failover-timeout %[4]s 5000
sentinel parallel-syncs %[4]s 1
`, port, dir, filepath.Join(dir, "redis.log"), g.MasterName, masterPort, quorum)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		g.Sentinels = append(g.Sentinels, startRedisNode(t, server, port, dir, []string{conf, "--sentinel"},
			&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)}))
	}
	g.waitReady(t, replicas, sentinels)
	return g
}

// SentinelAddrs returns the Sentinels' host:port.
func (g *SentinelGroup) SentinelAddrs() []string {
	var out []string
	for _, s := range g.Sentinels {
		out = append(out, s.Addr())
	}
	return out
}

// MasterAddr returns the master's host:port as the first Sentinel that answers names it.
func (g *SentinelGroup) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range g.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		addr, err := sc.GetMasterAddrByName(ctx, g.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no Sentinel names the master %s: %w", g.MasterName, last)
}

// Node returns the data node listening on addr (nil if none).
func (g *SentinelGroup) Node(addr string) *RedisNode {
	for _, n := range g.Data {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// WaitMaster waits until every Sentinel that answers names a master other than old, and
// returns it.
func (g *SentinelGroup) WaitMaster(t testing.TB, old string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		addr, err := g.MasterAddr(context.Background())
		if err == nil && addr != old {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinels did not promote a new master within %s (still %s, %v)", d, addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitReady waits until every replica is in sync and every Sentinel knows the replicas and the
// other Sentinels.
func (g *SentinelGroup) waitReady(t testing.TB, replicas, sentinels int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(StartTimeout)
	ready := func() (string, bool) {
		for _, n := range g.Data[1:] {
			c := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			info, err := c.Info(ctx, "replication").Result()
			_ = c.Close()
			if err != nil || !strings.Contains(info, "master_link_status:up") {
				return "replica " + n.Addr() + " in sync", false
			}
		}
		for _, s := range g.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
			reps, err1 := sc.Replicas(ctx, g.MasterName).Result()
			others, err2 := sc.Sentinels(ctx, g.MasterName).Result()
			_ = sc.Close()
			online := 0
			for _, r := range reps {
				if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
					online++
				}
			}
			if err1 != nil || err2 != nil || online < replicas || len(others) < sentinels-1 {
				return fmt.Sprintf("Sentinel %s to know %d replicas and %d other Sentinels (knows %d, %d)",
					s.Addr(), replicas, sentinels-1, online, len(others)), false
			}
		}
		return "", true
	}
	for {
		what, ok := ready()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sentinel group not ready after %s: waiting for %s", StartTimeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// RedisCluster is a Redis Cluster of the test's own: masters without replicas, every slot
// assigned.
type RedisCluster struct {
	Nodes []*RedisNode
}

// Addrs returns the nodes' host:port.
func (c *RedisCluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// StartRedisCluster starts masters cluster-enabled redis-servers, joins them with `redis-cli
// --cluster create` (the slots spread over the masters) and waits until every node reports
// cluster_state:ok. They are killed when the test ends.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	server := redisServer(t)
	cli := findProgram(os.Getenv("CHAOS_REDIS_CLI"), "redis-cli", "/usr/bin/redis-cli", "/usr/local/bin/redis-cli")
	if cli == "" {
		unusable(t, "the test creates a Redis Cluster and needs redis-cli (apt-get install redis-tools; or set CHAOS_REDIS_CLI)")
	}
	c := &RedisCluster{}
	for range masters {
		port, dir := freePort(t), t.TempDir()
		args := dataNodeArgs(port, dir, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, startRedisNode(t, server, port, dir, args, &redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)}))
	}
	args := append(append([]string{"--cluster", "create"}, c.Addrs()...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deadline := time.Now().Add(StartTimeout)
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				_ = rc.Close()
				t.Fatalf("cluster node %s not ok after %s: %v %s", n.Addr(), StartTimeout, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = rc.Close()
	}
	return c
}

// TLSFiles are PEM files of a test CA and of a server and a client certificate it issued (for
// 127.0.0.1 and localhost), written by WriteTLSFiles.
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCA is a CA that issued none of them.
	OtherCA string
}

// WriteTLSFiles generates a CA, a server and a client certificate (ECDSA P-256, valid for a
// day) into the test's temporary directory.
func WriteTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{
		CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"), OtherCA: filepath.Join(dir, "other-ca.pem"),
	}
	caCert, caKey := newCertificate(t, "chaosenv test CA", nil, nil, nil)
	writePEM(t, f.CA, "CERTIFICATE", caCert.Raw)
	other, _ := newCertificate(t, "chaosenv other CA", nil, nil, nil)
	writePEM(t, f.OtherCA, "CERTIFICATE", other.Raw)
	for _, leaf := range []struct {
		name, cert, key string
		usage           x509.ExtKeyUsage
	}{
		{"127.0.0.1", f.ServerCert, f.ServerKey, x509.ExtKeyUsageServerAuth},
		{"stsorgsync test client", f.ClientCert, f.ClientKey, x509.ExtKeyUsageClientAuth},
	} {
		cert, key := newCertificate(t, leaf.name, caCert, caKey, []x509.ExtKeyUsage{leaf.usage})
		writePEM(t, leaf.cert, "CERTIFICATE", cert.Raw)
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, leaf.key, "PRIVATE KEY", der)
	}
	return f
}

// newCertificate issues a certificate for name, signed by parent (self-signed CA when nil).
func newCertificate(t testing.TB, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, usage []x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
		if slices.Contains(usage, x509.ExtKeyUsageServerAuth) {
			tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartRedisTLS starts a redis-server that accepts TLS only (tls-port, no plain port), with the
// server certificate of files, and requires a client certificate issued by files.CA. It is
// killed when the test ends.
func StartRedisTLS(t testing.TB, files TLSFiles) *RedisNode {
	t.Helper()
	server := redisServer(t)
	port, dir := freePort(t), t.TempDir()
	args := dataNodeArgs(port, dir, "--tls-port", strconv.Itoa(port), "--tls-cert-file", files.ServerCert,
		"--tls-key-file", files.ServerKey, "--tls-ca-cert-file", files.CA, "--tls-auth-clients", "yes")
	args[1] = "0" // --port 0: no plain TCP port
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(files.CA)
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("test CA %s: %v", files.CA, err)
	}
	client, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return startRedisNode(t, server, port, dir, args, &redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port),
		TLSConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12}})
}
