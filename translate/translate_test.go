package translate_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

var (
	cph      = mustZone("Europe/Copenhagen")
	org      = uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874")
	top      = uuid.MustParse("f06ee470-9f17-566f-acbe-e938112d46d9")
	unitID   = uuid.MustParse("23a2ace2-52ca-458d-bead-d1a42080579f")
	parentID = uuid.MustParse("6e4c1225-b0de-4aaa-95c6-eaa9a594a304")
	settings = translate.Settings{Organisation: org, TopUnit: top}
	now      = time.Date(2026, 11, 22, 14, 30, 0, 0, cph)
	today    = time.Date(2026, 11, 22, 0, 0, 0, 0, cph)
)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func unit(name string, parent *uuid.UUID, from time.Time) *model.OrgUnit {
	return &model.OrgUnit{UUID: unitID, Name: name, UserKey: "TM", Parent: parent, Validity: model.Validity{From: from}}
}

// apply stores an operation's object as STS would after importer/ret (the lists sent become the
// registration), so re-planning can be checked.
func apply(op translate.Operation) *oio.Object {
	o := op.Object
	return &o
}

func TestDay(t *testing.T) {
	tests := []struct {
		in   time.Time
		want time.Time
	}{
		{time.Time{}, time.Time{}},
		{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 0, 0, 0, 0, cph)},
		{time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 22, 0, 0, 0, 0, cph)}, // already the 22nd in Copenhagen
		{time.Date(2026, 7, 1, 0, 0, 0, 0, cph), time.Date(2026, 7, 1, 0, 0, 0, 0, cph)},
	}
	for _, tt := range tests {
		if got := translate.Day(tt.in); !got.Equal(tt.want) {
			t.Errorf("Day(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestOrgUnitMapping(t *testing.T) {
	from := time.Date(2024, 3, 13, 0, 0, 0, 0, cph)
	tests := []struct {
		name           string
		unit           *model.OrgUnit
		wantOverordnet *uuid.UUID
	}{
		{"unit below parent", unit("Teknik og Miljø", &parentID, from), &parentID},
		{"top unit has no parent relation even if MO gives one", &model.OrgUnit{UUID: top, Name: "Kolding Kommune", Parent: &parentID, Validity: model.Validity{From: from}}, nil},
		{"root unit without parent", &model.OrgUnit{UUID: parentID, Name: "Root", Validity: model.Validity{From: from}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := translate.OrgUnit(settings, tt.unit)
			if o.Kind != oio.KindOrganisationEnhed || o.UUID != tt.unit.UUID {
				t.Fatalf("object = %s %s", o.Kind, o.UUID)
			}
			key := tt.unit.UserKey
			if key == "" {
				key = tt.unit.UUID.String() // a unit without a user key is keyed by its UUID
			}
			e := o.Registration.Egenskaber
			if len(e) != 1 || e[0].Navn != tt.unit.Name || e[0].BrugervendtNoegle != key || !e[0].Virkning.From.Equal(from) || !e[0].Virkning.To.IsZero() {
				t.Errorf("Egenskaber = %+v", e)
			}
			if g := o.Registration.Gyldighed; len(g) != 1 || g[0].Status != oio.Aktiv {
				t.Errorf("Gyldighed = %+v", g)
			}
			var over *uuid.UUID
			var tilhoerer []uuid.UUID
			for i, r := range o.Registration.Relationer {
				switch r.Name {
				case oio.RelOverordnet:
					over = &o.Registration.Relationer[i].Ref
				case oio.RelTilhoerer:
					tilhoerer = append(tilhoerer, r.Ref)
				}
				if r.Virkning.Aktoer != org || r.Virkning.AktoerType != oio.AktoerTypeOrganisation {
					t.Errorf("relation %s actor = %v/%q", r.Name, r.Virkning.Aktoer, r.Virkning.AktoerType)
				}
			}
			if (over == nil) != (tt.wantOverordnet == nil) || (over != nil && *over != *tt.wantOverordnet) {
				t.Errorf("Overordnet = %v; want %v", over, tt.wantOverordnet)
			}
			if len(tilhoerer) != 1 || tilhoerer[0] != org {
				t.Errorf("Tilhoerer = %v; want [%v]", tilhoerer, org)
			}
		})
	}
}

func TestPlanScenarios(t *testing.T) {
	created := time.Date(2024, 3, 13, 0, 0, 0, 0, cph)
	renamedFrom := time.Date(2026, 11, 1, 0, 0, 0, 0, cph)
	newParent := uuid.MustParse("3c5d7e9f-1a2b-4c3d-8e5f-6a7b8c9d0e1f")

	initial := translate.OrgUnit(settings, unit("Teknik og Miljø", &parentID, created))
	stored := apply(translate.Plan(settings, initial, nil, now)[0])

	tests := []struct {
		name    string
		desired oio.Object
		current *oio.Object
		wantOp  translate.OpKind // "" = no operation
		check   func(t *testing.T, o oio.Object)
	}{
		{name: "missing object is imported", desired: initial, current: nil, wantOp: translate.OpImport},
		{name: "unchanged object needs no call", desired: initial, current: stored},
		{
			name: "rename adds the new name from its MO start and ends the old one there", desired: translate.OrgUnit(settings, unit("Teknik, Miljø og Klima", &parentID, renamedFrom)),
			current: stored, wantOp: translate.OpUpdate,
			check: func(t *testing.T, o oio.Object) {
				e := o.Registration.Egenskaber
				if len(e) != 2 || e[0].Navn != "Teknik, Miljø og Klima" || !e[0].Virkning.From.Equal(renamedFrom) || !e[0].Virkning.To.IsZero() ||
					e[1].Navn != "Teknik og Miljø" || !e[1].Virkning.From.Equal(created) || !e[1].Virkning.To.Equal(renamedFrom) {
					t.Errorf("Egenskaber = %+v", e)
				}
				for _, r := range o.Registration.Relationer {
					if !r.Virkning.From.Equal(created) {
						t.Errorf("relation %s restarted at %v; the registered start %v is kept", r.Name, r.Virkning.From, created)
					}
				}
			},
		},
		{
			name: "move overwrites the single Overordnet relation", desired: translate.OrgUnit(settings, unit("Teknik og Miljø", &newParent, created)),
			current: stored, wantOp: translate.OpUpdate,
			check: func(t *testing.T, o oio.Object) {
				var refs []uuid.UUID
				for _, r := range o.Registration.Relationer {
					if r.Name == oio.RelOverordnet {
						refs = append(refs, r.Ref)
					}
				}
				if len(refs) != 1 || refs[0] != newParent {
					t.Errorf("Overordnet = %v; want exactly [%v]", refs, newParent)
				}
			},
		},
		{
			name: "unit that became the top unit has its parent relation ended today", desired: translate.OrgUnit(settings, unit("Teknik og Miljø", nil, created)),
			current: stored, wantOp: translate.OpUpdate,
			check: func(t *testing.T, o oio.Object) {
				for _, r := range o.Registration.Relationer {
					if r.Name == oio.RelOverordnet && (r.Ref != parentID || !r.Virkning.To.Equal(today)) {
						t.Errorf("Overordnet = %+v; want %v ended %v", r, parentID, today)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := translate.Plan(settings, tt.desired, tt.current, now)
			if tt.wantOp == "" {
				if len(ops) != 0 {
					t.Fatalf("planned %d operations; want none: %+v", len(ops), ops)
				}
				return
			}
			if len(ops) != 1 || ops[0].Op != tt.wantOp {
				t.Fatalf("planned %+v; want one %s", ops, tt.wantOp)
			}
			if !ops[0].Object.Registration.Tidspunkt.Equal(now) || ops[0].Object.Registration.BrugerRef != org {
				t.Errorf("registration metadata = %v by %v", ops[0].Object.Registration.Tidspunkt, ops[0].Object.Registration.BrugerRef)
			}
			if tt.check != nil {
				tt.check(t, ops[0].Object)
			}
			if again := translate.Plan(settings, tt.desired, apply(ops[0]), now); len(again) != 0 {
				t.Errorf("re-planning after applying is not idempotent: %+v", again)
			}
		})
	}
}

func TestPlanKeepsUnmanagedRelations(t *testing.T) {
	desired := translate.OrgUnit(settings, unit("A", &parentID, today))
	current := apply(translate.Plan(settings, desired, nil, now)[0])
	sor := oio.Relation{Name: oio.RelAdresser, Ref: uuid.New(), Rolle: uuid.New(), Type: uuid.New(), Indeks: "1"}
	current.Registration.Relationer = append([]oio.Relation{sor}, current.Registration.Relationer...)
	ops := translate.Plan(settings, translate.OrgUnit(settings, unit("B", &parentID, today)), current, now)
	if len(ops) != 1 {
		t.Fatalf("ops = %+v", ops)
	}
	rels := ops[0].Object.Registration.Relationer
	if rels[0] != sor {
		t.Errorf("unmanaged relation changed or reordered: %+v", rels[0])
	}
}

func TestDeactivate(t *testing.T) {
	desired := translate.OrgUnit(settings, unit("A", &parentID, time.Date(2024, 1, 1, 0, 0, 0, 0, cph)))
	current := apply(translate.Plan(settings, desired, nil, now)[0])
	ops := translate.Deactivate(settings, current, now)
	if len(ops) != 1 || ops[0].Op != translate.OpUpdate {
		t.Fatalf("ops = %+v", ops)
	}
	reg := ops[0].Object.Registration
	var active, inactive int
	for _, g := range reg.Gyldighed {
		switch {
		case g.Status == oio.Aktiv && g.Virkning.To.Equal(today):
			active++
		case g.Status == oio.Inaktiv && g.Virkning.From.Equal(today) && g.Virkning.To.IsZero():
			inactive++
		default:
			t.Errorf("unexpected Gyldighed %+v", g)
		}
	}
	if active != 1 || inactive != 1 {
		t.Errorf("Gyldighed = %+v", reg.Gyldighed)
	}
	for _, r := range reg.Relationer {
		if !r.Virkning.To.Equal(today) {
			t.Errorf("relation %s still open: %+v", r.Name, r.Virkning)
		}
	}
	if again := translate.Deactivate(settings, apply(ops[0]), now); len(again) != 0 {
		t.Errorf("deactivating twice plans %+v", again)
	}
	if ops := translate.Deactivate(settings, nil, now); ops != nil {
		t.Errorf("deactivating a missing object plans %+v", ops)
	}
}

func TestHashIsStableAndSensitive(t *testing.T) {
	a := translate.OrgUnit(settings, unit("A", &parentID, today))
	b := translate.OrgUnit(settings, unit("A", &parentID, today))
	if translate.Hash(a) != translate.Hash(b) {
		t.Fatal("equal objects hash differently")
	}
	b.Registration.Tidspunkt = now // registration metadata is excluded
	if translate.Hash(a) != translate.Hash(b) {
		t.Fatal("registration time changed the hash")
	}
	for name, c := range map[string]*model.OrgUnit{
		"name":     unit("B", &parentID, today),
		"parent":   unit("A", &org, today),
		"validity": unit("A", &parentID, today.AddDate(0, 0, 1)),
	} {
		if translate.Hash(translate.OrgUnit(settings, c)) == translate.Hash(a) {
			t.Errorf("changing %s did not change the hash", name)
		}
	}
}

// TestPlanLeavesUnmanagedAlone: relations the settings leave to others are neither written nor
// ended, on creation or update.
func TestPlanLeavesUnmanagedAlone(t *testing.T) {
	base := fullSettings()
	state := sts{}
	state.sync(t, base, translate.UnitDesired(base, teknik(), now), now)
	opgaver := relations(state[unitID], oio.RelOpgaver)
	systems := relations(state[unitID], oio.RelTilknyttedeItSystemer)

	s := base
	s.DisableKLE, s.KeptRelations = true, []oio.RelationName{oio.RelOverordnet, oio.RelTilknyttedeItSystemer}
	u := teknik()
	u.Name, u.KLE, u.ITUsers, u.Parent, u.Ancestors = "Nyt navn", nil, nil, ptr(schoolID), []uuid.UUID{schoolID, parentID, top}
	ops := state.sync(t, s, translate.UnitDesired(s, u, day(1)), day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	if got := relations(state[unitID], oio.RelOpgaver); !slices.Equal(got, opgaver) {
		t.Errorf("Opgaver changed with DisableKLE: %+v", got)
	}
	if got := relations(state[unitID], oio.RelTilknyttedeItSystemer); !slices.Equal(got, systems) {
		t.Errorf("kept TilknyttedeItSystemer changed: %+v", got)
	}
	if got := relations(state[unitID], oio.RelOverordnet); len(got) != 1 || got[0].Ref != parentID {
		t.Errorf("kept Overordnet changed: %+v", got)
	}
	// Created with those settings, the unit gets none of them.
	fresh := sts{}
	fresh.sync(t, s, translate.UnitDesired(s, u, day(1)), day(1))
	if n := len(relations(fresh[unitID], oio.RelOpgaver)) + len(relations(fresh[unitID], oio.RelOverordnet)); n != 0 {
		t.Errorf("a new unit got %d relations the settings leave to others", n)
	}
}

// TestMissingStartIsToday: a value without an OS2MO start is in effect from today.
func TestMissingStartIsToday(t *testing.T) {
	u := teknik()
	u.Validity.From = time.Time{}
	d := translate.UnitDesired(fullSettings(), u, now)
	o := d.Object(unitID)
	if o == nil || !o.Registration.Egenskaber[0].Virkning.From.Equal(today) || !o.Registration.Gyldighed[0].Virkning.From.Equal(today) {
		t.Errorf("unit without a start: %+v", o)
	}
	if f := o.Registration.Egenskaber[0].Virkning.From; f.Location().String() != "Europe/Copenhagen" || f.Hour() != 0 {
		t.Errorf("Virkning %v is not local midnight in Copenhagen", f)
	}
}
