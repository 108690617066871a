package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// stsState returns everything the fake STS holds, for planning against.
func (s *slice) stsState() map[uuid.UUID]*oio.Object {
	state := map[uuid.UUID]*oio.Object{}
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindOrganisationFunktion, oio.KindBruger, oio.KindPerson, oio.KindAdresse} {
		for _, o := range s.sts.Objects(k) {
			state[o.UUID] = o
		}
	}
	return state
}

// moClient is an OS2MO client for the slice's fake, as the daemon has.
func (s *slice) moClient(t *testing.T) *moclient.Client {
	t.Helper()
	c, err := moclient.New(moclient.Config{URL: s.cfg.MOURL, AuthServer: s.cfg.MOAuthServer,
		ClientID: s.cfg.MOClientID, ClientSecret: s.cfg.MOClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pendingOps returns the operations that would still be needed to bring STS in line with what
// OS2MO holds now for the units and persons: none once the sync converged.
func (s *slice) pendingOps(t *testing.T, units, persons []uuid.UUID) []translate.Operation {
	t.Helper()
	ctx := context.Background()
	mo := s.moClient(t)
	settings := translate.Settings{Organisation: s.orgUUID}
	now := time.Now()
	var bundles []translate.Desired
	for _, id := range units {
		u, err := mo.OrgUnit(ctx, id)
		if err != nil {
			t.Fatalf("unit %s: %v", id, err)
		}
		bundles = append(bundles, translate.UnitDesired(settings, u, now))
	}
	for _, id := range persons {
		p, err := mo.Person(ctx, id)
		switch {
		case err == nil:
			bundles = append(bundles, translate.PersonDesired(settings, p, now))
		case errors.Is(err, moclient.ErrNotCurrent):
			bundles = append(bundles, translate.PersonGone(settings, id))
		default:
			t.Fatalf("person %s: %v", id, err)
		}
	}
	state := s.stsState()
	var ops []translate.Operation
	for _, d := range bundles {
		ops = append(ops, translate.PlanAll(settings, d, state, now)...)
	}
	return ops
}

func personIDs(d motest.Dataset) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(d.Persons))
	for _, p := range d.Persons {
		ids = append(ids, p.UUID)
	}
	return ids
}

func unitIDs(d motest.Dataset) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(d.Units))
	for _, u := range d.Units {
		ids = append(ids, u.UUID)
	}
	return ids
}

