package main

// Chaos scenarios (issue 16): the real binary against a RabbitMQ node and a Redis server of the
// test's own (internal/chaosenv: killed with SIGKILL and restarted, flushed; never the machine's),
// the fake OS2MO and the fake STS in this process. Each scenario loads a generated municipality
// by events, then publishes a stream of changes — every unit renamed, an engagement of every
// person moved to another unit — and injects its fault mid-stream. Each change has an effect of
// its own in STS that nothing else would write, so `stsorgsync verify` (the binary) exiting 0
// means no change event was lost. The oracle of every scenario: after recovery verify exits 0,
// the work queue is empty, the dead-letter queue holds exactly what the scenario expects, and the
// fake STS saw no two writes of one object at once. Each scenario measures its recovery: from the
// fault's end until every event is settled and verify passes. TestChaos prints a table of them.
//
// The scenarios run only with STSORGSYNC_CHAOS_TEST=1 (`make chaos`); they take minutes.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

const (
	// chaosTestEnv enables TestChaos (make chaos sets it).
	chaosTestEnv = "STSORGSYNC_CHAOS_TEST"
	// chaosReportEnv, when set, names a file TestChaos writes its table to (make chaos:
	// bench/out/chaos.txt).
	chaosReportEnv = "STSORGSYNC_CHAOS_REPORT"
	// The municipality of every scenario.
	chaosUnits, chaosPersons = 30, 150
	// The daemon's queues (the defaults; each scenario has a vhost of its own).
	chaosQueue, chaosDLQ = "stsorgsync", "stsorgsync.dlq"
)

// chaosScenario is one row of TestChaos.
type chaosScenario struct {
	name string
	// env overrides the rig's settings for every command of the scenario.
	env map[string]string
	// daemons is the number of daemon processes (default 1).
	daemons int
	// setup runs before the daemons start (e.g. settings of the broker that apply to channels
	// opened later).
	setup func(t *testing.T, r *chaosRig)
	// beforeStream runs after the load, before the change stream is published.
	beforeStream func(t *testing.T, r *chaosRig)
	// atOnce starts the fault as soon as the stream is being published, instead of once the
	// daemon has written part of it.
	atOnce bool
	// fault injects the fault and returns when it has ended: the recovery clock starts then.
	fault func(t *testing.T, r *chaosRig) time.Time
	// afterFault runs once the queue is empty after the fault (e.g. `stsorgsync dlq replay`); it
	// counts toward the recovery.
	afterFault func(t *testing.T, r *chaosRig)
	// wantDLQ returns the dead-letter queue the fault must leave, by error class (nil: empty).
	wantDLQ func(r *chaosRig) map[string]int
	// replayed: afterFault empties the dead-letter queue.
	replayed bool
	// noops is the number of no-op events (a refresh of an unchanged unit or person: no STS write)
	// published after each change of the stream.
	noops int
	// after runs once the oracle has been checked, before the daemons stop (e.g. a summary).
	after func(t *testing.T, r *chaosRig, res *chaosResult)
}

// rigBroker is the RabbitMQ a scenario runs on: one node of the test's own (chaosenv.Broker) or
// a cluster (chaosenv.Cluster).
type rigBroker interface {
	AddVHost(t testing.TB) (urls, vhost string)
	Management(method, path, body string, out any) (int, error)
}

// chaosResult is one line of the table.
type chaosResult struct {
	scenario   string
	events     int
	load       time.Duration
	recovery   time.Duration
	verifyExit int
	dlq        map[string]int
	dlqEnd     int
	concurrent int
	ok         bool
}

