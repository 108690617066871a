package bridge_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/bridge"
	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// switchable serves the fake OS2MO until Down is set; then it answers every request with 503, as
// a proxy in front of an OS2MO that is down does. It counts the GraphQL requests it refused.
type switchable struct {
	next    http.Handler
	down    atomic.Bool
	refused atomic.Int64
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		s.refused.Add(1)
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	}
	s.next.ServeHTTP(w, r)
}

// handled records the events the consumer hands its handler.
type handled struct {
	mu  sync.Mutex
	evs []consumer.Event
}

func (h *handled) Handle(_ context.Context, ev consumer.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.evs = append(h.evs, ev)
	return nil
}

// count returns how often id was handled.
func (h *handled) count(id uuid.UUID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ev := range h.evs {
		if ev.UUID == id {
			n++
		}
	}
	return n
}

func (h *handled) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.evs)
}

// steps counts what the bridge reports to its Observer.
type steps struct {
	mu     sync.Mutex
	steps  map[bridge.Step]int
	errors map[bridge.Stage]int
}

func (s *steps) BridgeStep(_ string, st bridge.Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps[st]++
}

func (s *steps) BridgeError(_ string, st bridge.Stage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors[st]++
}

func (s *steps) step(st bridge.Step) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.steps[st]
}

func (s *steps) failed(st bridge.Stage) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errors[st]
}

type nopObserver struct{}

func (nopObserver) Delivery(consumer.Event, consumer.Outcome, string, time.Duration) {}

// rig is a fake OS2MO (behind a switch) with a few units, a real consumer on its own vhost as the
// bridge's sink, and a bridge between them.
type rig struct {
	t       *testing.T
	clock   *testclock.Clock
	mo      *motest.Server
	front   *switchable
	client  *moclient.Client
	broker  *testenv.Broker
	cons    *consumer.Consumer
	got     *handled
	obs     *steps
	units   []uuid.UUID
	cfg     bridge.Config
	consRun context.CancelFunc
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clock: testclock.New(time.Now()), got: &handled{},
		obs: &steps{steps: map[bridge.Step]int{}, errors: map[bridge.Stage]int{}}}
	r.mo = motest.NewServer(motest.Options{Now: r.clock.Now})
	data := motest.GenerateOrg(motest.GenOptions{Seed: 7, Units: 6, Persons: 0, Today: time.Now()})
	if err := r.mo.Load(data); err != nil {
		t.Fatal(err)
	}
	for _, u := range data.Units {
		r.units = append(r.units, u.UUID)
	}
	r.front = &switchable{next: r.mo.Handler()}
	srv := httptest.NewServer(r.front)
	t.Cleanup(srv.Close)
	client, err := moclient.New(moclient.Config{URL: srv.URL, AuthServer: srv.URL + "/auth",
		ClientID: motest.DefaultClientID, ClientSecret: motest.DefaultClientSecret, MaxAttempts: 1, Timeout: 5 * time.Second,
		Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	r.broker = testenv.AMQP(t)
	r.cons, err = consumer.New(consumer.Config{URL: r.broker.URL, NoMOExchange: true, Workers: 2,
		ReconnectMax: 200 * time.Millisecond, Logger: logger(t)}, r.got, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.cons.Run(ctx) }()
	r.consRun = cancel
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run = %v", err)
		}
	})
	waitFor(t, 10*time.Second, "consumer ready", r.cons.Ready)
	r.cfg = bridge.Config{RoutingKeys: []string{"org_unit", "person"}, Parallelism: 3, PollInterval: 50 * time.Millisecond,
		RetryMax: 200 * time.Millisecond, AckTimeout: 500 * time.Millisecond, Observer: r.obs, Logger: logger(t)}
	return r
}

// start runs a bridge until the returned stop is called (or the test ends); stop waits for Run.
func (r *rig) start() (stop func() error) {
	_, stop = r.startBridge()
	return stop
}

// startBridge is start that also returns the bridge.
func (r *rig) startBridge() (b *bridge.Bridge, stop func() error) {
	r.t.Helper()
	b, err := bridge.New(r.cfg, r.client, r.cons)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	r.t.Cleanup(func() { _ = stop() })
	waitFor(r.t, 10*time.Second, "listeners declared", func() bool { return b.Healthy() == nil })
	return b, stop
}

