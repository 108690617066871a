package main

// End-to-end tests of the event sources (issue 17): the real binary, loaded with `sync`, then fed
// by OS2MO's changes through each EVENT_SOURCE — OS2MO's AMQP exchange, or OS2MO's GraphQL event
// system through the bridge (with AMQP off, as a current OS2MO has it) — must bring STS in line
// with OS2MO after each change: `verify` exits 0, nothing is dead-lettered, and with GraphQL every
// event is acknowledged in OS2MO.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// eventsRig is a municipality in the fake OS2MO (publishing to RabbitMQ only for the amqp
// source), the fake STS with KOMBIT's security, and the binary's settings for a source.
type eventsRig struct {
	source  string
	data    motest.Dataset
	mo      *motest.Server
	clock   *testclock.Offset
	sts     *ststest.Server
	broker  *testenv.Broker
	bin     string
	env     map[string]string
	config  string
	queue   string
	dlq     string
	moFront *moSwitch
}

// moSwitch serves the fake OS2MO until down is set; then it answers 503 (an OS2MO that is down).
// With noEvents it answers like an OS2MO from before the GraphQL event system: GraphQL
// validation refuses the event fields.
type moSwitch struct {
	next     http.Handler
	mu       sync.Mutex
	down     bool
	noEvents bool
}

