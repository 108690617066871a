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

const hierarchyGolden = "fremsoegobjekthierarki_organisationsystem.golden.xml"

func TestHierarchyInputRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   oio.HierarchyInput
	}{
		{"paging only", oio.HierarchyInput{First: 500, Max: 500}},
		{"no paging", oio.HierarchyInput{}},
		{"templates", oio.HierarchyInput{Max: 100, Egenskaber: map[oio.Kind]oio.Egenskab{
			oio.KindOrganisation:         {BrugervendtNoegle: "KBK"},
			oio.KindOrganisationEnhed:    {Virkning: virkning(from, time.Time{}), Navn: "Økonomi"},
			oio.KindOrganisationFunktion: {Navn: "Leder"},
			oio.KindBruger:               {BrugervendtNoegle: "bjo", BrugerTypeTekst: "Medarbejder"},
			oio.KindItSystem:             {Navn: "Active Directory"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := oio.MarshalHierarchyInput(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			data := serialise(t, el)
			if tt.name == "templates" {
				golden.Assert(t, "input_"+hierarchyGolden, golden.Indent(t, data))
			}
			got, err := oio.UnmarshalHierarchyInput(reparse(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if got.First != tt.in.First || got.Max != tt.in.Max || len(got.Egenskaber) != len(tt.in.Egenskaber) {
				t.Fatalf("got %+v, want %+v", got, tt.in)
			}
			for k, e := range tt.in.Egenskaber {
				g := got.Egenskaber[k]
				if !g.Virkning.From.Equal(e.Virkning.From) || g.Virkning.Aktoer != e.Virkning.Aktoer {
					t.Errorf("%s Virkning %+v, want %+v", k, g.Virkning, e.Virkning)
				}
				g.Virkning, e.Virkning = oio.Virkning{}, oio.Virkning{}
				if g != e {
					t.Errorf("%s template %+v, want %+v", k, g, e)
				}
			}
			xsdcheck.Validate(t, oio.KindOrganisationSystem, data) // last: skips without xmllint
		})
	}
}

func TestHierarchyInputRejects(t *testing.T) {
	for name, in := range map[string]oio.HierarchyInput{
		"negative first":  {First: -1},
		"person template": {Egenskaber: map[oio.Kind]oio.Egenskab{oio.KindPerson: {Navn: "x"}}},
		"bad leaf":        {Egenskaber: map[oio.Kind]oio.Egenskab{oio.KindOrganisationEnhed: {CPR: "0101901234"}}},
		"too long":        {Egenskaber: map[oio.Kind]oio.Egenskab{oio.KindBruger: {BrugervendtNoegle: strings.Repeat("x", 51)}}},
	} {
		if _, err := oio.MarshalHierarchyInput(&in); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	const open = `<FremsoegObjekthierarkiInput xmlns="http://stoettesystemerne.dk/organisation/organisationsystem/6/" xmlns:sd="urn:oio:sagdok:3.0.0">`
	for name, doc := range map[string]string{
		"SoegRegistrering": open + `<sd:SoegRegistrering/></FremsoegObjekthierarkiInput>`,
		"interest groups":  open + `<InteressefaellesskabSoegEgenskab/></FremsoegObjekthierarkiInput>`,
		"order":            open + `<BrugerSoegEgenskab/><OrganisationEnhedSoegEgenskab/></FremsoegObjekthierarkiInput>`,
		"negative":         open + `<sd:FoersteResultatReference>-1</sd:FoersteResultatReference></FremsoegObjekthierarkiInput>`,
		"wrong namespace":  `<FremsoegObjekthierarkiInput xmlns="http://stoettesystemerne.dk/organisation/organisationssystem/6/"/>`,
	} {
		if _, err := oio.UnmarshalHierarchyInput(reparse(t, []byte(doc))); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// sampleHierarchy returns the hierarchy kinds' sample objects and two interest groups.
func sampleHierarchy(t *testing.T) *oio.Hierarchy {
	t.Helper()
	h := &oio.Hierarchy{Interessefaellesskaber: []uuid.UUID{listed1, listed2}}
	for _, o := range sampleObjects() {
		if o.Kind == oio.KindPerson || o.Kind == oio.KindAdresse {
			if err := h.Add(o); !errors.Is(err, oio.ErrInvalid) {
				t.Errorf("Add(%s): %v, want ErrInvalid", o.Kind, err)
			}
			continue
		}
		if err := h.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestHierarchyOutputRoundTrip(t *testing.T) {
	ok := oio.StandardRetur{StatusKode: oio.StatusOK, FejlbeskedTekst: "OK"}
	h := sampleHierarchy(t)
	if h.Len() != 7 {
		t.Errorf("Len = %d, want 7", h.Len())
	}
	el, err := oio.MarshalHierarchyOutput(ok, h)
	if err != nil {
		t.Fatal(err)
	}
	data := serialise(t, el)
	golden.Assert(t, "output_"+hierarchyGolden, golden.Indent(t, data))
	ret, got, err := oio.UnmarshalHierarchyOutput(reparse(t, data))
	if err != nil {
		t.Fatal(err)
	}
	if ret != ok || got.Len() != h.Len() || len(got.Interessefaellesskaber) != 2 || got.Interessefaellesskaber[1] != listed2 {
		t.Fatalf("got %+v %+v", ret, got)
	}
	for _, k := range oio.HierarchyKinds() {
		if len(got.Objects(k)) != 1 {
			t.Fatalf("%s: %d objects", k, len(got.Objects(k)))
		}
		assertSameObject(t, got.Objects(k)[0], h.Objects(k)[0])
	}
	xsdcheck.Validate(t, oio.KindOrganisationSystem, data) // last: skips without xmllint
}

func TestHierarchyOutputEmptyAndInvalid(t *testing.T) {
	// An error outcome carries the six empty lists the schema requires.
	for _, ret := range []oio.StandardRetur{{StatusKode: 40, FejlbeskedTekst: "fejl"}, {StatusKode: 20}} {
		data := serialise(t, oio.MarshalBasicOutput(oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki, ret))
		got, h, err := oio.UnmarshalHierarchyOutput(reparse(t, data))
		if err != nil || got != ret || h.Len() != 0 {
			t.Errorf("got %+v, %+v, %v", got, h, err)
		}
		if r, err := oio.UnmarshalOutput(oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki, reparse(t, data)); err != nil || r != ret {
			t.Errorf("UnmarshalOutput: %+v, %v", r, err)
		}
		xsdcheck.Validate(t, oio.KindOrganisationSystem, data)
	}
	ok := oio.StandardRetur{StatusKode: oio.StatusOK}
	wrong := &oio.Hierarchy{Brugere: sampleObjects()[:1]}
	if _, err := oio.MarshalHierarchyOutput(ok, wrong); !errors.Is(err, oio.ErrInvalid) {
		t.Errorf("OrganisationEnhed among Brugere: %v, want ErrInvalid", err)
	}
	data := serialise(t, oio.MarshalBasicOutput(oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki, ok))
	missing := strings.Replace(string(data), "<os:Brugere/>", "", 1)
	if _, _, err := oio.UnmarshalHierarchyOutput(reparse(t, []byte(missing))); !errors.Is(err, oio.ErrInvalid) {
		t.Errorf("missing Brugere: %v, want ErrInvalid", err)
	}
	if _, err := oio.UnmarshalOutput(oio.KindOrganisationSystem, oio.OpLaes, reparse(t, data)); !errors.Is(err, oio.ErrInvalid) {
		t.Errorf("laes on organisationsystem: %v, want ErrInvalid", err)
	}
}

func TestOffers(t *testing.T) {
	for _, tt := range []struct {
		k    oio.Kind
		op   oio.Operation
		want bool
	}{
		{oio.KindBruger, oio.OpList, true},
		{oio.KindOrganisation, oio.OpLaes, true},
		{oio.KindBruger, oio.OpFremsoegObjekthierarki, false},
		{oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki, true},
		{oio.KindOrganisationSystem, oio.OpLaes, false},
		{"enhed", oio.OpLaes, false},
		{oio.KindBruger, "import", false},
	} {
		if got := tt.k.Offers(tt.op); got != tt.want {
			t.Errorf("%s.Offers(%s) = %v", tt.k, tt.op, got)
		}
	}
	if oio.KindOrganisationSystem.Valid() {
		t.Error("KindOrganisationSystem is a valid object kind")
	}
}