// TestChaos runs the chaos scenarios one after another on one RabbitMQ node and one Redis of its
// own (each scenario in a vhost of its own, with its own Redis prefix and fakes) and prints the
// table of their recoveries.
func TestChaos(t *testing.T) {
	if os.Getenv(chaosTestEnv) != "1" {
		t.Skipf("chaos scenarios take minutes and start a RabbitMQ node and a Redis of their own; run them with %s=1 (make chaos)", chaosTestEnv)
	}
	bin := buildDaemon(t)
	start := time.Now()
	broker := chaosenv.StartBroker(t)
	rds := chaosenv.StartRedis(t)
	t.Logf("chaos broker %s (amqp %d, management %d) and Redis on %d up in %s", broker.Node, broker.AMQPPort,
		broker.APIPort, rds.Port, time.Since(start).Round(time.Millisecond))

	var results []chaosResult
	for _, sc := range chaosScenarios() {
		if only := os.Getenv("STSORGSYNC_CHAOS_ONLY"); only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		res := chaosResult{scenario: sc.name, verifyExit: -1}
		t.Run(sc.name, func(t *testing.T) {
			runChaosScenario(t, bin, broker, rds, sc, &res)
			res.ok = !t.Failed()
		})
		results = append(results, res)
	}
	table := chaosTable(results, time.Since(start))
	t.Log("\n" + table)
	if path := os.Getenv(chaosReportEnv); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Error(err)
		} else if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// chaosScenarios are the faults, each injected into a stream of events.
func chaosScenarios() []chaosScenario {
	return []chaosScenario{
		{
			// The same stream without a fault: what the other rows' recovery compares with (the
			// time the rest of the stream takes anyway).
			name:  "no fault (baseline)",
			fault: func(*testing.T, *chaosRig) time.Time { return time.Now() },
		},
		{
			name: "broker kill -9",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.node.Kill(t)
				time.Sleep(3 * time.Second) // the daemon's and the publisher's attempts fail meanwhile
				r.node.Start(t)
				return time.Now()
			},
		},
		{
			name: "daemon kill -9, restarted",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.daemons[0].kill(t)
				r.daemons[0] = r.startDaemon(t, "restarted")
				return time.Now()
			},
		},
		{
			name:    "two daemons, one kill -9",
			daemons: 2,
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.daemons[0].kill(t)
				r.daemons = r.daemons[1:]
				return time.Now()
			},
		},
		{
			name: "Redis FLUSHALL",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				if err := r.rdb.FlushAll(context.Background()).Err(); err != nil {
					t.Fatalf("FLUSHALL: %v", err)
				}
				return time.Now()
			},
		},
		{
			name: "Redis kill -9, restarted",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.redis.Kill(t)
				time.Sleep(3 * time.Second)
				r.redis.Start(t)
				return time.Now()
			},
		},
		{
			// RETRY_MAX_ELAPSED is far shorter than the outage: with the breaker on it must not
			// matter.
			name: "STS outage 10s, breaker on",
			env:  map[string]string{"RETRY_MAX_ELAPSED": "2s"},
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": true}`)
				time.Sleep(10 * time.Second)
				if open := r.metricOfAll(t, "stsorgsync_sts_circuit_open "); open != 1 {
					t.Errorf("circuit breaker open = %v during the outage, want 1", open)
				}
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": false}`)
				return time.Now()
			},
		},
		{
			// Every change event meets the outage and is dead-lettered after RETRY_MAX_ELAPSED;
			// `stsorgsync dlq replay` brings them back once STS answers.
			name:   "STS outage, breaker off, DLQ replay",
			env:    map[string]string{"STS_BREAKER_THRESHOLD": "0", "RETRY_MAX_ELAPSED": "300ms", "WORKERS": "8"},
			atOnce: true,
			beforeStream: func(t *testing.T, r *chaosRig) {
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": true}`)
			},
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.waitStreamPublished(t)
				waitFor(t, 2*time.Minute, "every change event dead-lettered", func() bool {
					return r.queueReady(t, chaosDLQ) >= r.streamed()
				})
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": false}`)
				return time.Now()
			},
			afterFault: func(t *testing.T, r *chaosRig) { r.dlqReplay(t) },
			wantDLQ:    func(r *chaosRig) map[string]int { return map[string]int{"retries-exhausted": r.streamed()} },
			replayed:   true,
		},
		{
			// With the breaker open the deliveries held by the daemon wait past RabbitMQ's
			// consumer timeout (5 s here, 30 min by default): the broker closes the channel and
			// returns them, counting a delivery each time, and after AMQP_DELIVERY_LIMIT returns
			// dead-letters them itself (class delivery-limit). Exactly the AMQP_PREFETCH
			// deliveries held (2 × WORKERS = 8) are dead-lettered when the outage ends right after.
			name: "STS outage past the consumer timeout",
			env:  map[string]string{"AMQP_DELIVERY_LIMIT": "2", "RETRY_MAX_ELAPSED": "2s"},
			setup: func(t *testing.T, r *chaosRig) {
				if err := r.node.SetConsumerTimeout(5*time.Second, time.Second); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := r.node.SetConsumerTimeout(30*time.Minute, time.Minute); err != nil {
						t.Errorf("reset the consumer timeout: %v", err)
					}
				})
			},
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": true}`)
				waitFor(t, 2*time.Minute, "the broker to dead-letter the held deliveries", func() bool {
					return r.queueReady(t, chaosDLQ) >= r.prefetch()
				})
				r.stsControl(t, http.MethodPut, "/_control/outage", `{"on": false}`)
				t.Logf("reconnects during the outage: %v", r.metricOfAll(t, "stsorgsync_amqp_reconnects_total "))
				return time.Now()
			},
			afterFault: func(t *testing.T, r *chaosRig) { r.dlqReplay(t, "--class", "delivery-limit") },
			wantDLQ:    func(r *chaosRig) map[string]int { return map[string]int{"delivery-limit": r.prefetch()} },
			replayed:   true,
		},
		{
			name: "poison flood (200 malformed)",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.publishPoison(t, 200)
				return time.Now()
			},
			wantDLQ: func(*chaosRig) map[string]int { return map[string]int{"malformed": 200} },
		},
		{
			name: "SIGTERM, restarted",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.daemons[0].terminate(t)
				r.daemons[0] = r.startDaemon(t, "restarted")
				return time.Now()
			},
		},
		{
			name: "slow STS (150ms + 50ms tail, 8s)",
			fault: func(t *testing.T, r *chaosRig) time.Time {
				r.stsControl(t, http.MethodPut, "/_control/latency", `{"latency": "150ms", "tail": "50ms"}`)
				time.Sleep(8 * time.Second)
				r.stsControl(t, http.MethodPost, "/_control/reset", "")
				return time.Now()
			},
		},
	}
}

