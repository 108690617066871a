package motest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// queue is a server-named queue bound with "#" to the os2mo exchange of an isolated vhost.
type queue struct {
	deliveries <-chan amqp.Delivery
}

func bindAll(t *testing.T, url string) *queue {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("os2mo", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", "os2mo", false, nil); err != nil {
		t.Fatal(err)
	}
	d, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &queue{deliveries: d}
}

// take collects n messages as "routing-key body", then makes sure no more arrive shortly.
func (q *queue) take(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case d := <-q.deliveries:
			if d.ContentType != "" || d.DeliveryMode != 0 || d.MessageId != "" || len(d.Headers) != 0 || !d.Timestamp.IsZero() {
				t.Errorf("message %s has properties set: %+v", d.RoutingKey, d)
			}
			got = append(got, d.RoutingKey+" "+string(d.Body))
		case <-deadline:
			t.Fatalf("got %d of %d messages: %v", len(got), n, got)
		}
	}
	select {
	case d := <-q.deliveries:
		t.Fatalf("unexpected extra message %s %s (after %v)", d.RoutingKey, d.Body, got)
	case <-time.After(150 * time.Millisecond):
	}
	slices.Sort(got)
	return got
}

// ev is the new-style message for an object: routing key and the UUID as a JSON string.
func ev(objectType string, id uuid.UUID) string { return objectType + ` "` + id.String() + `"` }

func sorted(s ...string) []string { slices.Sort(s); return s }

type world struct {
	srv  *motest.Server
	data motest.Dataset
	now  time.Time
	q    *queue
}

func newWorld(t *testing.T, opts motest.PublisherOptions) *world {
	t.Helper()
	broker := testenv.AMQP(t)
	q := bindAll(t, broker.URL)
	pub, err := motest.DialPublisherWithOptions(broker.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return now }, Events: pub})
	data := motest.GenerateOrg(motest.GenOptions{Seed: 11, Units: 60, Persons: 150, Today: now})
	if err := srv.Load(data); err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, data: data, now: now, q: q}
}

// leafWithDetails adds a unit with two addresses, a KLE mark-up and a vacant manager role below
// the top unit, without events, and returns it.
func (w *world) leafWithDetails(t *testing.T) model.OrgUnit {
	t.Helper()
	top := w.data.Units[0]
	email, _ := w.srv.Class("EmailUnit")
	u := model.OrgUnit{UUID: uuid.New(), Name: "Midlertidig Enhed", Parent: &top.UUID, Validity: model.Validity{From: w.now.AddDate(-1, 0, 0)},
		Addresses: []model.Address{{UUID: uuid.New(), Type: email, Value: "a@x.dk"}, {UUID: uuid.New(), Type: email, Value: "b@x.dk"}},
		KLE:       []model.KLE{{UUID: uuid.New(), Numbers: []model.Class{{UUID: uuid.New(), UserKey: "00.00.00", Name: "X"}}}},
		Managers:  []model.Manager{{UUID: uuid.New()}}}
	if err := w.srv.AddOrgUnit(u); err != nil {
		t.Fatal(err)
	}
	return u
}

// aManager returns a generated person (not skip) who manages a unit now and has no association or
// leave, and the manager roles the person holds now, from the server's current state.
func (w *world) aManager(t *testing.T, skip uuid.UUID) (model.Person, []uuid.UUID) {
	t.Helper()
	busy := map[uuid.UUID]bool{skip: true}
	for _, a := range w.data.Associations {
		busy[a.Person] = true
	}
	for _, l := range w.data.Leaves {
		busy[l.Person] = true
	}
	roles := map[uuid.UUID][]uuid.UUID{}
	for _, id := range w.srv.OrgUnitIDs() {
		u, _ := w.srv.OrgUnit(id)
		for _, m := range u.Managers {
			if m.Person != nil && (m.Validity.To.IsZero() || m.Validity.To.After(w.now)) {
				roles[*m.Person] = append(roles[*m.Person], m.UUID)
			}
		}
	}
	for _, p := range w.data.Persons {
		if len(roles[p.UUID]) > 0 && !busy[p.UUID] {
			got, _ := w.srv.Person(p.UUID)
			return got, roles[p.UUID]
		}
	}
	t.Fatal("no manager without association or leave in the generated data")
	return model.Person{}, nil
}

