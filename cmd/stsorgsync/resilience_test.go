package main

// Resilience tests: the whole daemon against real RabbitMQ and Redis and the fakes, with STS
// outages and refusals, poison messages, lost Redis state, two replicas and a killed broker
// connection.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// metricAt sums the samples on opsURL/metrics whose line starts with prefix (name and labels in
// Prometheus' alphabetical label order).
func metricAt(t *testing.T, opsURL, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(opsURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			var n float64
			if _, err := fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &n); err == nil {
				total += n
			}
		}
	}
	return total
}

// metric reads a metric of the slice's daemon.
func (s *slice) metric(t *testing.T, prefix string) float64 { return metricAt(t, s.opsURL, prefix) }

// dlq takes every message from the dead-letter queue.
func (s *slice) dlq(t *testing.T) []amqp.Delivery { return takeAll(t, s.amqpURL, s.cfg.AMQPDLQ) }

// amqpChannel opens a connection to the broker at url and a channel on it, closed when the
// test ends.
func amqpChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open a channel: %v", err)
	}
	return ch
}

// takeAll takes (and acknowledges) every message in queue.
func takeAll(t *testing.T, amqpURL, queue string) []amqp.Delivery {
	t.Helper()
	ch := amqpChannel(t, amqpURL)
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatalf("get from %s: %v", queue, err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// publishRaw publishes body to OS2MO's exchange with routing key "org_unit".
func (s *slice) publishRaw(t *testing.T, body []byte) {
	t.Helper()
	ch := amqpChannel(t, s.amqpURL)
	if err := ch.PublishWithContext(context.Background(), s.cfg.AMQPMOExchange, "org_unit", false, false, amqp.Publishing{Body: body}); err != nil {
		t.Fatal(err)
	}
}

// startReplica runs a second daemon with the slice's configuration (same queue, same Redis
// prefix) and returns its ops URL.
func (s *slice) startReplica(t *testing.T) string {
	t.Helper()
	cfg := s.cfg
	cfg.HTTPListen = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})).With("replica", 2)
	go func() { done <- runDaemon(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("replica did not stop within 15s")
		}
	})
	ops := "http://" + cfg.HTTPListen
	waitFor(t, 20*time.Second, "replica ready", func() bool { return httpStatus(ops+"/readyz") == http.StatusOK })
	return ops
}

// unitsConverged reports whether STS holds every unit with the name OS2MO has now.
func (s *slice) unitsConverged(ids []uuid.UUID) bool {
	for _, id := range ids {
		want, _ := s.mo.OrgUnit(id)
		obj, ok := s.sts.Object(oio.KindOrganisationEnhed, id)
		if !ok || len(obj.Registration.Egenskaber) == 0 || obj.Registration.Egenskaber[0].Navn != want.Name {
			return false
		}
	}
	return true
}

// deadLettered returns the daemon's count of dead-lettered events (all classes).
func (s *slice) deadLettered(t *testing.T) float64 {
	t.Helper()
	n := 0.0
	for _, class := range []string{"malformed", "permanent", "retries-exhausted"} {
		n += s.metric(t, `stsorgsync_events_total{class="`+class+`",outcome="deadlettered"`)
	}
	return n
}