// chaosRig is one scenario's world: a vhost on the chaos broker, a Redis prefix on the chaos
// Redis, the fakes, the daemon processes and their settings.
type chaosRig struct {
	bin     string
	broker  rigBroker
	node    *chaosenv.Broker // broker, when it is one node (nil for a cluster)
	amqpURL string           // AMQP_URL: one node's URL, or a cluster's URLs
	noops   int              // no-op events after each change of the stream
	vhost   string
	redis   *chaosenv.Redis
	rdb     *redis.Client
	mo      *motest.Server
	sts     *ststest.Server
	stsURL  string
	pub     *motest.Publisher
	data    motest.Dataset
	env     map[string]string
	cli     *mappingRig // runs the binary's commands with the rig's settings (verify, dlq)
	daemons []*daemonProcess

	streamCount atomic.Int64  // change events published so far
	extraEvents atomic.Int64  // other events the fault published (poison)
	streamDone  chan struct{} // closed when the stream is published
	streamErr   error
}

func newChaosRig(t *testing.T, bin string, broker rigBroker, rds *chaosenv.Redis, sc chaosScenario) *chaosRig {
	t.Helper()
	amqpURL, vhost := broker.AddVHost(t)
	r := &chaosRig{bin: bin, broker: broker, amqpURL: amqpURL, vhost: vhost, redis: rds, rdb: rds.Client(t),
		noops: sc.noops, streamDone: make(chan struct{})}
	r.node, _ = broker.(*chaosenv.Broker)
	pub, err := motest.DialPublisherWithOptions(amqpURL, motest.PublisherOptions{})
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	r.pub = pub
	r.data = motest.GenerateOrg(motest.GenOptions{Seed: 16, Units: chaosUnits, Persons: chaosPersons, Today: time.Now()})
	r.mo = motest.NewServer(motest.Options{Events: pub})
	if err := r.mo.Load(r.data); err != nil {
		t.Fatalf("load municipality: %v", err)
	}
	moSrv := newHTTPServer(t, r.mo.Handler())
	// WriteHold keeps every write open a moment, so that two writes of one object would overlap
	// and be counted.
	r.sts = ststest.NewServer(ststest.Options{WriteHold: 5 * time.Millisecond})
	r.stsURL = newHTTPServer(t, r.sts.Handler())
	r.env = map[string]string{
		"AMQP_URL":              amqpURL,
		"EVENT_SOURCE":          "amqp",
		"REDIS_URL":             rds.URL(0),
		"REDIS_KEY_PREFIX":      "chaos:" + vhost + ":",
		"MO_URL":                moSrv,
		"MO_AUTH_SERVER":        moSrv + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          r.stsURL,
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
		// Unsigned: the scenarios are about infrastructure, and signing every call under -race
		// on two cores would triple the run (the crash and e2e tests sign).
		"STS_SECURITY":      "false",
		"WORKERS":           "4",
		"RETRY_INITIAL":     "50ms",
		"RETRY_MAX":         "1s",
		"RETRY_MAX_ELAPSED": "30s",
		// A killed process leaves the leases of its in-flight objects behind until they expire.
		"LEASE_TTL":        "5s",
		"SHUTDOWN_TIMEOUT": "10s",
		"LOG_LEVEL":        "info",
	}
	maps.Copy(r.env, sc.env)
	r.cli = &mappingRig{bin: bin, env: r.env}
	r.cli.writeConfig(t)
	return r
}

