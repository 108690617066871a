package main

// Crash tests (issue 6, "Done when"): the RabbitMQ node restarted while 1,000 events stream
// through the daemon, and the daemon's process killed with SIGKILL mid-stream and started again.
// Both run against a real RabbitMQ and Redis and the fakes: the broker restart against a RabbitMQ
// node of the test's own (internal/chaosenv; the machine's node is never stopped), the process
// kill against a vhost of the machine's node. A gate in front of the fake STS
// lets a fixed number of calls through and then holds every further one, so the moment of the
// crash is fixed by the test, not by timing: some events are done, others are in flight (their
// worker waits in STS) or still queued.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// stsGate sits in front of the fake STS. It passes the first limit Organisation SOAP calls and
// then holds every further one until Open is called (it then passes them on) or the caller hangs
// up (it then answers 503; nothing reaches the fake). Token requests always pass.
type stsGate struct {
	next   http.Handler
	limit  int
	opened chan struct{} // closed by Open

	mu     sync.Mutex
	passed int
	open   bool

	held atomic.Int64 // calls being held now
}

func newSTSGate(next http.Handler, limit int) *stsGate {
	return &stsGate{next: next, limit: limit, opened: make(chan struct{})}
}

func (g *stsGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/organisation/") {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	pass := g.open || g.passed < g.limit
	if pass {
		g.passed++
	}
	g.mu.Unlock()
	if !pass {
		// Read the body first: only then does the server notice a client hanging up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.held.Add(1)
		select {
		case <-g.opened:
			g.held.Add(-1)
		case <-r.Context().Done():
			g.held.Add(-1)
			http.Error(w, "caller gone while held", http.StatusServiceUnavailable)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// Held returns the number of calls being held: each is an event in flight.
func (g *stsGate) Held() int { return int(g.held.Load()) }

// Open lets every held and later call through. It may be called more than once.
func (g *stsGate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.opened)
	}
}

// crashRig is what the crash tests share: an isolated vhost and Redis prefix, the fake OS2MO
// holding the units, the fake STS (security on) behind a gate, and the daemon's settings.
type crashRig struct {
	broker *testenv.Broker
	mo     *motest.Server
	sts    *ststest.Server
	gate   *stsGate
	env    map[string]string
	queue  string
	dlq    string
	ids    []uuid.UUID

	// mgmt calls the management API of the node holding broker's vhost.
	mgmt func(method, path, body string, out any) (int, error)
}

// newCrashRig starts the fakes for units; the gate passes the first passCalls STS calls. With
// secure, the fake STS requires KOMBIT's security profile and the daemon signs its requests;
// without, both go without (much cheaper under -race, for tests about something else). The rig's
// vhost is on own, a RabbitMQ node the test started, or with own nil on the machine's node
// (testenv).
func newCrashRig(t *testing.T, units []model.OrgUnit, passCalls int, secure bool, own *chaosenv.Broker) *crashRig {
	t.Helper()
	var broker *testenv.Broker
	mgmt := testenv.Management
	if own != nil {
		amqpURL, vhost := own.AddVHost(t)
		broker, mgmt = &testenv.Broker{URL: amqpURL, VHost: vhost}, own.Management
	} else {
		broker = testenv.AMQP(t)
	}
	rdb, prefix := testenv.Redis(t)
	mo := motest.NewServer(motest.Options{})
	var ids []uuid.UUID
	for _, u := range units {
		if err := mo.AddOrgUnit(u); err != nil {
			t.Fatalf("add unit: %v", err)
		}
		ids = append(ids, u.UUID)
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	sts := ststest.NewServer(ststest.Options{RequireSecurity: secure})
	gate := newSTSGate(sts.Handler(), passCalls)
	stsSrv := httptest.NewServer(gate)
	t.Cleanup(stsSrv.Close)
	t.Cleanup(gate.Open) // runs first: Close waits for held calls
	r := &crashRig{
		broker: broker, mgmt: mgmt, mo: mo, sts: sts, gate: gate, ids: ids,
		queue: testenv.UniqueName("stsorgsync.crash."),
	}
	r.dlq = r.queue + ".dlq"
	// Names of our own, though the vhost alone isolates the test; the vhost's deletion at
	// cleanup removes the queues and exchanges.
	r.env = map[string]string{
		"AMQP_URL":              broker.URL,
		"EVENT_SOURCE":          "amqp",
		"AMQP_EXCHANGE":         r.queue,
		"AMQP_QUEUE":            r.queue,
		"AMQP_DLX":              r.queue + ".dlx",
		"AMQP_DLQ":              r.dlq,
		"REDIS_URL":             "redis://" + rdb.Options().Addr + "/0",
		"REDIS_KEY_PREFIX":      prefix,
		"MO_URL":                moSrv.URL,
		"MO_AUTH_SERVER":        moSrv.URL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          stsSrv.URL,
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
		"WORKERS":               "4",
		"RETRY_INITIAL":         "20ms",
		"RETRY_MAX":             "500ms",
		// A crashed process leaves the leases of its in-flight objects behind; the events
		// redelivered for them wait (as transient failures) until LEASE_TTL lets the lease go.
		"LEASE_TTL":         "5s",
		"RETRY_MAX_ELAPSED": "60s",
		"SHUTDOWN_TIMEOUT":  "10s",
	}
	if secure {
		maps.Copy(r.env, writeSecurityFiles(t, sts, stsSrv.URL, "29189846"))
	} else {
		r.env["STS_SECURITY"] = "false"
	}
	return r
}

// publisher connects an OS2MO-style publisher to the rig's vhost.
func (r *crashRig) publisher(t *testing.T) *motest.Publisher {
	t.Helper()
	pub, err := motest.DialPublisher(r.broker.URL, motest.DefaultExchange)
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

func (r *crashRig) publish(t *testing.T, pub *motest.Publisher, ids []uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		if err := pub.Publish(context.Background(), "org_unit", id); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// unitsDone returns how many of the rig's units STS holds.
func (r *crashRig) unitsDone() int { return len(r.sts.Objects(oio.KindOrganisationEnhed)) }

// converged returns the units STS does not hold with OS2MO's current name (nil: none).
func (r *crashRig) converged() []uuid.UUID {
	var wrong []uuid.UUID
	for _, id := range r.ids {
		want, _ := r.mo.OrgUnit(id)
		obj, ok := r.sts.Object(oio.KindOrganisationEnhed, id)
		if !ok || len(obj.Registration.Egenskaber) == 0 || obj.Registration.Egenskaber[0].Navn != want.Name {
			wrong = append(wrong, id)
		}
	}
	return wrong
}

// waitConverged waits until STS holds every unit as OS2MO has it.
func (r *crashRig) waitConverged(t *testing.T, d time.Duration) {
	t.Helper()
	var wrong []uuid.UUID
	deadline := time.Now().Add(d)
	for wrong = r.converged(); len(wrong) > 0; wrong = r.converged() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d units are missing or outdated in STS (first: %s)", d, len(wrong), len(r.ids), wrong[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitQueueEmpty waits until the management API reports the work queue with no message, ready
// or unacknowledged (its figures lag by a few seconds).
func (r *crashRig) waitQueueEmpty(t *testing.T) {
	t.Helper()
	waitFor(t, 60*time.Second, "the work queue to be empty", func() bool {
		q, ok := r.queueInfo()
		return ok && q.Messages != nil && *q.Messages == 0 && q.Ready != nil && *q.Ready == 0 && q.Unacked != nil && *q.Unacked == 0
	})
}

// assertDLQEmpty takes whatever is in the dead-letter queue and fails the test for each message,
// naming its class and error: in these tests nothing may be dead-lettered.
func (r *crashRig) assertDLQEmpty(t *testing.T) {
	t.Helper()
	for _, d := range takeAll(t, r.broker.URL, r.dlq) {
		t.Errorf("dead-lettered: routing key %q, body %s, class %v, error %v", d.RoutingKey, d.Body,
			d.Headers[consumer.HeaderErrorClass], d.Headers["error"])
	}
}

// rabbitQueue is the part of the management API's queue object the tests read; nil fields were
// absent (the API reports them once it has sampled the queue).
type rabbitQueue struct {
	Messages *int `json:"messages"`
	Ready    *int `json:"messages_ready"`
	Unacked  *int `json:"messages_unacknowledged"`
}

// queueInfo reads the work queue's message counts from the management API; it reports false if
// the API does not answer 200 (for example while the node restarts).
func (r *crashRig) queueInfo() (rabbitQueue, bool) {
	var q rabbitQueue
	status, err := r.mgmt(http.MethodGet, "/api/queues/"+url.PathEscape(r.broker.VHost)+"/"+url.PathEscape(r.queue), "", &q)
	return q, err == nil && status == http.StatusOK
}

// brokerUp reports whether the broker accepts AMQP connections to amqpURL's vhost and the
// management API that mgmt calls answers.
func brokerUp(amqpURL string, mgmt func(method, path, body string, out any) (int, error)) bool {
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: amqp.DefaultDial(3 * time.Second)})
	if err != nil {
		return false
	}
	_ = conn.Close()
	status, err := mgmt(http.MethodGet, "/api/overview", "", nil)
	return err == nil && status == http.StatusOK
}

// TestBrokerRestartMidStream: the RabbitMQ node stops (rabbitmqctl stop_app) while the daemon
// works through a stream of 1,000 events, one per unit, and starts again a few seconds later.
// The daemon reconnects by itself; no event is lost (every unit reaches STS), the queue ends
// empty and nothing is dead-lettered.
//
// The node is the test's own (internal/chaosenv: its own node name, ports and data directory,
// started and killed by the test), so the test runs with the others; the machine's RabbitMQ is
// never stopped. Without rabbitmq-server installed it is skipped, or fails under CI=true.
func TestBrokerRestartMidStream(t *testing.T) {
	broker := chaosenv.StartBroker(t)
	broker.RequireCtl(t)
	t.Logf("RabbitMQ node of the test's own: %s (amqp %d, management %d)", broker.Node, broker.AMQPPort, broker.APIPort)
	const total, firstHalf = 1000, 500
	// One event per unit, so that every event has an effect of its own in STS. To keep 1,000
	// imports within a minute or two under -race on two cores, the units are bare roots
	// (creating a unit in a tree queues its subtree again, and addresses and a manager are
	// objects of their own) and STS calls are unsigned (TestConsumerKilledMidStream signs).
	units := motest.Generate(16, total).Units
	for i := range units {
		units[i].Parent, units[i].Ancestors = nil, nil
		units[i].Addresses, units[i].Managers, units[i].KLE, units[i].ITUsers = nil, nil, nil, nil
	}
	// A unit takes at least two STS calls (a read and the importer): 300 calls serve at most
	// 150 units, far fewer than the first half, so the node stops with events done, in flight
	// and queued.
	rig := newCrashRig(t, units, 300, false, broker)
	env := maps.Clone(rig.env)
	env["HTTP_LISTEN"] = freeAddr(t)
	cfg, err := loadConfig(getenvOf(env), "")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ops := "http://" + cfg.HTTPListen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- runDaemon(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop within 30s")
		}
	})
	waitFor(t, 30*time.Second, "daemon ready", func() bool { return httpStatus(ops+"/readyz") == http.StatusOK })

	rig.publish(t, rig.publisher(t), rig.ids[:firstHalf])
	waitFor(t, 60*time.Second, "the STS gate to hold an event in flight", func() bool { return rig.gate.Held() > 0 })
	if n := rig.unitsDone(); n == 0 || n >= firstHalf {
		t.Fatalf("%d units in STS when the broker stops, want some but not all of %d", n, firstHalf)
	}
	reconnects := metricAt(t, ops, "stsorgsync_amqp_reconnects_total ")
	t.Logf("stopping RabbitMQ %s: %d units in STS, %d events held in flight", broker.Node, rig.unitsDone(), rig.gate.Held())

	// The node is killed when the test ends, even if it fails while the application is stopped.
	broker.StopApp(t)
	waitFor(t, 30*time.Second, "daemon unready while the broker is down", func() bool {
		return httpStatus(ops+"/readyz") != http.StatusOK
	})
	time.Sleep(3 * time.Second) // the daemon's reconnect attempts fail for a while
	broker.StartApp(t)          // waits until it answers AMQP and the management API
	waitFor(t, 90*time.Second, "RabbitMQ back", func() bool { return brokerUp(rig.broker.URL, rig.mgmt) })
	rig.gate.Open()
	waitFor(t, 60*time.Second, "daemon ready again", func() bool { return httpStatus(ops+"/readyz") == http.StatusOK })

	// The rest of the stream, on a new connection (the old one died with the node).
	rig.publish(t, rig.publisher(t), rig.ids[firstHalf:])
	start := time.Now()
	rig.waitConverged(t, 5*time.Minute)
	t.Logf("STS converged %s after the rest of the stream was published", time.Since(start).Round(time.Millisecond))
	rig.waitQueueEmpty(t)
	rig.assertDLQEmpty(t)
	if got := metricAt(t, ops, "stsorgsync_amqp_reconnects_total "); got <= reconnects {
		t.Errorf("reconnects = %v after the restart, want more than %v", got, reconnects)
	}
	// Every published event was settled as done, or coalesced with a queued event for its unit.
	settled := metricAt(t, ops, `stsorgsync_events_total{class="",outcome="done"`) +
		metricAt(t, ops, `stsorgsync_events_total{class="",outcome="coalesced"`)
	if settled < total {
		t.Errorf("%v events done or coalesced, want at least %d", settled, total)
	}
}

// daemonProcess is the stsorgsync binary running as a child process.
type daemonProcess struct {
	name    string
	cmd     *exec.Cmd
	ops     string        // base URL of its HTTP server
	exited  chan struct{} // closed when it has exited; then err is set
	err     error
	logPath string
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// startProcess runs bin with the rig's settings (and nothing else of the environment) and waits
// until it is ready. Its log goes to a file that is printed if the test fails.
func (r *crashRig) startProcess(t *testing.T, bin, name string) *daemonProcess {
	t.Helper()
	return startDaemonProcess(t, bin, name, r.env)
}

// startDaemonProcess runs `bin run` with settings (and nothing else of the environment; its own
// HTTP_LISTEN) and waits until it is ready. Its log goes to a file that is printed if the test
// fails; it is killed at cleanup if still running.
func startDaemonProcess(t *testing.T, bin, name string, settings map[string]string) *daemonProcess {
	t.Helper()
	listen := freeAddr(t)
	env := []string{"HTTP_LISTEN=" + listen, "LOG_LEVEL=info"}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	if v, ok := os.LookupEnv("GORACE"); ok {
		env = append(env, "GORACE="+v)
	}
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &daemonProcess{name: name, cmd: cmd, ops: "http://" + listen, exited: make(chan struct{}), logPath: logPath}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	waitFor(t, 30*time.Second, name+" process ready", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready: %v", name, p.err)
		default:
		}
		return httpStatus(p.ops+"/readyz") == http.StatusOK
	})
	return p
}

