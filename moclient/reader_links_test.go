package moclient_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// graphQLLog records the GraphQL exchanges passing through it: each request's operation and
// variables and the response body.
type graphQLLog struct {
	next      http.Handler
	mu        sync.Mutex
	exchanges []graphQLExchange
}

type graphQLExchange struct {
	Operation string
	Variables map[string]any
	Response  []byte
}

// bodyRecorder keeps a copy of what a handler writes.
type bodyRecorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *bodyRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (l *graphQLLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/graphql/") {
		l.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	_ = json.Unmarshal(body, &req)
	rec := &bodyRecorder{ResponseWriter: w}
	l.next.ServeHTTP(rec, r)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exchanges = append(l.exchanges, graphQLExchange{Operation: req.OperationName, Variables: req.Variables, Response: rec.body.Bytes()})
}

// of returns the recorded exchanges of operation.
func (l *graphQLLog) of(operation string) []graphQLExchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []graphQLExchange
	for _, x := range l.exchanges {
		if x.Operation == operation {
			out = append(out, x)
		}
	}
	return out
}

// newRecordingEnv is newEnv with every GraphQL exchange recorded.
func newRecordingEnv(t *testing.T) (*env, *graphQLLog) {
	t.Helper()
	log := &graphQLLog{}
	e := newEnvWrapped(t, 0, func(h http.Handler) http.Handler { log.next = h; return log })
	return e, log
}

// post sends a request to the fake's mutation API and fails t unless it answers wantStatus.
func (e *env) post(t *testing.T, path string, body any, wantStatus int) motest.ChangeResponse {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.ts.Client().Post(e.ts.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s: status %d (%s), want %d", path, resp.StatusCode, raw, wantStatus)
	}
	var ch motest.ChangeResponse
	if wantStatus < 300 {
		if err := json.Unmarshal(raw, &ch); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}
	return ch
}

