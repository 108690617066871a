package moclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// personFixture adds a unit tree and a person with every kind of detail the reader reads, and
// returns the person as the reader should see it at the env's clock (2026-03-01 12:00).
type personFixture struct {
	top, unit, future model.OrgUnit
	person            model.Person
	want              model.Person
	ended             uuid.UUID // an engagement that ended last year
}

func (e *env) personFixture(t *testing.T) personFixture {
	t.Helper()
	top, unit := e.fixture(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, e.loc) }
	future := model.OrgUnit{UUID: uuid.New(), Name: "Ny Skole", UserKey: "NYSKOLE", Parent: &top.UUID, Validity: model.Validity{From: day(2026, 8, 1)}}
	if err := e.fake.AddOrgUnit(future); err != nil {
		t.Fatal(err)
	}
	ad, fk := class("Active Directory", "Active Directory", ""), class("FK-ORG-UUID", "FK-org uuid", "")
	teacher, engineer, employed := class("Lærer", "Lærer", ""), class("Ingeniør", "Ingeniør", ""), class("Ansat", "Ansat", "")
	public, secret := class("Ekstern", "Må vises eksternt", "PUBLIC"), class("Hemmelig", "Hemmelig", "SECRET")
	current := model.Engagement{UUID: uuid.New(), UserKey: "00042", OrgUnit: unit.UUID, JobFunction: engineer, EngagementType: employed,
		Primary: true, Fraction: ptr(37), Start: day(2015, 5, 1), Validity: model.Validity{From: day(2021, 2, 1)}}
	current.Extensions[0] = "Specialkonsulent"
	current.Extensions[2] = "AD-titel"
	upcoming := model.Engagement{UUID: uuid.New(), UserKey: "00043", OrgUnit: future.UUID, JobFunction: teacher, EngagementType: employed,
		Validity: model.Validity{From: day(2026, 8, 1)}}
	ended := model.Engagement{UUID: uuid.New(), UserKey: "00041", OrgUnit: unit.UUID, JobFunction: teacher, EngagementType: employed,
		Validity: model.Validity{From: day(2010, 1, 1), To: day(2025, 6, 1)}}
	adUser := model.ITUser{UUID: uuid.New(), UserKey: "brsg", ExternalID: uuid.NewString(), ITSystem: ad, Engagements: []uuid.UUID{current.UUID},
		Validity: model.Validity{From: day(2015, 5, 1)}}
	fkUser := model.ITUser{UUID: uuid.New(), UserKey: adUser.ExternalID, ExternalID: uuid.NewString(), ITSystem: fk,
		Validity: model.Validity{From: day(2020, 1, 1)}}
	email := model.Address{UUID: uuid.New(), Type: class("EmailEmployee", "Email", "EMAIL"), Visibility: &public, Value: "brsg@kolding.dk",
		Name: "brsg@kolding.dk", ITUser: &adUser.UUID, Validity: model.Validity{From: day(2015, 5, 1)}}
	mobile := model.Address{UUID: uuid.New(), Type: class("MobilePhoneEmployee", "Mobil", "PHONE"), Visibility: &secret, Value: "22334455",
		Name: "22334455", Engagement: &current.UUID, Validity: model.Validity{From: day(2015, 5, 1)}}
	p := model.Person{UUID: uuid.New(), UserKey: "brian", GivenName: "Brian Storm", Surname: "Graversen",
		NicknameGivenName: "Storm", NicknameSurname: "G", CPR: "0101901234",
		Engagements: []model.Engagement{current, upcoming, ended}, ITUsers: []model.ITUser{adUser, fkUser},
		Addresses: []model.Address{email, mobile}}
	if err := e.fake.AddPerson(p); err != nil {
		t.Fatal(err)
	}
	unitSummary := &model.UnitSummary{UUID: unit.UUID, Name: unit.Name, UserKey: unit.UserKey, Ancestors: []uuid.UUID{top.UUID},
		UnitType: unit.UnitType, Level: unit.Level, Hierarchy: unit.Hierarchy, ITUsers: unit.ITUsers} // addresses not asked for
	wantCurrent := current
	wantCurrent.Unit = unitSummary
	wantUpcoming := upcoming
	wantUpcoming.Start = upcoming.Validity.From // a future unit: no summary
	want := model.Person{UUID: p.UUID, UserKey: "brian", Name: "Brian Storm Graversen", GivenName: "Brian Storm", Surname: "Graversen",
		Nickname: "Storm G", NicknameGivenName: "Storm", NicknameSurname: "G", CPR: "0101901234",
		ITUsers: []model.ITUser{adUser, fkUser}, Engagements: []model.Engagement{wantCurrent, wantUpcoming},
		Addresses: []model.Address{email, mobile}}
	for i := range want.Addresses {
		want.Addresses[i].Started = want.Addresses[i].Validity.From // never edited
	}
	return personFixture{top: top, unit: unit, future: future, person: p, want: want, ended: ended.UUID}
}

