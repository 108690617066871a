package reconcile_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestPositionsInUnitExportedForItsFKAccount: a unit outside the exported hierarchies is
// exported because it has an FK-ORG-UUID account; the full sync writes the unit and the
// positions of the persons who work there (it used to write the unit with nobody in it, as it
// gave the translation no FK-account units), and verify then finds STS in sync.
func TestPositionsInUnitExportedForItsFKAccount(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	from := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
	class := func(key, name string) *model.Class {
		return &model.Class{UUID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("test:"+key)), UserKey: key, Name: name}
	}
	line, med := class("linjeorg", "Linjeorganisation"), class("MED", "MED-organisation")
	top := model.OrgUnit{UUID: uuid.New(), Name: "Kommune", UserKey: "K", Hierarchy: line, Validity: from}
	unit := model.OrgUnit{UUID: uuid.New(), Name: "Arbejdsmiljøgruppe", UserKey: "AMG", Parent: &top.UUID, Hierarchy: med, Validity: from,
		ITUsers: []model.ITUser{{UUID: uuid.New(), UserKey: "amg", ExternalID: uuid.NewString(), ITSystem: *class("FK-ORG-UUID", "FK-org uuid"), Validity: from}}}
	eng := uuid.New()
	person := model.Person{UUID: uuid.New(), GivenName: "Anne", Surname: "Andersen", UserKey: "anne",
		Engagements: []model.Engagement{{UUID: eng, UserKey: "1", OrgUnit: unit.UUID, JobFunction: *class("rep", "Repræsentant"),
			EngagementType: *class("ansat", "Ansat"), Validity: from, Start: from.From}}}
	e := newEnv(t, motest.Dataset{Units: []model.OrgUnit{top, unit}, Persons: []model.Person{person}})
	settings := translate.Settings{Organisation: org, TopUnit: top.UUID, HierarchyNames: []string{"Linjeorganisation"}}
	configure := func(o *reconcile.Options) { o.Settings = settings }
	if _, err := e.engine(t, configure).Sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if o, ok := e.sts.Object(oio.KindOrganisationEnhed, unit.UUID); !ok || !o.ActiveOn(time.Now()) {
		t.Fatal("the unit with an FK-ORG-UUID account was not exported")
	}
	if f, ok := e.sts.Object(oio.KindOrganisationFunktion, translate.PositionUUID(eng, person.UUID)); !ok || !f.ActiveOn(time.Now()) {
		t.Errorf("no position in the unit exported for its FK account (calls %v)", e.sts.Calls())
	}
	r, err := e.engine(t, configure).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync() {
		t.Errorf("verify found %d differences, first %+v", len(r.Differences), r.Differences[0])
	}
}