func sortedUUIDs(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// utcITUsers and utcAddresses normalise the times in copies of their input to UTC.
func utcITUsers(in []model.ITUser) []model.ITUser {
	out := slices.Clone(in)
	for i := range out {
		out[i].Validity = model.Validity{From: out[i].Validity.From.UTC(), To: out[i].Validity.To.UTC()}
	}
	return out
}

func utcAddresses(in []model.Address) []model.Address {
	out := slices.Clone(in)
	for i := range out {
		out[i].Validity = model.Validity{From: out[i].Validity.From.UTC(), To: out[i].Validity.To.UTC()}
		out[i].Started = out[i].Started.UTC()
	}
	return out
}

// TestITUserLinkedToSeveralEngagements: an IT account linked to several engagements of its
// person carries all of them in ITUser.Engagements, however the links were made (loaded, through
// the mutation API's list or single-link form, edited), read as the person's IT user and as the
// IT user of a manager.
func TestITUserLinkedToSeveralEngagements(t *testing.T) {
	e := newEnv(t, 0)
	top, unit := e.fixture(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, e.loc) }
	eng := func(key string, in uuid.UUID, v model.Validity) model.Engagement {
		return model.Engagement{UUID: uuid.New(), UserKey: key, OrgUnit: in, Validity: v}
	}
	teacher := eng("00001", unit.UUID, model.Validity{From: day(2019, 8, 1)})
	coach := eng("00002", top.UUID, model.Validity{From: day(2022, 1, 1)})
	upcoming := eng("00003", unit.UUID, model.Validity{From: day(2026, 8, 1)})
	ended := eng("00004", top.UUID, model.Validity{From: day(2010, 1, 1), To: day(2020, 1, 1)})
	ad, fk := class("Active Directory", "Active Directory", ""), class("FK-ORG-UUID", "FK-org uuid", "")
	account := func(key string, sys model.Class, links ...uuid.UUID) model.ITUser {
		return model.ITUser{UUID: uuid.New(), UserKey: key, ExternalID: uuid.NewString(), ITSystem: sys,
			Validity: model.Validity{From: day(2019, 8, 1)}, Engagements: links}
	}
	p := model.Person{UUID: uuid.New(), UserKey: "anje", GivenName: "Anne", Surname: "Jensen",
		Engagements: []model.Engagement{teacher, coach, upcoming, ended},
		ITUsers: []model.ITUser{
			account("anje", ad, teacher.UUID, coach.UUID),
			account("anje-future", ad, upcoming.UUID, teacher.UUID),
			account("anje-old", ad, ended.UUID),
			account("anje-one", ad, coach.UUID),
			account("anje-relinked", ad, teacher.UUID, coach.UUID),
			account("anje-fk", fk),
		}}
	if err := e.fake.AddPerson(p); err != nil {
		t.Fatal(err)
	}
	// Accounts made and changed through the fake's HTTP mutation API.
	base := "/api/person/" + p.UUID.String() + "/ituser"
	e.post(t, base, motest.ITUserRequest{UserKey: "anje-list", Engagements: []uuid.UUID{coach.UUID, teacher.UUID}}, http.StatusCreated)
	e.post(t, base, motest.ITUserRequest{UserKey: "anje-single", Engagement: &teacher.UUID}, http.StatusCreated)
	e.post(t, base, motest.ITUserRequest{UserKey: "anje-both", Engagement: &upcoming.UUID, Engagements: []uuid.UUID{coach.UUID, upcoming.UUID}}, http.StatusCreated)
	e.post(t, base, motest.ITUserRequest{UserKey: "anje-bad", Engagements: []uuid.UUID{uuid.New()}}, http.StatusNotFound)
	yesterday := e.clock.Now().AddDate(0, 0, -1)
	e.post(t, "/api/ituser/"+p.ITUsers[4].UUID.String(), motest.ITUserRequest{Engagements: []uuid.UUID{upcoming.UUID}, From: &yesterday}, http.StatusOK)
	if _, err := e.fake.ClearManager(t.Context(), unit.UUID, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.SetManager(t.Context(), unit.UUID, &p.UUID, e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		account string
		want    []uuid.UUID
	}{
		{"anje", []uuid.UUID{teacher.UUID, coach.UUID}},
		{"anje-future", []uuid.UUID{upcoming.UUID, teacher.UUID}},
		{"anje-old", []uuid.UUID{ended.UUID}},
		{"anje-one", []uuid.UUID{coach.UUID}},
		{"anje-relinked", []uuid.UUID{upcoming.UUID}},
		{"anje-fk", nil},
		{"anje-list", []uuid.UUID{coach.UUID, teacher.UUID}},
		{"anje-single", []uuid.UUID{teacher.UUID}},
		{"anje-both", []uuid.UUID{upcoming.UUID, coach.UUID}},
	}
	c := e.client(t, nil)
	person, err := c.Person(t.Context(), p.UUID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.OrgUnit(t.Context(), unit.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Managers) != 1 || u.Managers[0].Person == nil || *u.Managers[0].Person != p.UUID {
		t.Fatalf("managers = %+v, want one held by %s", u.Managers, p.UUID)
	}
	view, _ := e.fake.Person(p.UUID)
	readers := []struct {
		name    string
		itUsers []model.ITUser
	}{
		{"person", person.ITUsers},
		{"manager of a unit", u.Managers[0].PersonITUsers},
		{"fake's Go view", view.ITUsers},
	}
	for _, r := range readers {
		if len(r.itUsers) != len(tests) {
			t.Errorf("%s: %d IT users, want %d", r.name, len(r.itUsers), len(tests))
		}
		for _, tt := range tests {
			t.Run(r.name+"/"+tt.account, func(t *testing.T) {
				i := slices.IndexFunc(r.itUsers, func(it model.ITUser) bool { return it.UserKey == tt.account })
				if i < 0 {
					t.Fatalf("IT user %s missing", tt.account)
				}
				got := r.itUsers[i].Engagements
				if !slices.Equal(sortedUUIDs(got), sortedUUIDs(tt.want)) {
					t.Errorf("Engagements = %v, want (in any order) %v", got, tt.want)
				}
			})
		}
	}
	// The fake's Go view says what the GraphQL API answers, in the same order.
	for _, it := range view.ITUsers {
		i := slices.IndexFunc(person.ITUsers, func(x model.ITUser) bool { return x.UUID == it.UUID })
		if i < 0 || !slices.Equal(person.ITUsers[i].Engagements, it.Engagements) {
			t.Errorf("IT user %s: reader and fake's view disagree on the engagements", it.UserKey)
		}
	}
}

// unitSummariesIn returns, from a recorded Person response, every engagement unit's "current"
// object (the unit summary as OS2MO sent it).
func unitSummariesIn(t *testing.T, response []byte) []map[string]any {
	t.Helper()
	var resp struct {
		Data struct {
			Persons struct {
				Objects []struct {
					Current *struct {
						Engagements struct {
							Objects []struct {
								Validities []struct {
									OrgUnit struct {
										Current map[string]any `json:"current"`
									} `json:"org_unit_response"`
								} `json:"validities"`
							} `json:"objects"`
						} `json:"engagements_response"`
					} `json:"current"`
				} `json:"objects"`
			} `json:"persons"`
		} `json:"data"`
	}
	if err := json.Unmarshal(response, &resp); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, p := range resp.Data.Persons.Objects {
		if p.Current == nil {
			continue
		}
		for _, e := range p.Current.Engagements.Objects {
			for _, v := range e.Validities {
				if v.OrgUnit.Current != nil {
					out = append(out, v.OrgUnit.Current)
				}
			}
		}
	}
	return out
}

// TestEngagementUnitSummary: the summary of an engagement's unit carries the unit's IT users in
// effect now, and its addresses in effect now only when Config.EngagementUnitAddresses is set;
// otherwise the query does not ask for them at all.
func TestEngagementUnitSummary(t *testing.T) {
	tests := []struct {
		name          string
		unitAddresses bool
	}{
		{"unit addresses not asked for (default)", false},
		{"unit addresses asked for", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, log := newRecordingEnv(t)
			top, _ := e.fixture(t)
			day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, e.loc) }
			fkOrg := class("FK-ORG", "FK-ORG", "")
			it := func(key string, v model.Validity) model.ITUser {
				return model.ITUser{UUID: uuid.New(), UserKey: key, ExternalID: uuid.NewString(), ITSystem: fkOrg, Validity: v}
			}
			current := it("FK-ORG-UUID", model.Validity{From: day(2020, 1, 1)})
			public := class("Ekstern", "Må vises eksternt", "PUBLIC")
			email := model.Address{UUID: uuid.New(), Type: class("EmailUnit", "Email", "EMAIL"), Visibility: &public,
				Value: "skov@kolding.dk", Name: "skov@kolding.dk", Validity: model.Validity{From: day(2021, 8, 1), To: day(2027, 1, 1)}}
			school := model.OrgUnit{UUID: uuid.New(), Name: "Skovvangskolen", UserKey: "SKOV", Parent: &top.UUID,
				Validity: model.Validity{From: day(2018, 1, 1)},
				ITUsers: []model.ITUser{
					it("GAMMEL", model.Validity{From: day(2018, 1, 1), To: day(2025, 1, 1)}), // ended
					current,
					it("SENERE", model.Validity{From: day(2026, 6, 1)}), // starts later
				},
				Addresses: []model.Address{
					{UUID: uuid.New(), Type: class("PhoneUnit", "Telefon", "PHONE"), Value: "75500000", Name: "75500000",
						Validity: model.Validity{From: day(2018, 1, 1), To: day(2024, 1, 1)}}, // ended
					email,
					{UUID: uuid.New(), Type: class("EAN", "EAN-nummer", "EAN"), Value: "5798000000010", Name: "5798000000010",
						Validity: model.Validity{From: day(2026, 9, 1)}}, // starts later
				}}
			canteen := model.OrgUnit{UUID: uuid.New(), Name: "Kantinen", Parent: &top.UUID, Validity: model.Validity{From: day(2018, 1, 1)}}
			for _, u := range []model.OrgUnit{school, canteen} {
				if err := e.fake.AddOrgUnit(u); err != nil {
					t.Fatal(err)
				}
			}
			p := model.Person{UUID: uuid.New(), Name: "Kim Larsen", Engagements: []model.Engagement{
				{UUID: uuid.New(), OrgUnit: school.UUID, Validity: model.Validity{From: day(2022, 8, 1)}},
				{UUID: uuid.New(), OrgUnit: canteen.UUID, Validity: model.Validity{From: day(2023, 1, 1)}},
			}}
			if err := e.fake.AddPerson(p); err != nil {
				t.Fatal(err)
			}

			got, err := e.client(t, func(c *moclient.Config) { c.EngagementUnitAddresses = tt.unitAddresses }).Person(t.Context(), p.UUID)
			if err != nil {
				t.Fatal(err)
			}
			wantEmail := email
			wantEmail.Started = email.Validity.From
			var wantAddresses []model.Address
			if tt.unitAddresses {
				wantAddresses = []model.Address{wantEmail}
			}
			want := map[uuid.UUID]struct {
				itUsers   []model.ITUser
				addresses []model.Address
			}{
				school.UUID:  {[]model.ITUser{current}, wantAddresses},
				canteen.UUID: {nil, nil},
			}
			view, _ := e.fake.Person(p.UUID)
			if len(got.Engagements) != len(want) {
				t.Fatalf("%d engagements, want %d", len(got.Engagements), len(want))
			}
			for _, eng := range got.Engagements {
				w, s := want[eng.OrgUnit], eng.Unit
				if s == nil {
					t.Fatalf("engagement in %s has no unit summary", eng.OrgUnit)
				}
				if !reflect.DeepEqual(utcITUsers(s.ITUsers), utcITUsers(w.itUsers)) {
					t.Errorf("unit %s: ITUsers\n got: %+v\nwant: %+v", s.Name, s.ITUsers, w.itUsers)
				}
				if !reflect.DeepEqual(utcAddresses(s.Addresses), utcAddresses(w.addresses)) {
					t.Errorf("unit %s: Addresses\n got: %+v\nwant: %+v", s.Name, s.Addresses, w.addresses)
				}
				// The fake's Go view holds the same IT users, and the addresses the reader reads
				// when asked to.
				i := slices.IndexFunc(view.Engagements, func(v model.Engagement) bool { return v.UUID == eng.UUID })
				if i < 0 || view.Engagements[i].Unit == nil {
					t.Fatalf("fake's view lacks engagement %s or its unit", eng.UUID)
				}
				vs := view.Engagements[i].Unit
				if !reflect.DeepEqual(utcITUsers(vs.ITUsers), utcITUsers(s.ITUsers)) {
					t.Errorf("unit %s: fake's view has IT users %+v, reader %+v", s.Name, vs.ITUsers, s.ITUsers)
				}
				if tt.unitAddresses && !reflect.DeepEqual(utcAddresses(vs.Addresses), utcAddresses(s.Addresses)) {
					t.Errorf("unit %s: fake's view has addresses %+v, reader %+v", s.Name, vs.Addresses, s.Addresses)
				}
			}

			// What went over the wire: the flag, and addresses in the unit summaries only when asked.
			sent := log.of("Person")
			if len(sent) != 1 {
				t.Fatalf("%d Person requests, want 1", len(sent))
			}
			if v, ok := sent[0].Variables["unit_addresses"].(bool); !ok || v != tt.unitAddresses {
				t.Errorf("variable unit_addresses = %v, want %v", sent[0].Variables["unit_addresses"], tt.unitAddresses)
			}
			summaries := unitSummariesIn(t, sent[0].Response)
			if len(summaries) != 2 {
				t.Fatalf("response has %d unit summaries, want 2", len(summaries))
			}
			for _, s := range summaries {
				if _, ok := s["itusers"]; !ok {
					t.Errorf("unit summary %v lacks itusers", s["name"])
				}
				if _, asked := s["addresses"]; asked != tt.unitAddresses {
					t.Errorf("unit summary %v: addresses in the response = %v, want %v", s["name"], asked, tt.unitAddresses)
				}
			}
		})
	}
}

