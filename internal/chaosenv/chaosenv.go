// Package chaosenv starts a RabbitMQ node and a Redis server of a test's own, so that chaos tests
// can kill them with SIGKILL and start them again without touching the machine's servers (the
// node rabbit@localhost on 5672/15672 and Redis on 6379, which other tests share).
//
// The node is named chaos-<random>@localhost and has its own AMQP, management and distribution
// ports, data directory (RABBITMQ_MNESIA_BASE), log directory, enabled-plugins file (with
// rabbitmq_management), configuration file and Erlang cookie (HOME), all under the test's
// temporary directory; it runs the rabbitmq-server script of the installation directly (not the
// Debian wrapper, which would switch to the rabbitmq user and its cookie) in a process group of
// its own. Kill sends SIGKILL to that process group only; Start boots the node again on the same
// data directory, so durable exchanges, quorum queues and their messages survive. StopApp and
// StartApp stop and start the RabbitMQ application of this node only (rabbitmqctl -n with the
// node's own cookie), as an operator's clean restart does. Redis likewise
// runs on its own port and directory, with an append-only file so that a killed server restarts
// with its data. Both are killed and their directories removed when the test ends.
//
// For the Redis topologies (redisha.go): StartSentinelGroup (a master, replicas and Sentinels
// with short failover timings), StartRedisCluster (cluster-enabled masters joined by redis-cli
// --cluster create) and StartRedisTLS (TLS only, client certificates required, with a CA and
// certificates from WriteTLSFiles), each node on its own port and directory.
//
// StartCluster (cluster.go) starts several such nodes sharing one Erlang cookie and joins them into
// one RabbitMQ cluster (rabbitmqctl join_cluster); KillNode kills one with SIGKILL and QueueLeader
// names the node leading a quorum queue. StartBrokerWith adds an amqps listener (BrokerOptions.TLS,
// with WriteTLSFiles' certificates).
//
// When rabbitmq-server or redis-server is not installed the test is skipped with a hint, or fails
// when the environment variable CI is "true". CHAOS_RABBITMQ_SERVER, CHAOS_RABBITMQCTL and
// CHAOS_REDIS_SERVER name the programs if they are elsewhere.
package chaosenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

// Ports the machine's own servers use; a chaos server never listens on them.
var machinePorts = map[int]bool{5672: true, 15672: true, 25672: true, 4369: true, 6379: true}

// StartTimeout bounds how long Start waits for a server to answer.
const StartTimeout = 90 * time.Second

// process is a server running in a process group of its own.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error
}

// startProcess runs path with args and env in a new process group, output to logPath.
func startProcess(path string, args, env []string, dir, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// kill sends SIGKILL to the process group and waits until the leader has exited. The group's
// other members (the Erlang VM below the start script) die with it.
func (p *process) kill() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
	default:
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill -9 process group %d: %w", p.cmd.Process.Pid, err)
		}
	}
	select {
	case <-p.done:
		// The leader is gone; members that were already exiting are gone with the group's SIGKILL.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("process group %d still runs 30s after SIGKILL", p.cmd.Process.Pid)
	}
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// unusable skips the test, or fails it under CI=true.
func unusable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// findProgram returns the first of the candidates that is an executable file (names without a
// slash are looked up in PATH), or "".
func findProgram(candidates ...string) string {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			if p, err := exec.LookPath(c); err == nil {
				return p
			}
			continue
		}
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now and that no machine
// server uses.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !machinePorts[port] {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Broker is a RabbitMQ node of the test's own. Its methods may be called from the test's
// goroutine only (Kill and Start are not meant to race each other).
type Broker struct {
	// Node is the node's name, chaos-<random>@localhost.
	Node string
	// AMQPPort, APIPort and DistPort are its AMQP, management (HTTP) and Erlang distribution ports
	// on 127.0.0.1.
	AMQPPort, APIPort, DistPort int
	// TLSPort is its amqps port (BrokerOptions.TLS; 0 without).
	TLSPort int

	dir    string
	server string
	ctl    string
	env    []string

	mu   sync.Mutex
	proc *process
}

// StartBroker starts a RabbitMQ node of the test's own and waits until it answers AMQP and the
// management API; the node is killed and its directory removed when the test ends.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	return StartBrokerWith(t, BrokerOptions{})
}