// TestSTSOutageLongerThanRetryBudget: STS answers 503 for far longer than the retry budget (1s);
// the circuit breaker opens, events wait instead of being dead-lettered, and after recovery every
// unit reaches STS.
func TestSTSOutageLongerThanRetryBudget(t *testing.T) {
	data := motest.Generate(11, 8)
	s := startSliceWith(t, data.Units, sliceOptions{env: map[string]string{
		"STS_BREAKER_THRESHOLD":      "3",
		"STS_BREAKER_PROBE_INTERVAL": "100ms",
	}})
	// 40 failing calls: at one probe per 100ms once the breaker is open, about 4s of outage.
	s.sts.FailNext(ststest.Failure{HTTPStatus: http.StatusServiceUnavailable, Times: 40})
	if got := s.metric(t, "stsorgsync_sts_circuit_open "); got != 0 {
		t.Fatalf("circuit open = %v before the outage", got)
	}
	start := time.Now()
	var ids []uuid.UUID
	for _, u := range data.Units {
		s.publish(t, u.UUID)
		ids = append(ids, u.UUID)
	}
	waitFor(t, 10*time.Second, "circuit open", func() bool { return s.metric(t, "stsorgsync_sts_circuit_open ") == 1 })
	waitFor(t, 30*time.Second, "all units in STS", func() bool { return s.unitsConverged(ids) })
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("outage lasted only %s; the test wants it longer than the 1s retry budget", took)
	}
	waitFor(t, 10*time.Second, "all events settled", func() bool { return s.allSettled(t, len(ids)) })
	if n := s.deadLettered(t); n != 0 {
		t.Errorf("%v events dead-lettered during the outage", n)
	}
	if msgs := s.dlq(t); len(msgs) != 0 {
		t.Errorf("%d events in the DLQ after an outage, want 0", len(msgs))
	}
	if got := s.metric(t, "stsorgsync_sts_circuit_open "); got != 0 {
		t.Errorf("circuit open = %v after recovery", got)
	}
	if got := s.metric(t, "stsorgsync_event_retries_total "); got == 0 {
		t.Error("no retries counted")
	}
}

// TestPoisonEventsAreDeadLetteredAtOnce: an STS refusal (StatusKode 40), a malformed body and a
// 1 MiB body are dead-lettered at once with their class, and the consumer goes on.
func TestPoisonEventsAreDeadLetteredAtOnce(t *testing.T) {
	data := motest.Generate(12, 3)
	s := startSliceWith(t, data.Units, sliceOptions{env: map[string]string{"RETRY_MAX_ELAPSED": "20s"}})
	s.sts.FailNext(ststest.Failure{Operation: oio.OpImporter, StatusKode: oio.StatusInvalidInput})
	start := time.Now()
	s.publish(t, data.Units[0].UUID)
	// The root first, alone: the injected refusal is for the next importer call of any unit, and
	// the other units' events, handled by other workers, could otherwise reach STS first.
	waitFor(t, 10*time.Second, "the root unit refused", func() bool {
		return s.metric(t, `stsorgsync_events_total{class="permanent",outcome="deadlettered"`) == 1
	})
	s.publishRaw(t, []byte(`{"not": "an event"`))
	s.publishRaw(t, bytes.Repeat([]byte("x"), 1<<20))
	s.publish(t, data.Units[1].UUID)
	s.publish(t, data.Units[2].UUID)
	// The root's creation also queues its two children (a cascade), so settled = 5 + cascaded.
	waitFor(t, 15*time.Second, "5 events settled", func() bool { return s.allSettled(t, 5) })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: poison events were retried (budget 20s)", took)
	}
	if got := s.metric(t, `stsorgsync_events_total{class="permanent",outcome="deadlettered"`); got != 1 {
		t.Errorf("dead-lettered permanent = %v, want 1", got)
	}
	if got := s.metric(t, `stsorgsync_events_total{class="malformed",outcome="deadlettered"`); got != 2 {
		t.Errorf("dead-lettered malformed = %v, want 2", got)
	}
	classes := map[string]int{}
	for _, d := range s.dlq(t) {
		classes[fmt.Sprint(d.Headers[consumer.HeaderErrorClass])]++
	}
	if want := map[string]int{"permanent": 1, "malformed": 2}; fmt.Sprint(classes) != fmt.Sprint(want) {
		t.Errorf("DLQ classes %v, want %v", classes, want)
	}
	// The refused unit is not in STS (importer was refused); the two after the poison are.
	if len(s.sts.Objects(oio.KindOrganisationEnhed)) != 2 {
		t.Errorf("STS holds %d units, want 2", len(s.sts.Objects(oio.KindOrganisationEnhed)))
	}
}