func ptr[T any](v T) *T { return &v }

// utcPerson normalises every time in p to UTC.
func utcPerson(p *model.Person) {
	v := func(x *model.Validity) {
		x.From, x.To = x.From.UTC(), x.To.UTC()
	}
	v(&p.Validity)
	for i := range p.ITUsers {
		v(&p.ITUsers[i].Validity)
	}
	for i := range p.Addresses {
		v(&p.Addresses[i].Validity)
		p.Addresses[i].Started = p.Addresses[i].Started.UTC()
	}
	for i := range p.Engagements {
		v(&p.Engagements[i].Validity)
		p.Engagements[i].Start = p.Engagements[i].Start.UTC()
		if u := p.Engagements[i].Unit; u != nil {
			c := *u
			c.ITUsers, c.Addresses = utcITUsers(u.ITUsers), utcAddresses(u.Addresses)
			p.Engagements[i].Unit = &c
		}
	}
}

func TestPersonReadsEverything(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	got, err := e.client(t, nil).Person(t.Context(), f.person.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if loc := got.Engagements[0].Start.Location().String(); loc != "Europe/Copenhagen" {
		t.Errorf("engagement start location = %s, want Europe/Copenhagen", loc)
	}
	want := f.want
	utcPerson(got)
	utcPerson(&want)
	if !reflect.DeepEqual(got.Engagements, want.Engagements) {
		t.Errorf("engagements\n got: %+v\nwant: %+v", got.Engagements, want.Engagements)
	}
	if !reflect.DeepEqual(got.ITUsers, want.ITUsers) || !reflect.DeepEqual(got.Addresses, want.Addresses) {
		t.Errorf("IT users / addresses\n got: %+v %+v\nwant: %+v %+v", got.ITUsers, got.Addresses, want.ITUsers, want.Addresses)
	}
	got.Engagements, got.ITUsers, got.Addresses = nil, nil, nil
	want.Engagements, want.ITUsers, want.Addresses = nil, nil, nil
	if !reflect.DeepEqual(*got, want) {
		// %#v would be redacted; compare the fields that matter one by one.
		t.Errorf("person fields: got name %q/%q/%q nick %q/%q/%q cpr ok=%v validity %v; want %q/%q/%q %q/%q/%q",
			got.Name, got.GivenName, got.Surname, got.Nickname, got.NicknameGivenName, got.NicknameSurname, got.CPR == want.CPR,
			got.Validity, want.Name, want.GivenName, want.Surname, want.Nickname, want.NicknameGivenName, want.NicknameSurname)
	}
}

func TestPersonOutcomes(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	later := model.Person{UUID: uuid.New(), Name: "Kommende Medarbejder", Validity: model.Validity{From: e.clock.Now().AddDate(0, 2, 0)}}
	if err := e.fake.AddPerson(later); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, nil)
	tests := []struct {
		name    string
		id      uuid.UUID
		wantErr error
	}{
		{"current person", f.person.UUID, nil},
		{"unknown UUID", uuid.New(), moclient.ErrNotFound},
		{"person not in effect yet", later.UUID, moclient.ErrNotCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Person(t.Context(), tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && p.UUID != tt.id {
				t.Fatalf("got %s, want %s", p.UUID, tt.id)
			}
		})
	}
}

func TestPersonNeverShowsCPR(t *testing.T) {
	p := model.Person{UUID: uuid.New(), UserKey: "bsg", Name: "Brian Storm Graversen", GivenName: "Brian", CPR: "0101901234"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("read person", "person", p, "ptr", &p)
	for _, s := range []string{buf.String(), fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, &p)} {
		if strings.Contains(s, "0101901234") || strings.Contains(s, "010190") || strings.Contains(s, "Graversen") {
			t.Errorf("CPR number or name leaked: %s", s)
		}
		if !strings.Contains(s, p.UUID.String()) {
			t.Errorf("output %q does not identify the person by UUID", s)
		}
	}
	if !strings.Contains(buf.String(), `"has_cpr":true`) {
		t.Errorf("log line %s does not say a CPR number is held", buf.String())
	}
}

