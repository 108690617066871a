package oio_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Copenhagen without system tzdata

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var (
	copenhagen = mustLocation("Europe/Copenhagen")
	orgUUID    = uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874")
	from       = time.Date(2024, 3, 13, 0, 0, 0, 0, copenhagen)
	renamedAt  = time.Date(2024, 6, 1, 0, 0, 0, 0, copenhagen)
	registered = time.Date(2024, 3, 13, 9, 45, 47, 986_000_000, copenhagen)
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func virkning(f, t time.Time) oio.Virkning {
	return oio.Virkning{From: f, To: t, Aktoer: orgUUID, AktoerType: oio.AktoerTypeOrganisation}
}

func rel(name oio.RelationName, ref string) oio.Relation {
	return oio.Relation{Name: name, Virkning: virkning(from, time.Time{}), Ref: uuid.MustParse(ref)}
}

func registration(eg oio.Egenskab, gyldig bool, rels ...oio.Relation) oio.Registration {
	r := oio.Registration{
		Tidspunkt:  registered,
		Livscyklus: oio.LivscyklusImporteret,
		BrugerRef:  orgUUID,
		Egenskaber: []oio.Egenskab{eg},
		Relationer: rels,
	}
	if gyldig {
		r.Gyldighed = []oio.Gyldighed{{Virkning: virkning(from, time.Time{}), Status: oio.Aktiv}}
	}
	return r
}

// sampleObjects returns one realistic object per kind, relations in schema order.
func sampleObjects() []*oio.Object {
	oe := &oio.Object{Kind: oio.KindOrganisationEnhed, UUID: uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "OKO", Navn: "Økonomi & Styring <ØS>"}, true,
			oio.Relation{Name: oio.RelAdresser, Virkning: virkning(from, time.Time{}),
				Ref:   uuid.MustParse("f10bfad6-39bd-4dc4-9996-d0f95facfae4"),
				Rolle: uuid.MustParse("2b670843-ce42-411a-8fb5-311dfdd5caf0"), Type: uuid.MustParse("9b33c0a0-a566-4ec0-8200-325cb1e5bb9a"), Indeks: "1"},
			rel(oio.RelEnhedstype, "16bf18c3-ed6f-44b0-b7a1-35f94984e519"),
			oio.Relation{Name: oio.RelOverordnet, Virkning: virkning(from, renamedAt), Ref: uuid.MustParse("6e4c1225-b0de-4aaa-95c6-eaa9a594a304")},
			rel(oio.RelTilhoerer, orgUUID.String()),
			rel(oio.RelTilknyttedeFunktioner, "0b1c3f0e-2b64-4b8e-9d0c-6f1b1d9f3a01"),
			rel(oio.RelTilknyttedeFunktioner, "0b1c3f0e-2b64-4b8e-9d0c-6f1b1d9f3a02"),
		)}
	org := &oio.Object{Kind: oio.KindOrganisation, UUID: orgUUID,
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "KBK", Navn: "Korsbæk Kommune"}, true,
			oio.Relation{Name: oio.RelVirksomhed, Virkning: virkning(from, time.Time{}), URN: "urn:oio:cvr-nr:11111111"})}
	fn := &oio.Object{Kind: oio.KindOrganisationFunktion, UUID: uuid.MustParse("0b1c3f0e-2b64-4b8e-9d0c-6f1b1d9f3a01"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "F1", Navn: "Leder"}, true,
			rel(oio.RelFunktionstype, "46c73630-f7ad-4000-9624-c06131cde671"),
			rel(oio.RelTilknyttedeBrugere, "5e3a3a52-2d1c-4f35-9e3c-2e5e3f0d9b10"),
			rel(oio.RelTilknyttedeEnheder, "acff2e55-fc97-4cc6-a144-2c641b3b5fa7"),
			rel(oio.RelTilknyttedeOrganisationer, orgUUID.String()))}
	bruger := &oio.Object{Kind: oio.KindBruger, UUID: uuid.MustParse("5e3a3a52-2d1c-4f35-9e3c-2e5e3f0d9b10"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "bjo", Navn: "Bjørn Olsen", BrugerTypeTekst: "Medarbejder"}, true,
			oio.Relation{Name: oio.RelAdresser, Virkning: virkning(from, time.Time{}), Ref: uuid.MustParse("7d4e0b4e-93c1-4f62-9c43-7f0e4cfa2b11"),
				Rolle: uuid.MustParse("5d13e891-162a-456b-abf2-fd9b864df96d"), Type: uuid.MustParse("71a08d28-3af7-4bb4-9964-bc2b76b93d64"), Indeks: "3f1c"},
			rel(oio.RelTilhoerer, orgUUID.String()),
			rel(oio.RelTilknyttedePersoner, "c3a4d5e6-1111-4222-8333-944455556666"))}
	person := &oio.Object{Kind: oio.KindPerson, UUID: uuid.MustParse("c3a4d5e6-1111-4222-8333-944455556666"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "p1", CPR: "0101901234", Navn: "Bjørn Olsen"}, false)}
	adresse := &oio.Object{Kind: oio.KindAdresse, UUID: uuid.MustParse("7d4e0b4e-93c1-4f62-9c43-7f0e4cfa2b11"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "a1", AdresseTekst: "bjo@korsbaek.dk"}, false)}
	itsys := &oio.Object{Kind: oio.KindItSystem, UUID: uuid.MustParse("d1e2f3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6"),
		Registration: registration(oio.Egenskab{Virkning: virkning(from, time.Time{}), BrugervendtNoegle: "AD", Navn: "Active Directory"}, true,
			rel(oio.RelTilhoerer, orgUUID.String()))}
	return []*oio.Object{oe, org, fn, bruger, person, adresse, itsys}
}

func assertSameObject(t *testing.T, got, want *oio.Object) {
	t.Helper()
	if g, w := got.InUTC(), want.InUTC(); !reflect.DeepEqual(g, w) {
		t.Errorf("object differs after round trip:\n got: %+v\nwant: %+v", g, w)
	}
}

// serialise writes el as a standalone document.
func serialise(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reparse parses data and returns its root element (attached to its document).
func reparse(t *testing.T, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	return doc.Root()
}

func goldenName(op oio.Operation, k oio.Kind) string { return fmt.Sprintf("%s_%s.golden.xml", op, k) }
