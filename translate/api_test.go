package translate_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

func TestDerivedUUIDsAreStableAndDistinct(t *testing.T) {
	ids := []uuid.UUID{
		translate.AddressUUID(unitID, translate.RoleUnitEmail), translate.AddressUUID(unitID, translate.RoleUnitPhone),
		translate.AddressUUID(annePerson, translate.RoleUnitEmail), translate.PersonUUID(annePerson),
		translate.PositionUUID(engA, annePerson), translate.PositionUUID(engA, anneFKUser),
		translate.ManagerUUID(unitID), translate.ContactPlaceUUID(unitID), annePerson, unitID,
	}
	for i, a := range ids {
		if a.Version() != 5 && i < 8 {
			t.Errorf("derived UUID %d is version %d", i, a.Version())
		}
		for _, b := range ids[i+1:] {
			if a == b {
				t.Errorf("derived UUIDs collide: %s", a)
			}
		}
	}
	// Pinned: changing the namespace or the names would orphan every object already written.
	if got := translate.PersonUUID(annePerson).String(); got != "1d64f082-4dd5-5691-93b1-107ec024287c" {
		t.Errorf("PersonUUID = %s; the derivation changed", got)
	}
}

func TestDesiredHashMergeAndLookups(t *testing.T) {
	s := fullSettings()
	a := translate.UnitDesired(s, teknik(), now)
	b := a
	b.Objects = slices.Clone(a.Objects)
	slices.Reverse(b.Objects)
	if a.Hash() != b.Hash() {
		t.Error("the bundle hash depends on the order of objects")
	}
	renamed := teknik()
	renamed.Name = "Andet navn"
	if translate.UnitDesired(s, renamed, now).Hash() == a.Hash() {
		t.Error("a rename does not change the bundle hash")
	}
	if vacant := translate.UnitGone(s, unitID); vacant.Hash() == a.Hash() {
		t.Error("deactivation hashes like the unit")
	}

	m := translate.Merge(a, translate.PersonDesired(s, anne(), now), a)
	if len(m.Objects) != len(a.Objects)+6 || m.Person != translate.PersonUUID(annePerson) || len(m.Units) != 1 || len(m.Users) != 1 {
		t.Errorf("merged bundle: %d objects, person %s, units %v, users %v", len(m.Objects), m.Person, m.Units, m.Users)
	}

	l := translate.UnitGone(s, unitID).Lookups()
	if len(l.Read) != 3 || len(l.FunctionsOfUnits) != 1 || l.FunctionsOfUnits[0].Types != nil {
		t.Errorf("lookups of a closed unit = %+v; want its objects and every function pointing at it", l)
	}
	// A unit's lookups search for the function types the sync writes for units, by the settings.
	for _, tt := range []struct {
		name            string
		managers, tasks bool
		want            []uuid.UUID // nil: no search
	}{
		{"managers", true, false, []uuid.UUID{translate.FunktionstypeLeder}},
		{"managers and contact places", true, true, []uuid.UUID{translate.FunktionstypeLeder, translate.FunktionstypeHenvendelsessted}},
		{"contact places", false, true, []uuid.UUID{translate.FunktionstypeHenvendelsessted}},
		{"neither", false, false, nil},
	} {
		s := fullSettings()
		s.DisableManagers, s.ContactForTasks = !tt.managers, tt.tasks
		d := translate.UnitDesired(s, teknik(), now)
		l := d.Lookups()
		switch {
		case tt.want == nil && len(l.FunctionsOfUnits) != 0,
			tt.want != nil && (len(l.FunctionsOfUnits) != 1 || !slices.Equal(l.FunctionsOfUnits[0].Types, tt.want)),
			l.UsersOfPerson != uuid.Nil:
			t.Errorf("%s: lookups of a unit = %+v; want function types %v", tt.name, l.FunctionsOfUnits, tt.want)
		}
		// The unit's own functions of a type not written are ended (read by UUID).
		for _, f := range []struct {
			on bool
			id uuid.UUID
		}{{tt.managers, translate.ManagerUUID(unitID)}, {tt.tasks, translate.ContactPlaceUUID(unitID)}} {
			if ended := slices.Contains(d.Deactivate, translate.Ref{Kind: oio.KindOrganisationFunktion, UUID: f.id}); ended == f.on {
				t.Errorf("%s: own function %s ended = %v, want %v", tt.name, f.id, ended, !f.on)
			}
		}
	}
	l = translate.PersonDesired(s, anne(), now).Lookups()
	if l.UsersOfPerson != translate.PersonUUID(annePerson) || !slices.Equal(l.FunctionsOfUsers, []uuid.UUID{annePerson}) {
		t.Errorf("lookups of a person = %+v", l)
	}
}

func TestApplyRefusesWhatSTSRefuses(t *testing.T) {
	o := translate.OrgUnit(fullSettings(), teknik())
	if _, err := translate.Apply(nil, translate.Operation{Op: translate.OpUpdate, Object: o}); err == nil {
		t.Error("ret on a missing object is accepted")
	}
	stored, err := translate.Apply(nil, translate.Operation{Op: translate.OpImport, Object: o})
	if err != nil || stored.Registration.Livscyklus != oio.LivscyklusImporteret {
		t.Fatalf("importer: %v, %+v", err, stored)
	}
	if _, err := translate.Apply(stored, translate.Operation{Op: translate.OpImport, Object: o}); err == nil {
		t.Error("importer on an existing object is accepted")
	}
	passive := *stored
	passive.Registration.Livscyklus = oio.LivscyklusPassiveret
	if _, err := translate.Apply(&passive, translate.Operation{Op: translate.OpImport, Object: o}); err != nil {
		t.Errorf("importer on a passivated object: %v", err)
	}
	if ops := translate.Plan(fullSettings(), o, &passive, now); len(ops) != 1 || ops[0].Op != translate.OpImport {
		t.Errorf("a passivated object is planned %s; want importer", describe(ops))
	}
	o.Registration.Egenskaber[0].Navn = "ændret"
	stored.Registration.Egenskaber[0].Navn = "x"
	after, _ := translate.Apply(stored, translate.Operation{Op: translate.OpUpdate, Object: o})
	if after.Registration.Egenskaber[0].Navn != "ændret" || stored.Registration.Egenskaber[0].Navn != "x" {
		t.Error("ret does not replace the lists, or modifies its input")
	}
}
