package motest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// The GraphQL event system is driven here through the real HTTP GraphQL endpoint with documents
// written for the tests (the production client lives in package moclient).

const (
	otherClient = "other-integration"
	otherSecret = "other-secret"
)

// evHarness is a fake OS2MO over HTTP with two Keycloak clients (motest.DefaultClientID and
// otherClient), tokens for both and a settable clock.
type evHarness struct {
	srv   *motest.Server
	ts    *httptest.Server
	clock *testclock.Clock
	tok   string // DefaultClientID's token
	other string // otherClient's token
}

func newEvHarness(t *testing.T, events motest.EventPublisher) *evHarness {
	t.Helper()
	clock := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := motest.NewServer(motest.Options{Now: clock.Now, Events: events, TokenTTL: 1000 * time.Hour,
		Clients: map[string]string{otherClient: otherSecret}})
	if err := srv.Load(motest.GenerateOrg(motest.GenOptions{Seed: 7, Units: 12, Persons: 10, Today: clock.Now()})); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h := &evHarness{srv: srv, ts: ts, clock: clock}
	h.tok = h.token(t, motest.DefaultClientID, motest.DefaultClientSecret)
	h.other = h.token(t, otherClient, otherSecret)
	return h
}

func (h *evHarness) token(t *testing.T, id, secret string) string {
	t.Helper()
	resp, err := http.PostForm(h.ts.URL+"/auth/realms/mo/protocol/openid-connect/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token for %s: HTTP %d %v", id, resp.StatusCode, err)
	}
	return tr.AccessToken
}

