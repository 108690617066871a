package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestEventPathLeavesKeptUnitsFunctions: a unit made by hand in STS for external consultants is
// kept (SYNC_KEEP_UUIDS), and an OS2MO person's user has a position there made by hand too. The
// person's event converges the person's user and positions, and leaves the kept position alone,
// as the full sync does (it used to end it as a position OS2MO does not have).
func TestEventPathLeavesKeptUnitsFunctions(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	from := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
	class := func(key string) model.Class {
		return model.Class{UUID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("test:"+key)), UserKey: key, Name: key}
	}
	top := model.OrgUnit{UUID: uuid.New(), Name: "Kommune", UserKey: "K", Validity: from}
	unit := model.OrgUnit{UUID: uuid.New(), Name: "Teknik", UserKey: "T", Parent: &top.UUID, Validity: from}
	eng := uuid.New()
	anne := model.Person{UUID: uuid.New(), GivenName: "Anne", Surname: "Andersen", UserKey: "anne",
		Engagements: []model.Engagement{{UUID: eng, UserKey: "1", OrgUnit: unit.UUID, JobFunction: class("Ingeniør"),
			EngagementType: class("Ansat"), Validity: from, Start: from.From}}}
	data := motest.Dataset{Units: []model.OrgUnit{top, unit}, Persons: []model.Person{anne}}
	kept, consultant := uuid.New(), uuid.New()
	s := startSliceWith(t, nil, sliceOptions{dataset: &data, env: map[string]string{
		"MO_TOP_UNIT_UUID": top.UUID.String(), "SYNC_KEEP_UUIDS": kept.String()}})

	// Made by hand in STS: the consultants' unit below the top unit, and Anne's position there.
	put := func(kind oio.Kind, id uuid.UUID, name string, rels ...oio.Relation) {
		s.sts.Put(handMade(s.orgUUID, kind, id, name, from.From, rels...))
	}
	put(oio.KindOrganisationEnhed, kept, "Eksterne konsulenter", oio.Relation{Name: oio.RelEnhedstype, Ref: translate.EnhedstypeAfdeling},
		oio.Relation{Name: oio.RelOverordnet, Ref: top.UUID}, oio.Relation{Name: oio.RelTilhoerer, Ref: s.orgUUID})
	put(oio.KindOrganisationFunktion, consultant, "Konsulent", oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeStilling},
		oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: anne.UUID}, oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: kept},
		oio.Relation{Name: oio.RelTilknyttedeOrganisationer, Ref: s.orgUUID})

	ctx := context.Background()
	published := 0
	for _, id := range []uuid.UUID{top.UUID, unit.UUID} {
		s.publish(t, id)
		published++
	}
	waitFor(t, 20*time.Second, "the units in STS", func() bool { return s.allSettled(t, published) })
	if err := s.pub.Publish(ctx, "person", anne.UUID); err != nil {
		t.Fatal(err)
	}
	published++
	waitFor(t, 20*time.Second, "the person settled", func() bool { return s.allSettled(t, published) })

	today := translate.Day(time.Now())
	if f, ok := s.sts.Object(oio.KindOrganisationFunktion, translate.PositionUUID(eng, anne.UUID)); !ok || !f.ActiveOn(today) {
		t.Fatal("Anne's own position was not written")
	}
	if f, _ := s.sts.Object(oio.KindOrganisationFunktion, consultant); !f.ActiveOn(today) ||
		!refersTo(f, oio.RelTilknyttedeBrugere, anne.UUID) || !refersTo(f, oio.RelTilknyttedeEnheder, kept) {
		t.Errorf("the position in the kept unit was ended by the event path (status today %q)", f.StatusOn(today))
	}
	if u, _ := s.sts.Object(oio.KindOrganisationEnhed, kept); !u.ActiveOn(today) {
		t.Error("the kept unit was ended")
	}
}
