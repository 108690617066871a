package reconcile_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// walk calls fn for every node of the tree with its parent (nil at the top).
func walk(nodes []*report.Node, parent *report.Node, fn func(n, parent *report.Node)) {
	for _, n := range nodes {
		fn(n, parent)
		walk(n.Children, n, fn)
	}
}

// TestVerifyTree: the report's tree is OS2MO's exported hierarchy, with a unit missing in STS
// under its parent, a unit renamed in STS marked as differing, and a unit only STS holds active
// under its STS parent; every difference about a unit is attached to its node.
func TestVerifyTree(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 12, Units: 12, Persons: 20, Today: time.Now()})
	e := loaded(t, data)
	ctx := context.Background()
	var parent, renamed, leaf uuid.UUID
	for _, u := range data.Units {
		switch {
		case u.Parent == nil:
		case parent == uuid.Nil && hasChild(data, u.UUID):
			parent = u.UUID
		case renamed == uuid.Nil:
			renamed = u.UUID
		case leaf == uuid.Nil && !hasChild(data, u.UUID):
			leaf = u.UUID
		}
	}
	missing := uuid.New()
	if _, err := e.mo.CreateUnit(ctx, motest.OrgUnitRequest{UUID: &missing, Name: "Ny enhed", Parent: &parent}); err != nil {
		t.Fatal(err)
	}
	o, _ := e.sts.Object(oio.KindOrganisationEnhed, renamed)
	o.Registration.Egenskaber[0].Navn = "Andet navn"
	e.sts.Put(o)
	if err := e.mo.TerminateOrgUnit(leaf, time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}

	r, err := e.engine(t, nil).Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		status report.Status
		parent uuid.UUID
		diffs  []report.Difference
	}
	nodes := map[uuid.UUID]seen{}
	walk(r.Tree, nil, func(n, p *report.Node) {
		s := seen{status: n.Status}
		if p != nil {
			s.parent = p.UUID
		}
		if _, dup := nodes[n.UUID]; dup {
			t.Errorf("unit %s appears twice in the tree", n.UUID)
		}
		for _, i := range n.Differences {
			s.diffs = append(s.diffs, r.Differences[i])
			if r.Differences[i].Unit != n.UUID {
				t.Errorf("difference %+v is attached to unit %s", r.Differences[i], n.UUID)
			}
		}
		nodes[n.UUID] = s
	})
	if len(nodes) != len(data.Units)+1 {
		t.Errorf("the tree has %d units, want %d", len(nodes), len(data.Units)+1)
	}
	tests := []struct {
		name   string
		id     uuid.UUID
		status report.Status
		parent uuid.UUID
		kind   report.Kind
	}{
		{"missing in STS", missing, report.StatusMissingInSTS, parent, report.MissingInSTS},
		{"renamed in STS", renamed, report.StatusDiffers, *unitOf(data, renamed).Parent, report.Field},
		{"only in STS", leaf, report.StatusOnlyInSTS, *unitOf(data, leaf).Parent, report.Orphan},
	}
	for _, tt := range tests {
		n, ok := nodes[tt.id]
		switch {
		case !ok:
			t.Errorf("%s: unit %s not in the tree", tt.name, tt.id)
		case n.status != tt.status || n.parent != tt.parent:
			t.Errorf("%s: status %s under %s, want %s under %s", tt.name, n.status, n.parent, tt.status, tt.parent)
		case !slices.ContainsFunc(n.diffs, func(d report.Difference) bool { return d.Kind == tt.kind && d.UUID == tt.id }):
			t.Errorf("%s: differences %+v, want one of kind %s about the unit", tt.name, n.diffs, tt.kind)
		}
	}
	// Each object is reported once.
	reported := map[uuid.UUID]report.Kind{}
	for _, d := range r.Differences {
		if k, dup := reported[d.UUID]; dup && d.Field != "" && d.Kind != report.Field {
			t.Errorf("object %s reported twice: as %s and %+v", d.UUID, k, d)
		}
		reported[d.UUID] = d.Kind
	}
}

// unitOf returns the dataset's unit with the UUID.
func unitOf(d motest.Dataset, id uuid.UUID) model.OrgUnit {
	for _, u := range d.Units {
		if u.UUID == id {
			return u
		}
	}
	return model.OrgUnit{}
}

// TestVerifyNeverShowsCPR: with CPR numbers synchronised, a CPR number changed in STS is a
// difference shown as "another number", and no CPR number appears in the report.
func TestVerifyNeverShowsCPR(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 13, Units: 4, Persons: 6, Today: time.Now()})
	withCPR := func(o *reconcile.Options) { o.Settings.SyncCPR = true }
	e := newEnv(t, data)
	if _, err := e.engine(t, withCPR).Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var person *oio.Object
	for _, p := range data.Persons {
		if o, ok := e.sts.Object(oio.KindPerson, translate.PersonUUID(p.UUID)); ok {
			person = o
			break
		}
	}
	if person == nil || person.Registration.Egenskaber[0].CPR == "" {
		t.Fatal("no STS person with a CPR number")
	}
	person.Registration.Egenskaber[0].CPR = "0101010000"
	e.sts.Put(person)
	r, err := e.engine(t, withCPR).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, d := range r.Differences {
		if d.Field == "cpr" && d.MO == "set" && d.STS == "another number" {
			found = true
		}
	}
	if !found {
		t.Errorf("no cpr difference in %+v", r.Differences)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range data.Persons {
		if p.CPR != "" && strings.Contains(string(out), p.CPR) {
			t.Fatalf("the report shows a CPR number")
		}
	}
	if strings.Contains(string(out), "0101010000") {
		t.Fatalf("the report shows STS's CPR number")
	}
}