// newHTTPServer serves h on 127.0.0.1 until the test ends and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// prefetch returns the deliveries a daemon holds unacknowledged at most: AMQP_PREFETCH, or
// 2 × WORKERS (the rig's settings are valid: the daemons started with them).
func (r *chaosRig) prefetch() int {
	cfg, _ := loadConfig(getenvOf(r.env), "")
	if cfg.AMQPPrefetch > 0 {
		return cfg.AMQPPrefetch
	}
	return 2 * cfg.Workers
}

// startDaemon runs one more daemon process with the rig's settings and waits until it is ready.
func (r *chaosRig) startDaemon(t *testing.T, name string) *daemonProcess {
	t.Helper()
	return (&crashRig{env: r.env}).startProcess(t, r.bin, name)
}

// runChaosScenario loads the municipality, publishes the change stream with the fault injected
// mid-stream, and checks the oracle, filling res as it goes.
func runChaosScenario(t *testing.T, bin string, broker rigBroker, rds *chaosenv.Redis, sc chaosScenario, res *chaosResult) {
	r := newChaosRig(t, bin, broker, rds, sc)
	if sc.setup != nil {
		sc.setup(t, r)
	}
	for i := range max(sc.daemons, 1) {
		r.daemons = append(r.daemons, r.startDaemon(t, fmt.Sprintf("daemon%d", i+1)))
	}

	// Load: one event per unit and per person; a unit's creation queues its subtree and persons
	// again (cascades).
	loadStart := time.Now()
	for _, u := range r.data.Units {
		r.publish(t, "org_unit", u.UUID)
	}
	for _, p := range r.data.Persons {
		r.publish(t, "person", p.UUID)
	}
	res.events = len(r.data.Units) + len(r.data.Persons)
	r.waitQueueEmpty(t, 3*time.Minute)
	res.load = time.Since(loadStart)
	t.Logf("loaded %d units and %d persons by %d events in %s", len(r.data.Units), len(r.data.Persons), res.events,
		res.load.Round(time.Millisecond))

	if sc.beforeStream != nil {
		sc.beforeStream(t, r)
	}
	writesBefore := writes(r.sts.Calls())
	changes := r.changes(t)
	go r.publishStream(t, changes)
	if !sc.atOnce {
		// Mid-stream: the daemon has written part of the stream (each change is one or two
		// writes), and most of it is still to come.
		waitFor(t, time.Minute, "the daemon to write part of the stream", func() bool {
			return writes(r.sts.Calls())-writesBefore >= len(changes)/6
		})
	}
	written := writes(r.sts.Calls()) - writesBefore
	t.Logf("fault starts: %d of %d change events published, %d STS writes of the stream done", r.streamed(), len(changes), written)
	faultStart := time.Now()
	faultEnd := sc.fault(t, r)
	t.Logf("fault ended %s after it started", faultEnd.Sub(faultStart).Round(time.Millisecond))
	r.waitStreamPublished(t)
	if r.streamErr != nil {
		t.Fatalf("publishing the stream: %v", r.streamErr)
	}
	res.events += r.streamed() + int(r.extraEvents.Load())

	// The fault's dead letters, once the queue is empty.
	r.waitQueueEmpty(t, 5*time.Minute)
	res.dlq = r.dlqClasses(t)
	want := map[string]int{}
	if sc.wantDLQ != nil {
		want = sc.wantDLQ(r)
	}
	if !maps.Equal(res.dlq, want) {
		t.Errorf("dead-letter queue after the fault: %v, want %v", res.dlq, want)
	}
	if sc.afterFault != nil {
		sc.afterFault(t, r)
	}

	// Recovery: every event settled and STS in line with OS2MO.
	code, out := r.waitVerified(t, 5*time.Minute)
	res.recovery, res.verifyExit = time.Since(faultEnd), code
	if code != 0 {
		t.Errorf("stsorgsync verify exited %d after recovery, want 0:\n%s", code, lastLines(out, 40))
	}
	res.dlqEnd = r.queueReady(t, chaosDLQ)
	wantEnd := 0
	if !sc.replayed {
		for _, n := range want {
			wantEnd += n
		}
	}
	if res.dlqEnd != wantEnd {
		t.Errorf("dead-letter queue holds %d messages at the end, want %d", res.dlqEnd, wantEnd)
	}
	var cw ststest.ConcurrentWritesView
	r.stsGet(t, "/_inspect/concurrent-writes", &cw)
	res.concurrent = cw.ConcurrentWrites
	if cw.ConcurrentWrites != 0 {
		t.Errorf("the fake STS saw %d concurrent writes of one object", cw.ConcurrentWrites)
	}
	t.Logf("recovered %s after the fault ended: verify exit %d, DLQ %v (%d at the end), %d concurrent writes",
		res.recovery.Round(time.Millisecond), code, res.dlq, res.dlqEnd, cw.ConcurrentWrites)
	if sc.after != nil {
		sc.after(t, r, res)
	}
	for _, d := range r.daemons {
		d.terminate(t)
	}
}