// listener returns the UUID of the bridge's listener for routingKey.
func (r *rig) listener(routingKey string) uuid.UUID {
	r.t.Helper()
	for _, l := range r.mo.EventListeners() {
		if l.RoutingKey == routingKey && l.UserKey == "stsorgsync_"+routingKey {
			return l.UUID
		}
	}
	r.t.Fatalf("no listener for %s among %+v", routingKey, r.mo.EventListeners())
	return uuid.Nil
}

// rename renames unit i in OS2MO, which makes an org_unit event for every listener.
func (r *rig) rename(i int, name string) uuid.UUID {
	r.t.Helper()
	id := r.units[i]
	if _, err := r.mo.EditUnit(context.Background(), id, motest.UnitChange{Name: name}, time.Time{}); err != nil {
		r.t.Fatalf("rename %s: %v", id, err)
	}
	return id
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChangesReachTheQueueAndAreAcknowledged: changes made in OS2MO become events in the work
// queue, each acknowledged in OS2MO once RabbitMQ confirmed it; the listeners are declared once
// however often the bridge starts (a second process shares them).
func TestChangesReachTheQueueAndAreAcknowledged(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	stop := r.start()
	var ids []uuid.UUID
	for i := range r.units {
		ids = append(ids, r.rename(i, "Omdøbt "+strings.Repeat("x", i)))
	}
	waitFor(t, 10*time.Second, "every change handled", func() bool { return r.got.total() >= len(ids) })
	for _, id := range ids {
		if n := r.got.count(id); n != 1 {
			t.Errorf("unit %s handled %d times; want 1", id, n)
		}
	}
	l := r.listener("org_unit")
	waitFor(t, 5*time.Second, "every event acknowledged", func() bool { return len(r.mo.PendingEvents(l)) == 0 })
	if got := r.mo.EventStats().Acks; got != len(ids) {
		t.Errorf("OS2MO counted %d acknowledgements; want %d", got, len(ids))
	}
	// The observer hears of an acknowledgement when OS2MO's answer is back, a moment later.
	waitFor(t, 5*time.Second, "the observer to count every acknowledgement", func() bool { return r.obs.step(bridge.StepAcknowledged) >= len(ids) })
	if got := r.obs.step(bridge.StepAcknowledged); got != len(ids) {
		t.Errorf("observer saw %d acknowledged; want %d", got, len(ids))
	}
	if r.obs.step(bridge.StepEmpty) == 0 {
		t.Error("observer saw no empty poll")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	second := r.start()
	if n := len(r.mo.EventListeners()); n != 2 {
		t.Errorf("%d listeners after two starts; want 2 (one per routing key, declared idempotently)", n)
	}
	if err := second(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestUnacknowledgedEventIsOfferedAgain: a bridge that dies after RabbitMQ confirmed an event
// and before OS2MO took the acknowledgement leaves the event pending; OS2MO offers it again after
// its 3-minute delay (not before) and the event is handled a second time and then acknowledged.
func TestUnacknowledgedEventIsOfferedAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	stop := r.start()
	release := r.mo.HoldAcknowledgements()
	defer release()
	id := r.rename(0, "Før nedbruddet")
	waitFor(t, 10*time.Second, "the event handled", func() bool { return r.got.count(id) == 1 })
	waitFor(t, 5*time.Second, "the acknowledgement waiting in OS2MO", func() bool { return r.mo.AcknowledgementsWaiting() == 1 })
	if err := stop(); err != nil { // the acknowledgement times out (AckTimeout): nothing acknowledged
		t.Fatalf("Run = %v", err)
	}
	// OS2MO notices the client gone (the connection closes); only then may acknowledgements flow.
	waitFor(t, 5*time.Second, "OS2MO to drop the abandoned acknowledgement", func() bool { return r.mo.AcknowledgementsWaiting() == 0 })
	release()
	l := r.listener("org_unit")
	pending := r.mo.PendingEvents(l)
	if len(pending) != 1 || pending[0].Subject != id.String() || pending[0].FetchedCount != 1 || pending[0].Due {
		t.Fatalf("pending after the crash = %+v; want the event, fetched once, not due", pending)
	}
	if r.obs.failed(bridge.StageAcknowledge) != 1 {
		t.Errorf("acknowledge failures observed = %d; want 1", r.obs.failed(bridge.StageAcknowledge))
	}

	stop = r.start()
	time.Sleep(300 * time.Millisecond) // several polls: it must not come before its delay
	if n := r.got.count(id); n != 1 {
		t.Fatalf("handled %d times before OS2MO's re-offer delay; want 1", n)
	}
	r.clock.Advance(3*time.Minute + time.Second)
	waitFor(t, 10*time.Second, "the event offered again and handled", func() bool { return r.got.count(id) == 2 })
	waitFor(t, 5*time.Second, "the event acknowledged", func() bool { return len(r.mo.PendingEvents(l)) == 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestOS2MOUnreachable: while OS2MO does not answer, the bridge backs off (far fewer requests than
// polling would make), Healthy says what fails since when, and the changes made meanwhile (OS2MO
// keeps their events) all arrive once it answers again.
func TestOS2MOUnreachable(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	b, stop := r.startBridge()
	r.front.down.Store(true)
	waitFor(t, 5*time.Second, "Healthy to report the outage", func() bool { return b.Healthy() != nil })
	if err := b.Healthy(); !strings.Contains(err.Error(), "fails since") || !strings.Contains(err.Error(), "503") {
		t.Errorf("Healthy = %v; want what fails since when, with OS2MO's answer", err)
	}
	// Changes made while the API cannot be reached (OS2MO stores their events all the same).
	var ids []uuid.UUID
	for i := range 3 {
		ids = append(ids, r.rename(i, "Under nedbruddet"))
	}
	refused0 := r.front.refused.Load()
	const outage = 1500 * time.Millisecond
	time.Sleep(outage)
	// Polling every 50 ms, two listeners would make 60 requests; backing off from 200 ms
	// (±50 %, RetryMax 200 ms) they make at most 2 × 1.5 s / 100 ms = 30.
	if n := r.front.refused.Load() - refused0; n == 0 || n > 30 {
		t.Errorf("%d requests to OS2MO in %s of outage; want between 1 and 30 (backing off)", n, outage)
	}
	if r.obs.failed(bridge.StageFetch) == 0 {
		t.Error("no fetch failure observed")
	}
	if r.got.total() != 0 {
		t.Errorf("%d events handled while OS2MO was unreachable", r.got.total())
	}
	r.front.down.Store(false)
	waitFor(t, 10*time.Second, "every change made during the outage handled", func() bool {
		return !slices.ContainsFunc(ids, func(id uuid.UUID) bool { return r.got.count(id) == 0 })
	})
	waitFor(t, 5*time.Second, "Healthy again", func() bool { return b.Healthy() == nil })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestNothingAcknowledgedWhileRabbitMQIsDown: without a broker session the bridge fetches nothing,
// so OS2MO keeps every event untouched (not even fetched, which would delay it by minutes); when
// the broker is back every change arrives and is acknowledged.
func TestNothingAcknowledgedWhileRabbitMQIsDown(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	stop := r.start()
	// The broker refuses the daemon: its permissions on the vhost go, its connections are closed.
	user := "guest"
	if u, err := url.Parse(r.broker.URL); err == nil && u.User != nil {
		user = u.User.Username()
	}
	perm := "/api/permissions/" + url.PathEscape(r.broker.VHost) + "/" + url.PathEscape(user)
	if _, err := testenv.Management(http.MethodDelete, perm, "", nil); err != nil {
		t.Fatal(err)
	}
	closeConnections(t, r.broker.VHost)
	waitFor(t, 10*time.Second, "the consumer to lose its session", func() bool { return !r.cons.Ready() })
	acks0, fetches0 := r.mo.EventStats().Acks, r.mo.EventStats().Fetches
	var ids []uuid.UUID
	for i := range 4 {
		ids = append(ids, r.rename(i, "Mens RabbitMQ er nede"))
	}
	time.Sleep(time.Second)
	if st := r.mo.EventStats(); st.Acks != acks0 || st.Fetches != fetches0 {
		t.Errorf("while RabbitMQ was down OS2MO saw %d fetches and %d acknowledgements; want none", st.Fetches-fetches0, st.Acks-acks0)
	}
	for _, e := range r.mo.PendingEvents(r.listener("org_unit")) {
		if e.FetchedCount != 0 || !e.Due {
			t.Errorf("event %s was touched while RabbitMQ was down: %+v", e.Subject, e)
		}
	}
	if _, err := testenv.Management(http.MethodPut, perm, `{"configure":".*","write":".*","read":".*"}`, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "every change handled after the broker is back", func() bool {
		return !slices.ContainsFunc(ids, func(id uuid.UUID) bool { return r.got.count(id) == 0 })
	})
	waitFor(t, 5*time.Second, "every event acknowledged", func() bool { return len(r.mo.PendingEvents(r.listener("org_unit"))) == 0 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// closeConnections closes every client connection to vhost through the management API.
func closeConnections(t *testing.T, vhost string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the management API to list the connections", func() bool {
		var conns []struct {
			Name string `json:"name"`
		}
		if _, err := testenv.Management(http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/connections", "", &conns); err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			if _, err := testenv.Management(http.MethodDelete, "/api/connections/"+url.PathEscape(c.Name), "", nil); err != nil && !errors.Is(err, io.EOF) {
				t.Logf("close connection %s: %v", c.Name, err)
			}
		}
		return len(conns) > 0
	})
}

// TestDeclareRefusedStopsRun: an OS2MO that refuses the listener with a GraphQL error (here: a
// namespace it does not have; likewise an OS2MO without the event system or a client without
// the rights) makes Run return an error that quotes OS2MO and names the way out.
func TestDeclareRefusedStopsRun(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.Namespace = "no-such-namespace"
	b, err := bridge.New(r.cfg, r.client, r.cons)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = b.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "EVENT_SOURCE=amqp") || !strings.Contains(err.Error(), `namespace "no-such-namespace" does not exist`) {
		t.Fatalf("Run = %v; want OS2MO's answer and EVENT_SOURCE=amqp", err)
	}
	if b.Healthy() == nil {
		t.Error("Healthy = nil after declaring failed")
	}
}

// TestConfigValidation: bad configurations are refused, all problems at once.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  bridge.Config
		want []string
	}{
		{"no routing keys", bridge.Config{}, []string{"no routing keys"}},
		{"duplicate and empty", bridge.Config{RoutingKeys: []string{"org_unit", "org_unit", ""}}, []string{"listed twice", "empty routing key"}},
		{"parallelism", bridge.Config{RoutingKeys: []string{"person"}, Parallelism: 65}, []string{"parallelism 65"}},
		{"negative durations", bridge.Config{RoutingKeys: []string{"person"}, PollInterval: -1, AckTimeout: -1}, []string{"poll interval", "ack timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bridge.New(tt.cfg, nil, nil)
			if err == nil {
				t.Fatal("New accepted the configuration")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := bridge.New(bridge.Config{RoutingKeys: []string{"org_unit"}}, nil, nil); err != nil {
		t.Errorf("a minimal configuration: %v", err)
	}
}

// TestPollingFollowsActivity: a quiet listener is polled once per PollInterval; right after an
// event it is polled again within about 100 ms, and the wait doubles with each empty poll.
func TestPollingFollowsActivity(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.PollInterval = 4 * time.Second
	r.cfg.RoutingKeys = []string{"org_unit"}
	r.cfg.Parallelism = 1 // the poller alone: every empty poll is one of its waits
	stop := r.start()
	// The first poll after the start found nothing: the next is PollInterval later.
	first := r.rename(0, "Første")
	waitFor(t, 10*time.Second, "the first change handled", func() bool { return r.got.count(first) == 1 })
	empty0 := r.obs.step(bridge.StepEmpty)
	start := time.Now()
	second := r.rename(1, "Anden")
	waitFor(t, 10*time.Second, "the second change handled", func() bool { return r.got.count(second) == 1 })
	if took := time.Since(start); took > time.Second {
		t.Errorf("a change right after an event took %s to arrive; want well under the 4 s poll interval", took)
	}
	time.Sleep(3 * time.Second)
	// 100, 200, 400, 800, 1600 ms …: about 5 empty polls in 3 s, not 30 (every 100 ms) nor 0.
	if n := r.obs.step(bridge.StepEmpty) - empty0; n < 3 || n > 8 {
		t.Errorf("%d empty polls in the 3 s after the last event; want 3 to 8 (a doubling wait)", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
