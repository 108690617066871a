package moclient_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
)

// TestBatchedReadsMatchSingleReads: an object read among others in one request (OrgUnits,
// Persons) is the same as read alone (OrgUnit, Person: the same query with one UUID), so answers
// are not mixed up between UUIDs; nil for one not in effect now, nothing for an unknown one; as
// many requests as MaxBatch requires.
func TestBatchedReadsMatchSingleReads(t *testing.T) {
	e := newEnv(t, 0)
	f := e.personFixture(t)
	terminated := model.OrgUnit{UUID: uuid.New(), Name: "Nedlagt", Validity: model.Validity{From: e.clock.Now().AddDate(-2, 0, 0)}}
	if err := e.fake.AddOrgUnit(terminated); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.TerminateOrgUnit(terminated.UUID, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	later := model.Person{UUID: uuid.New(), Name: "Kommende Medarbejder", Validity: model.Validity{From: e.clock.Now().AddDate(0, 2, 0)}}
	if err := e.fake.AddPerson(later); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, nil)
	ctx := t.Context()
	unknown := uuid.New()

	units, err := c.OrgUnits(ctx, []uuid.UUID{f.top.UUID, f.unit.UUID, terminated.UUID, unknown})
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 3 || units[terminated.UUID] != nil {
		t.Fatalf("OrgUnits = %v; want the two current units, nil for the terminated one, nothing for the unknown one", units)
	}
	if _, ok := units[unknown]; ok {
		t.Errorf("OrgUnits has an entry for an unknown UUID")
	}
	for _, id := range []uuid.UUID{f.top.UUID, f.unit.UUID} {
		one, err := c.OrgUnit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := units[id]
		utc(got)
		utc(one)
		if !reflect.DeepEqual(got, one) {
			t.Errorf("unit %s: OrgUnits gave %+v, OrgUnit %+v", id, got, one)
		}
	}

	persons, err := c.Persons(ctx, []uuid.UUID{f.person.UUID, later.UUID, unknown})
	if err != nil {
		t.Fatal(err)
	}
	if len(persons) != 2 || persons[later.UUID] != nil || persons[f.person.UUID] == nil {
		t.Fatalf("Persons gave %d entries; want the current person and nil for the future one", len(persons))
	}
	one, err := c.Person(ctx, f.person.UUID)
	if err != nil {
		t.Fatal(err)
	}
	got := persons[f.person.UUID]
	utcPerson(got)
	utcPerson(one)
	if !reflect.DeepEqual(got, one) {
		t.Errorf("Persons and Person differ for %s", f.person.UUID)
	}

	// More than MaxBatch UUIDs take several requests.
	requests := func() int {
		e.count.mu.Lock()
		defer e.count.mu.Unlock()
		return e.count.paths["/graphql/v25"]
	}
	before := requests()
	many := make([]uuid.UUID, moclient.MaxBatch+1)
	for i := range many {
		many[i] = uuid.New()
	}
	many[0] = f.unit.UUID
	units, err = c.OrgUnits(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 1 || units[f.unit.UUID] == nil {
		t.Errorf("OrgUnits of %d UUIDs = %d units, want 1", len(many), len(units))
	}
	if n := requests() - before; n != 2 {
		t.Errorf("%d UUIDs took %d requests, want 2", len(many), n)
	}
}