// change is one change of the stream: a mutation of the fake OS2MO, which publishes its event.
type change func(ctx context.Context) error

// changes returns the stream: every unit renamed and, for every person with an engagement in
// effect, that engagement moved to another unit, interleaved. Each has an effect of its own in
// STS (a unit's name, a position's unit), so a lost event shows as drift.
func (r *chaosRig) changes(t *testing.T) []change {
	t.Helper()
	now := time.Now()
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	units := r.data.Units
	var unitChanges, personChanges []change
	for _, u := range units {
		id, name := u.UUID, u.Name+" (omdøbt)"
		unitChanges = append(unitChanges, func(ctx context.Context) error {
			_, err := r.mo.RenameUnit(ctx, id, name, today)
			return err
		})
	}
	for i, p := range r.data.Persons {
		for _, e := range p.Engagements {
			if e.Validity.From.After(now) || (!e.Validity.To.IsZero() && !e.Validity.To.After(now)) {
				continue
			}
			target := units[(i*7+1)%len(units)].UUID
			if target == e.OrgUnit {
				target = units[(i*7+2)%len(units)].UUID
			}
			engagement := e.UUID
			personChanges = append(personChanges, func(ctx context.Context) error {
				_, err := r.mo.ChangeEngagement(ctx, engagement, motest.EngagementChange{OrgUnit: &target}, today)
				return err
			})
			break
		}
	}
	var out []change
	for i := range max(len(unitChanges), len(personChanges)) {
		if i < len(personChanges) {
			out = append(out, personChanges[i])
		}
		if i < len(unitChanges) {
			out = append(out, unitChanges[i])
		}
	}
	return out
}

