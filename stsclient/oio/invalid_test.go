package oio_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// validImport is a minimal valid OrganisationEnhed ImportInput; the table below breaks it in one
// place each.
const validImport = `<ImportInput xmlns="http://stoettesystemerne.dk/organisation/organisationenhed/6/" xmlns:sd="urn:oio:sagdok:3.0.0" xmlns:of="http://stoettesystemerne.dk/organisation/6/">
<OrganisationEnhed><sd:UUIDIdentifikator>acff2e55-fc97-4cc6-a144-2c641b3b5fa7</sd:UUIDIdentifikator>
<Registrering><sd:Tidspunkt>2024-03-13T09:45:47+01:00</sd:Tidspunkt><sd:LivscyklusKode>Importeret</sd:LivscyklusKode>
<AttributListe><Egenskab><sd:Virkning><sd:FraTidspunkt><sd:TidsstempelDatoTid>2024-03-13T00:00:00+01:00</sd:TidsstempelDatoTid></sd:FraTidspunkt><sd:TilTidspunkt><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:TilTidspunkt><sd:AktoerTypeKode>Organisation</sd:AktoerTypeKode></sd:Virkning><sd:BrugervendtNoegleTekst>OKO</sd:BrugervendtNoegleTekst><sd:EnhedNavn>Økonomi</sd:EnhedNavn></Egenskab></AttributListe>
<TilstandListe><of:Gyldighed><of:GyldighedStatusKode>Aktiv</of:GyldighedStatusKode></of:Gyldighed></TilstandListe>
<RelationListe><sd:Adresser><sd:ReferenceID><sd:UUIDIdentifikator>f10bfad6-39bd-4dc4-9996-d0f95facfae4</sd:UUIDIdentifikator></sd:ReferenceID><sd:Rolle><sd:UUIDIdentifikator>2b670843-ce42-411a-8fb5-311dfdd5caf0</sd:UUIDIdentifikator></sd:Rolle><sd:Type><sd:UUIDIdentifikator>9b33c0a0-a566-4ec0-8200-325cb1e5bb9a</sd:UUIDIdentifikator></sd:Type><sd:Indeks>1</sd:Indeks></sd:Adresser><sd:Overordnet><sd:ReferenceID><sd:UUIDIdentifikator>6e4c1225-b0de-4aaa-95c6-eaa9a594a304</sd:UUIDIdentifikator></sd:ReferenceID></sd:Overordnet><sd:Tilhoerer><sd:ReferenceID><sd:UUIDIdentifikator>89cba575-d106-4732-87ab-45c09ac56874</sd:UUIDIdentifikator></sd:ReferenceID></sd:Tilhoerer></RelationListe>
</Registrering></OrganisationEnhed></ImportInput>`

