package oio_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

func TestImportInputRoundTrip(t *testing.T) {
	for _, o := range sampleObjects() {
		t.Run(string(o.Kind), func(t *testing.T) {
			el, err := oio.MarshalImportInput(o)
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, el)
			golden.Assert(t, goldenName(oio.OpImporter, o.Kind), golden.Indent(t, data))
			got, err := oio.UnmarshalImportInput(o.Kind, reparse(t, data))
			if err != nil {
				t.Fatal(err)
			}
			assertSameObject(t, got, o)
			xsdcheck.Validate(t, o.Kind, data) // last: skips without xmllint
		})
	}
}

func TestRetInputRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		lists oio.Lists
		note  string
	}{
		{"all lists", oio.AllLists, ""},
		{"attributes only with note", oio.ListAttributter, "omdøbt"},
		{"states and relations", oio.ListTilstande | oio.ListRelationer, ""},
		{"no lists", 0, "tom"},
	}
	for _, o := range sampleObjects() {
		for _, tt := range tests {
			t.Run(string(o.Kind)+"/"+tt.name, func(t *testing.T) {
				in := oio.NewRetInput(o, tt.note)
				in.Lists = tt.lists
				el, err := oio.MarshalRetInput(in)
				if err != nil {
					t.Fatal(err)
				}
				data := serialise(t, el)
				if o.Kind == oio.KindOrganisationEnhed && tt.lists == oio.AllLists {
					golden.Assert(t, goldenName(oio.OpRet, o.Kind), golden.Indent(t, data))
				}
				got, err := oio.UnmarshalRetInput(o.Kind, reparse(t, data))
				if err != nil {
					t.Fatal(err)
				}
				if got.UUID != o.UUID || got.Note != tt.note || got.Lists != tt.lists {
					t.Fatalf("got UUID %s note %q lists %b, want %s %q %b", got.UUID, got.Note, got.Lists, o.UUID, tt.note, tt.lists)
				}
				// Compare the sent lists through an Object (times normalised).
				want := &oio.Object{Kind: o.Kind, UUID: o.UUID}
				if tt.lists&oio.ListAttributter != 0 {
					want.Registration.Egenskaber = o.Registration.Egenskaber
				}
				if tt.lists&oio.ListTilstande != 0 {
					want.Registration.Gyldighed = o.Registration.Gyldighed
				}
				if tt.lists&oio.ListRelationer != 0 {
					want.Registration.Relationer = o.Registration.Relationer
				}
				gotObj := &oio.Object{Kind: o.Kind, UUID: got.UUID, Registration: oio.Registration{
					Egenskaber: got.Egenskaber, Gyldighed: got.Gyldighed, Relationer: got.Relationer}}
				assertSameObject(t, gotObj, want)
				xsdcheck.Validate(t, o.Kind, data) // last: skips without xmllint
			})
		}
	}
}

func TestUUIDInputRoundTrip(t *testing.T) {
	id := uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	tests := []struct {
		op       oio.Operation
		note     string
		wantNote string
		golden   bool
	}{
		{oio.OpLaes, "", "", true},
		{oio.OpLaes, "ignored", "", false}, // LaesInput has no note
		{oio.OpPassiver, "", "", false},
		{oio.OpPassiver, "nedlagt i MO", "nedlagt i MO", true},
		{oio.OpSlet, "x", "x", false},
	}
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindPerson} {
		for _, tt := range tests {
			t.Run(string(k)+"/"+string(tt.op)+"/"+tt.note, func(t *testing.T) {
				el, err := oio.MarshalUUIDInput(tt.op, oio.UUIDInput{Kind: k, UUID: id, Note: tt.note})
				if err != nil {
					t.Fatal(err)
				}
				data := serialise(t, el)
				if k == oio.KindOrganisationEnhed && tt.golden {
					golden.Assert(t, goldenName(tt.op, k), golden.Indent(t, data))
				}
				got, err := oio.UnmarshalUUIDInput(k, tt.op, reparse(t, data))
				if err != nil {
					t.Fatal(err)
				}
				if want := (oio.UUIDInput{Kind: k, UUID: id, Note: tt.wantNote}); got != want {
					t.Errorf("got %+v, want %+v", got, want)
				}
				xsdcheck.Validate(t, k, data) // last: skips without xmllint
			})
		}
	}
	if _, err := oio.MarshalUUIDInput(oio.OpRet, oio.UUIDInput{Kind: oio.KindBruger, UUID: id}); err == nil {
		t.Error("MarshalUUIDInput(ret) succeeded")
	}
}