// post sends a GraphQL request with ctx and decodes the answer.
func (h *evHarness) post(ctx context.Context, tok, query string, vars map[string]any) (gqlResult, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.ts.URL+"/graphql/v25", bytes.NewReader(body))
	if err != nil {
		return gqlResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResult{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != 200 {
		return gqlResult{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var out gqlResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return gqlResult{}, err
	}
	return out, nil
}

// gql runs a request that must succeed without GraphQL errors and decodes its data into out.
func (h *evHarness) gql(t *testing.T, tok, query string, vars map[string]any, out any) {
	t.Helper()
	res, err := h.post(context.Background(), tok, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("GraphQL errors %+v for %s", res.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// gqlError runs a request that must fail with a GraphQL error containing want.
func (h *evHarness) gqlError(t *testing.T, tok, query string, vars map[string]any, want string) {
	t.Helper()
	res, err := h.post(context.Background(), tok, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Message, want) {
		t.Fatalf("errors %+v (data %s), want one containing %q", res.Errors, res.Data, want)
	}
}

type listenerJSON struct {
	UUID       string `json:"uuid"`
	Owner      string `json:"owner"`
	UserKey    string `json:"user_key"`
	RoutingKey string `json:"routing_key"`
	Namespace  struct {
		Name   string `json:"name"`
		Public bool   `json:"public"`
		Owner  string `json:"owner"`
	} `json:"namespace"`
}

const declareDoc = `mutation Declare($ns: String!, $uk: String!, $rk: String!) {
  event_listener_declare(input: {namespace: $ns, user_key: $uk, routing_key: $rk}) {
    uuid owner user_key routing_key namespace { name public owner }
  }
}`

func (h *evHarness) declare(t *testing.T, tok, userKey, routingKey string) uuid.UUID {
	t.Helper()
	var out struct {
		L listenerJSON `json:"event_listener_declare"`
	}
	h.gql(t, tok, declareDoc, map[string]any{"ns": "mo", "uk": userKey, "rk": routingKey}, &out)
	return uuid.MustParse(out.L.UUID)
}

type eventJSON struct {
	Subject  string `json:"subject"`
	Priority int    `json:"priority"`
	Token    string `json:"token"`
}

const fetchDoc = `query Fetch($l: UUID!) { event_fetch(filter: {listener: $l}) { subject priority token } }`

func (h *evHarness) fetch(t *testing.T, tok string, listener uuid.UUID) *eventJSON {
	t.Helper()
	var out struct {
		E *eventJSON `json:"event_fetch"`
	}
	h.gql(t, tok, fetchDoc, map[string]any{"l": listener.String()}, &out)
	return out.E
}

const ackDoc = `mutation Ack($t: EventToken!) { event_acknowledge(input: {token: $t}) }`

func (h *evHarness) ack(t *testing.T, tok, token string) {
	t.Helper()
	var out struct {
		OK bool `json:"event_acknowledge"`
	}
	h.gql(t, tok, ackDoc, map[string]any{"t": token}, &out)
	if !out.OK {
		t.Fatal("event_acknowledge answered false")
	}
}

// subjects returns the subjects pending for listener.
func (h *evHarness) subjects(listener uuid.UUID) []string {
	var out []string
	for _, e := range h.srv.PendingEvents(listener) {
		out = append(out, e.Subject)
	}
	slices.Sort(out)
	return out
}

func (h *evHarness) aUnit(t *testing.T) model.OrgUnit {
	t.Helper()
	ids := h.srv.OrgUnitIDs()
	if len(ids) == 0 {
		t.Fatal("no units")
	}
	u, ok := h.srv.OrgUnit(ids[len(ids)-1])
	if !ok {
		t.Fatalf("unit %s", ids[len(ids)-1])
	}
	return u
}

func TestEventListenerDeclare(t *testing.T) {
	h := newEvHarness(t, nil)
	first := h.declare(t, h.tok, "sync_org_unit", "org_unit")
	tests := []struct {
		name      string
		tok       string
		ns        string
		userKey   string
		routing   string
		wantSame  bool   // the same listener as first
		wantError string // else a listener
	}{
		{name: "same declaration again is the same listener", tok: h.tok, ns: "mo", userKey: "sync_org_unit", routing: "org_unit", wantSame: true},
		{name: "another user_key is another listener", tok: h.tok, ns: "mo", userKey: "sync_org_unit_2", routing: "org_unit"},
		{name: "same user_key for another owner is another listener", tok: h.other, ns: "mo", userKey: "sync_org_unit", routing: "org_unit"},
		{name: "same user_key with another routing key is refused", tok: h.tok, ns: "mo", userKey: "sync_org_unit", routing: "person",
			wantError: "different routing_key"},
		{name: "unknown namespace", tok: h.tok, ns: "nope", userKey: "x", routing: "org_unit", wantError: `namespace "nope" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]any{"ns": tt.ns, "uk": tt.userKey, "rk": tt.routing}
			if tt.wantError != "" {
				h.gqlError(t, tt.tok, declareDoc, vars, tt.wantError)
				return
			}
			var out struct {
				L listenerJSON `json:"event_listener_declare"`
			}
			h.gql(t, tt.tok, declareDoc, vars, &out)
			if got := out.L.UUID == first.String(); got != tt.wantSame {
				t.Fatalf("listener %s, first %s: same = %t, want %t", out.L.UUID, first, got, tt.wantSame)
			}
			client := motest.DefaultClientID
			if tt.tok == h.other {
				client = otherClient
			}
			if out.L.Owner != h.srv.ClientOwner(client).String() || out.L.UserKey != tt.userKey || out.L.RoutingKey != tt.routing ||
				out.L.Namespace.Name != "mo" || !out.L.Namespace.Public {
				t.Fatalf("listener %+v, want owner %s", out.L, h.srv.ClientOwner(client))
			}
		})
	}
	if h.srv.ClientOwner(motest.DefaultClientID) == h.srv.ClientOwner(otherClient) {
		t.Fatal("two clients have the same owner")
	}
	// The namespace defaults to "mo"; event_listeners lists them all in declaration order.
	var out struct {
		L listenerJSON `json:"event_listener_declare"`
	}
	h.gql(t, h.tok, `mutation { event_listener_declare(input: {user_key: "sync_org_unit", routing_key: "org_unit"}) { uuid } }`, nil, &out)
	if out.L.UUID != first.String() {
		t.Fatalf("declaring without namespace gave %s, want %s", out.L.UUID, first)
	}
	var list struct {
		L struct {
			Objects []listenerJSON `json:"objects"`
		} `json:"event_listeners"`
	}
	h.gql(t, h.tok, `{ event_listeners(filter: {routing_keys: ["org_unit"]}) { objects { uuid user_key } } }`, nil, &list)
	if len(list.L.Objects) != 3 || list.L.Objects[0].UUID != first.String() || len(h.srv.EventListeners()) != 3 {
		t.Fatalf("event_listeners %+v, Go %+v", list.L.Objects, h.srv.EventListeners())
	}
}

func TestChangesGiveEventsToListenersOfTheirRoutingKey(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		change  func(t *testing.T, h *evHarness) (routingKey string, subject uuid.UUID)
		wantFor []string // user keys of the listeners that get the event
	}{
		{"a new unit", func(t *testing.T, h *evHarness) (string, uuid.UUID) {
			ch, err := h.srv.CreateUnit(ctx, motest.OrgUnitRequest{Name: "Ny enhed", Parent: ptr(h.aUnit(t).UUID)})
			if err != nil {
				t.Fatal(err)
			}
			return "org_unit", ch.UUID
		}, []string{"units", "units_again"}},
		{"a renamed unit through the HTTP API", func(t *testing.T, h *evHarness) (string, uuid.UUID) {
			u := h.aUnit(t)
			status, _ := post(t, h.ts.URL+"/api/org_unit", `{"uuid":"`+u.UUID.String()+`","name":"Omdøbt"}`)
			if status != 200 {
				t.Fatalf("HTTP %d", status)
			}
			return "org_unit", u.UUID
		}, []string{"units", "units_again"}},
		{"a new person", func(t *testing.T, h *evHarness) (string, uuid.UUID) {
			ch, err := h.srv.CreatePerson(ctx, model.Person{GivenName: "Ny", Surname: "Person", CPR: "0101011234"})
			if err != nil {
				t.Fatal(err)
			}
			return "person", ch.UUID
		}, []string{"persons"}},
		{"an address of a unit", func(t *testing.T, h *evHarness) (string, uuid.UUID) {
			typ, ok := h.srv.Class("EmailUnit")
			if !ok {
				t.Fatal("no EmailUnit class")
			}
			ch, err := h.srv.AddAddress(ctx, h.aUnit(t).UUID, model.Address{Type: typ, Value: "a@b.dk"})
			if err != nil {
				t.Fatal(err)
			}
			return "address", ch.UUID
		}, []string{"addresses"}},
		{"a validity boundary passing", func(t *testing.T, h *evHarness) (string, uuid.UUID) {
			u := h.aUnit(t)
			if _, err := h.srv.RenameUnit(ctx, u.UUID, "Senere navn", h.clock.Now().Add(48*time.Hour)); err != nil {
				t.Fatal(err)
			}
			h.drain(t) // the rename itself was an event; only the boundary's may be pending below
			status, _ := post(t, h.ts.URL+"/api/events/boundaries", `{"since":"`+h.clock.Now().Add(24*time.Hour).Format(time.RFC3339)+
				`","until":"`+h.clock.Now().Add(72*time.Hour).Format(time.RFC3339)+`"}`)
			if status != 200 {
				t.Fatalf("HTTP %d", status)
			}
			return "org_unit", u.UUID
		}, []string{"units", "units_again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newEvHarness(t, &recorder{})
			byKey := map[string]uuid.UUID{}
			for _, l := range []struct{ userKey, routing string }{{"units", "org_unit"}, {"units_again", "org_unit"}, {"persons", "person"}, {"addresses", "address"}} {
				byKey[l.userKey] = h.declare(t, h.tok, l.userKey, l.routing)
			}
			routing, subject := tt.change(t, h)
			for userKey, id := range byKey {
				got := h.srv.PendingEvents(id)
				if !slices.Contains(tt.wantFor, userKey) {
					if len(got) != 0 {
						t.Errorf("listener %s got %+v, want nothing", userKey, got)
					}
					continue
				}
				if len(got) != 1 || got[0].Subject != subject.String() || got[0].Priority != 10000 || !got[0].Due {
					t.Errorf("listener %s (%s) has %+v, want one due event for %s with priority 10000", userKey, routing, got, subject)
				}
				e := h.fetch(t, h.tok, id)
				if e == nil || e.Subject != subject.String() || e.Priority != 10000 || e.Token == "" {
					t.Errorf("listener %s fetched %+v", userKey, e)
				}
			}
		})
	}
}

// drain acknowledges every pending event of every listener of the default client.
func (h *evHarness) drain(t *testing.T) {
	t.Helper()
	for _, l := range h.srv.EventListeners() {
		if l.Owner != h.srv.ClientOwner(motest.DefaultClientID) {
			continue
		}
		for e := h.fetch(t, h.tok, l.UUID); e != nil; e = h.fetch(t, h.tok, l.UUID) {
			h.ack(t, h.tok, e.Token)
		}
		if n := len(h.srv.PendingEvents(l.UUID)); n != 0 {
			t.Fatalf("listener %s still has %d events", l.UserKey, n)
		}
	}
}

func TestEventDeduplicationAndGeneration(t *testing.T) {
	ctx := context.Background()
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	u := h.aUnit(t)
	if _, err := h.srv.RenameUnit(ctx, u.UUID, "Første", time.Time{}); err != nil {
		t.Fatal(err)
	}
	first := h.fetch(t, h.tok, l)
	if first == nil || first.Subject != u.UUID.String() {
		t.Fatalf("fetched %+v", first)
	}
	if again := h.fetch(t, h.tok, l); again != nil {
		t.Fatalf("a fetched event was handed out again at once: %+v", again)
	}
	before := h.srv.PendingEvents(l)[0]
	// A new change of the same unit while the first is being handled.
	if _, err := h.srv.RenameUnit(ctx, u.UUID, "Anden", time.Time{}); err != nil {
		t.Fatal(err)
	}
	pending := h.srv.PendingEvents(l)
	if len(pending) != 1 || pending[0].UUID != before.UUID || pending[0].Generation == before.Generation ||
		pending[0].FetchedCount != 0 || !pending[0].Due {
		t.Fatalf("after a second change: %+v (before %+v), want one event, same UUID, new generation, due, fetched 0", pending, before)
	}
	h.ack(t, h.tok, first.Token) // stale: names the old generation
	if got := h.subjects(l); len(got) != 1 {
		t.Fatalf("the stale token acknowledged the newer change: pending %v", got)
	}
	second := h.fetch(t, h.tok, l) // due at once, same clock
	if second == nil || second.Subject != u.UUID.String() || second.Token == first.Token {
		t.Fatalf("fetched %+v after the second change (first token %s)", second, first.Token)
	}
	h.ack(t, h.tok, second.Token)
	if got := h.subjects(l); len(got) != 0 {
		t.Fatalf("pending %v after acknowledging the current token", got)
	}
	if st := h.srv.EventStats(); st.Acks != 1 || st.StaleAcks != 1 || st.Fetches != 2 || st.EmptyFetches != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The smaller priority number wins when an event is renewed.
	h.srv.SendEvent("mo", "org_unit", "s", 50)
	h.srv.SendEvent("mo", "org_unit", "s", 10000)
	h.srv.SendEvent("mo", "org_unit", "t", 7)
	if e := h.fetch(t, h.tok, l); e == nil || e.Subject != "t" || e.Priority != 7 {
		t.Fatalf("fetched %+v, want t with priority 7 first", e)
	}
	if e := h.fetch(t, h.tok, l); e == nil || e.Subject != "s" || e.Priority != 50 {
		t.Fatalf("fetched %+v, want s with priority 50", e)
	}
}

// wantDelay is the re-offer delay after n fetches, as OS2MO documents it.
func wantDelay(n int) time.Duration {
	d := time.Duration(math.Pow(2, float64(n)) * float64(time.Second))
	return max(3*time.Minute, min(d, 17*time.Hour))
}

func TestEventReofferTiming(t *testing.T) {
	tests := []struct {
		fetches int
		delay   time.Duration
	}{
		{1, 3 * time.Minute},
		{7, 3 * time.Minute},
		{8, 256 * time.Second},
		{9, 512 * time.Second},
		{15, 32768 * time.Second},
		{16, 17 * time.Hour},
		{20, 17 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("after %d fetches", tt.fetches), func(t *testing.T) {
			h := newEvHarness(t, nil)
			l := h.declare(t, h.tok, "units", "org_unit")
			h.srv.SendEvent("mo", "org_unit", "subject", 10000)
			for i := 1; i < tt.fetches; i++ {
				if e := h.fetch(t, h.tok, l); e == nil {
					t.Fatalf("fetch %d: nothing", i)
				}
				h.clock.Advance(wantDelay(i))
			}
			if e := h.fetch(t, h.tok, l); e == nil {
				t.Fatalf("fetch %d: nothing", tt.fetches)
			}
			if p := h.srv.PendingEvents(l)[0]; p.FetchedCount != tt.fetches || p.Due || !p.NextDue.Equal(h.clock.Now().Add(tt.delay)) {
				t.Fatalf("pending %+v, want fetched %d, due at %s", p, tt.fetches, h.clock.Now().Add(tt.delay))
			}
			h.clock.Advance(tt.delay - time.Second)
			if e := h.fetch(t, h.tok, l); e != nil {
				t.Fatalf("offered again %s after fetch %d, before its delay %s", tt.delay-time.Second, tt.fetches, tt.delay)
			}
			h.clock.Advance(time.Second)
			if e := h.fetch(t, h.tok, l); e == nil || e.Subject != "subject" {
				t.Fatalf("not offered again %s after fetch %d: %+v", tt.delay, tt.fetches, e)
			}
		})
	}
}

func TestParallelFetchersNeverShareAnEvent(t *testing.T) {
	const fetchers, perFetcher = 8, 200
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	for i := range fetchers * perFetcher {
		h.srv.SendEvent("mo", "org_unit", fmt.Sprintf("s-%04d", i), 10000-i%3)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, fetchers)
	for range fetchers {
		wg.Go(func() {
			for {
				res, err := h.post(context.Background(), h.tok, fetchDoc, map[string]any{"l": l.String()})
				if err != nil || len(res.Errors) > 0 {
					errs <- fmt.Errorf("fetch: %v %+v", err, res.Errors)
					return
				}
				var out struct {
					E *eventJSON `json:"event_fetch"`
				}
				if err := json.Unmarshal(res.Data, &out); err != nil {
					errs <- err
					return
				}
				if out.E == nil {
					return
				}
				mu.Lock()
				seen[out.E.Subject]++
				n := seen[out.E.Subject]
				mu.Unlock()
				if n > 1 {
					errs <- fmt.Errorf("%s handed out %d times before its re-offer delay", out.E.Subject, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != fetchers*perFetcher {
		t.Fatalf("%d distinct events handed out, want %d", len(seen), fetchers*perFetcher)
	}
	for s, n := range seen {
		if n != 1 {
			t.Fatalf("%s handed out %d times before its re-offer delay", s, n)
		}
	}
	if st := h.srv.EventStats(); st.Fetches != fetchers*perFetcher || st.EmptyFetches != fetchers {
		t.Fatalf("stats %+v", st)
	}
}

func TestOnlyTheOwnerFetchesAndAcknowledges(t *testing.T) {
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	h.srv.SendEvent("mo", "org_unit", "subject", 10000)
	// OS2MO answers another owner's fetch with null ("you simply won't get anything").
	if e := h.fetch(t, h.other, l); e != nil {
		t.Fatalf("another client fetched %+v", e)
	}
	if p := h.srv.PendingEvents(l); len(p) != 1 || p[0].FetchedCount != 0 || !p[0].Due {
		t.Fatalf("the other client's fetch touched the event: %+v", p)
	}
	if st := h.srv.EventStats(); st.ForeignFetches != 1 {
		t.Fatalf("stats %+v", st)
	}
	e := h.fetch(t, h.tok, l)
	if e == nil {
		t.Fatal("the owner fetched nothing")
	}
	h.ack(t, h.other, e.Token) // answered true, removes nothing
	if got := h.subjects(l); len(got) != 1 {
		t.Fatalf("another client acknowledged the owner's event: pending %v", got)
	}
	h.ack(t, h.tok, e.Token)
	if got := h.subjects(l); len(got) != 0 {
		t.Fatalf("pending %v", got)
	}
}

func TestRefresh(t *testing.T) {
	const orgUnitRefresh = `mutation R($f: OrganisationUnitFilter, $l: UUID, $o: UUID, $x: String, $limit: int) {
	  org_unit_refresh(filter: $f, listener: $l, owner: $o, exchange: $x, limit: $limit) { objects page_info { next_cursor } }
	}`
	tests := []struct {
		name      string
		doc       string
		vars      func(h *evHarness, ls map[string]uuid.UUID, unit uuid.UUID) map[string]any
		wantGQL   []string // user keys of listeners that get the unit's event
		wantAMQP  bool
		wantError string
		wantCount int // objects refreshed (0: all units... checked as ≥ 1); -1 to skip
	}{
		{name: "listener", doc: orgUnitRefresh, vars: func(_ *evHarness, ls map[string]uuid.UUID, u uuid.UUID) map[string]any {
			return map[string]any{"l": ls["a"].String(), "f": map[string]any{"uuids": []string{u.String()}}}
		}, wantGQL: []string{"a"}, wantCount: 1},
		{name: "owner", doc: orgUnitRefresh, vars: func(h *evHarness, _ map[string]uuid.UUID, u uuid.UUID) map[string]any {
			return map[string]any{"o": h.srv.ClientOwner(motest.DefaultClientID).String(), "f": map[string]any{"uuids": []string{u.String()}}}
		}, wantGQL: []string{"a", "b"}, wantCount: 1},
		{name: "exchange", doc: orgUnitRefresh, vars: func(_ *evHarness, _ map[string]uuid.UUID, u uuid.UUID) map[string]any {
			return map[string]any{"x": "os2mo", "f": map[string]any{"uuids": []string{u.String()}}}
		}, wantAMQP: true, wantCount: 1},
		{name: "neither: both systems", doc: orgUnitRefresh, vars: func(_ *evHarness, _ map[string]uuid.UUID, u uuid.UUID) map[string]any {
			return map[string]any{"f": map[string]any{"uuids": []string{u.String()}}}
		}, wantGQL: []string{"a", "b", "c"}, wantAMQP: true, wantCount: 1},
		{name: "listener and exchange", doc: orgUnitRefresh, vars: func(_ *evHarness, ls map[string]uuid.UUID, _ uuid.UUID) map[string]any {
			return map[string]any{"l": ls["a"].String(), "x": "os2mo"}
		}, wantError: "listener/owner and exchange are mutually exclusive"},
		{name: "owner and exchange", doc: orgUnitRefresh, vars: func(h *evHarness, _ map[string]uuid.UUID, _ uuid.UUID) map[string]any {
			return map[string]any{"o": h.srv.ClientOwner(otherClient).String(), "x": "os2mo"}
		}, wantError: "listener/owner and exchange are mutually exclusive"},
		{name: "limit pages the refresh", doc: orgUnitRefresh, vars: func(_ *evHarness, ls map[string]uuid.UUID, _ uuid.UUID) map[string]any {
			return map[string]any{"l": ls["a"].String(), "limit": 2}
		}, wantCount: 2},
		{name: "employee_refresh uses routing key person", doc: `mutation R($o: UUID) { employee_refresh(owner: $o) { objects } }`,
			vars: func(h *evHarness, _ map[string]uuid.UUID, _ uuid.UUID) map[string]any {
				return map[string]any{"o": h.srv.ClientOwner(motest.DefaultClientID).String()}
			}, wantCount: -1},
		{name: "a refresh the fake does not implement", doc: `mutation { class_refresh { objects } }`,
			vars:      func(*evHarness, map[string]uuid.UUID, uuid.UUID) map[string]any { return nil },
			wantError: "does not implement Mutation.class_refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			h := newEvHarness(t, rec)
			ls := map[string]uuid.UUID{
				"a": h.declare(t, h.tok, "a", "org_unit"), "b": h.declare(t, h.tok, "b", "org_unit"),
				"c": h.declare(t, h.other, "c", "org_unit"), "p": h.declare(t, h.tok, "p", "person"),
			}
			unit := h.aUnit(t).UUID
			vars := tt.vars(h, ls, unit)
			if tt.wantError != "" {
				h.gqlError(t, h.tok, tt.doc, vars, tt.wantError)
				for k, l := range ls {
					if n := len(h.srv.PendingEvents(l)); n != 0 {
						t.Errorf("refused refresh gave listener %s %d events", k, n)
					}
				}
				if got := rec.got(); len(got) != 0 {
					t.Errorf("refused refresh published %v", got)
				}
				return
			}
			var out map[string]struct {
				Objects  []string `json:"objects"`
				PageInfo *struct {
					Next *string `json:"next_cursor"`
				} `json:"page_info"`
			}
			h.gql(t, h.tok, tt.doc, vars, &out)
			var objects []string
			for _, v := range out {
				objects = v.Objects
				if tt.wantCount == 2 && (v.PageInfo == nil || v.PageInfo.Next == nil) {
					t.Errorf("a limited refresh answered no next_cursor")
				}
			}
			if tt.wantCount > 0 && len(objects) != tt.wantCount {
				t.Fatalf("refreshed %v, want %d objects", objects, tt.wantCount)
			}
			if tt.wantCount == 1 && objects[0] != unit.String() {
				t.Fatalf("refreshed %v, want [%s]", objects, unit)
			}
			if tt.name == "employee_refresh uses routing key person" {
				slices.Sort(objects)
				if got := h.subjects(ls["p"]); len(objects) == 0 || !slices.Equal(got, objects) {
					t.Fatalf("person listener has %v, want %v", got, objects)
				}
				for _, k := range []string{"a", "b", "c"} {
					if n := len(h.srv.PendingEvents(ls[k])); n != 0 {
						t.Fatalf("org_unit listener %s got %d events", k, n)
					}
				}
				return
			}
			want := append([]string(nil), objects...)
			slices.Sort(want)
			for _, k := range []string{"a", "b", "c", "p"} {
				got := h.subjects(ls[k])
				if slices.Contains(tt.wantGQL, k) || (tt.wantCount == 2 && k == "a") {
					if !slices.Equal(got, want) {
						t.Errorf("listener %s has %v, want %v", k, got, want)
					}
				} else if len(got) != 0 {
					t.Errorf("listener %s has %v, want nothing", k, got)
				}
			}
			amqp := rec.got()
			if tt.wantAMQP != (len(amqp) > 0) {
				t.Errorf("AMQP got %v, want messages: %t", amqp, tt.wantAMQP)
			}
			if tt.wantAMQP && (len(amqp) != 1 || amqp[0] != "org_unit "+unit.String()) {
				t.Errorf("AMQP got %v", amqp)
			}
		})
	}
}

func TestEventSend(t *testing.T) {
	h := newEvHarness(t, nil)
	const nsDoc = `mutation N($n: String!, $p: Boolean!) { event_namespace_declare(input: {name: $n, public: $p}) { name owner public } }`
	var ns struct {
		N struct {
			Name   string `json:"name"`
			Owner  string `json:"owner"`
			Public bool   `json:"public"`
		} `json:"event_namespace_declare"`
	}
	h.gql(t, h.tok, nsDoc, map[string]any{"n": "internal", "p": true}, &ns)
	if ns.N.Owner != h.srv.ClientOwner(motest.DefaultClientID).String() || !ns.N.Public {
		t.Fatalf("namespace %+v", ns.N)
	}
	h.gql(t, h.tok, nsDoc, map[string]any{"n": "internal", "p": true}, nil) // idempotent
	h.gqlError(t, h.other, nsDoc, map[string]any{"n": "internal", "p": true}, "already claimed by another owner")
	h.gql(t, h.tok, nsDoc, map[string]any{"n": "private", "p": false}, nil)

	declare := func(tok, ns, userKey, routing string) (uuid.UUID, error) {
		res, err := h.post(context.Background(), tok, declareDoc, map[string]any{"ns": ns, "uk": userKey, "rk": routing})
		if err != nil {
			return uuid.Nil, err
		}
		if len(res.Errors) > 0 {
			return uuid.Nil, errors.New(res.Errors[0].Message)
		}
		var out struct {
			L listenerJSON `json:"event_listener_declare"`
		}
		if err := json.Unmarshal(res.Data, &out); err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(out.L.UUID)
	}
	mine, err := declare(h.tok, "internal", "fanout", "person")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := declare(h.other, "internal", "fanout", "person")
	if err != nil {
		t.Fatal(err)
	}
	other, err := declare(h.tok, "internal", "fanout_units", "org_unit")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := declare(h.other, "private", "x", "person"); err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Fatalf("declaring in another owner's private namespace: %v", err)
	}

	const sendDoc = `mutation S($ns: String!, $rk: String!, $s: String!, $p: Int!) {
	  event_send(input: {namespace: $ns, routing_key: $rk, subject: $s, priority: $p})
	}`
	tests := []struct {
		name      string
		tok       string
		ns        string
		priority  int
		subject   string
		wantError string
	}{
		{name: "own namespace", tok: h.tok, ns: "internal", priority: 3, subject: "subject-1"},
		{name: "priority must be natural", tok: h.tok, ns: "internal", priority: 0, subject: "x", wantError: "priority must be natural"},
		{name: "subjects are identifiers", tok: h.tok, ns: "internal", priority: 1, subject: strings.Repeat("x", 221), wantError: "too large subject"},
		{name: "unknown namespace", tok: h.tok, ns: "nope", priority: 1, subject: "x", wantError: "does not exist"},
		{name: "another owner's namespace", tok: h.other, ns: "internal", priority: 1, subject: "x", wantError: "not the owner"},
		{name: "OS2MO's namespace", tok: h.tok, ns: "mo", priority: 1, subject: "x", wantError: "not the owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]any{"ns": tt.ns, "rk": "person", "s": tt.subject, "p": tt.priority}
			if tt.wantError != "" {
				h.gqlError(t, tt.tok, sendDoc, vars, tt.wantError)
				return
			}
			var out struct {
				OK bool `json:"event_send"`
			}
			h.gql(t, tt.tok, sendDoc, vars, &out)
			if !out.OK {
				t.Fatal("event_send answered false")
			}
		})
	}
	for name, want := range map[uuid.UUID][]string{mine: {"subject-1"}, theirs: {"subject-1"}, other: nil} {
		if got := h.subjects(name); !slices.Equal(got, want) {
			t.Errorf("listener %s has %v, want %v", name, got, want)
		}
	}
	if e := h.fetch(t, h.other, theirs); e == nil || e.Subject != "subject-1" || e.Priority != 3 {
		t.Fatalf("fetched %+v", e)
	}
}

func TestAcknowledgeTokens(t *testing.T) {
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	h.srv.SendEvent("mo", "org_unit", "subject", 10000)
	e := h.fetch(t, h.tok, l)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name      string
		token     any
		wantError string
	}{
		{"not base64", "%%%", "could not parse EventToken"},
		{"no separator", b64(uuid.NewString()), "could not parse EventToken"},
		{"not UUIDs", b64("a.b"), "could not parse EventToken"},
		{"not a string", 42, "could not parse EventToken"},
		{"well formed but unknown: true, nothing removed", b64(uuid.NewString() + "." + uuid.NewString()), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantError != "" {
				h.gqlError(t, h.tok, ackDoc, map[string]any{"t": tt.token}, tt.wantError)
			} else {
				h.ack(t, h.tok, tt.token.(string))
			}
			if got := h.subjects(l); len(got) != 1 {
				t.Fatalf("pending %v", got)
			}
		})
	}
	h.ack(t, h.tok, e.Token)
	if got := h.subjects(l); len(got) != 0 {
		t.Fatalf("pending %v after acknowledging", got)
	}
}

func TestGraphQLEventsWithoutAMQP(t *testing.T) {
	ctx := context.Background()
	t.Run("AMQP off", func(t *testing.T) {
		h := newEvHarness(t, nil)
		l := h.declare(t, h.tok, "units", "org_unit")
		ch, err := h.srv.CreateUnit(ctx, motest.OrgUnitRequest{Name: "Ny", Parent: ptr(h.aUnit(t).UUID)})
		if err != nil {
			t.Fatal(err)
		}
		if got := h.subjects(l); !slices.Equal(got, []string{ch.UUID.String()}) {
			t.Fatalf("pending %v, want the new unit", got)
		}
		resp, err := http.Get(h.ts.URL + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var body motest.EventsResponse
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if len(body.Listeners) != 1 || body.Listeners[0].UUID != l || body.Listeners[0].Pending != 1 || body.Listeners[0].Due != 1 {
			t.Fatalf("GET /api/events %+v", body)
		}
	})
	t.Run("AMQP failing", func(t *testing.T) {
		rec := &recorder{fail: errors.New("broker down")}
		h := newEvHarness(t, rec)
		l := h.declare(t, h.tok, "units", "org_unit")
		ch, err := h.srv.CreateUnit(ctx, motest.OrgUnitRequest{Name: "Ny", Parent: ptr(h.aUnit(t).UUID)})
		if !errors.Is(err, motest.ErrNotPublished) {
			t.Fatalf("CreateUnit: %v, want ErrNotPublished", err)
		}
		if got := h.subjects(l); !slices.Equal(got, []string{ch.UUID.String()}) {
			t.Fatalf("pending %v, want the new unit although AMQP failed", got)
		}
	})
}

func TestHoldAcknowledgements(t *testing.T) {
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	h.srv.SendEvent("mo", "org_unit", "subject", 10000)
	e := h.fetch(t, h.tok, l)
	if e == nil {
		t.Fatal("nothing fetched")
	}
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); h.srv.AcknowledgementsWaiting() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d acknowledgements waiting, want %d", h.srv.AcknowledgementsWaiting(), n)
			}
		}
	}

	// The daemon dies between its confirm and its acknowledgement: the request is abandoned.
	release := h.srv.HoldAcknowledgements()
	t.Cleanup(release) // runs before the server's Close, which waits for held requests
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.post(ctx, h.tok, ackDoc, map[string]any{"t": e.Token})
		done <- err
	}()
	waitFor(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned acknowledgement: %v", err)
	}
	waitFor(0)
	release()
	if got := h.subjects(l); len(got) != 1 {
		t.Fatalf("pending %v: the abandoned acknowledgement removed the event", got)
	}
	if st := h.srv.EventStats(); st.Acks != 0 {
		t.Fatalf("stats %+v", st)
	}

	// A held acknowledgement whose client waits goes through when released.
	release = h.srv.HoldAcknowledgements()
	t.Cleanup(release)
	go func() {
		res, err := h.post(context.Background(), h.tok, ackDoc, map[string]any{"t": e.Token})
		if err == nil && len(res.Errors) > 0 {
			err = errors.New(res.Errors[0].Message)
		}
		done <- err
	}()
	waitFor(1)
	if got := h.subjects(l); len(got) != 1 {
		t.Fatalf("pending %v while the acknowledgement is held", got)
	}
	release()
	release() // a second call is harmless
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := h.subjects(l); len(got) != 0 {
		t.Fatalf("pending %v after the held acknowledgement was released", got)
	}
}

func TestEventInspectionSilenceAndDelete(t *testing.T) {
	h := newEvHarness(t, nil)
	l := h.declare(t, h.tok, "units", "org_unit")
	theirs := h.declare(t, h.other, "units", "org_unit")
	h.srv.SendEvent("mo", "org_unit", "b", 10000)
	h.srv.SendEvent("mo", "org_unit", "a", 5)

	type fullEvent struct {
		Subject  string `json:"subject"`
		Priority int    `json:"priority"`
		Silenced bool   `json:"silenced"`
		Listener struct {
			UUID string `json:"uuid"`
		} `json:"listener"`
	}
	var evs struct {
		E struct {
			Objects []fullEvent `json:"objects"`
		} `json:"events"`
	}
	h.gql(t, h.tok, `{ events { objects { subject priority silenced listener { uuid } } } }`, nil, &evs)
	if got := evs.E.Objects; len(got) != 2 || got[0].Subject != "a" || got[1].Subject != "b" || got[0].Listener.UUID != l.String() {
		t.Fatalf("events %+v, want only the caller's a then b", got)
	}

	const silenceDoc = `mutation S($l: UUID!, $s: String!) { event_silence(input: {listeners: {uuids: [$l]}, subjects: [$s]}) }`
	h.gql(t, h.tok, silenceDoc, map[string]any{"l": l.String(), "s": "a"}, nil)
	if e := h.fetch(t, h.tok, l); e == nil || e.Subject != "b" {
		t.Fatalf("fetched %+v, want b (a is silenced)", e)
	}
	if e := h.fetch(t, h.tok, l); e != nil {
		t.Fatalf("fetched silenced %+v", e)
	}
	var silenced struct {
		E struct {
			Objects []fullEvent `json:"objects"`
		} `json:"events"`
	}
	h.gql(t, h.tok, `{ events(filter: {silenced: true}) { objects { subject silenced } } }`, nil, &silenced)
	if got := silenced.E.Objects; len(got) != 1 || got[0].Subject != "a" || !got[0].Silenced {
		t.Fatalf("silenced events %+v", got)
	}
	h.gql(t, h.tok, `mutation { event_unsilence(input: {subjects: ["a"]}) }`, nil, nil)
	if e := h.fetch(t, h.tok, l); e == nil || e.Subject != "a" {
		t.Fatalf("fetched %+v after unsilencing a", e)
	}
	if got := h.subjects(theirs); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("the other listener has %v", got)
	}

	const deleteDoc = `mutation D($l: UUID!, $all: Boolean!) { event_listener_delete(input: {uuid: $l, delete_pending_events: $all}) }`
	h.gqlError(t, h.tok, deleteDoc, map[string]any{"l": l.String(), "all": false}, "pending events")
	h.gql(t, h.tok, deleteDoc, map[string]any{"l": l.String(), "all": true}, nil)
	if ls := h.srv.EventListeners(); len(ls) != 1 || ls[0].UUID != theirs {
		t.Fatalf("listeners %+v after deleting", ls)
	}
	if again := h.declare(t, h.tok, "units", "org_unit"); again == l {
		t.Fatal("a deleted listener came back with its UUID")
	}
}

