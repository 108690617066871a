package reconcile

import (
	"maps"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestApplySharedIsApply checks that applyShared models the writes as translate.Apply does,
// only without copying the lists.
func TestApplySharedIsApply(t *testing.T) {
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	id := uuid.MustParse("0d2b7f3b-6c2f-4c8e-9a55-2f6b8f1c0a11")
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	virk := oio.Virkning{From: day, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	reg := func(name string, status oio.GyldighedStatus, parent uuid.UUID) oio.Registration {
		return oio.Registration{
			Tidspunkt:  day,
			BrugerRef:  org,
			Egenskaber: []oio.Egenskab{{Virkning: virk, BrugervendtNoegle: name, Navn: name}},
			Gyldighed:  []oio.Gyldighed{{Virkning: virk, Status: status}},
			Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: virk, Ref: org}, {Name: oio.RelOverordnet, Virkning: virk, Ref: parent}},
		}
	}
	unit := func(r oio.Registration) *oio.Object {
		return &oio.Object{Kind: oio.KindOrganisationEnhed, UUID: id, Registration: r}
	}
	held := unit(reg("Skole", oio.Aktiv, uuid.New()))
	held.Registration.Livscyklus = oio.LivscyklusImporteret
	passive := unit(reg("Skole", oio.Aktiv, uuid.New()))
	passive.Registration.Livscyklus = oio.LivscyklusPassiveret
	changed := reg("Skolen", oio.Inaktiv, uuid.New())
	untimed := changed
	untimed.Tidspunkt = time.Time{}
	other := *held
	other.Kind = oio.KindBruger
	for _, tt := range []struct {
		name    string
		current *oio.Object
		op      translate.Operation
	}{
		{"import a missing object", nil, translate.Operation{Op: translate.OpImport, Object: *unit(changed)}},
		{"import a passivated object", passive, translate.Operation{Op: translate.OpImport, Object: *unit(changed)}},
		{"import an existing object", held, translate.Operation{Op: translate.OpImport, Object: *unit(changed)}},
		{"update", held, translate.Operation{Op: translate.OpUpdate, Object: *unit(changed)}},
		{"update without a time", held, translate.Operation{Op: translate.OpUpdate, Object: *unit(untimed)}},
		{"update a missing object", nil, translate.Operation{Op: translate.OpUpdate, Object: *unit(changed)}},
		{"update a passivated object", passive, translate.Operation{Op: translate.OpUpdate, Object: *unit(changed)}},
		{"update another kind", &other, translate.Operation{Op: translate.OpUpdate, Object: *unit(changed)}},
		{"unknown operation", held, translate.Operation{Op: "soeg", Object: *unit(changed)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := translate.Apply(tt.current, tt.op)
			got, err := applyShared(tt.current, tt.op)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// generatedBundles returns the bundles of a generated municipality (units, then persons), read
// through a fake OS2MO, and ones that end some of its units and persons (as deactivations).
func generatedBundles(t *testing.T, s translate.Settings, now time.Time) []*bundle {
	t.Helper()
	mo := motest.NewServer(motest.Options{})
	if err := mo.Load(motest.GenerateOrg(motest.GenOptions{Seed: 3, Units: 12, Persons: 120, Today: now})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mo.Handler())
	t.Cleanup(srv.Close)
	c, err := moclient.New(moclient.Config{URL: srv.URL, AuthServer: srv.URL + "/auth",
		ClientID: motest.DefaultClientID, ClientSecret: motest.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	units, err := c.OrgUnits(t.Context(), mo.OrgUnitIDs())
	if err != nil {
		t.Fatal(err)
	}
	persons, err := c.Persons(t.Context(), mo.PersonIDs())
	if err != nil {
		t.Fatal(err)
	}
	var out, gone []*bundle
	for i, id := range slices.SortedFunc(maps.Keys(units), compareUUID) {
		out = append(out, unitBundle(s, id, units[id], now))
		if i%4 == 1 {
			gone = append(gone, unitBundle(s, id, nil, now))
		}
	}
	for i, id := range slices.SortedFunc(maps.Keys(persons), compareUUID) {
		out = append(out, personBundle(s, id, persons[id], now))
		if i%5 == 2 {
			gone = append(gone, personBundle(s, id, nil, now))
		}
	}
	return append(out, gone...)
}

// TestImportIsMadeAgain checks that the plan's simulation makes the import of a desired object
// again as planned: the object STS holds after the planned importer.
func TestImportIsMadeAgain(t *testing.T) {
	now := time.Now()
	s := translate.Settings{Organisation: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")}
	sim := newSTSState().overlay(s, now)
	n := 0
	for _, b := range generatedBundles(t, s, now) {
		for _, op := range translate.PlanAll(s, *b.desired(), nil, now) {
			if op.Op != translate.OpImport {
				continue
			}
			want, err := applyShared(nil, op)
			if err != nil {
				t.Fatal(err)
			}
			if got := sim.importOf(b.desired().Object(op.Object.UUID)); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: made again as %+v\nplanned as %+v", op.Ref(), got, want)
			}
			n++
		}
	}
	if n < 100 {
		t.Errorf("only %d imports checked", n)
	}
}

// TestOverlayIsAClone checks that planning every bundle against the overlay of a state finds and
// plans what it does against a copy of the state with every planned write applied in full, and
// leaves the state under the overlay unchanged.
func TestOverlayIsAClone(t *testing.T) {
	now := time.Now()
	s := translate.Settings{Organisation: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")}
	bundles := generatedBundles(t, s, now)
	// STS holds what every third bundle writes (their objects, their users and functions).
	base := newSTSState()
	for i, b := range bundles {
		if i%3 == 0 {
			for _, op := range translate.PlanAll(s, *b.desired(), base.lookup(b.desired().Lookups()), now) {
				if err := base.apply(op); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	before := maps.Clone(base.objects)
	full := newSTSState()
	for _, p := range base.objects {
		full.putLocked(p.unpack())
	}
	sim := base.overlay(s, now)
	imports, found := 0, 0
	for _, b := range bundles {
		l := b.desired().Lookups()
		cur, want := sim.lookup(l), full.lookup(l)
		if !reflect.DeepEqual(packAll(cur), packAll(want)) {
			t.Fatalf("%s: the overlay finds %d objects, the copy %d", b.key(), len(cur), len(want))
		}
		for id := range cur {
			if sim.imported[id] != nil {
				found++
			}
		}
		ops := translate.PlanAll(s, *b.desired(), cur, now)
		if wantOps := translate.PlanAll(s, *b.desired(), want, now); !sameOps(ops, wantOps) {
			t.Fatalf("%s: planned differently against the overlay", b.key())
		}
		for _, op := range ops {
			errSim := sim.applyPlanned(op, b.desired().Object(op.Object.UUID))
			errFull := full.apply(op)
			if (errSim == nil) != (errFull == nil) {
				t.Fatalf("%s: %s: overlay %v, copy %v", b.key(), op.Ref(), errSim, errFull)
			}
			if op.Op == translate.OpImport {
				imports++
			}
		}
	}
	if imports < 100 || found == 0 {
		t.Errorf("%d imports planned, %d found again by later bundles: the test covers too little", imports, found)
	}
	for id, p := range full.objects {
		if got, o := sim.get(id), p.unpack(); pack(got) != pack(o) {
			t.Fatalf("%s: the overlay holds %+v, the copy %+v", id, got, o)
		}
	}
	if !maps.Equal(base.objects, before) || len(base.imported) > 0 {
		t.Errorf("the state under the overlay changed")
	}
}

// packAll returns the packed forms of objs: equal when the objects are (the same values, times
// at the same instants and offsets, an empty list the same as none).
func packAll(objs map[uuid.UUID]*oio.Object) map[uuid.UUID]packed {
	out := make(map[uuid.UUID]packed, len(objs))
	for id, o := range objs {
		out[id] = pack(o)
	}
	return out
}

// sameOps reports whether a and b are the same operations on equal objects (packAll's equality).
func sameOps(a, b []translate.Operation) bool {
	return slices.EqualFunc(a, b, func(x, y translate.Operation) bool {
		return x.Op == y.Op && pack(&x.Object) == pack(&y.Object)
	})
}