// TestRedisStateLostMidStream: deleting every key of the daemon (leases and last-sent hashes)
// while events flow costs extra reads but no wrong state.
func TestRedisStateLostMidStream(t *testing.T) {
	data := motest.Generate(13, 15)
	s := startSlice(t, data.Units)
	var ids []uuid.UUID
	for _, u := range data.Units {
		ids = append(ids, u.UUID)
		s.publish(t, u.UUID)
	}
	waitFor(t, 20*time.Second, "first pass settled", func() bool { return s.settled(t) >= len(ids)/2 })
	ctx := context.Background()
	keys, err := s.redis.Keys(ctx, s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no Redis keys under the test prefix")
	}
	if err := s.redis.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if i%2 == 0 {
			u, _ := s.mo.OrgUnit(id)
			u.Name += " (ny)"
			if err := s.mo.UpdateOrgUnit(u); err != nil {
				t.Fatal(err)
			}
		}
		s.publish(t, id)
	}
	waitFor(t, 30*time.Second, "all events settled", func() bool { return s.allSettled(t, 2*len(ids)) })
	if !s.unitsConverged(ids) {
		t.Error("STS does not match OS2MO after Redis lost its state")
	}
	if got := s.deadLettered(t); got != 0 {
		t.Errorf("%v events dead-lettered", got)
	}
}

// TestTwoReplicasNeverWriteOneObjectConcurrently: two daemons on one queue and one Redis prefix
// handle 200 events for 20 units with renames in between; STS never sees two writes to one object
// at once, and ends with OS2MO's state.
func TestTwoReplicasNeverWriteOneObjectConcurrently(t *testing.T) {
	data := motest.Generate(14, 20)
	// A lease held by the other replica is a transient error: give it a generous retry budget so
	// that a slow machine does not dead-letter events that merely waited for a lease.
	s := startSliceWith(t, data.Units, sliceOptions{sts: ststest.Options{WriteHold: 15 * time.Millisecond},
		env: map[string]string{"RETRY_MAX_ELAPSED": "30s"}})
	replica := s.startReplica(t)
	var ids []uuid.UUID
	for _, u := range data.Units {
		ids = append(ids, u.UUID)
	}
	for round := range 10 {
		for i, id := range ids {
			if (round+i)%3 == 0 {
				u, _ := s.mo.OrgUnit(id)
				u.Name = fmt.Sprintf("%s r%d", strings.SplitN(u.Name, " r", 2)[0], round)
				if err := s.mo.UpdateOrgUnit(u); err != nil {
					t.Fatal(err)
				}
			}
			s.publish(t, id)
		}
	}
	settledAll := func() bool {
		cascaded := s.cascaded(t) + int(metricAt(t, replica, "stsorgsync_cascade_events_total "))
		return s.settled(t)+settledAt(t, replica) == 200+cascaded
	}
	waitFor(t, 60*time.Second, "200 events settled", func() bool { return settledAll() || s.deadLettered(t) > 0 })
	if n := s.deadLettered(t) + metricAt(t, replica, `stsorgsync_events_total{class="retries-exhausted",outcome="deadlettered"`); n > 0 {
		t.Fatalf("%v events dead-lettered", n)
	}
	if n := s.sts.ConcurrentWritesSeen(); n != 0 {
		t.Errorf("STS saw %d concurrent writes to one object", n)
	}
	if !s.unitsConverged(ids) {
		t.Error("STS does not match OS2MO")
	}
	if a, b := s.metric(t, `stsorgsync_events_total{class="",outcome="done"`), metricAt(t, replica, `stsorgsync_events_total{class="",outcome="done"`); a == 0 || b == 0 {
		t.Logf("work split %v / %v (one replica idle)", a, b)
	}
}

// TestBrokerConnectionKilledMidStream: the broker closes the daemon's consumer connection while
// 1,000 events are queued; the daemon becomes unready, reconnects, and every event is done once.
func TestBrokerConnectionKilledMidStream(t *testing.T) {
	data := motest.Generate(15, 50)
	s := startSliceWith(t, data.Units, sliceOptions{sts: ststest.Options{Latency: 2 * time.Millisecond}})
	var ids []uuid.UUID
	for _, u := range data.Units {
		ids = append(ids, u.UUID)
	}
	for range 20 {
		for _, id := range ids {
			s.publish(t, id)
		}
	}
	waitFor(t, 20*time.Second, "some events settled", func() bool { return s.settled(t) >= 100 })
	killConnection(t, s.broker.VHost, "stsorgsync consumer")
	waitFor(t, 10*time.Second, "unready after the kill", func() bool { return httpStatus(s.opsURL+"/readyz") != http.StatusOK })
	waitFor(t, 20*time.Second, "ready again", func() bool { return httpStatus(s.opsURL+"/readyz") == http.StatusOK })
	// At least once: an event handled just before the kill whose ack was lost is redelivered
	// and counted again, so "done" may exceed 1,000 but never fall short of it.
	waitFor(t, 60*time.Second, "1000 events settled", func() bool {
		done := s.metric(t, `stsorgsync_events_total{class="",outcome="done"`) + s.metric(t, `stsorgsync_events_total{class="",outcome="coalesced"`)
		return int(done) >= 1000+s.cascaded(t)
	})
	if !s.unitsConverged(ids) {
		t.Error("not every unit is in STS")
	}
	if got := s.metric(t, "stsorgsync_amqp_reconnects_total "); got < 1 {
		t.Errorf("reconnects = %v, want ≥ 1", got)
	}
	if got := s.deadLettered(t); got != 0 {
		t.Errorf("%v events dead-lettered", got)
	}
}