// TestMutationFieldsRunInOrder declares a listener and refreshes in one document: the refresh
// reaches the listener only because the fields run serially, in document order.
func TestMutationFieldsRunInOrder(t *testing.T) {
	h := newEvHarness(t, nil)
	unit := h.aUnit(t).UUID
	var out struct {
		L struct {
			UUID string `json:"uuid"`
		} `json:"l"`
		R struct {
			Objects []string `json:"objects"`
		} `json:"r"`
	}
	h.gql(t, h.tok, `mutation M($o: UUID!, $u: UUID!) {
	  l: event_listener_declare(input: {namespace: "mo", user_key: "units", routing_key: "org_unit"}) { uuid }
	  r: org_unit_refresh(owner: $o, filter: {uuids: [$u]}) { objects }
	}`, map[string]any{"o": h.srv.ClientOwner(motest.DefaultClientID).String(), "u": unit.String()}, &out)
	if got := h.subjects(uuid.MustParse(out.L.UUID)); !slices.Equal(got, []string{unit.String()}) {
		t.Fatalf("pending %v, want the refreshed unit", got)
	}
}

func TestEmptyFetchDelay(t *testing.T) {
	srv := motest.NewServer(motest.Options{EmptyFetchDelay: 150 * time.Millisecond})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h := &evHarness{srv: srv, ts: ts}
	h.tok = h.token(t, motest.DefaultClientID, motest.DefaultClientSecret)
	l := h.declare(t, h.tok, "units", "org_unit")
	srv.SendEvent("mo", "org_unit", "subject", 10000)
	start := time.Now()
	if e := h.fetch(t, h.tok, l); e == nil {
		t.Fatal("nothing fetched")
	}
	if d := time.Since(start); d >= 150*time.Millisecond {
		t.Fatalf("a fetch with an event took %s", d)
	}
	start = time.Now()
	if e := h.fetch(t, h.tok, l); e != nil {
		t.Fatalf("fetched %+v", e)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("an empty fetch answered after %s, want ≥ 150 ms", d)
	}
}