func TestUnmarshalImportInputRejects(t *testing.T) {
	if _, err := oio.UnmarshalImportInput(oio.KindOrganisationEnhed, reparse(t, []byte(validImport))); err != nil {
		t.Fatalf("the valid base document is rejected: %v", err)
	}
	tests := []struct {
		name, old, new, wantErr string
	}{
		{"bad UUID", "acff2e55-fc97-4cc6-a144-2c641b3b5fa7", "acff2e55-fc97-4cc6-a144", "is not a UUID"},
		{"UUID with braces", "acff2e55-fc97-4cc6-a144-2c641b3b5fa7", "{acff2e55-fc97-4cc6-a144-2c641b3b5fa7}", "is not a UUID"},
		{"missing UUID", "<sd:UUIDIdentifikator>acff2e55-fc97-4cc6-a144-2c641b3b5fa7</sd:UUIDIdentifikator>\n<Registrering>", "<Registrering>", "expected UUIDIdentifikator"},
		{"lists out of order", "<TilstandListe><of:Gyldighed><of:GyldighedStatusKode>Aktiv</of:GyldighedStatusKode></of:Gyldighed></TilstandListe>", "", "expected TilstandListe"},
		{"relations out of order", "<sd:Overordnet>", "<sd:Tilhoerer><sd:ReferenceID><sd:UUIDIdentifikator>89cba575-d106-4732-87ab-45c09ac56874</sd:UUIDIdentifikator></sd:ReferenceID></sd:Tilhoerer><sd:Overordnet>", "out of schema order"},
		{"single-valued twice", "</sd:Overordnet>", "</sd:Overordnet><sd:Overordnet/>", "at most one allowed"},
		{"relation of another kind", "<sd:Overordnet>", "<sd:Funktionstype/><sd:Overordnet>", "unexpected element {urn:oio:sagdok:3.0.0}Funktionstype"},
		{"Adresser without Rolle", "<sd:Rolle><sd:UUIDIdentifikator>2b670843-ce42-411a-8fb5-311dfdd5caf0</sd:UUIDIdentifikator></sd:Rolle>", "", "expected Rolle"},
		{"Adresser without Indeks", "<sd:Indeks>1</sd:Indeks>", "", "missing Indeks"},
		{"wrong leaf namespace", "<sd:EnhedNavn>Økonomi</sd:EnhedNavn>", "<EnhedNavn>Økonomi</EnhedNavn>", "unexpected element"},
		{"leaf of another kind", "<sd:EnhedNavn>Økonomi</sd:EnhedNavn>", "<sd:BrugerNavn>x</sd:BrugerNavn>", "unexpected element"},
		{"leaves out of order", "<sd:BrugervendtNoegleTekst>OKO</sd:BrugervendtNoegleTekst><sd:EnhedNavn>Økonomi</sd:EnhedNavn>", "<sd:EnhedNavn>Økonomi</sd:EnhedNavn><sd:BrugervendtNoegleTekst>OKO</sd:BrugervendtNoegleTekst>", "unexpected element"},
		{"key too long", ">OKO<", ">" + strings.Repeat("K", 51) + "<", "longer than 50"},
		{"time without offset", "2024-03-13T09:45:47+01:00", "2024-03-13T09:45:47", "not a dateTime with offset"},
		{"GraenseIndikator false", "<sd:GraenseIndikator>true", "<sd:GraenseIndikator>false", "must be true"},
		{"bad Livscyklus", ">Importeret<", ">Rettet<", "LivscyklusKode"},
		{"bad Gyldighed", ">Aktiv<", ">Aaben<", "GyldighedStatusKode"},
		{"bad AktoerTypeKode", "<sd:AktoerTypeKode>Organisation<", "<sd:AktoerTypeKode>Person<", "AktoerTypeKode"},
		{"stray text", "<Registrering>", "<Registrering>hello", "unexpected text"},
		{"two registrations", "</Registrering>", "</Registrering><Registrering><AttributListe/><TilstandListe/><RelationListe/></Registrering>", "exactly one"},
		{"wrong root namespace", `xmlns="http://stoettesystemerne.dk/organisation/organisationenhed/6/"`, `xmlns="http://stoettesystemerne.dk/organisation/bruger/6/"`, "expected {http://stoettesystemerne.dk/organisation/organisationenhed/6/}ImportInput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(validImport, tt.old, tt.new, 1)
			if doc == validImport {
				t.Fatalf("mutation %q not applied", tt.old)
			}
			_, err := oio.UnmarshalImportInput(oio.KindOrganisationEnhed, reparse(t, []byte(doc)))
			if !errors.Is(err, oio.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	base := func() *oio.Object { return sampleObjects()[0] }
	tests := []struct {
		name    string
		mutate  func(o *oio.Object)
		wantErr string
	}{
		{"unknown kind", func(o *oio.Object) { o.Kind = "enhed" }, "unknown kind"},
		{"nil UUID", func(o *oio.Object) { o.UUID = uuid.Nil }, "nil UUID"},
		{"Rettet", func(o *oio.Object) { o.Registration.Livscyklus = "Rettet" }, "not defined in v6"},
		{"CPR on a unit", func(o *oio.Object) { o.Registration.Egenskaber[0].CPR = "0101901234" }, "no Egenskab field CPR"},
		{"name too long", func(o *oio.Object) { o.Registration.Egenskaber[0].Navn = strings.Repeat("æ", 201) }, "longer than 200"},
		{"bad status", func(o *oio.Object) { o.Registration.Gyldighed[0].Status = "Aaben" }, "GyldighedStatusKode"},
		{"relation of another kind", func(o *oio.Object) {
			o.Registration.Relationer = append(o.Registration.Relationer, oio.Relation{Name: oio.RelFunktionstype})
		}, "not a relation of organisationenhed"},
		{"two parents", func(o *oio.Object) {
			o.Registration.Relationer = append(o.Registration.Relationer, oio.Relation{Name: oio.RelOverordnet, Ref: uuid.New()})
		}, "at most one Overordnet"},
		{"address without role", func(o *oio.Object) { o.Registration.Relationer[0].Rolle = uuid.Nil }, "Rolle and Type are required"},
		{"index on a parent", func(o *oio.Object) { o.Registration.Relationer[2].Indeks = "1" }, "only allowed on Adresser"},
		{"UUID and URN", func(o *oio.Object) { o.Registration.Relationer[2].URN = "urn:x" }, "both UUID and URN"},
		{"bad AktoerType", func(o *oio.Object) { o.Registration.Relationer[1].Virkning.AktoerType = "Person" }, "AktoerTypeKode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mutate(o)
			_, err := oio.MarshalImportInput(o)
			if !errors.Is(err, oio.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("Gyldighed on a person", func(t *testing.T) {
		p := sampleObjects()[4]
		p.Registration.Gyldighed = []oio.Gyldighed{{Status: oio.Aktiv}}
		if err := p.Validate(); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("error %v, want ErrInvalid", err)
		}
	})
	t.Run("a malformed CPR is not echoed", func(t *testing.T) {
		p := sampleObjects()[4]
		p.Registration.Egenskaber[0].CPR = "01019X1234"
		err := p.Validate()
		if !errors.Is(err, oio.ErrInvalid) {
			t.Fatalf("error %v, want ErrInvalid", err)
		}
		if strings.Contains(err.Error(), "01019X1234") || !strings.Contains(err.Error(), "not shown") {
			t.Errorf("error %q shows the CPR value", err)
		}
	})
	t.Run("valid samples", func(t *testing.T) {
		for _, o := range sampleObjects() {
			if err := o.Validate(); err != nil {
				t.Errorf("%s: %v", o.Kind, err)
			}
		}
	})
}
