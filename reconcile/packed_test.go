package reconcile

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestPackRoundTrip checks that an object unpacks to the values it was packed from: every
// field, times at the same instant and offset, and the actor a Virkning repeats.
func TestPackRoundTrip(t *testing.T) {
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	other := uuid.MustParse("0d2b7f3b-6c2f-4c8e-9a55-2f6b8f1c0a11")
	cph := time.FixedZone("", 3600)
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, cph)
	to := time.Date(2026, 1, 1, 12, 30, 15, 123456789, time.UTC)
	virk := oio.Virkning{From: from, To: to, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	full := oio.Object{Kind: oio.KindBruger, UUID: uuid.New(), Registration: oio.Registration{
		Tidspunkt: time.Date(2025, 3, 2, 8, 0, 0, 500, cph), Livscyklus: oio.LivscyklusPassiveret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: virk, BrugervendtNoegle: "anne", Navn: "Anne Æblø", BrugerTypeTekst: "Medarbejder", AdresseTekst: "Vej 1", CPR: "0101011234"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: virk, Status: oio.Aktiv}, {Virkning: oio.Virkning{From: to, Aktoer: other}, Status: oio.Inaktiv}},
		Relationer: []oio.Relation{
			{Name: oio.RelTilhoerer, Virkning: virk, Ref: org},
			{Name: oio.RelAdresser, Virkning: oio.Virkning{From: from, Aktoer: other, AktoerType: "BRUGER"}, Ref: other, Rolle: org, Type: other, Indeks: "1"},
			{Name: oio.RelTilknyttedePersoner, Virkning: virk, URN: "urn:oio:cpr:x"},
			{Name: oio.RelBrugerTyper, Virkning: oio.Virkning{Aktoer: org}},
		},
	}}
	for _, tt := range []struct {
		name string
		o    oio.Object
	}{
		{"every field", full},
		{"repeated Virkninger", oio.Object{Kind: oio.KindOrganisationFunktion, UUID: other, Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: virk, BrugervendtNoegle: "a"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: virk, Status: oio.Aktiv}},
			Relationer: []oio.Relation{
				{Name: oio.RelTilhoerer, Virkning: virk, Ref: org},
				{Name: oio.RelTilknyttedeBrugere, Virkning: oio.Virkning{From: from, Aktoer: other}, Ref: other},
				{Name: oio.RelTilknyttedeEnheder, Virkning: virk, Ref: org}, // as two back, another actor between
				{Name: oio.RelFunktionstype, Virkning: virk, Ref: other},
				{Name: oio.RelOpgaver, Virkning: oio.Virkning{From: from.In(time.UTC), Aktoer: org}, Ref: org},
				{Name: oio.RelTilknyttedeOpgaver, Virkning: oio.Virkning{From: from, Aktoer: org}, Ref: org}, // same instant, another offset
			},
		}}},
		{"empty", oio.Object{Kind: oio.KindAdresse}},
		{"no lists", oio.Object{Kind: oio.KindPerson, UUID: org, Registration: oio.Registration{Livscyklus: oio.LivscyklusImporteret}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := pack(&tt.o).unpack()
			if !reflect.DeepEqual(normalized(got), normalized(&tt.o)) {
				t.Errorf("unpacked\n %+v\nwant\n %+v", got, tt.o)
			}
			for i, rel := range got.Registration.Relationer {
				if _, off := rel.Virkning.From.Zone(); !rel.Virkning.From.IsZero() {
					if _, want := tt.o.Registration.Relationer[i].Virkning.From.Zone(); off != want {
						t.Errorf("relation %d: offset %d, want %d", i, off, want)
					}
				}
			}
			if pack(got) != pack(&tt.o) {
				t.Error("packing the unpacked object gives another form")
			}
		})
	}
	// Every object a generated municipality's bundles desire.
	s := translate.Settings{Organisation: org}
	n := 0
	for _, b := range generatedBundles(t, s, time.Now()) {
		for i := range b.desired().Objects {
			o := &b.desired().Objects[i]
			if got := pack(o).unpack(); !reflect.DeepEqual(normalized(got), normalized(o)) {
				t.Fatalf("%s %s: unpacked\n %+v\nwant\n %+v", o.Kind, o.UUID, got, o)
			}
			n++
		}
	}
	if n < 100 {
		t.Errorf("only %d generated objects", n)
	}
}

// normalized returns o in UTC with empty lists as none, so that objects with equal values
// compare equal with reflect.DeepEqual.
func normalized(o *oio.Object) *oio.Object {
	c := o.InUTC()
	r := &c.Registration
	if len(r.Egenskaber) == 0 {
		r.Egenskaber = nil
	}
	if len(r.Gyldighed) == 0 {
		r.Gyldighed = nil
	}
	if len(r.Relationer) == 0 {
		r.Relationer = nil
	}
	return c
}