// TestOrgUnitParentITUsers: a unit carries the IT users its parent has now (not the parent's
// ended or later ones); a unit whose parent has none, and a root unit, carry none.
func TestOrgUnitParentITUsers(t *testing.T) {
	e := newEnv(t, 0)
	top, unit := e.fixture(t) // unit has one current FK-ORG IT user; top has none
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, e.loc) }
	current := unit.ITUsers[0]
	fkOrg := current.ITSystem
	unit.ITUsers = append(slices.Clone(unit.ITUsers),
		model.ITUser{UUID: uuid.New(), UserKey: "GAMMEL", ITSystem: fkOrg, Validity: model.Validity{From: day(2018, 1, 1), To: day(2025, 1, 1)}},
		model.ITUser{UUID: uuid.New(), UserKey: "SENERE", ITSystem: fkOrg, Validity: model.Validity{From: day(2026, 6, 1)}})
	if err := e.fake.UpdateOrgUnit(unit); err != nil {
		t.Fatal(err)
	}
	ch, err := e.fake.CreateUnit(t.Context(), motest.OrgUnitRequest{Name: "Vej og Park", Parent: &unit.UUID, From: ptr(day(2021, 1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	child := ch.UUID
	tests := []struct {
		name       string
		id         uuid.UUID
		wantParent *uuid.UUID
		want       []model.ITUser
	}{
		{"parent with IT users now, before and later", child, &unit.UUID, []model.ITUser{current}},
		{"parent without IT users", unit.UUID, &top.UUID, nil},
		{"root unit", top.UUID, nil, nil},
	}
	c := e.client(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.OrgUnit(t.Context(), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Parent, tt.wantParent) {
				t.Errorf("Parent = %v, want %v", u.Parent, tt.wantParent)
			}
			if !reflect.DeepEqual(utcITUsers(u.ParentITUsers), utcITUsers(tt.want)) {
				t.Errorf("ParentITUsers\n got: %+v\nwant: %+v", u.ParentITUsers, tt.want)
			}
			if view, _ := e.fake.OrgUnit(tt.id); !reflect.DeepEqual(utcITUsers(view.ParentITUsers), utcITUsers(u.ParentITUsers)) {
				t.Errorf("fake's view has ParentITUsers %+v, reader %+v", view.ParentITUsers, u.ParentITUsers)
			}
		})
	}
}