// BrokerOptions configures StartBrokerWith.
type BrokerOptions struct {
	// Cookie is the node's Erlang cookie (default: one the node makes itself). The nodes of one
	// cluster share theirs (StartCluster).
	Cookie string
	// TLS, if set, adds an amqps listener on 127.0.0.1:TLSPort with the server certificate of TLS,
	// verifying clients against TLS.CA; RequireClientCert refuses a client without a certificate.
	TLS               *TLSFiles
	RequireClientCert bool
}

// StartBrokerWith is StartBroker with options.
func StartBrokerWith(t testing.TB, opts BrokerOptions) *Broker {
	t.Helper()
	b := newBroker(t, opts)
	b.Start(t)
	return b
}

// newBroker prepares a node of the test's own (its directory, configuration, environment and
// cleanup) without starting it.
func newBroker(t testing.TB, opts BrokerOptions) *Broker {
	t.Helper()
	server := findProgram(os.Getenv("CHAOS_RABBITMQ_SERVER"), "/usr/lib/rabbitmq/bin/rabbitmq-server",
		"/usr/local/lib/rabbitmq/bin/rabbitmq-server")
	ctl := findProgram(os.Getenv("CHAOS_RABBITMQCTL"), filepath.Join(filepath.Dir(server), "rabbitmqctl"))
	if server == "" {
		unusable(t, "chaos tests start a RabbitMQ node of their own and need rabbitmq-server "+
			"(apt-get install rabbitmq-server; or set CHAOS_RABBITMQ_SERVER to the rabbitmq-server script of the installation, not a wrapper that switches user)")
	}
	b := &Broker{Node: "chaos-" + randomSuffix() + "@localhost", server: server, ctl: ctl,
		AMQPPort: freePort(t), APIPort: freePort(t), DistPort: freePort(t), dir: t.TempDir()}
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
management.tcp.ip = 127.0.0.1
management.tcp.port = %d
# queue figures of the management API at most a second old
collect_statistics_interval = 1000
log.file.level = info
log.console = false
`, b.AMQPPort, b.APIPort)
	if opts.TLS != nil {
		b.TLSPort = freePort(t)
		conf += fmt.Sprintf(`listeners.ssl.default = 127.0.0.1:%d
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = %t
`, b.TLSPort, opts.TLS.CA, opts.TLS.ServerCert, opts.TLS.ServerKey, opts.RequireClientCert)
	}
	files := map[string]string{
		"enabled_plugins":   "[rabbitmq_management].\n",
		"rabbitmq-env.conf": "# empty: the machine's /etc/rabbitmq/rabbitmq-env.conf (NODENAME, ports) must not apply\n",
		"rabbitmq.conf":     conf,
	}
	if opts.Cookie != "" {
		files[".erlang.cookie"] = opts.Cookie
	}
	for name, content := range files {
		mode := os.FileMode(0o600)
		if name == ".erlang.cookie" {
			mode = 0o400 // Erlang refuses a cookie others could read
		}
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	b.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + b.dir, // the Erlang cookie of this node and of rabbitmqctl against it
		"LANG=C.UTF-8",
		"RABBITMQ_NODENAME=" + b.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(b.AMQPPort),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(b.DistPort),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(b.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(b.dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(b.dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(b.dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(b.dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(b.dir, "rabbitmq-env.conf"),
		"RABBITMQ_PID_FILE=" + filepath.Join(b.dir, "rabbitmq.pid"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if err := b.proc.kill(); err != nil {
			t.Errorf("chaos broker %s: %v", b.Node, err)
		}
		if t.Failed() {
			b.dumpLog(t)
		}
	})
	return b
}

// URL returns the AMQP URL of a vhost on the node ("" or "/" for the default vhost), as guest.
func (b *Broker) URL(vhost string) string {
	path := "/"
	if vhost != "" && vhost != "/" {
		path += vhost
	}
	return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d%s", b.AMQPPort, path)
}

// API returns the management API's base URL with the guest credentials, in the form of
// TEST_RABBITMQ_API.
func (b *Broker) API() string { return fmt.Sprintf("http://guest:guest@127.0.0.1:%d", b.APIPort) }

// Management calls the node's management API as testenv.ManagementAt does.
func (b *Broker) Management(method, path, body string, out any) (int, error) {
	return testenv.ManagementAt(b.API(), method, path, body, out)
}

// AddVHost creates a vhost with a unique name and full permissions for guest, and returns its
// AMQP URL and name.
func (b *Broker) AddVHost(t testing.TB) (url, vhost string) {
	t.Helper()
	vhost = testenv.UniqueName("chaos-")
	if _, err := b.Management(http.MethodPut, "/api/vhosts/"+vhost, "", nil); err != nil {
		t.Fatalf("create vhost %s: %v", vhost, err)
	}
	if _, err := b.Management(http.MethodPut, "/api/permissions/"+vhost+"/guest",
		`{"configure":".*","write":".*","read":".*"}`, nil); err != nil {
		t.Fatalf("grant permissions on vhost %s: %v", vhost, err)
	}
	return b.URL(vhost), vhost
}

// Kill sends SIGKILL to the node (kill -9: no clean shutdown, no flush) and waits until it is
// gone.
func (b *Broker) Kill(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.proc.kill(); err != nil {
		t.Fatalf("chaos broker %s: %v", b.Node, err)
	}
	b.proc = nil
}

// Start boots the node (again, after Kill: on the same data directory) and waits until it
// answers AMQP and the management API.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	if err := b.boot(); err != nil {
		b.dumpLog(t)
		t.Fatalf("chaos broker %s: %v", b.Node, err)
	}
}

// boot is Start without the test, for nodes booted at once (StartCluster).
func (b *Broker) boot() error {
	b.mu.Lock()
	if b.proc != nil && !b.proc.exited() {
		b.mu.Unlock()
		return errors.New("it is running; Kill it first")
	}
	proc, err := startProcess(b.server, nil, b.env, b.dir, filepath.Join(b.dir, "server.log"))
	if err != nil {
		b.mu.Unlock()
		return err
	}
	b.proc = proc
	b.mu.Unlock()
	return b.awaitUp(proc, "start")
}

// waitUp waits until the node answers AMQP and the management API, for at most StartTimeout; it
// fails the test if the node's process exits meanwhile.
func (b *Broker) waitUp(t testing.TB, proc *process, what string) {
	t.Helper()
	if err := b.awaitUp(proc, what); err != nil {
		b.dumpLog(t)
		t.Fatalf("chaos broker %s: %v", b.Node, err)
	}
}

// awaitUp is waitUp returning the failure.
func (b *Broker) awaitUp(proc *process, what string) error {
	deadline := time.Now().Add(StartTimeout)
	for !b.Up() {
		if proc.exited() {
			return fmt.Errorf("exited after %s: %v", what, proc.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("does not answer %s after %s", StartTimeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// RequireCtl skips the test, or fails it under CI=true, if rabbitmqctl was not found next to
// rabbitmq-server (nor named by CHAOS_RABBITMQCTL): StopApp, StartApp, Ctl and
// SetConsumerTimeout need it. A test calls it before it starts work that needs them.
func (b *Broker) RequireCtl(t testing.TB) {
	t.Helper()
	if b.ctl == "" {
		unusable(t, "chaos broker %s: rabbitmqctl not found next to %s (set CHAOS_RABBITMQCTL)", b.Node, b.server)
	}
}

// StopApp stops the RabbitMQ application on the node (rabbitmqctl stop_app), as an operator's
// restart does: a clean stop that closes every client connection; the node's Erlang VM keeps
// running on its data directory, and the AMQP and management ports stop answering until StartApp.
func (b *Broker) StopApp(t testing.TB) {
	t.Helper()
	b.RequireCtl(t)
	if _, err := b.Ctl("stop_app"); err != nil {
		b.dumpLog(t)
		t.Fatalf("chaos broker %s: %v", b.Node, err)
	}
}

// StartApp starts the RabbitMQ application again after StopApp (rabbitmqctl start_app; a no-op
// if it runs), on the same ports and data directory, and waits until the node answers AMQP and
// the management API.
func (b *Broker) StartApp(t testing.TB) {
	t.Helper()
	b.RequireCtl(t)
	b.mu.Lock()
	proc := b.proc
	b.mu.Unlock()
	if proc == nil || proc.exited() {
		t.Fatalf("chaos broker %s does not run; Start it", b.Node)
	}
	if _, err := b.Ctl("start_app"); err != nil {
		b.dumpLog(t)
		t.Fatalf("chaos broker %s: %v", b.Node, err)
	}
	b.waitUp(t, proc, "start_app")
}

// Up reports whether the node accepts AMQP connections and its management API answers.
func (b *Broker) Up() bool {
	conn, err := amqp.DialConfig(b.URL("/"), amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		return false
	}
	_ = conn.Close()
	status, err := b.Management(http.MethodGet, "/api/overview", "", nil)
	return err == nil && status == http.StatusOK
}

// Ctl runs rabbitmqctl against this node (always with -n and the node's own cookie) and returns
// its output.
func (b *Broker) Ctl(args ...string) (string, error) {
	if b.ctl == "" {
		return "", errors.New("rabbitmqctl not found next to rabbitmq-server (set CHAOS_RABBITMQCTL)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.ctl, append([]string{"-n", b.Node}, args...)...)
	cmd.Env = b.env
	cmd.Dir = b.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl -n %s %s: %w: %s", b.Node, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// SetConsumerTimeout sets the node's consumer timeout (rabbit's consumer_timeout) and how often
// channels check it (channel_tick_interval, 60 s by default), for channels opened from now on.
func (b *Broker) SetConsumerTimeout(timeout, tick time.Duration) error {
	expr := fmt.Sprintf("application:set_env(rabbit, consumer_timeout, %d), application:set_env(rabbit, channel_tick_interval, %d).",
		timeout.Milliseconds(), tick.Milliseconds())
	_, err := b.Ctl("eval", expr)
	return err
}

func (b *Broker) dumpLog(t testing.TB) {
	t.Helper()
	for _, name := range []string{"server.log", filepath.Join("log", b.Node+".log")} {
		if tail := tailOf(filepath.Join(b.dir, name), 40); tail != "" {
			t.Logf("chaos broker %s, %s:\n%s", b.Node, name, tail)
		}
	}
}

// tailOf returns the last n lines of a file ("" if unreadable).
func tailOf(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Redis is a redis-server of the test's own.
type Redis struct {
	// Port is its port on 127.0.0.1.
	Port int

	dir    string
	server string

	mu   sync.Mutex
	proc *process
}

// StartRedis starts a redis-server of the test's own (append-only file in its own directory) and
// waits until it answers; it is killed and its directory removed when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	server := findProgram(os.Getenv("CHAOS_REDIS_SERVER"), "redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if server == "" {
		unusable(t, "chaos tests start a Redis server of their own and need redis-server (apt-get install redis-server; or set CHAOS_REDIS_SERVER)")
	}
	r := &Redis{Port: freePort(t), dir: t.TempDir(), server: server}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.proc.kill(); err != nil {
			t.Errorf("chaos redis on %d: %v", r.Port, err)
		}
		if t.Failed() {
			if tail := tailOf(filepath.Join(r.dir, "redis.log"), 20); tail != "" {
				t.Logf("chaos redis on %d:\n%s", r.Port, tail)
			}
		}
	})
	r.Start(t)
	return r
}

// Addr returns host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL returns the redis:// URL of database db.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr(), db) }

// Client returns a client of the server, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill sends SIGKILL to the server and waits until it is gone.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.proc.kill(); err != nil {
		t.Fatalf("chaos redis on %d: %v", r.Port, err)
	}
	r.proc = nil
}

// Start starts the server (again, after Kill: with the data of its append-only file) and waits
// until it answers PING.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	if r.proc != nil && !r.proc.exited() {
		r.mu.Unlock()
		t.Fatalf("chaos redis on %d is running; Kill it first", r.Port)
	}
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log")}
	proc, err := startProcess(r.server, args, []string{"PATH=" + os.Getenv("PATH")}, r.dir, filepath.Join(r.dir, "stdout.log"))
	if err != nil {
		r.mu.Unlock()
		t.Fatal(err)
	}
	r.proc = proc
	r.mu.Unlock()
	awaitRedis(t, "chaos redis", proc, &redis.Options{Addr: r.Addr()}, filepath.Join(r.dir, "redis.log"))
}