// reads and writesOf split a call count map ("kind/operation") into reads and writes.
func readsOf(calls map[string]int) int { return total(calls) - writes(calls) }

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// TestPersonEventsReachSTS: unit and person events bring a municipality with persons into STS
// (users, positions, addresses, managers); then OS2MO's own events for a moved employee, a new
// manager and a terminated person are resolved to their owners and written with one read and
// one write per changed STS object, and a duplicate costs no call.
func TestPersonEventsReachSTS(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 31, Units: 8, Persons: 25, Today: time.Now()})
	s := startSliceWith(t, nil, sliceOptions{dataset: &data, events: true})
	units, persons := unitIDs(data), personIDs(data)
	for _, id := range units {
		s.publish(t, id)
	}
	ctx := context.Background()
	for _, id := range persons {
		if err := s.pub.Publish(ctx, "person", id); err != nil {
			t.Fatal(err)
		}
	}
	published := len(units) + len(persons)
	waitFor(t, 60*time.Second, "all events settled", func() bool { return s.allSettled(t, published) })
	if ops := s.pendingOps(t, units, persons); len(ops) != 0 {
		t.Fatalf("STS differs from OS2MO after the initial events: %d operation(s) pending, first %s %s", len(ops), ops[0].Op, ops[0].Ref())
	}
	if n := len(s.sts.Objects(oio.KindBruger)); n == 0 {
		t.Fatal("no users in STS")
	}
	positions := 0
	for _, f := range s.sts.Objects(oio.KindOrganisationFunktion) {
		for _, r := range f.Registration.Relationer {
			if r.Name == oio.RelFunktionstype && r.Ref == translate.FunktionstypeStilling {
				positions++
			}
		}
	}
	if positions == 0 {
		t.Fatal("no positions in STS")
	}

	// A person with an engagement moves to another unit: OS2MO emits an engagement event.
	var mover model.Person
	var eng model.Engagement
	for _, p := range data.Persons {
		if len(p.Engagements) == 1 {
			mover, eng = p, p.Engagements[0]
			break
		}
	}
	if mover.UUID == uuid.Nil {
		t.Fatal("no person with one engagement in the dataset")
	}
	target := units[len(units)-1]
	if target == eng.OrgUnit {
		target = units[len(units)-2]
	}
	settled := s.settled(t)
	s.sts.ResetCalls()
	// OS2MO edits take effect from a date (midnight in Copenhagen), never mid-day.
	today := translate.Day(time.Now())
	change, err := s.mo.ChangeEngagement(ctx, eng.UUID, motest.EngagementChange{OrgUnit: &target}, today)
	if err != nil {
		t.Fatalf("move engagement: %v", err)
	}
	waitFor(t, 20*time.Second, "move settled", func() bool { return s.allSettled(t, published+len(change.Events)) })
	published += len(change.Events)
	calls := s.sts.Calls()
	t.Logf("moving an employee: %d event(s) %v, STS calls %v", len(change.Events), change.Events, calls)
	if writes(calls) != 1 || readsOf(calls) > 1 {
		t.Errorf("moving an employee made calls %v; want one read and one write (the position)", calls)
	}
	if ops := s.pendingOps(t, units, persons); len(ops) != 0 {
		t.Fatalf("STS differs from OS2MO after the move: first pending %s %s", ops[0].Op, ops[0].Ref())
	}

	// The same engagement event again: nothing changed, no STS call.
	s.sts.ResetCalls()
	if err := s.pub.Publish(ctx, "engagement", eng.UUID); err != nil {
		t.Fatal(err)
	}
	published++
	waitFor(t, 10*time.Second, "duplicate settled", func() bool { return s.allSettled(t, published) })
	if n := s.sts.TotalCalls(); n != 0 {
		t.Errorf("a duplicate engagement event made %d STS calls %v; want 0", n, s.sts.Calls())
	}

	// A new manager for a unit: a manager event, owned by the unit.
	s.sts.ResetCalls()
	manager := persons[0]
	change, err = s.mo.SetManager(ctx, units[1], &manager, today)
	if err != nil {
		t.Fatalf("set manager: %v", err)
	}
	published += len(change.Events)
	waitFor(t, 20*time.Second, "manager settled", func() bool { return s.allSettled(t, published) })
	if f, ok := s.sts.Object(oio.KindOrganisationFunktion, translate.ManagerUUID(units[1])); !ok || !refersTo(f, oio.RelTilknyttedeBrugere, manager) {
		t.Errorf("manager function of %s does not name user %s: %+v", units[1], manager, f)
	}

	// The mover is terminated: the user and positions are ended.
	s.sts.ResetCalls()
	change, err = s.mo.TerminatePerson(ctx, mover.UUID, today)
	if err != nil {
		t.Fatalf("terminate person: %v", err)
	}
	published += len(change.Events)
	waitFor(t, 20*time.Second, "termination settled", func() bool { return s.allSettled(t, published) })
	if ops := s.pendingOps(t, units, persons); len(ops) != 0 {
		t.Fatalf("STS differs from OS2MO after the termination: first pending %s %s", ops[0].Op, ops[0].Ref())
	}
	if n := s.deadLettered(t); n != 0 {
		t.Errorf("%v events dead-lettered", n)
	}
	t.Logf("settled %d events (%d before the move); STS calls for the termination: %v", s.settled(t), settled, s.sts.Calls())
}

// refersTo reports whether o has a relation name → id.
func refersTo(o *oio.Object, name oio.RelationName, id uuid.UUID) bool {
	if o == nil {
		return false
	}
	for _, r := range o.Registration.Relationer {
		if r.Name == name && r.Ref == id {
			return true
		}
	}
	return false
}