func TestLaesOutputRoundTrip(t *testing.T) {
	for _, o := range sampleObjects() {
		t.Run(string(o.Kind), func(t *testing.T) {
			ok := oio.StandardRetur{StatusKode: oio.StatusOK, FejlbeskedTekst: "OK"}
			el, err := oio.MarshalLaesOutput(o.Kind, ok, o)
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, el)
			ret, got, err := oio.UnmarshalLaesOutput(o.Kind, reparse(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if ret != ok {
				t.Errorf("StandardRetur = %+v, want %+v", ret, ok)
			}
			assertSameObject(t, got, o)
			xsdcheck.Validate(t, o.Kind, data) // last: skips without xmllint
		})
	}
	t.Run("not found", func(t *testing.T) {
		notFound := oio.StandardRetur{StatusKode: oio.StatusNotFound, FejlbeskedTekst: "ukendt"}
		el, err := oio.MarshalLaesOutput(oio.KindOrganisationEnhed, notFound, nil)
		if err != nil {
			t.Fatal(err)
		}
		data := serialise(t, el)
		xsdcheck.Validate(t, oio.KindOrganisationEnhed, data)
		ret, got, err := oio.UnmarshalLaesOutput(oio.KindOrganisationEnhed, reparse(t, data))
		if err != nil || got != nil || ret != notFound {
			t.Errorf("got %+v, %v, %v; want %+v, nil, nil", ret, got, err, notFound)
		}
	})
}

// The service's own responses use other prefixes, carry Labels, several registrations and no
// Virkning on some entries; the reader must not depend on the writer's choices.
func TestUnmarshalLaesOutputForeignShape(t *testing.T) {
	const doc = `<ns3:LaesOutput xmlns:ns3="http://stoettesystemerne.dk/organisation/organisationenhed/6/" xmlns:ns2="urn:oio:sagdok:3.0.0" xmlns:ns4="http://stoettesystemerne.dk/organisation/6/">
  <ns2:StandardRetur><ns2:StatusKode> 20 </ns2:StatusKode><ns2:FejlbeskedTekst>OK</ns2:FejlbeskedTekst></ns2:StandardRetur>
  <ns3:FiltreretOejebliksbillede>
    <ns3:ObjektType><ns2:UUIDIdentifikator>acff2e55-fc97-4cc6-a144-2c641b3b5fa7</ns2:UUIDIdentifikator></ns3:ObjektType>
    <ns3:Registrering>
      <ns2:Tidspunkt>2024-06-01T10:12:03.114+02:00</ns2:Tidspunkt><ns2:LivscyklusKode>Importeret</ns2:LivscyklusKode>
      <ns3:AttributListe><ns3:Egenskab><ns2:EnhedNavn>Ny</ns2:EnhedNavn></ns3:Egenskab></ns3:AttributListe>
      <ns3:TilstandListe/>
      <ns3:RelationListe>
        <ns2:Adresser><ns2:ReferenceID><ns2:UUIDIdentifikator>f10bfad6-39bd-4dc4-9996-d0f95facfae4</ns2:UUIDIdentifikator></ns2:ReferenceID>
          <ns2:Rolle><ns2:UUIDIdentifikator>2b670843-ce42-411a-8fb5-311dfdd5caf0</ns2:UUIDIdentifikator><ns2:Label>Email</ns2:Label></ns2:Rolle>
          <ns2:Type><ns2:UUIDIdentifikator>9b33c0a0-a566-4ec0-8200-325cb1e5bb9a</ns2:UUIDIdentifikator><ns2:Label>Adresse</ns2:Label></ns2:Type>
          <ns2:Indeks>1</ns2:Indeks></ns2:Adresser>
      </ns3:RelationListe>
    </ns3:Registrering>
    <ns3:Registrering>
      <ns2:Tidspunkt>2024-03-13T09:45:47+01:00</ns2:Tidspunkt>
      <ns3:AttributListe><ns3:Egenskab><ns2:EnhedNavn>Gammel</ns2:EnhedNavn></ns3:Egenskab></ns3:AttributListe>
      <ns3:TilstandListe/><ns3:RelationListe/>
    </ns3:Registrering>
  </ns3:FiltreretOejebliksbillede>
</ns3:LaesOutput>`
	xsdcheck.Validate(t, oio.KindOrganisationEnhed, []byte(doc))
	ret, o, err := oio.UnmarshalLaesOutput(oio.KindOrganisationEnhed, reparse(t, []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	if !ret.OK() {
		t.Errorf("StandardRetur %+v", ret)
	}
	if o == nil || len(o.Registration.Egenskaber) != 1 || o.Registration.Egenskaber[0].Navn != "Ny" {
		t.Fatalf("want the latest registration (Ny), got %+v", o)
	}
	r := o.Registration.Relationer
	if len(r) != 1 || r[0].Rolle != uuid.MustParse("2b670843-ce42-411a-8fb5-311dfdd5caf0") || r[0].Indeks != "1" {
		t.Errorf("relations %+v", r)
	}
}

func TestStandardRetur(t *testing.T) {
	for _, op := range []oio.Operation{oio.OpImporter, oio.OpRet, oio.OpPassiver, oio.OpLaes} {
		want := oio.StandardRetur{StatusKode: oio.StatusAlreadyExists, FejlbeskedTekst: "findes allerede"}
		data := serialise(t, oio.MarshalBasicOutput(oio.KindOrganisationEnhed, op, want))
		xsdcheck.Validate(t, oio.KindOrganisationEnhed, data)
		got, err := oio.UnmarshalOutput(oio.KindOrganisationEnhed, op, reparse(t, data))
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", op, got, err, want)
		}
		if _, err := oio.UnmarshalOutput(oio.KindBruger, op, reparse(t, data)); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: output of another kind accepted: %v", op, err)
		}
	}
}

func TestMarshalGroupsRelationsInSchemaOrder(t *testing.T) {
	oe := sampleObjects()[0]
	shuffled := *oe
	rels := oe.Registration.Relationer
	shuffled.Registration.Relationer = []oio.Relation{rels[5], rels[3], rels[0], rels[4], rels[2], rels[1]}
	el, err := oio.MarshalImportInput(&shuffled)
	if err != nil {
		t.Fatal(err)
	}
	data := serialise(t, el)
	xsdcheck.Validate(t, oe.Kind, data)
	got, err := oio.UnmarshalImportInput(oe.Kind, reparse(t, data))
	if err != nil {
		t.Fatal(err)
	}
	// Same-name relations keep their relative order (rels[5] before rels[4]).
	want := *oe
	want.Registration.Relationer = []oio.Relation{rels[0], rels[1], rels[2], rels[3], rels[5], rels[4]}
	assertSameObject(t, got, &want)
}

func TestFormatTimeKeepsOffset(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 3, 13, 0, 0, 0, 0, copenhagen), "2024-03-13T00:00:00+01:00"},
		{time.Date(2024, 6, 1, 0, 0, 0, 0, copenhagen), "2024-06-01T00:00:00+02:00"},
		{time.Date(2024, 6, 1, 8, 30, 1, 500_000_000, time.UTC), "2024-06-01T08:30:01.5+00:00"},
	}
	for _, tt := range tests {
		if got := oio.FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestOperationElements(t *testing.T) {
	tests := map[oio.Operation][2]string{
		oio.OpImporter: {"ImportInput", "ImportOutput"},
		oio.OpRet:      {"RetInput", "RetOutput"},
		oio.OpLaes:     {"LaesInput", "LaesOutput"},
		oio.OpPassiver: {"PassiverInput", "PassiverOutput"},
		oio.OpSoeg:     {"SoegInput", "SoegOutput"},
		oio.OpList:     {"ListInput", "ListOutput"},

		oio.OpFremsoegObjekthierarki: {"FremsoegObjekthierarkiInput", "FremsoegObjekthierarkiOutput"},
	}
	for op, want := range tests {
		if got := [2]string{op.InputElement(), op.OutputElement()}; got != want || !op.Valid() {
			t.Errorf("%s: %v, want %v", op, got, want)
		}
	}
	if oio.Operation("import").Valid() {
		t.Error(`"import" is valid`)
	}
}

// The schema check must be able to fail: a CPR number with 9 digits and relations out of order
// are rejected by xmllint.
func TestSchemaCheckRejectsInvalidDocuments(t *testing.T) {
	person := sampleObjects()[4]
	el, err := oio.MarshalImportInput(person)
	if err != nil {
		t.Fatal(err)
	}
	good := serialise(t, el)
	xsdcheck.Validate(t, person.Kind, good)
	bad := []byte(strings.Replace(string(good), "0101901234", "010190123", 1))
	if err := xsdcheck.Check(t, person.Kind, bad); err == nil {
		t.Error("xmllint accepted a 9-digit CPR number")
	}
	oe := []byte(strings.Replace(validImport, "<sd:Overordnet>", "<sd:Tilhoerer/><sd:Overordnet>", 1))
	if err := xsdcheck.Check(t, oio.KindOrganisationEnhed, oe); err == nil {
		t.Error("xmllint accepted relations out of order")
	}
}