// publishStream makes the changes one after another (each publishes its event, waiting for the
// broker's confirm, also through a broker restart) and closes streamDone.
func (r *chaosRig) publishStream(t *testing.T, changes []change) {
	defer close(r.streamDone)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for i, c := range changes {
		if err := c(ctx); err != nil {
			r.streamErr = err
			return
		}
		r.streamCount.Add(1)
		for k := range r.noops {
			// A refresh of an object the stream does not change (yet): the daemon reads OS2MO and
			// finds nothing to write.
			typ, id := "person", r.data.Persons[(i*r.noops+k)%len(r.data.Persons)].UUID
			if k%3 == 2 {
				typ, id = "org_unit", r.data.Units[(i*r.noops+k)%len(r.data.Units)].UUID
			}
			if err := r.pub.Publish(ctx, typ, id); err != nil {
				r.streamErr = err
				return
			}
			r.streamCount.Add(1)
		}
	}
}

// streamed returns the number of change events published so far.
func (r *chaosRig) streamed() int { return int(r.streamCount.Load()) }

// waitStreamPublished waits until every change of the stream is published.
func (r *chaosRig) waitStreamPublished(t *testing.T) {
	t.Helper()
	select {
	case <-r.streamDone:
	case <-time.After(4 * time.Minute):
		t.Fatal("the change stream was not published within 4 minutes")
	}
}

// publish sends one OS2MO event (waiting for the broker's confirm).
func (r *chaosRig) publish(t *testing.T, objectType string, id uuid.UUID) {
	t.Helper()
	if err := r.pub.Publish(t.Context(), objectType, id); err != nil {
		t.Fatalf("publish %s %s: %v", objectType, id, err)
	}
}

// publishPoison publishes n malformed events (bodies that are not a UUID) to OS2MO's exchange.
func (r *chaosRig) publishPoison(t *testing.T, n int) {
	t.Helper()
	ch := amqpChannel(t, r.amqpURL)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	bodies := []string{`{"not": "an event"`, `"not-a-uuid"`, `garbage %d`, `{"uuid": 42}`}
	for i := range n {
		key := []string{"org_unit", "person"}[i%2]
		body := bodies[i%len(bodies)]
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, i)
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), motest.DefaultExchange, key, false, false, amqp.Publishing{Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("poison %d not confirmed: %v", i, err)
		}
		r.extraEvents.Add(1)
	}
}

// stsControl calls the fake STS's control API and fails the test unless it answers 200.
func (r *chaosRig) stsControl(t *testing.T, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, r.stsURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s %s: HTTP %d: %s", method, path, body, resp.StatusCode, b)
	}
}