func (s *moSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down, noEvents := s.down, s.noEvents
	s.mu.Unlock()
	if down && !strings.HasPrefix(r.URL.Path, "/api/") {
		http.Error(w, "OS2MO is down", http.StatusServiceUnavailable)
		return
	}
	if noEvents && strings.HasPrefix(r.URL.Path, "/graphql/") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if field := "event_listener_declare"; strings.Contains(string(body), field) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"data": null, "errors": [{"message": "Cannot query field '%s' on type 'Mutation'.", "locations": [{"line": 4, "column": 3}]}]}`, field)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	s.next.ServeHTTP(w, r)
}

func (s *moSwitch) set(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func newEventsRig(t *testing.T, source string, units, persons int) *eventsRig {
	t.Helper()
	r := &eventsRig{source: source, clock: &testclock.Offset{}, bin: buildDaemon(t), broker: testenv.AMQP(t)}
	rdb, prefix := testenv.Redis(t)
	r.data = motest.GenerateOrg(motest.GenOptions{Seed: 17, Units: units, Persons: persons, Today: time.Now()})
	opts := motest.Options{Now: r.clock.Now}
	if source == sourceAMQP {
		pub, err := motest.DialPublisher(r.broker.URL, motest.DefaultExchange)
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
		t.Cleanup(func() { _ = pub.Close() })
		opts.Events = pub
	}
	r.mo = motest.NewServer(opts)
	if err := r.mo.Load(r.data); err != nil {
		t.Fatal(err)
	}
	r.moFront = &moSwitch{next: r.mo.Handler()}
	moSrv := httptest.NewServer(r.moFront)
	t.Cleanup(moSrv.Close)
	// WriteHold keeps every write open a moment, so that two writes of one object would overlap
	// and be counted (two daemons).
	r.sts = ststest.NewServer(ststest.Options{RequireSecurity: true, WriteHold: 2 * time.Millisecond})
	stsSrv := httptest.NewServer(r.sts.Handler())
	t.Cleanup(stsSrv.Close)
	r.queue = testenv.UniqueName("stsorgsync.events.")
	r.dlq = r.queue + ".dlq"
	r.env = map[string]string{
		"EVENT_SOURCE": source, "EVENT_POLL_INTERVAL": "100ms", "EVENT_RETRY_MAX": "1s",
		"AMQP_URL": r.broker.URL, "AMQP_EXCHANGE": r.queue, "AMQP_QUEUE": r.queue, "AMQP_DLX": r.queue + ".dlx", "AMQP_DLQ": r.dlq,
		"REDIS_URL": "redis://" + rdb.Options().Addr + "/0", "REDIS_KEY_PREFIX": prefix,
		"MO_URL": moSrv.URL, "MO_AUTH_SERVER": moSrv.URL + "/auth",
		"MO_CLIENT_ID": motest.DefaultClientID, "MO_CLIENT_SECRET": motest.DefaultClientSecret,
		"MO_TOP_UNIT_UUID": r.data.Units[0].UUID.String(),
		"STS_BASE_URL":     stsSrv.URL, "STS_CVR": "29189846", "STS_ORGANISATION_UUID": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
		"WORKERS": "4", "RETRY_INITIAL": "20ms", "RETRY_MAX": "200ms", "RETRY_MAX_ELAPSED": "20s", "LEASE_TTL": "5s",
		"SHUTDOWN_TIMEOUT": "10s",
	}
	maps.Copy(r.env, writeSecurityFiles(t, r.sts, stsSrv.URL, "29189846"))
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(r.env)) {
		fmt.Fprintf(&b, "%s=%s\n", k, r.env[k])
	}
	r.config = filepath.Join(t.TempDir(), "stsorgsync.env")
	if err := os.WriteFile(r.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// command runs the binary with the rig's configuration file.
func (r *eventsRig) command(t *testing.T, args ...string) (int, string) {
	t.Helper()
	m := &mappingRig{bin: r.bin, config: r.config}
	return m.command(t, args...)
}

// initialSync loads the municipality into STS with `stsorgsync sync`, as an installation starts.
func (r *eventsRig) initialSync(t *testing.T) {
	t.Helper()
	if code, out := r.command(t, "sync"); code != 0 {
		t.Fatalf("initial sync exited %d:\n%s", code, firstLines(out, 30))
	}
}

// daemon starts `stsorgsync run` and waits until it is ready.
func (r *eventsRig) daemon(t *testing.T, name string) *daemonProcess {
	t.Helper()
	return startDaemonProcess(t, r.bin, name, r.env)
}

// waitVerified runs verify until it exits 0 (STS matches OS2MO) or d passes.
func (r *eventsRig) waitVerified(t *testing.T, d time.Duration, after string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		code, out := r.command(t, "verify")
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, verify still exits %d:\n%s", after, code, firstLines(out, 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// pendingEvents returns the events OS2MO holds for the daemon's listeners, by routing key.
func (r *eventsRig) pendingEvents() map[string][]motest.PendingEvent {
	out := map[string][]motest.PendingEvent{}
	for _, l := range r.mo.EventListeners() {
		if p := r.mo.PendingEvents(l.UUID); len(p) > 0 {
			out[l.RoutingKey] = p
		}
	}
	return out
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// scenario is one change made in OS2MO.
type scenario struct {
	name string
	do   func(ctx context.Context, r *eventsRig) error
}

// scenarios are the changes both sources must carry to STS: rename, move, terminate, manager,
// address, KLE.
func scenarios(d motest.Dataset) []scenario {
	top := d.Units[0].UUID
	leaf := d.Units[len(d.Units)-1]
	var withEng, withAddr []model.Person
	for _, p := range d.Persons {
		if len(p.Engagements) > 0 {
			withEng = append(withEng, p)
		}
		for _, a := range p.Addresses {
			if a.Type.Scope == "EMAIL" || strings.Contains(a.Value, "@") {
				withAddr = append(withAddr, p)
				break
			}
		}
	}
	var kle []model.Class
	for _, u := range d.Units {
		for _, k := range u.KLE {
			kle = append(kle, k.Numbers...)
		}
	}
	return []scenario{
		{"rename a unit", func(ctx context.Context, r *eventsRig) error {
			_, err := r.mo.RenameUnit(ctx, d.Units[1].UUID, "Omdøbt afdeling", time.Time{})
			return err
		}},
		{"move a unit", func(ctx context.Context, r *eventsRig) error {
			parent := top
			if leaf.Parent != nil && *leaf.Parent == top {
				parent = d.Units[1].UUID
			}
			_, err := r.mo.MoveUnit(ctx, leaf.UUID, parent, time.Time{})
			return err
		}},
		{"terminate a person", func(ctx context.Context, r *eventsRig) error {
			_, err := r.mo.TerminatePerson(ctx, withEng[0].UUID, time.Now().AddDate(0, 0, -1))
			return err
		}},
		{"end an engagement", func(ctx context.Context, r *eventsRig) error {
			_, err := r.mo.EndEngagement(ctx, withEng[1].Engagements[0].UUID, time.Now().AddDate(0, 0, -1))
			return err
		}},
		{"new manager", func(ctx context.Context, r *eventsRig) error {
			_, err := r.mo.SetManager(ctx, d.Units[2].UUID, &withEng[2].UUID, time.Time{})
			return err
		}},
		{"change an address", func(ctx context.Context, r *eventsRig) error {
			p := withAddr[len(withAddr)-1]
			v := "ny.adresse@kommune.invalid"
			for _, a := range p.Addresses {
				if strings.Contains(a.Value, "@") {
					_, err := r.mo.ChangeAddress(ctx, a.UUID, motest.AddressChange{Value: &v, Name: &v}, time.Time{})
					return err
				}
			}
			return fmt.Errorf("person %s has no e-mail address", p.UUID)
		}},
		{"add KLE", func(ctx context.Context, r *eventsRig) error {
			if len(kle) == 0 {
				return fmt.Errorf("the generated municipality has no KLE numbers")
			}
			_, err := r.mo.AddKLE(ctx, d.Units[3].UUID, kle[:1], nil, time.Time{})
			return err
		}},
	}
}

// TestScenariosThroughEachEventSource: the same changes, made through the fake OS2MO's API,
// reach STS through either event source, each verified on its own.
func TestScenariosThroughEachEventSource(t *testing.T) {
	t.Parallel()
	for _, source := range []string{sourceAMQP, sourceGraphQL} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			r := newEventsRig(t, source, 10, 30)
			r.initialSync(t)
			if source == sourceGraphQL {
				// check asks OS2MO for the listeners: none before the daemon's first start, all after.
				_, out := r.command(t, "check")
				if !strings.Contains(out, "OS2MO GraphQL events: 0 of 9 listeners declared") || !strings.Contains(out, "OS2MO GraphQL events (listeners stsorgsync_<type>): ok") {
					t.Errorf("check before the first start:\n%s", out)
				}
			}
			d := r.daemon(t, "stsorgsync-"+source)
			if source == sourceGraphQL {
				if _, out := r.command(t, "check"); strings.Contains(out, "listeners declared") || !strings.Contains(out, "OS2MO GraphQL events (listeners stsorgsync_<type>): ok") {
					t.Errorf("check with the daemon running:\n%s", out)
				}
			}
			ctx := context.Background()
			for _, sc := range scenarios(r.data) {
				if err := sc.do(ctx, r); err != nil {
					t.Fatalf("%s: %v", sc.name, err)
				}
				r.waitVerified(t, 60*time.Second, sc.name)
			}
			if source == sourceGraphQL {
				waitFor(t, 10*time.Second, "every GraphQL event acknowledged", func() bool { return len(r.pendingEvents()) == 0 })
				if st := r.mo.EventStats(); st.Acks == 0 {
					t.Errorf("OS2MO counted no acknowledgement: %+v", st)
				}
				waitFor(t, 10*time.Second, "stsorgsync_mo_events_total to count the acknowledgements", func() bool {
					return metricAt(t, d.ops, `stsorgsync_mo_events_total{step="acknowledged",type="org_unit"}`) > 0
				})
			}
			for _, m := range takeAll(t, r.broker.URL, r.dlq) {
				t.Errorf("dead-lettered: %s %s", m.RoutingKey, m.Body)
			}
			d.stop(t)
		})
	}
}

// TestBridgeKilledBetweenConfirmAndAck: the daemon is killed after RabbitMQ confirmed an event
// and the pipeline wrote it, but before OS2MO took the acknowledgement. OS2MO offers the event
// again after its delay; the next daemon handles it once more and writes nothing to STS.
func TestBridgeKilledBetweenConfirmAndAck(t *testing.T) {
	t.Parallel()
	r := newEventsRig(t, sourceGraphQL, 6, 10)
	r.initialSync(t)
	first := r.daemon(t, "stsorgsync-1")
	release := r.mo.HoldAcknowledgements()
	defer release()
	unit := r.data.Units[1].UUID
	if _, err := r.mo.RenameUnit(context.Background(), unit, "Omdøbt før nedbruddet", time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the acknowledgement held in OS2MO", func() bool { return r.mo.AcknowledgementsWaiting() == 1 })
	r.waitVerified(t, 30*time.Second, "the rename") // published, confirmed and written
	first.kill(t)
	waitFor(t, 10*time.Second, "OS2MO to drop the dead daemon's acknowledgement", func() bool { return r.mo.AcknowledgementsWaiting() == 0 })
	release()
	pending := r.pendingEvents()["org_unit"]
	if len(pending) != 1 || pending[0].Subject != unit.String() || pending[0].FetchedCount != 1 {
		t.Fatalf("pending org_unit events after the kill = %+v; want the renamed unit's, fetched once", pending)
	}

	second := r.daemon(t, "stsorgsync-2")
	r.sts.ResetCalls()
	time.Sleep(500 * time.Millisecond) // several polls: nothing is due before OS2MO's delay
	if st := r.pendingEvents()["org_unit"]; len(st) != 1 || st[0].FetchedCount != 1 {
		t.Fatalf("the event was offered before its delay: %+v", st)
	}
	r.clock.Advance(3*time.Minute + time.Second)
	waitFor(t, 20*time.Second, "the event offered again, handled and acknowledged", func() bool { return len(r.pendingEvents()) == 0 })
	// Acknowledged once RabbitMQ confirmed it; handled by the consumer a moment later.
	done := func() float64 {
		return metricAt(t, second.ops, `stsorgsync_events_total{class="",outcome="done",type="org_unit"}`)
	}
	waitFor(t, 20*time.Second, "the second daemon to handle the event offered again", func() bool { return done() >= 1 })
	if n := done(); n != 1 {
		t.Errorf("the second daemon handled %v org_unit events; want the one offered again", n)
	}
	if w := writes(r.sts.Calls()); w != 0 {
		t.Errorf("handling the duplicate made %d STS writes; want 0 (calls: %v)", w, r.sts.Calls())
	}
	second.stop(t)
}

// TestBridgeWhileOS2MOIsDown: while OS2MO does not answer, /readyz says the bridge cannot fetch,
// the daemon keeps running, and every change made meanwhile reaches STS once OS2MO is back.
func TestBridgeWhileOS2MOIsDown(t *testing.T) {
	t.Parallel()
	r := newEventsRig(t, sourceGraphQL, 6, 10)
	r.initialSync(t)
	d := r.daemon(t, "stsorgsync")
	r.moFront.set(true)
	var body string
	waitFor(t, 20*time.Second, "/readyz to report the bridge", func() bool {
		code, b := httpGet(d.ops + "/readyz")
		body = b
		return code == http.StatusServiceUnavailable && strings.Contains(b, "OS2MO events: fetching")
	})
	if !strings.Contains(body, "fails since") {
		t.Errorf("/readyz = %q; want since when fetching fails", body)
	}
	// OS2MO's own users go on working meanwhile (its API is down for the integration only).
	ctx := context.Background()
	for i := 1; i < 4; i++ {
		if _, err := r.mo.RenameUnit(ctx, r.data.Units[i].UUID, fmt.Sprintf("Omdøbt under nedbrud %d", i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if n := metricAt(t, d.ops, `stsorgsync_mo_event_errors_total{stage="fetch"`); n == 0 {
		t.Error("stsorgsync_mo_event_errors_total{stage=\"fetch\"} did not rise")
	}
	r.moFront.set(false)
	waitFor(t, 20*time.Second, "ready again", func() bool { return httpStatus(d.ops+"/readyz") == http.StatusOK })
	r.waitVerified(t, 60*time.Second, "OS2MO came back")
	waitFor(t, 10*time.Second, "every event acknowledged", func() bool { return len(r.pendingEvents()) == 0 })
	d.stop(t)
}

// TestTwoDaemonsShareTheListeners: two daemons bridge the same listeners (same Keycloak client):
// every change reaches STS, OS2MO is left with nothing pending, and no STS object is written by
// both at once.
func TestTwoDaemonsShareTheListeners(t *testing.T) {
	t.Parallel()
	r := newEventsRig(t, sourceGraphQL, 12, 40)
	r.initialSync(t)
	a, b := r.daemon(t, "stsorgsync-a"), r.daemon(t, "stsorgsync-b")
	keys := len(strings.Split(r.env["AMQP_ROUTING_KEYS"], ","))
	if r.env["AMQP_ROUTING_KEYS"] == "" {
		keys = len(strings.Split(settingDefault(t, "AMQP_ROUTING_KEYS"), ","))
	}
	if n := len(r.mo.EventListeners()); n != keys {
		t.Errorf("%d listeners for two daemons; want %d, one per type, shared", n, keys)
	}
	cw0 := r.sts.ConcurrentWritesSeen()
	ctx := context.Background()
	for round := range 3 {
		for i, u := range r.data.Units[1:] {
			if _, err := r.mo.RenameUnit(ctx, u.UUID, fmt.Sprintf("Runde %d enhed %d", round, i), time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range r.data.Persons[:10] {
		if len(p.Engagements) == 0 {
			continue
		}
		to := r.data.Units[len(r.data.Units)-1].UUID
		if _, err := r.mo.ChangeEngagement(ctx, p.Engagements[0].UUID, motest.EngagementChange{OrgUnit: &to}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	r.waitVerified(t, 90*time.Second, "the changes")
	waitFor(t, 10*time.Second, "every event acknowledged", func() bool { return len(r.pendingEvents()) == 0 })
	if n := r.sts.ConcurrentWritesSeen() - cw0; n != 0 {
		t.Errorf("%d concurrent writes of one STS object", n)
	}
	// Every change reached STS (verified above) through one daemon or the other: OS2MO hands each
	// pending event to one fetcher at a time (and merges changes to one object while pending), so
	// which daemon gets how many is up to timing.
	acked := 0.0
	for _, d := range []*daemonProcess{a, b} {
		n := metricAt(t, d.ops, `stsorgsync_mo_events_total{step="acknowledged"`)
		t.Logf("%s acknowledged %v events", d.name, n)
		acked += n
	}
	if acked == 0 {
		t.Error("the daemons acknowledged no event")
	}
	a.stop(t)
	b.stop(t)
}

// httpGet returns the status and body of a GET (0 and "" when it fails).
func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}

// settingDefault returns a setting's default value.
func settingDefault(t *testing.T, name string) string {
	t.Helper()
	for _, s := range settings() {
		if s.Name == name {
			return s.Default
		}
	}
	t.Fatalf("no setting %s", name)
	return ""
}

// TestOS2MOWithoutEventsStopsTheDaemon: against an OS2MO without the GraphQL event system the
// daemon (EVENT_SOURCE graphql) exits with status 1 and says what to do, instead of running
// without events.
func TestOS2MOWithoutEventsStopsTheDaemon(t *testing.T) {
	t.Parallel()
	r := newEventsRig(t, sourceGraphQL, 3, 0)
	r.moFront.mu.Lock()
	r.moFront.noEvents = true
	r.moFront.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, "--config", r.config, "run")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP_LISTEN=" + freeAddr(t)}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("run = %v; want exit code %d\n%s", err, exitFailure, firstLines(string(out), 20))
	}
	for _, want := range []string{"OS2MO refused to declare the event listener", "Cannot query field", "EVENT_SOURCE=amqp"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, firstLines(string(out), 20))
		}
	}
}