// must returns a function that fails t on an error and passes the change through.
func must(t *testing.T) func(motest.Change, error) motest.Change {
	return func(ch motest.Change, err error) motest.Change {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
}

// TestMutationsEmitOS2MOEvents runs each scenario through the mutation API and asserts the
// messages that reach a real RabbitMQ queue: one per changed object, routing key = its type,
// body = its UUID as a JSON string, no properties.
func TestMutationsEmitOS2MOEvents(t *testing.T) {
	w := newWorld(t, motest.PublisherOptions{})
	ctx := t.Context()
	units := w.srv.OrgUnitIDs()
	top, dept, other := units[0], units[1], units[2]
	p0, _ := w.srv.Person(w.data.Persons[0].UUID)
	secret, _ := w.srv.Class("Hemmelig")
	ad, _ := w.srv.Class("Active Directory")
	jf := model.Class{UUID: uuid.New(), UserKey: "Testjob", Name: "Testjob"}
	employed, _ := w.srv.Class("Ansat")
	tests := []struct {
		name string
		run  func(t *testing.T) []string // performs the change, returns the expected messages
	}{
		{"create unit", func(t *testing.T) []string {
			ch := must(t)(w.srv.CreateUnit(ctx, motest.OrgUnitRequest{Name: "Ny Enhed", Parent: &dept}))
			return []string{ev("org_unit", ch.UUID)}
		}},
		{"rename unit", func(t *testing.T) []string {
			must(t)(w.srv.RenameUnit(ctx, other, "Omdøbt", time.Time{}))
			return []string{ev("org_unit", other)}
		}},
		{"move unit", func(t *testing.T) []string {
			must(t)(w.srv.MoveUnit(ctx, other, top, w.now.AddDate(0, 0, 1)))
			return []string{ev("org_unit", other)}
		}},
		{"terminate unit ends its details too", func(t *testing.T) []string {
			u := w.leafWithDetails(t)
			must(t)(w.srv.TerminateUnit(ctx, u.UUID, time.Time{}))
			return sorted(ev("org_unit", u.UUID), ev("address", u.Addresses[0].UUID), ev("address", u.Addresses[1].UUID),
				ev("kle", u.KLE[0].UUID), ev("manager", u.Managers[0].UUID))
		}},
		{"terminating a unit with sub-units is refused, without events", func(t *testing.T) []string {
			if _, err := w.srv.TerminateUnit(ctx, dept, time.Time{}); !errors.Is(err, motest.ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
			return nil
		}},
		{"add engagement", func(t *testing.T) []string {
			ch := must(t)(w.srv.AddEngagement(ctx, p0.UUID, model.Engagement{OrgUnit: dept, JobFunction: jf, EngagementType: employed}))
			return []string{ev("engagement", ch.UUID)}
		}},
		{"change engagement", func(t *testing.T) []string {
			id := p0.Engagements[0].UUID
			must(t)(w.srv.ChangeEngagement(ctx, id, motest.EngagementChange{OrgUnit: &other, Extensions: map[int]string{1: "Ny titel"}}, time.Time{}))
			return []string{ev("engagement", id)}
		}},
		{"end engagement", func(t *testing.T) []string {
			id := p0.Engagements[0].UUID
			must(t)(w.srv.EndEngagement(ctx, id, w.now.AddDate(0, 1, 0)))
			return []string{ev("engagement", id)}
		}},
		{"change address", func(t *testing.T) []string {
			id := p0.Addresses[0].UUID
			must(t)(w.srv.ChangeAddress(ctx, id, motest.AddressChange{Value: ptr("ny@kommune.dk")}, time.Time{}))
			return []string{ev("address", id)}
		}},
		{"make an address secret", func(t *testing.T) []string {
			id := p0.Addresses[0].UUID
			must(t)(w.srv.ChangeAddress(ctx, id, motest.AddressChange{Visibility: &secret}, time.Time{}))
			return []string{ev("address", id)}
		}},
		{"set manager on a unit with a role", func(t *testing.T) []string {
			u, _ := w.srv.OrgUnit(top)
			must(t)(w.srv.SetManager(ctx, top, &p0.UUID, time.Time{}))
			return []string{ev("manager", u.Managers[0].UUID)}
		}},
		{"set manager on a unit without a role creates one", func(t *testing.T) []string {
			u := w.leafWithDetails(t)
			must(t)(w.srv.ClearManager(ctx, u.UUID, w.now.AddDate(-1, 0, 0)))
			ch := must(t)(w.srv.SetManager(ctx, u.UUID, &p0.UUID, time.Time{}))
			if !ch.Created {
				t.Errorf("change %+v: want a new manager role", ch)
			}
			return sorted(ev("manager", u.Managers[0].UUID), ev("manager", ch.UUID))
		}},
		{"clear manager", func(t *testing.T) []string {
			u, _ := w.srv.OrgUnit(dept)
			var want []string
			for _, m := range u.Managers {
				if m.Validity.To.IsZero() {
					want = append(want, ev("manager", m.UUID))
				}
			}
			must(t)(w.srv.ClearManager(ctx, dept, time.Time{}))
			return sorted(want...)
		}},
		{"add and remove KLE", func(t *testing.T) []string {
			ch := must(t)(w.srv.AddKLE(ctx, dept, []model.Class{{UUID: uuid.New(), UserKey: "02.00.00", Name: "Byggeri"}}, nil, time.Time{}))
			must(t)(w.srv.RemoveKLE(ctx, ch.UUID, w.now.AddDate(0, 0, 7)))
			return []string{ev("kle", ch.UUID), ev("kle", ch.UUID)}
		}},
		{"add and remove an AD account", func(t *testing.T) []string {
			ch := must(t)(w.srv.AddITUser(ctx, p0.UUID, model.ITUser{ITSystem: ad, UserKey: "nyad", ExternalID: uuid.NewString()}))
			must(t)(w.srv.RemoveITUser(ctx, ch.UUID, time.Time{}))
			return []string{ev("ituser", ch.UUID), ev("ituser", ch.UUID)}
		}},
		{"create person", func(t *testing.T) []string {
			p := model.Person{GivenName: "Ny", Surname: "Medarbejder", CPR: "0202021234",
				Engagements: []model.Engagement{{UUID: uuid.New(), OrgUnit: dept, JobFunction: jf, EngagementType: employed}},
				ITUsers:     []model.ITUser{{UUID: uuid.New(), UserKey: "nyme", ITSystem: ad}}}
			ch := must(t)(w.srv.CreatePerson(ctx, p))
			return sorted(ev("person", ch.UUID), ev("engagement", p.Engagements[0].UUID), ev("ituser", p.ITUsers[0].UUID))
		}},
		{"terminate person ends details and vacates manager roles", func(t *testing.T) []string {
			p, roles := w.aManager(t, p0.UUID)
			var want []string
			for _, e := range p.Engagements {
				if e.Validity.To.IsZero() || e.Validity.To.After(w.now) {
					want = append(want, ev("engagement", e.UUID))
				}
			}
			for _, a := range p.Addresses {
				want = append(want, ev("address", a.UUID))
			}
			for _, it := range p.ITUsers {
				want = append(want, ev("ituser", it.UUID))
			}
			for _, r := range roles {
				want = append(want, ev("manager", r))
			}
			must(t)(w.srv.TerminatePerson(ctx, p.UUID, time.Time{}))
			return sorted(want...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.run(t)
			if got := w.q.take(t, len(want)); !slices.Equal(got, want) {
				t.Fatalf("messages\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestTerminatedPersonIsVacatedManager(t *testing.T) {
	srv := motest.NewServer(motest.Options{})
	if err := srv.Load(motest.GenerateOrg(motest.GenOptions{Seed: 4, Units: 40, Persons: 120, Today: time.Now()})); err != nil {
		t.Fatal(err)
	}
	var unit model.OrgUnit
	for _, id := range srv.OrgUnitIDs() {
		if u, _ := srv.OrgUnit(id); len(u.Managers) > 0 && u.Managers[0].Person != nil {
			unit = u
			break
		}
	}
	person := *unit.Managers[0].Person
	if _, err := srv.TerminatePerson(t.Context(), person, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	after, _ := srv.OrgUnit(unit.UUID)
	if after.Managers[0].Person != nil {
		t.Errorf("manager role still held by %s after the person's termination", after.Managers[0].Person)
	}
	p, _ := srv.Person(person)
	for _, e := range p.Engagements {
		if e.Validity.To.IsZero() || e.Validity.To.After(time.Now()) {
			t.Errorf("engagement %s still in effect: %+v", e.UUID, e.Validity)
		}
	}
}

// TestLegacyKeys: with Legacy set, each event is also sent as `<service>.<type>.<action>` per
// owner with the JSON object body.
func TestLegacyKeys(t *testing.T) {
	w := newWorld(t, motest.PublisherOptions{Legacy: true})
	p, _ := w.srv.Person(w.data.Persons[0].UUID)
	eng := p.Engagements[0]
	units := w.srv.OrgUnitIDs()
	if _, err := w.srv.ChangeEngagement(t.Context(), eng.UUID, motest.EngagementChange{Extensions: map[int]string{3: "x"}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	body := func(owner uuid.UUID) string {
		// A change "from now" takes effect from the start of the day (v25 is date-granular).
		day := time.Date(w.now.Year(), w.now.Month(), w.now.Day(), 0, 0, 0, 0, w.now.Location())
		return fmt.Sprintf(`{"uuid":"%s","object_uuid":"%s","time":"%s"}`, owner, eng.UUID, day.Format("2006-01-02T15:04:05-07:00"))
	}
	want := sorted(ev("engagement", eng.UUID), "employee.engagement.edit "+body(p.UUID), "org_unit.engagement.edit "+body(eng.OrgUnit))
	if got := w.q.take(t, 3); !slices.Equal(got, want) {
		t.Fatalf("messages\n got %v\nwant %v", got, want)
	}
	if _, err := w.srv.RenameUnit(t.Context(), units[3], "Nyt Navn", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := w.q.take(t, 2)
	if !strings.HasPrefix(got[1], "org_unit.org_unit.edit ") || got[0] != ev("org_unit", units[3]) {
		t.Fatalf("unit rename messages %v", got)
	}
}

// TestDuplicatesAndDelay: duplicates repeat messages; delays hold them back until the injected
// clock fires, and Close still sends what waits.
func TestDuplicatesAndDelay(t *testing.T) {
	var mu sync.Mutex
	var delays []time.Duration
	release := make(chan time.Time)
	w := newWorld(t, motest.PublisherOptions{Duplicates: 1, MinDelay: 5 * time.Second, MaxDelay: 90 * time.Second, Seed: 7,
		After: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, d)
			return release
		}})
	units := w.srv.OrgUnitIDs()
	ch, err := w.srv.RenameUnit(t.Context(), units[1], "Senere", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-w.q.deliveries:
		t.Fatalf("message %s arrived before its delay passed", d.RoutingKey)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	want := []string{ev("org_unit", ch.UUID), ev("org_unit", ch.UUID)}
	if got := w.q.take(t, 2); !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v (duplicated)", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != 1 || delays[0] < 5*time.Second || delays[0] > 90*time.Second {
		t.Errorf("delays = %v, want one in [5s, 90s]", delays)
	}
}

// TestBoundaryEvents: a future termination emits its event when written, and again when the day
// passes (OS2MO's validity-boundary events).
func TestBoundaryEvents(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	rec := &recorder{}
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return now }, Events: rec})
	top := model.OrgUnit{UUID: uuid.New(), Name: "Top", Validity: model.Validity{From: now.AddDate(-5, 0, 0)}}
	if err := srv.AddOrgUnit(top); err != nil {
		t.Fatal(err)
	}
	p := model.Person{UUID: uuid.New(), Name: "Anna Jensen", Engagements: []model.Engagement{{UUID: uuid.New(), OrgUnit: top.UUID,
		Validity: model.Validity{From: now.AddDate(-1, 0, 0)}}}}
	if err := srv.AddPerson(p); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 3, 11, 0, 0, 0, 0, loc) // v25 ends at the start of a day
	if _, err := srv.EndEngagement(context.Background(), p.Engagements[0].UUID, end); err != nil {
		t.Fatal(err)
	}
	if got := srv.BoundaryEvents(now, end.Add(-time.Hour)); len(got) != 0 {
		t.Errorf("boundary events before the end: %+v", got)
	}
	got, err := srv.PublishBoundaryEvents(context.Background(), end.Add(-time.Hour), end)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ObjectType != "engagement" || got[0].UUID != p.Engagements[0].UUID || got[0].Action != motest.ActionRefresh {
		t.Fatalf("boundary events = %+v", got)
	}
	want := []string{"engagement " + p.Engagements[0].UUID.String(), "engagement " + p.Engagements[0].UUID.String()}
	if !reflect.DeepEqual(rec.got(), want) {
		t.Fatalf("published %v, want %v", rec.got(), want)
	}
}

// TestMutationHTTPAPI drives every endpoint once and checks the events in each answer.
func TestMutationHTTPAPI(t *testing.T) {
	h := newHarness(t)
	d := motest.GenerateOrg(motest.GenOptions{Seed: 2, Units: 30, Persons: 40, Today: h.now})
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return h.now }, Events: h.rec})
	if err := srv.Load(d); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	h = &harness{srv: srv, ts: ts, rec: h.rec, now: h.now}
	units := srv.OrgUnitIDs()
	person := d.Persons[0]
	var eng, addr uuid.UUID
	for _, e := range person.Engagements {
		if e.Validity.To.IsZero() {
			eng = e.UUID
		}
	}
	addr = person.Addresses[0].UUID
	job := person.Engagements[0].JobFunction.UserKey
	kle, aspect := "", ""
	for _, u := range d.Units {
		if len(u.KLE) > 0 {
			kle, aspect = u.KLE[0].Numbers[0].UserKey, u.KLE[0].Aspects[0].UserKey
		}
	}
	steps := []struct {
		path, body string
		status     int
		events     []string // object types
	}{
		{"/api/person", `{"given_name":"Ny","surname":"Person","cpr_number":"0303031234"}`, 201, []string{"person"}},
		{"/api/person/" + person.UUID.String() + "/engagement", `{"org_unit":"` + units[1].String() + `","job_function":"` + job + `","extensions":{"1":"Titel"}}`, 201, []string{"engagement"}},
		{"/api/engagement/" + eng.String(), `{"job_function":"` + job + `","extensions":{"3":"AD"}}`, 200, []string{"engagement"}},
		{"/api/engagement/" + eng.String() + "/terminate", `{"to":"2026-06-30T00:00:00+02:00"}`, 200, []string{"engagement"}},
		{"/api/address/" + addr.String(), `{"visibility":"Hemmelig"}`, 200, []string{"address"}},
		{"/api/address/" + addr.String(), `{"visibility":null,"value":"x@y.dk"}`, 200, []string{"address"}},
		{"/api/address", `{"owner":"` + person.UUID.String() + `","address_type":"MobilePhoneEmployee","value":"22222222","visibility":"Ekstern"}`, 201, []string{"address"}},
		{"/api/org_unit/" + units[1].String() + "/manager", `{"person":"` + person.UUID.String() + `"}`, 200, []string{"manager"}},
		{"/api/org_unit/" + units[1].String() + "/manager", `{"person":null}`, 200, []string{"manager"}},
		{"/api/org_unit/" + units[1].String() + "/manager/terminate", ``, 200, []string{"manager"}},
		{"/api/org_unit/" + units[1].String() + "/kle", `{"numbers":["` + kle + `"],"aspects":["` + aspect + `"]}`, 201, []string{"kle"}},
		{"/api/person/" + person.UUID.String() + "/ituser", `{"user_key":"nyad","external_id":"` + uuid.NewString() + `"}`, 201, []string{"ituser"}},
		{"/api/org_unit/" + units[1].String() + "/terminate", ``, 409, nil},
		{"/api/engagement/" + uuid.NewString(), `{"job_function":"` + job + `"}`, 404, nil},
		{"/api/person/" + person.UUID.String() + "/engagement", `{"org_unit":"` + units[1].String() + `","job_function":"Ukendt"}`, 404, nil},
		{"/api/person/" + person.UUID.String() + "/engagement", `{"job_function":"` + job + `"}`, 400, nil},
		{"/api/events/boundaries", `{"since":"2026-06-29T00:00:00+02:00","until":"2026-06-30T00:00:00+02:00"}`, 200, nil},
	}
	for _, s := range steps {
		status, cr := post(t, ts.URL+s.path, s.body)
		if status != s.status {
			t.Fatalf("POST %s %s: HTTP %d %+v, want %d", s.path, s.body, status, cr, s.status)
		}
		var types []string
		for _, e := range cr.Events {
			types = append(types, e.ObjectType)
		}
		if s.path == "/api/events/boundaries" {
			if !slices.Contains(types, "engagement") {
				t.Errorf("boundary events %v miss the engagement ending 2026-06-30", types)
			}
			continue
		}
		if !slices.Equal(types, s.events) {
			t.Errorf("POST %s: events %v, want %v", s.path, types, s.events)
		}
		if s.status < 300 && !cr.EventPublished {
			t.Errorf("POST %s: event_published false", s.path)
		}
	}
	resp, err := ts.Client().Get(ts.URL + "/api/person/" + person.UUID.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var shown map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&shown); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET person: %d %v", resp.StatusCode, err)
	}
	if cpr, _ := shown["CPR"].(string); !strings.HasSuffix(cpr, "-xxxx") {
		t.Errorf("GET person shows CPR %q, want it masked", cpr)
	}
}

func ptr[T any](v T) *T { return &v }

func post(t *testing.T, url, body string) (int, motest.ChangeResponse) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var cr motest.ChangeResponse
	_ = json.NewDecoder(resp.Body).Decode(&cr)
	return resp.StatusCode, cr
}