func TestOwners(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	ctx := t.Context()
	past := e.clock.Now().AddDate(-1, 0, 0)
	// Objects of each type, some already ended, through the fake's mutation API.
	mustChange := func(ch motest.Change, err error) uuid.UUID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ch.UUID
	}
	assoc := uuid.New()
	if err := e.fake.AddAssociation(motest.Association{UUID: assoc, Person: f.person.UUID, OrgUnit: f.unit.UUID,
		Type: class("MED-medlem", "MED-medlem", ""), Validity: model.Validity{From: past}}); err != nil {
		t.Fatal(err)
	}
	leave := uuid.New()
	if err := e.fake.AddLeave(motest.Leave{UUID: leave, Person: f.person.UUID, Type: class("Barsel", "Barsel", ""),
		Validity: model.Validity{From: past, To: past.AddDate(0, 3, 0)}}); err != nil {
		t.Fatal(err)
	}
	endedKLE := mustChange(e.fake.AddKLE(ctx, f.unit.UUID, []model.Class{class("02.00.00", "Byggeri", "")}, nil, past))
	mustChange(e.fake.RemoveKLE(ctx, endedKLE, past.AddDate(0, 1, 0)))
	unitAddr, unitIT := f.unit.Addresses[0].UUID, f.unit.ITUsers[0].UUID
	tests := []struct {
		name       string
		objectType string
		id         uuid.UUID
		want       moclient.Owners
		wantErr    error
	}{
		{"person address", moclient.ObjectAddress, f.person.Addresses[0].UUID, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"unit address", moclient.ObjectAddress, unitAddr, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"engagement", moclient.ObjectEngagement, f.person.Engagements[0].UUID, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"ended engagement", moclient.ObjectEngagement, f.ended, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"person IT user", moclient.ObjectITUser, f.person.ITUsers[0].UUID, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"unit IT user", moclient.ObjectITUser, unitIT, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"manager", moclient.ObjectManager, f.unit.Managers[0].UUID, moclient.Owners{Persons: []uuid.UUID{*f.unit.Managers[0].Person}, OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"vacant manager", moclient.ObjectManager, f.unit.Managers[1].UUID, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"KLE", moclient.ObjectKLE, f.unit.KLE[0].UUID, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"ended KLE", moclient.ObjectKLE, endedKLE, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"association", moclient.ObjectAssociation, assoc, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}, OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"ended leave", moclient.ObjectLeave, leave, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"person is its own owner", moclient.ObjectPerson, f.person.UUID, moclient.Owners{Persons: []uuid.UUID{f.person.UUID}}, nil},
		{"unit is its own owner", moclient.ObjectOrgUnit, f.unit.UUID, moclient.Owners{OrgUnits: []uuid.UUID{f.unit.UUID}}, nil},
		{"unknown address", moclient.ObjectAddress, uuid.New(), moclient.Owners{}, moclient.ErrNotFound},
		{"unknown leave", moclient.ObjectLeave, uuid.New(), moclient.Owners{}, moclient.ErrNotFound},
		{"class has no owners", "class", uuid.New(), moclient.Owners{}, moclient.ErrUnsupportedObjectType},
	}
	c := e.client(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Owners(t.Context(), tt.objectType, tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("owners = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := moclient.OwnerObjectTypes(); len(got) != 9 || !slices.IsSorted(got) {
		t.Errorf("OwnerObjectTypes = %v", got)
	}
}

func TestUnitPersonsAndSubtree(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	ctx := t.Context()
	// A subtree below the unit: child, grandchild, and a terminated child.
	mk := func(name string, parent uuid.UUID) uuid.UUID {
		t.Helper()
		ch, err := e.fake.CreateUnit(ctx, motest.OrgUnitRequest{Name: name, Parent: &parent, From: ptr(e.clock.Now().AddDate(-1, 0, 0))})
		if err != nil {
			t.Fatal(err)
		}
		return ch.UUID
	}
	child := mk("Vej og Park", f.unit.UUID)
	grandchild := mk("Team Nord", child)
	gone := mk("Nedlagt", f.unit.UUID)
	if _, err := e.fake.TerminateUnit(ctx, gone, e.clock.Now().AddDate(0, -1, 0)); err != nil {
		t.Fatal(err)
	}
	// Five more persons engaged in the unit (one only from next month, one ended) and one in the child;
	// the unit's managers count too (the fixture's is the fixture's person; a second one manages
	// without an engagement there).
	var want []uuid.UUID
	want = append(want, f.person.UUID)
	jf, typ := class("Ingeniør", "Ingeniør", ""), class("Ansat", "Ansat", "")
	for i, span := range []model.Validity{
		{From: e.clock.Now().AddDate(-2, 0, 0)},
		{From: e.clock.Now().AddDate(-2, 0, 0)},
		{From: e.clock.Now().AddDate(-2, 0, 0), To: e.clock.Now().AddDate(0, 6, 0)},
		{From: e.clock.Now().AddDate(0, 1, 0)},
		{From: e.clock.Now().AddDate(-2, 0, 0), To: e.clock.Now().AddDate(0, -1, 0)},
	} {
		p := model.Person{UUID: uuid.New(), Name: fmt.Sprintf("Person %d", i), Validity: model.Validity{From: span.From.AddDate(-1, 0, 0)},
			Engagements: []model.Engagement{{UUID: uuid.New(), OrgUnit: f.unit.UUID, JobFunction: jf, EngagementType: typ, Validity: span}}}
		if err := e.fake.AddPerson(p); err != nil {
			t.Fatal(err)
		}
		if span.To.IsZero() || span.To.After(e.clock.Now()) {
			want = append(want, p.UUID)
		}
	}
	elsewhere := model.Person{UUID: uuid.New(), Name: "Anden Enhed", Validity: model.Validity{From: e.clock.Now().AddDate(-3, 0, 0)},
		Engagements: []model.Engagement{{UUID: uuid.New(), OrgUnit: child, JobFunction: jf, EngagementType: typ, Validity: model.Validity{From: e.clock.Now().AddDate(-1, 0, 0)}}}}
	if err := e.fake.AddPerson(elsewhere); err != nil {
		t.Fatal(err)
	}
	// The person engaged elsewhere also manages the unit: a manager role keeps a user exported.
	if _, err := e.fake.SetManager(ctx, f.unit.UUID, &elsewhere.UUID, e.clock.Now().AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	want = append(want, elsewhere.UUID)
	c := e.client(t, func(c *moclient.Config) { c.PageSize = 2 })
	before := e.count.count("/graphql/v25")
	got, err := c.UnitPersons(ctx, f.unit.UUID)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(got, want) {
		t.Errorf("UnitPersons = %v, want %v", got, want)
	}
	if pages := e.count.count("/graphql/v25") - before; pages < 3 {
		t.Errorf("UnitPersons used %d pages of 2, want at least 3", pages)
	}

	sub, err := c.Subtree(ctx, f.unit.UUID)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(sub, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	wantSub := []uuid.UUID{child, grandchild}
	slices.SortFunc(wantSub, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(sub, wantSub) {
		t.Errorf("Subtree = %v, want %v (without the unit itself and the terminated child)", sub, wantSub)
	}
	for name, id := range map[string]uuid.UUID{"leaf": grandchild, "unknown": uuid.New()} {
		if sub, err := c.Subtree(ctx, id); err != nil || len(sub) != 0 {
			t.Errorf("Subtree(%s) = %v, %v; want empty", name, sub, err)
		}
	}
	// A terminated unit keeps its engagement history; its current/future persons are found.
	if ps, err := c.UnitPersons(ctx, gone); err != nil || len(ps) != 0 {
		t.Errorf("UnitPersons(terminated, no staff) = %v, %v", ps, err)
	}
}

func TestListingsFollowCursorToTheEnd(t *testing.T) {
	tests := []struct {
		name             string
		units, persons   int
		pageSize         int
		failFirstGraphQL int64
	}{
		{"several pages", 57, 123, 10, 0},
		{"page size equals total", 20, 20, 20, 0},
		{"one big page", 30, 40, 500, 0},
		{"503 on the first page is retried", 25, 25, 7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.failFirstGraphQL)
			if err := e.fake.Load(motest.GenerateOrg(motest.GenOptions{Seed: 3, Units: tt.units, Persons: tt.persons, Today: e.clock.Now()})); err != nil {
				t.Fatal(err)
			}
			c := e.client(t, func(c *moclient.Config) { c.PageSize = tt.pageSize })
			for _, kind := range []struct {
				name string
				list func(context.Context, func([]uuid.UUID) error) error
				all  []uuid.UUID
			}{{"units", c.ListUnits, e.fake.OrgUnitIDs()}, {"persons", c.ListPersons, e.fake.PersonIDs()}} {
				var got []uuid.UUID
				pages := 0
				if err := kind.list(t.Context(), func(page []uuid.UUID) error {
					pages++
					if len(page) > tt.pageSize {
						t.Errorf("%s page of %d exceeds the page size %d", kind.name, len(page), tt.pageSize)
					}
					got = append(got, page...)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				want := slices.Clone(kind.all)
				slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
				slices.SortFunc(got, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
				if !slices.Equal(got, want) {
					t.Fatalf("%s: listed %d, want all %d exactly once", kind.name, len(got), len(want))
				}
				if minPages := (len(want) + tt.pageSize - 1) / tt.pageSize; pages < minPages {
					t.Errorf("%s: %d pages, want at least %d", kind.name, pages, minPages)
				}
			}
		})
	}
}

func TestListingStopsOnCallbackError(t *testing.T) {
	e := newEnv(t, 0)
	if err := e.fake.Load(motest.Generate(1, 30)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	calls := 0
	err := e.client(t, func(c *moclient.Config) { c.PageSize = 5 }).ListUnits(t.Context(), func([]uuid.UUID) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestTokenExpiryDuringListing(t *testing.T) {
	e := newEnv(t, 0)
	if err := e.fake.Load(motest.Generate(1, 40)); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, func(c *moclient.Config) { c.PageSize = 10 })
	n := 0
	if err := c.ListUnits(t.Context(), func(page []uuid.UUID) error {
		n += len(page)
		e.fake.ExpireTokens() // every next page meets a 401 and must refresh once
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("listed %d units, want 40", n)
	}
	if got := e.count.graphQLStatus(http.StatusUnauthorized); got != 3 {
		t.Errorf("401 answers = %d, want 3 (one per page after the first)", got)
	}
	if got := e.count.count(tokenPath); got != 4 {
		t.Errorf("token requests = %d, want 4", got)
	}
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"transient", &moclient.TransientError{Op: "x", StatusCode: 503, Err: errors.New("down")}, true},
		{"auth", &moclient.AuthError{StatusCode: 401}, false},
		{"HTTP 400", &moclient.HTTPError{StatusCode: 400}, false},
		{"HTTP 429", &moclient.HTTPError{StatusCode: 429}, true},
		{"GraphQL validation", &moclient.GraphQLError{Errors: []moclient.GraphQLErrorItem{{Message: "Cannot query field"}}}, false},
		{"GraphQL execution", &moclient.GraphQLError{Errors: []moclient.GraphQLErrorItem{{Message: "db gone", Path: []any{"org_units"}}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r interface{ Retryable() bool }
			if !errors.As(fmt.Errorf("wrapped: %w", tt.err), &r) || r.Retryable() != tt.want {
				t.Fatalf("Retryable = %v, want %v", r != nil && r.Retryable(), tt.want)
			}
		})
	}
}

func TestOrgUnitManagerCarriesPersonITUsers(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	if _, err := e.fake.ClearManager(t.Context(), f.unit.UUID, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.SetManager(t.Context(), f.unit.UUID, &f.person.UUID, e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	u, err := e.client(t, nil).OrgUnit(t.Context(), f.unit.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Managers) != 1 || u.Managers[0].Person == nil || *u.Managers[0].Person != f.person.UUID {
		t.Fatalf("managers = %+v, want one held by %s", u.Managers, f.person.UUID)
	}
	var keys []string
	for _, it := range u.Managers[0].PersonITUsers {
		keys = append(keys, it.ITSystem.UserKey+"="+it.UserKey)
	}
	slices.Sort(keys)
	want := []string{"Active Directory=brsg", "FK-ORG-UUID=" + f.person.ITUsers[0].ExternalID}
	if !slices.Equal(keys, want) {
		t.Errorf("manager's IT users = %v, want %v", keys, want)
	}
	if eng := u.Managers[0].PersonITUsers[0].Engagements; !slices.Equal(eng, []uuid.UUID{f.person.Engagements[0].UUID}) {
		t.Errorf("AD account's engagement links = %v, want [%s]", eng, f.person.Engagements[0].UUID)
	}
}
