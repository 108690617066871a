package oio_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var (
	listed1 = uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	listed2 = uuid.MustParse("0c2b7f38-4a51-4f8e-a1a3-6d1f5b2c9e77")
)

func TestListInputRoundTrip(t *testing.T) {
	for _, o := range sampleObjects() {
		t.Run(string(o.Kind), func(t *testing.T) {
			in := &oio.ListInput{Kind: o.Kind, UUIDs: []uuid.UUID{listed1, listed2}}
			el, err := oio.MarshalListInput(in)
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, el)
			if o.Kind == oio.KindOrganisationEnhed {
				golden.Assert(t, goldenName(oio.OpList, o.Kind), golden.Indent(t, data))
			}
			got, err := oio.UnmarshalListInput(o.Kind, reparse(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != o.Kind || len(got.UUIDs) != 2 || got.UUIDs[0] != listed1 || got.UUIDs[1] != listed2 {
				t.Errorf("got %+v", got)
			}
			xsdcheck.Validate(t, o.Kind, data) // last: skips without xmllint
		})
	}
}

func TestListInputRejects(t *testing.T) {
	for name, in := range map[string]*oio.ListInput{
		"unknown kind":       {Kind: "enhed", UUIDs: []uuid.UUID{listed1}},
		"organisationsystem": {Kind: oio.KindOrganisationSystem, UUIDs: []uuid.UUID{listed1}},
		"no UUIDs":           {Kind: oio.KindBruger},
		"nil UUID":           {Kind: oio.KindBruger, UUIDs: []uuid.UUID{listed1, uuid.Nil}},
	} {
		if _, err := oio.MarshalListInput(in); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	const ns = `xmlns="http://stoettesystemerne.dk/organisation/bruger/6/" xmlns:sd="urn:oio:sagdok:3.0.0"`
	for name, doc := range map[string]string{
		"empty":     `<ListInput ` + ns + `/>`,
		"not UUID":  `<ListInput ` + ns + `><sd:UUIDIdentifikator>42</sd:UUIDIdentifikator></ListInput>`,
		"filter":    `<ListInput ` + ns + `><sd:UUIDIdentifikator>` + listed1.String() + `</sd:UUIDIdentifikator><sd:VirkningFraFilter><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:VirkningFraFilter></ListInput>`,
		"wrong ns":  `<ListInput xmlns="http://stoettesystemerne.dk/organisation/person/6/"/>`,
		"LaesInput": `<LaesInput ` + ns + `><sd:UUIDIdentifikator>` + listed1.String() + `</sd:UUIDIdentifikator></LaesInput>`,
	} {
		if _, err := oio.UnmarshalListInput(oio.KindBruger, reparse(t, []byte(doc))); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestListOutputRoundTrip(t *testing.T) {
	ok := oio.StandardRetur{StatusKode: oio.StatusOK, FejlbeskedTekst: "OK"}
	for _, o := range sampleObjects() {
		t.Run(string(o.Kind), func(t *testing.T) {
			second := *o
			second.UUID = listed2
			el, err := oio.MarshalListOutput(o.Kind, ok, []*oio.Object{o, &second})
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, el)
			if o.Kind == oio.KindBruger {
				golden.Assert(t, "list_output_bruger.golden.xml", golden.Indent(t, data))
			}
			ret, got, err := oio.UnmarshalListOutput(o.Kind, reparse(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if ret != ok || len(got) != 2 {
				t.Fatalf("got %+v, %d objects", ret, len(got))
			}
			assertSameObject(t, got[0], o)
			assertSameObject(t, got[1], &second)
			xsdcheck.Validate(t, o.Kind, data) // last: skips without xmllint
		})
	}
	t.Run("not found", func(t *testing.T) {
		notFound := oio.StandardRetur{StatusKode: oio.StatusNotFound, FejlbeskedTekst: "ukendt"}
		el, err := oio.MarshalListOutput(oio.KindPerson, notFound, nil)
		if err != nil {
			t.Fatal(err)
		}
		data := serialise(t, el)
		ret, got, err := oio.UnmarshalListOutput(oio.KindPerson, reparse(t, data))
		if err != nil || got != nil || ret != notFound {
			t.Errorf("got %+v, %v, %v; want %+v, nil, nil", ret, got, err, notFound)
		}
		xsdcheck.Validate(t, oio.KindPerson, data)
	})
	t.Run("object of another kind", func(t *testing.T) {
		if _, err := oio.MarshalListOutput(oio.KindBruger, ok, sampleObjects()[:1]); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("error %v, want ErrInvalid", err)
		}
		if _, err := oio.MarshalListOutput(oio.KindBruger, ok, []*oio.Object{nil}); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("nil object: error %v, want ErrInvalid", err)
		}
	})
}

// The service's own list responses may carry several registrations per object and objects
// without a registration; the reader picks the latest and skips the empty ones.
func TestUnmarshalListOutputForeignShape(t *testing.T) {
	const doc = `<ns3:ListOutput xmlns:ns3="http://stoettesystemerne.dk/organisation/adresse/6/" xmlns:ns2="urn:oio:sagdok:3.0.0" xmlns:ns5="urn:oio:sts:6">
  <ns2:StandardRetur><ns2:StatusKode>20</ns2:StatusKode></ns2:StandardRetur>
  <ns3:FiltreretOejebliksbillede>
    <ns3:ObjektType><ns2:UUIDIdentifikator>acff2e55-fc97-4cc6-a144-2c641b3b5fa7</ns2:UUIDIdentifikator></ns3:ObjektType>
    <ns3:Registrering><ns2:Tidspunkt>2024-03-13T09:45:47+01:00</ns2:Tidspunkt>
      <ns3:AttributListe><ns3:Egenskab><ns5:AdresseTekst>gammel@korsbaek.dk</ns5:AdresseTekst></ns3:Egenskab></ns3:AttributListe>
      <ns3:TilstandListe/><ns3:RelationListe/></ns3:Registrering>
    <ns3:Registrering><ns2:Tidspunkt>2024-06-01T10:12:03.114+02:00</ns2:Tidspunkt>
      <ns3:AttributListe><ns3:Egenskab><ns5:AdresseTekst>ny@korsbaek.dk</ns5:AdresseTekst></ns3:Egenskab></ns3:AttributListe>
      <ns3:TilstandListe/><ns3:RelationListe/></ns3:Registrering>
  </ns3:FiltreretOejebliksbillede>
  <ns3:FiltreretOejebliksbillede>
    <ns3:ObjektType><ns2:UUIDIdentifikator>0c2b7f38-4a51-4f8e-a1a3-6d1f5b2c9e77</ns2:UUIDIdentifikator></ns3:ObjektType>
  </ns3:FiltreretOejebliksbillede>
</ns3:ListOutput>`
	xsdcheck.Validate(t, oio.KindAdresse, []byte(doc))
	ret, objs, err := oio.UnmarshalListOutput(oio.KindAdresse, reparse(t, []byte(doc)))
	if err != nil || !ret.OK() {
		t.Fatalf("%+v, %v", ret, err)
	}
	if len(objs) != 1 || objs[0].UUID != listed1 || objs[0].Registration.Egenskaber[0].AdresseTekst != "ny@korsbaek.dk" {
		t.Errorf("objects %+v", objs)
	}
	bad := strings.ReplaceAll(doc, "ns3:ObjektType", "ns3:Objekt")
	if _, _, err := oio.UnmarshalListOutput(oio.KindAdresse, reparse(t, []byte(bad))); !errors.Is(err, oio.ErrInvalid) {
		t.Errorf("broken document: %v, want ErrInvalid", err)
	}
}
