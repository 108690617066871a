package stsclient_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestFakeOrganisationsOwnTheirObjects: the Organisations the fake creates at start
// (ststest.Options.Organisations) belong to their CVR as those of Options.OrganisationCVR do: the
// hierarchy of the token's CVR holds its own Organisation and units, not another
// municipality's, and a write to another municipality's unit is refused with 41.
func TestFakeOrganisationsOwnTheirObjects(t *testing.T) {
	e := setupSecure(t, ststest.Options{Organisations: []ststest.Organisation{
		{UUID: orgUUID, CVR: testCVR, Name: "Korsbæk Kommune"}, {UUID: otherOrg, CVR: "22222222"}}}, secureMods{})
	ctx := t.Context()
	if err := e.client.Import(ctx, unit()); err != nil {
		t.Fatalf("own import: %v", err)
	}
	theirs := unit()
	theirs.UUID = parentB
	for i := range theirs.Registration.Relationer {
		if r := &theirs.Registration.Relationer[i]; r.Name == oio.RelTilhoerer {
			r.Ref = otherOrg
		}
	}
	e.fake.Put(theirs)

	h, err := e.client.SearchHierarchyAll(ctx, oio.HierarchyInput{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(objs []*oio.Object) []uuid.UUID {
		var out []uuid.UUID
		for _, o := range objs {
			out = append(out, o.UUID)
		}
		return out
	}
	if got := ids(h.Organisationer); len(got) != 1 || got[0] != orgUUID {
		t.Errorf("organisations in the hierarchy: %v, want only %s", got, orgUUID)
	}
	if got := ids(h.OrganisationEnheder); len(got) != 1 || got[0] != unitUUID {
		t.Errorf("units in the hierarchy: %v, want only %s", got, unitUUID)
	}
	if err := e.client.Update(ctx, renamed(theirs)); !errors.Is(err, stsclient.ErrUnauthorized) {
		t.Errorf("ret of another municipality's unit: %v, want StatusKode 41", err)
	}
	if _, err := e.client.Read(ctx, oio.KindOrganisation, orgUUID); err != nil {
		t.Errorf("laes of the own organisation: %v", err)
	}
}
