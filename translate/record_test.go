package translate

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// recordFixture is a small person-like bundle: a user, a position and an address to keep, and a
// function to deactivate.
func recordFixture() Desired {
	user := uuid.MustParse("00000000-0000-4000-8000-000000000001")
	pos := uuid.MustParse("00000000-0000-4000-8000-000000000002")
	addr := uuid.MustParse("00000000-0000-4000-8000-000000000003")
	old := uuid.MustParse("00000000-0000-4000-8000-000000000004")
	obj := func(k oio.Kind, id uuid.UUID, name string) oio.Object {
		return oio.Object{Kind: k, UUID: id, Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{BrugervendtNoegle: name}}}}
	}
	return Desired{
		Objects: []oio.Object{
			obj(oio.KindBruger, user, "u"),
			obj(oio.KindOrganisationFunktion, pos, "p"),
			obj(oio.KindAdresse, addr, "a"),
		},
		Deactivate: []Ref{{oio.KindOrganisationFunktion, old}},
		Users:      []uuid.UUID{user},
	}
}

func refsOf(d Desired) (objects, off []string) {
	for _, o := range d.Objects {
		objects = append(objects, Ref{o.Kind, o.UUID}.String())
	}
	for _, r := range d.Deactivate {
		off = append(off, r.String())
	}
	return objects, off
}

func TestRecordRoundTrip(t *testing.T) {
	r := recordFixture().Record()
	got, err := ParseRecord(r.String())
	if err != nil {
		t.Fatalf("ParseRecord: %v", err)
	}
	if got.String() != r.String() || got.Bundle != recordFixture().Hash() || len(got.Objects) != 4 {
		t.Fatalf("round trip changed the record:\n%s\nvs\n%s", got, r)
	}
	if h, ok := RecordHash(r.String()); !ok || h != recordFixture().Hash() {
		t.Errorf("RecordHash = %q, %v; want the bundle hash %q", h, ok, recordFixture().Hash())
	}
	for _, bad := range []string{
		"", "0123abcd", // an older bare bundle hash
		"r1\n", "r1 abc\nbruger x 1\n", "r1 abc\nenhed " + uuid.NewString() + " 1\n", "r1 abc\nbruger\n",
	} {
		if _, err := ParseRecord(bad); err == nil {
			t.Errorf("ParseRecord(%q) = nil error", bad)
		}
	}
	for _, bad := range []string{"", "0123abcd", "r1\n", "r0 abc\n", "r1 abc def\n"} {
		if h, ok := RecordHash(bad); ok {
			t.Errorf("RecordHash(%q) = %q, true; want no hash", bad, h)
		}
	}
}

func TestSince(t *testing.T) {
	base := recordFixture()
	prev := base.Record()
	tests := []struct {
		name        string
		change      func(d *Desired)
		wantObjects []string
		wantOff     []string
	}{
		{"nothing changed", func(*Desired) {}, nil, nil},
		{"one object changed", func(d *Desired) {
			d.Objects[1].Registration.Egenskaber[0].Navn = "new"
		}, []string{"organisationfunktion:00000000-0000-4000-8000-000000000002"}, nil},
		{"new object", func(d *Desired) {
			d.Objects = append(d.Objects, oio.Object{Kind: oio.KindAdresse, UUID: uuid.MustParse("00000000-0000-4000-8000-000000000009")})
		}, []string{"adresse:00000000-0000-4000-8000-000000000009"}, nil},
		{"position dropped is ended, address dropped is left", func(d *Desired) {
			d.Objects = d.Objects[:1]
		}, nil, []string{"organisationfunktion:00000000-0000-4000-8000-000000000002"}},
		{"deactivated object desired again", func(d *Desired) {
			d.Deactivate = nil
			d.Objects = append(d.Objects, oio.Object{Kind: oio.KindOrganisationFunktion, UUID: uuid.MustParse("00000000-0000-4000-8000-000000000004")})
		}, []string{"organisationfunktion:00000000-0000-4000-8000-000000000004"}, nil},
		{"user newly deactivated", func(d *Desired) {
			d.Objects = d.Objects[1:]
			d.Deactivate = append(d.Deactivate, Ref{oio.KindBruger, uuid.MustParse("00000000-0000-4000-8000-000000000001")})
		}, nil, []string{"bruger:00000000-0000-4000-8000-000000000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := recordFixture()
			tt.change(&d)
			got := d.Since(prev, d.Record())
			objects, off := refsOf(got)
			if !slices.Equal(objects, tt.wantObjects) || !slices.Equal(off, tt.wantOff) {
				t.Errorf("Since: objects %v, deactivate %v; want %v, %v", objects, off, tt.wantObjects, tt.wantOff)
			}
			if tt.wantObjects == nil && tt.wantOff == nil && !got.Empty() {
				t.Error("Empty() = false for an unchanged bundle")
			}
			if !slices.Equal(got.Users, d.Users) {
				t.Error("Since dropped the governed users")
			}
		})
	}
}

// TestSinceAgreesWithFullPlan: for a rename plus a dropped address, planning Since(prev) against the
// objects it names gives the same operations as planning the whole bundle against the whole
// state, when STS holds what prev recorded.
func TestSinceAgreesWithFullPlan(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := Settings{Organisation: uuid.MustParse("11111111-1111-4111-8111-111111111111")}
	before := recordFixture()
	state := map[uuid.UUID]*oio.Object{}
	if err := ApplyAll(state, PlanAll(s, before, state, now)); err != nil {
		t.Fatal(err)
	}
	after := recordFixture()
	after.Objects[1].Registration.Egenskaber[0].Navn = "renamed"
	after.Objects = after.Objects[:2]
	full := PlanAll(s, after, state, now)
	part := after.Since(before.Record(), after.Record())
	read := map[uuid.UUID]*oio.Object{}
	for _, r := range part.Refs() {
		if o, ok := state[r.UUID]; ok {
			read[r.UUID] = o
		}
	}
	incremental := PlanAll(s, part, read, now)
	if len(full) == 0 || len(full) != len(incremental) {
		t.Fatalf("full plan %d ops, incremental %d ops", len(full), len(incremental))
	}
	for i := range full {
		if full[i].Op != incremental[i].Op || full[i].Ref() != incremental[i].Ref() || Hash(full[i].Object) != Hash(incremental[i].Object) {
			t.Errorf("op %d: full %s %s, incremental %s %s", i, full[i].Op, full[i].Ref(), incremental[i].Op, incremental[i].Ref())
		}
	}
}
