package ststest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestOrganisations: Options.Organisations are held from the start as a municipality's STS holds
// its Organisation (laes, list, fremsoegobjekthierarki; importer of the same UUID is 49), the
// laes answer is valid against the XSD, and the other objects of a hierarchy are listed as
// without it.
func TestOrganisations(t *testing.T) {
	other := uuid.MustParse("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
	fake, srv, client := start(t, ststest.Options{Organisations: []ststest.Organisation{
		{UUID: orgUUID, CVR: "29189846", Name: "Korsbæk Kommune"}, {UUID: other, CVR: "11111111"}}})
	ctx := t.Context()

	got, err := client.Read(ctx, oio.KindOrganisation, orgUUID)
	if err != nil {
		t.Fatalf("laes organisation: %v", err)
	}
	at := now.Truncate(time.Second)
	v := oio.Virkning{From: at, Aktoer: orgUUID, AktoerType: oio.AktoerTypeOrganisation}
	want := &oio.Object{Kind: oio.KindOrganisation, UUID: orgUUID, Registration: oio.Registration{
		Tidspunkt: at, Livscyklus: oio.LivscyklusImporteret, BrugerRef: orgUUID,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "29189846", Navn: "Korsbæk Kommune"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelVirksomhed, Virkning: v, URN: "urn:oio:cvr-nr:29189846"}},
	}}
	if g, w := got.InUTC(), want.InUTC(); !reflect.DeepEqual(g, w) {
		t.Errorf("organisation\n got %+v\nwant %+v", g, w)
	}
	if o, ok := fake.Object(oio.KindOrganisation, other); !ok || o.Registration.Egenskaber[0].Navn != "Kommune CVR 11111111" {
		t.Errorf("the second organisation: %+v, %v", o, ok)
	}
	if objs, err := client.List(ctx, oio.KindOrganisation, []uuid.UUID{orgUUID, other}); err != nil || len(objs) != 2 {
		t.Errorf("list organisation: %d objects, %v", len(objs), err)
	}

	// The laes answer as the service's XSD describes it.
	endpoint := srv.URL + "/organisation/organisation/6/"
	action := "http://kombit.dk/sts/organisation/organisation/laes"
	payload := `<LaesInput xmlns="http://stoettesystemerne.dk/organisation/organisation/6/"><UUIDIdentifikator xmlns="urn:oio:sagdok:3.0.0">` +
		orgUUID.String() + `</UUIDIdentifikator></LaesInput>`
	status, env, raw := post(t, endpoint, soap.ContentType(action), requestXML(action, endpoint, "urn:uuid:"+uuid.NewString(), payload))
	if status != 200 || env == nil {
		t.Fatalf("HTTP %d: %s", status, raw)
	}
	p, err := env.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, "urn:oio:cvr-nr:29189846") {
		t.Errorf("laes answer lacks the Virksomhed relation: %s", raw)
	}

	// An integration cannot import the municipality's Organisation again.
	if err := client.Import(ctx, want); !errors.Is(err, stsclient.ErrAlreadyExists) {
		t.Errorf("importer of the existing organisation: %v, want StatusKode 49", err)
	}

	// The hierarchy lists the Organisations and, as before, the units.
	unitID := uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	if err := client.Import(ctx, unit(unitID, "Økonomi")); err != nil {
		t.Fatal(err)
	}
	h, err := client.SearchHierarchyAll(ctx, oio.HierarchyInput{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Organisationer) != 2 || len(h.OrganisationEnheder) != 1 || h.OrganisationEnheder[0].UUID != unitID ||
		len(h.Brugere)+len(h.OrganisationFunktioner)+len(h.ItSystemer) != 0 {
		t.Errorf("hierarchy: %d organisations, %d units, %d users, %d functions, %d IT systems", len(h.Organisationer),
			len(h.OrganisationEnheder), len(h.Brugere), len(h.OrganisationFunktioner), len(h.ItSystemer))
	}
	if calls := fake.Calls(); calls["organisation/importer"] != 1 || calls["organisationenhed/importer"] != 1 {
		t.Errorf("calls %v, want one importer of each (the organisations are there without one)", calls)
	}

	doc := etree.NewDocument()
	doc.SetRoot(p.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	xsdcheck.Validate(t, oio.KindOrganisation, b) // last: skips without xmllint
}

// TestOrganisationInvalid: an Organisation that cannot be written is reported by Object, and
// NewServer refuses it.
func TestOrganisationInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		org  ststest.Organisation
		want string
	}{
		{"short CVR", ststest.Organisation{UUID: orgUUID, CVR: "1234567"}, "8 digits"},
		{"letters in CVR", ststest.Organisation{UUID: orgUUID, CVR: "1234567x"}, "8 digits"},
		{"nil UUID", ststest.Organisation{CVR: "29189846"}, "nil UUID"},
		{"long name", ststest.Organisation{UUID: orgUUID, CVR: "29189846", Name: strings.Repeat("x", 201)}, "OrganisationNavn longer than 200"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.org.Object(now); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Object: %v, want an error with %q", err, tt.want)
			}
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), tt.want) {
					t.Errorf("NewServer: panic %v, want one with %q", r, tt.want)
				}
			}()
			ststest.NewServer(ststest.Options{Organisations: []ststest.Organisation{tt.org}})
		})
	}
}