// dumpLog logs the end of the process's log.
func (p *daemonProcess) dumpLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Logf("%s log: %v", p.name, err)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("last %d log lines of %s:\n%s", len(lines), p.name, strings.Join(lines, "\n"))
}

// kill sends SIGKILL and waits until the process is gone.
func (p *daemonProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30s after SIGKILL", p.name)
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s ended with %v, want killed by SIGKILL", p.name, p.err)
	}
}

// stop sends SIGTERM and wants a clean exit (code 0: in time, and no data race reported).
func (p *daemonProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s still runs 60s after SIGTERM", p.name)
	}
	if p.err != nil {
		t.Errorf("%s exited with %v after SIGTERM, want exit code 0", p.name, p.err)
	}
}

// TestConsumerKilledMidStream: the daemon's process is killed with SIGKILL while events are in
// flight, OS2MO changes a third of the units while no consumer runs, and a new process takes
// over. No event is lost: STS ends with OS2MO's state for every unit, the queue is empty and
// nothing is dead-lettered.
func TestConsumerKilledMidStream(t *testing.T) {
	const units = 200
	bin := buildDaemon(t)
	data := motest.Generate(17, units)
	// A unit takes at least two STS calls (a read and the importer): 150 calls leave most units
	// undone.
	rig := newCrashRig(t, data.Units, 150, true, nil)
	first := rig.startProcess(t, bin, "first")
	pub := rig.publisher(t)
	rig.publish(t, pub, rig.ids)

	waitFor(t, 60*time.Second, "the STS gate to hold an event in flight", func() bool { return rig.gate.Held() > 0 })
	done := rig.unitsDone()
	if done == 0 || done >= units {
		t.Fatalf("%d units in STS at the kill, want some but not all of %d", done, units)
	}
	held := rig.gate.Held()
	first.kill(t)
	t.Logf("killed the first process with %d units in STS and %d events held in flight", done, held)
	if q, ok := rig.queueInfo(); ok && q.Messages != nil {
		t.Logf("work queue after the kill (sampled by the management API): %d messages", *q.Messages)
	}
	rig.gate.Open()

	// While no consumer runs, OS2MO renames every third unit and publishes its event.
	renamed := 0
	for i, id := range rig.ids {
		if i%3 != 0 {
			continue
		}
		u, _ := rig.mo.OrgUnit(id)
		u.Name += " (omdøbt)"
		if err := rig.mo.UpdateOrgUnit(u); err != nil {
			t.Fatal(err)
		}
		rig.publish(t, pub, []uuid.UUID{id})
		renamed++
	}
	t.Logf("published %d events, then %d renames after the kill", units, renamed)

	second := rig.startProcess(t, bin, "second")
	start := time.Now()
	rig.waitConverged(t, 5*time.Minute)
	t.Logf("STS converged %s after the second process was ready", time.Since(start).Round(time.Millisecond))
	rig.waitQueueEmpty(t)
	rig.assertDLQEmpty(t)
	if got := metricAt(t, second.ops, `stsorgsync_mo_requests_total{operation="OrgUnit",result="ok"}`); got == 0 {
		t.Error("the second process counted no OS2MO requests")
	}
	if f := rig.sts.Faults(); len(f) != 0 {
		t.Errorf("the fake STS sent faults: %v", f)
	}
	t.Logf("the second process settled %d events, %v of them queued as cascades", settledAt(t, second.ops),
		metricAt(t, second.ops, "stsorgsync_cascade_events_total "))
	second.stop(t)
}
