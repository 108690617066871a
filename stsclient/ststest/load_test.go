package ststest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestLoad: loaded objects are served as STS would serve them after they were written (laes,
// list, fremsoegobjekthierarki) with their registrations as given, on top of an Organisation the
// fake created; Load counts no call and records no write. A passivated object loaded is left out
// of the hierarchy as any passivated one.
func TestLoad(t *testing.T) {
	fake, _, client := start(t, ststest.Options{Organisations: []ststest.Organisation{{UUID: orgUUID, CVR: "29189846"}}})
	ctx := t.Context()
	a, b := unit(uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7"), "Økonomi"), unit(uuid.MustParse("b1ff2e55-fc97-4cc6-a144-2c641b3b5fa7"), "Løn")
	b.Registration.Livscyklus = oio.LivscyklusPassiveret
	org, _ := fake.Object(oio.KindOrganisation, orgUUID)
	org.Registration.Egenskaber[0].Navn = "Korsbæk Kommune"
	if err := fake.Load([]*oio.Object{a, b, org}); err != nil {
		t.Fatal(err)
	}
	if fake.TotalCalls() != 0 || len(fake.Writes()) != 0 {
		t.Errorf("Load counted %d calls, %d writes", fake.TotalCalls(), len(fake.Writes()))
	}
	got, err := client.Read(ctx, oio.KindOrganisationEnhed, a.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got.InUTC(), a.InUTC(); !reflect.DeepEqual(g, w) {
		t.Errorf("laes of a loaded unit\n got %+v\nwant %+v", g, w)
	}
	if got, err := client.Read(ctx, oio.KindOrganisation, orgUUID); err != nil || got.Registration.Egenskaber[0].Navn != "Korsbæk Kommune" {
		t.Errorf("the loaded Organisation is not the latest registration: %+v, %v", got, err)
	}
	if h := fake.History(oio.KindOrganisation, orgUUID); len(h) != 2 {
		t.Errorf("the Organisation has %d registrations, want the created one and the loaded one", len(h))
	}
	h, err := client.SearchHierarchyAll(ctx, oio.HierarchyInput{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.OrganisationEnheder) != 1 || h.OrganisationEnheder[0].UUID != a.UUID {
		t.Errorf("hierarchy lists %d units, want only the active one", len(h.OrganisationEnheder))
	}
}

// TestLoadRefuses: an object that is not valid, or one given twice, is refused, and then nothing
// is loaded.
func TestLoadRefuses(t *testing.T) {
	fake := ststest.NewServer(ststest.Options{})
	good := unit(uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7"), "Økonomi")
	long := unit(uuid.New(), strings.Repeat("x", 201))
	for name, objs := range map[string][]*oio.Object{
		"too long a name": {good, long},
		"twice":           {good, good},
		"no UUID":         {good, {Kind: oio.KindBruger}},
	} {
		if err := fake.Load(objs); err == nil {
			t.Errorf("%s: loaded", name)
		}
		if _, ok := fake.Object(good.Kind, good.UUID); ok {
			t.Fatalf("%s: the valid object was loaded although another was refused", name)
		}
	}
}
