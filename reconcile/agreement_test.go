package reconcile_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// liveSTS is converge.STS over the real client: what the event path reads with.
type liveSTS struct{ *stsAdapter }

func (l liveSTS) Search(ctx context.Context, in oio.SoegInput) ([]uuid.UUID, error) {
	return l.c.SearchAll(ctx, in, stsclient.DefaultSearchPageSize)
}

// TestLiveReadsAgreeWithTheSnapshot: for every bundle of a generated municipality — with objects
// other tools wrote beside the sync's (a user linked to a person, position and manager functions
// with random UUIDs, a passivated function) — the event path's reads (converge.Read over STS's
// soeg and list) and the full sync's (converge.Read over its snapshot index) find exactly the
// same objects. The full sync plans against what it finds, so a bundle read differently would be
// planned differently by the two.
func TestLiveReadsAgreeWithTheSnapshot(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 12, Units: 20, Persons: 120, Today: time.Now()})
	e := loaded(t, data)

	// Objects of other tools, linked to the synced units, users and persons.
	v := oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	// A person with an engagement: their user (in person mode the user has the person's UUID),
	// the STS Person it is linked to, and the engagement's unit.
	var person, user, unit uuid.UUID
	for _, p := range data.Persons {
		if len(p.Engagements) == 0 {
			continue
		}
		if o, ok := e.sts.Object(oio.KindBruger, p.UUID); ok {
			user, unit = p.UUID, p.Engagements[0].OrgUnit
			for _, r := range o.Registration.Relationer {
				if r.Name == oio.RelTilknyttedePersoner {
					person = r.Ref
				}
			}
			break
		}
	}
	if person == uuid.Nil || user == uuid.Nil || unit == uuid.Nil {
		t.Fatalf("test setup: STS person %s, user %s, unit %s", person, user, unit)
	}
	put := func(kind oio.Kind, status oio.GyldighedStatus, rels ...oio.Relation) uuid.UUID {
		id := uuid.New() // random (version 4): another tool's, like OS2sync's
		for i := range rels {
			rels[i].Virkning = v
		}
		rels = append(rels, oio.Relation{Name: oio.RelTilknyttedeOrganisationer, Virkning: v, Ref: org})
		if kind == oio.KindBruger {
			rels = rels[:len(rels)-1]
			rels = append(rels, oio.Relation{Name: oio.RelTilhoerer, Virkning: v, Ref: org})
		}
		e.sts.Put(&oio.Object{Kind: kind, UUID: id, Registration: oio.Registration{
			Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret,
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "andet-system-" + id.String()[:8], Navn: "andet system"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: status}},
			Relationer: rels,
		}})
		return id
	}
	foreign := map[string]uuid.UUID{
		"user of the person": put(oio.KindBruger, oio.Aktiv, oio.Relation{Name: oio.RelTilknyttedePersoner, Ref: person}),
		"position of the user": put(oio.KindOrganisationFunktion, oio.Aktiv,
			oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeStilling},
			oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: user}, oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: unit}),
		"manager function of the unit": put(oio.KindOrganisationFunktion, oio.Aktiv,
			oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeLeder},
			oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: user}, oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: unit}),
		"inactive function of the user": put(oio.KindOrganisationFunktion, oio.Inaktiv,
			oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeStilling},
			oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: user}, oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: unit}),
	}

	reads, err := e.engine(t, nil).BundleReads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(reads) < len(data.Units)+len(data.Persons) {
		t.Fatalf("%d bundles; want at least one per unit and person (%d)", len(reads), len(data.Units)+len(data.Persons))
	}
	live := converge.LiveIndex{STS: liveSTS{&stsAdapter{c: e.stsc}}}
	found := map[uuid.UUID]bool{}
	differ := 0
	for _, r := range reads {
		got, err := converge.Read(t.Context(), live, r.Lookups)
		if err != nil {
			t.Fatalf("%s: live read: %v", r.Key, err)
		}
		var liveIDs []uuid.UUID
		for id := range got {
			liveIDs = append(liveIDs, id)
			found[id] = true
		}
		sortIDs(liveIDs)
		snapIDs := slices.Clone(r.Found)
		sortIDs(snapIDs)
		if !slices.Equal(liveIDs, snapIDs) {
			differ++
			if differ <= 5 {
				t.Errorf("%s: the live reads find %d object(s), the snapshot %d\n live only: %v\n snapshot only: %v",
					r.Key, len(liveIDs), len(snapIDs), minus(liveIDs, snapIDs), minus(snapIDs, liveIDs))
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d bundles read differently", differ, len(reads))
	}
	for what, id := range foreign {
		if !found[id] {
			t.Errorf("no bundle read the other tool's %s (%s): the test does not cover it", what, id)
		}
	}
}

func sortIDs(ids []uuid.UUID) {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
}

// minus returns the ids of a not in b.
func minus(a, b []uuid.UUID) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}