// killConnection closes the vhost's connection with the given client-provided name through the
// management API.
func killConnection(t *testing.T, vhost, name string) {
	t.Helper()
	raw := os.Getenv("TEST_RABBITMQ_API")
	if raw == "" {
		raw = "http://guest:guest@127.0.0.1:15672"
	}
	api, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		t.Fatal(err)
	}
	user := api.User.Username()
	pass, _ := api.User.Password()
	api.User = nil
	call := func(method, path string) []byte {
		req, err := http.NewRequest(method, api.String()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, body)
		}
		return body
	}
	var conns []struct {
		Name  string `json:"name"`
		Props struct {
			ConnectionName string `json:"connection_name"`
		} `json:"client_properties"`
	}
	var target string
	waitFor(t, 10*time.Second, "the management API to list "+name, func() bool {
		if err := json.Unmarshal(call(http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/connections"), &conns); err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			if c.Props.ConnectionName == name {
				target = c.Name
				return true
			}
		}
		return false
	})
	call(http.MethodDelete, "/api/connections/"+url.PathEscape(target))
}

// TestSTSOutageWithoutBreakerEndsInDLQAndReplayRestores: with the circuit breaker off, an STS
// outage longer than the retry budget dead-letters every event with its reason; after recovery,
// `stsorgsync dlq replay` puts every one back and STS converges.
func TestSTSOutageWithoutBreakerEndsInDLQAndReplayRestores(t *testing.T) {
	data := motest.Generate(16, 4)
	s := startSliceWith(t, data.Units, sliceOptions{env: map[string]string{"STS_BREAKER_THRESHOLD": "0"}})
	s.sts.FailNext(ststest.Failure{HTTPStatus: http.StatusServiceUnavailable, Times: 1 << 20})
	var ids []uuid.UUID
	for _, u := range data.Units {
		ids = append(ids, u.UUID)
		s.publish(t, u.UUID)
	}
	waitFor(t, 30*time.Second, "every event dead-lettered", func() bool { return s.deadLettered(t) >= float64(len(ids)) })
	if len(s.sts.Objects(oio.KindOrganisationEnhed)) != 0 {
		t.Fatal("units reached STS during the outage")
	}

	s.sts.ClearFailures() // STS is back
	env := map[string]string{"AMQP_URL": s.cfg.AMQPURL}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"dlq", "list"}, getenvOf(env), &stdout, &stderr); code != 0 {
		t.Fatalf("dlq list = %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "retries-exhausted") || !strings.Contains(stdout.String(), "org_unit") {
		t.Errorf("dlq list does not show the outage's events by class and routing key:\n%s", stdout.String())
	}
	t.Logf("dlq list:\n%s", stdout.String())
	stdout.Reset()
	if code := run(t.Context(), []string{"dlq", "replay"}, getenvOf(env), &stdout, &stderr); code != 0 {
		t.Fatalf("dlq replay = %d: %s\n%s", code, stdout.String(), stderr.String())
	}
	t.Logf("dlq replay:\n%s", stdout.String())
	waitFor(t, 30*time.Second, "every unit in STS after the replay", func() bool { return s.unitsConverged(ids) })
	if msgs := s.dlq(t); len(msgs) != 0 {
		t.Errorf("%d events left in the DLQ after the replay", len(msgs))
	}
}
