package oio_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// attach puts el into a document, as it is when read from an envelope.
func attach(t *testing.T, el *etree.Element) (*etree.Element, []byte) {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	parsed := etree.NewDocument()
	if err := parsed.ReadFromBytes(data); err != nil {
		t.Fatal(err)
	}
	return parsed.Root(), data
}

func TestSoegRoundTrip(t *testing.T) {
	org := uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874")
	for _, in := range []*oio.SoegInput{
		{Kind: oio.KindOrganisationEnhed, First: 0, Max: 500, Gyldighed: []oio.Gyldighed{{Status: oio.Aktiv}},
			Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Ref: org}}},
		{Kind: oio.KindBruger, First: 1000, Egenskaber: []oio.Egenskab{{BrugervendtNoegle: "abc", Navn: "Anne"}}},
		{Kind: oio.KindPerson, Egenskaber: []oio.Egenskab{{CPR: "0101011234"}}},
	} {
		el, err := oio.MarshalSoegInput(in)
		if err != nil {
			t.Fatal(err)
		}
		parsed, data := attach(t, el)
		xsdcheck.Validate(t, in.Kind, data)
		got, err := oio.UnmarshalSoegInput(in.Kind, parsed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, in)
		}
	}

	ids := []uuid.UUID{org, uuid.MustParse("6e4c1225-b0de-4aaa-95c6-eaa9a594a304")}
	for _, tc := range []struct {
		ret oio.StandardRetur
		ids []uuid.UUID
	}{{oio.StandardRetur{StatusKode: 20, FejlbeskedTekst: "OK"}, ids}, {oio.StandardRetur{StatusKode: 44}, nil}} {
		parsed, data := attach(t, oio.MarshalSoegOutput(oio.KindOrganisationEnhed, tc.ret, tc.ids))
		xsdcheck.Validate(t, oio.KindOrganisationEnhed, data)
		ret, got, err := oio.UnmarshalSoegOutput(oio.KindOrganisationEnhed, parsed)
		if err != nil || ret != tc.ret || !reflect.DeepEqual(got, tc.ids) {
			t.Errorf("output round trip: %v %v %v", ret, got, err)
		}
	}
}

func TestSoegInvalid(t *testing.T) {
	for name, in := range map[string]*oio.SoegInput{
		"unknown kind":     {Kind: "enhed"},
		"negative first":   {Kind: oio.KindBruger, First: -1},
		"dynamic relation": {Kind: oio.KindBruger, Relationer: []oio.Relation{{Name: oio.RelAdresser, Ref: uuid.New()}}},
		"no reference":     {Kind: oio.KindBruger, Relationer: []oio.Relation{{Name: oio.RelTilhoerer}}},
		"foreign relation": {Kind: oio.KindBruger, Relationer: []oio.Relation{{Name: oio.RelOverordnet, Ref: uuid.New()}}},
		"bad status":       {Kind: oio.KindBruger, Gyldighed: []oio.Gyldighed{{Status: "Maybe"}}},
	} {
		if _, err := oio.MarshalSoegInput(in); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
