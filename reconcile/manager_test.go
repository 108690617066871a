package reconcile_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestManagerWithoutPositionConverges: a unit's manager whose only engagement ends has no
// position left. The unit's bundle and the person's bundle must agree on the manager's user (the
// manager role keeps it exported), so a second and a third sync write nothing and verify finds
// STS in sync. It used to make the same two writes of the manager function at every sync, one
// for each bundle.
func TestManagerWithoutPositionConverges(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	from := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
	class := func(key string) model.Class {
		return model.Class{UUID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("test:"+key)), UserKey: key, Name: key}
	}
	top := model.OrgUnit{UUID: uuid.New(), Name: "Kommune", UserKey: "K", Validity: from}
	bo, eng := uuid.New(), uuid.New()
	unit := model.OrgUnit{UUID: uuid.New(), Name: "Teknik", UserKey: "T", Parent: &top.UUID, Validity: from,
		Managers: []model.Manager{{UUID: uuid.New(), Person: &bo, Validity: from}}}
	person := model.Person{UUID: bo, GivenName: "Bo", Surname: "Borg", UserKey: "bo",
		Engagements: []model.Engagement{{UUID: eng, UserKey: "1", OrgUnit: unit.UUID, JobFunction: class("Leder"),
			EngagementType: class("Ansat"), Validity: from, Start: from.From}}}
	e := newEnv(t, motest.Dataset{Units: []model.OrgUnit{top, unit}, Persons: []model.Person{person}})
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	// The manager's only engagement ends yesterday; the manager role stays.
	if _, err := e.mo.EndEngagement(t.Context(), eng, translate.Day(time.Now()).AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	allow := func(o *reconcile.Options) { n := 10; o.MaxDeactivations = &n } // a small municipality
	for i := 1; i <= 3; i++ {
		e.sts.ResetCalls()
		res, err := e.engine(t, allow).Sync(t.Context())
		if err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if i > 1 && res.Writes != 0 {
			t.Errorf("sync %d wrote %d times (calls %v); want nothing once converged", i, res.Writes, e.sts.Calls())
		}
	}
	r, err := e.engine(t, nil).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync() {
		t.Errorf("verify found %d differences, first %+v", len(r.Differences), r.Differences[0])
	}
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) != 0 {
		t.Errorf("%d operations pending, first %s %s", len(ops), ops[0].Op, ops[0].Ref())
	}
}