// stsGet reads a JSON document of the fake STS's inspection API.
func (r *chaosRig) stsGet(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := http.Get(r.stsURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// metricOfAll sums a metric over the running daemons.
func (r *chaosRig) metricOfAll(t *testing.T, prefix string) float64 {
	t.Helper()
	total := 0.0
	for _, d := range r.daemons {
		total += metricAt(t, d.ops, prefix)
	}
	return total
}

// queueReady returns the number of ready messages in a queue of the rig's vhost (AMQP passive
// declare: exact and current; -1 if the broker does not answer).
func (r *chaosRig) queueReady(t *testing.T, queue string) int {
	t.Helper()
	conn, err := r.dial(t)
	if err != nil {
		return -1
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return -1
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return -1
	}
	return q.Messages
}

// dial connects to the first node of the rig's AMQP_URL that takes the connection.
func (r *chaosRig) dial(t *testing.T) (*amqp.Connection, error) {
	t.Helper()
	d, err := amqpdial.New(amqpdial.Config{URLs: r.amqpURL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := d.Dial(t.Context(), "chaos test")
	return conn, err
}

// waitQueueEmpty waits until the work queue holds no message, ready or unacknowledged: the
// management API (figures at most a second old) must say so twice in a row, and a passive
// declare must find nothing ready.
func (r *chaosRig) waitQueueEmpty(t *testing.T, d time.Duration) {
	t.Helper()
	queue := chaosQueue
	empties := 0
	waitFor(t, d, "the work queue to be empty", func() bool {
		var q rabbitQueue
		_, err := r.broker.Management(http.MethodGet, "/api/queues/"+url.PathEscape(r.vhost)+"/"+url.PathEscape(queue), "", &q)
		if err != nil || q.Messages == nil || *q.Messages != 0 || q.Unacked == nil || *q.Unacked != 0 || r.queueReady(t, queue) != 0 {
			empties = 0
			time.Sleep(200 * time.Millisecond)
			return false
		}
		empties++
		if empties < 2 {
			time.Sleep(1100 * time.Millisecond)
			return false
		}
		return true
	})
}

// waitVerified waits until the work queue is empty and `stsorgsync verify` exits 0, and returns
// verify's last exit code and output.
func (r *chaosRig) waitVerified(t *testing.T, d time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r.waitQueueEmpty(t, time.Until(deadline))
		code, out := r.cli.command(t, "verify")
		if code == 0 || time.Now().After(deadline) {
			return code, out
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// dlqClasses counts the dead-letter queue's messages by error class (they stay in the queue).
func (r *chaosRig) dlqClasses(t *testing.T) map[string]int {
	t.Helper()
	conn, err := r.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q, err := consumer.NewDLQ(conn, consumer.Config{URL: r.amqpURL})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := q.List(t.Context())
	if err != nil {
		t.Fatalf("list the dead-letter queue: %v", err)
	}
	out := map[string]int{}
	for _, g := range stats.Groups {
		out[g.Class] += g.Count
	}
	return out
}

// dlqReplay runs `stsorgsync dlq replay` with args and wants exit 0.
func (r *chaosRig) dlqReplay(t *testing.T, args ...string) {
	t.Helper()
	code, out := r.cli.command(t, append([]string{"dlq", "replay"}, args...)...)
	if code != 0 {
		t.Fatalf("dlq replay exited %d:\n%s", code, out)
	}
	t.Logf("dlq replay: %s", lastLines(out, 3))
}

// terminate sends SIGTERM and wants the daemon to exit 0 (clean) or 3 (in-flight events
// cancelled and requeued at the shutdown deadline).
func (p *daemonProcess) terminate(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s still runs 60s after SIGTERM", p.name)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
	case errors.As(p.err, &ee) && ee.ExitCode() == exitUnclean:
		t.Logf("%s: shutdown deadline exceeded (exit 3): in-flight events were requeued", p.name)
	default:
		t.Errorf("%s exited with %v after SIGTERM, want exit code 0 or 3", p.name, p.err)
	}
}

// chaosTable formats the results.
func chaosTable(results []chaosResult, took time.Duration) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Chaos scenarios: %d units, %d persons; the real binary (race detector: %v) against its own RabbitMQ node and Redis\n\n",
		chaosUnits, chaosPersons, raceEnabled())
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tevents\tload s\trecovery s\tverify exit\tDLQ after fault\tDLQ at end\tconcurrent writes\tresult")
	for _, r := range results {
		dlq := "0"
		if len(r.dlq) > 0 {
			var parts []string
			for _, class := range slices.Sorted(maps.Keys(r.dlq)) {
				parts = append(parts, fmt.Sprintf("%d %s", r.dlq[class], class))
			}
			dlq = strings.Join(parts, ", ")
		}
		result := "ok"
		if !r.ok {
			result = "FAILED"
		}
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%d\t%s\t%d\t%d\t%s\n", r.scenario, r.events, r.load.Seconds(), r.recovery.Seconds(),
			r.verifyExit, dlq, r.dlqEnd, r.concurrent, result)
	}
	_ = w.Flush()
	fmt.Fprintf(&b, "\nwall time %s\n", took.Round(time.Second))
	return b.String()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
