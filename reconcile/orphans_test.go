package reconcile_test

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// handMade are objects made by hand in STS that OS2MO does not account for: a unit for external
// consultants (parent) under an OS2MO unit, with a team (child) under it; a consultant user with
// a position in the team; a manager function and a position of an OS2MO person's user in the
// parent; a service user without positions; and another stray user.
type handMade struct {
	parent, child, consultant, consultantPos, manager, moUserPos, service, stray uuid.UUID
}

// objects names the hand-made objects for messages.
func (h handMade) objects() map[string]uuid.UUID {
	return map[string]uuid.UUID{"parent unit": h.parent, "child unit": h.child, "consultant": h.consultant,
		"consultant's position": h.consultantPos, "manager function": h.manager, "OS2MO user's position": h.moUserPos,
		"service user": h.service, "stray user": h.stray}
}

func virkFrom2020() oio.Virkning {
	return oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
}

func putUnit(e *env, id, parent uuid.UUID, name string) {
	v := virkFrom2020()
	rels := []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: org}, {Name: oio.RelOverordnet, Virkning: v, Ref: parent}}
	translate.SortRelations(oio.KindOrganisationEnhed, rels)
	e.sts.Put(&oio.Object{Kind: oio.KindOrganisationEnhed, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: rels,
	}})
}

func putUser(e *env, id uuid.UUID, name string) {
	v := virkFrom2020()
	e.sts.Put(&oio.Object{Kind: oio.KindBruger, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: org}},
	}})
}

func putFunction(e *env, id, typ, unit, user uuid.UUID, name string) {
	v := virkFrom2020()
	rels := []oio.Relation{
		{Name: oio.RelFunktionstype, Virkning: v, Ref: typ},
		{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: unit},
		{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: user},
		{Name: oio.RelTilknyttedeOrganisationer, Virkning: v, Ref: org},
	}
	translate.SortRelations(oio.KindOrganisationFunktion, rels)
	e.sts.Put(&oio.Object{Kind: oio.KindOrganisationFunktion, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: rels,
	}})
}

// makeByHand puts the hand-made objects into the loaded env's STS.
func makeByHand(t *testing.T, e *env, data motest.Dataset) handMade {
	t.Helper()
	h := handMade{parent: uuid.New(), child: uuid.New(), consultant: uuid.New(), consultantPos: uuid.New(),
		manager: uuid.New(), moUserPos: uuid.New(), service: uuid.New(), stray: uuid.New()}
	var moUser uuid.UUID
	for _, u := range e.sts.Objects(oio.KindBruger) {
		if u.StatusOn(time.Now()) == oio.Aktiv {
			moUser = u.UUID
			break
		}
	}
	if moUser == uuid.Nil || data.Units[0].Parent != nil {
		t.Fatal("the dataset has no active user or its first unit is not the root")
	}
	putUnit(e, h.parent, data.Units[0].UUID, "Eksterne konsulenter")
	putUnit(e, h.child, h.parent, "Konsulentteam")
	putUser(e, h.consultant, "konsulent")
	putFunction(e, h.consultantPos, translate.FunktionstypeStilling, h.child, h.consultant, "Konsulent")
	putFunction(e, h.manager, translate.FunktionstypeLeder, h.parent, moUser, "Leder")
	putFunction(e, h.moUserPos, translate.FunktionstypeStilling, h.parent, moUser, "Ekstern opgave")
	putUser(e, h.service, "svc-print")
	putUser(e, h.stray, "ekstra")
	e.sts.ResetCalls()
	return h
}

// stsObject returns what the fake STS holds for the UUID (of any kind of the hierarchy).
func stsObject(e *env, id uuid.UUID) *oio.Object {
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion} {
		if o, ok := e.sts.Object(k, id); ok {
			return o
		}
	}
	return nil
}

// TestOrphanPolicyAndKeep: what a sync and verify do with units and users made by hand in STS,
// by SYNC_ORPHANS (Options.Orphans) and SYNC_KEEP_UUIDS (Options.Keep).
func TestOrphanPolicyAndKeep(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 31, Units: 10, Persons: 30, Today: time.Now()})
	type want struct {
		// untouched are left exactly as they were; the other hand-made objects end inactive (the
		// OS2MO user's position made by hand is ended as written by another tool unless it is in
		// a kept unit).
		untouched []string
		// orphans, reported, keptUnits, keptUsers are the plan's counts.
		orphans, reported, keptUnits, keptUsers int
		// drift lists the hand-made objects verify reports as orphans after the sync.
		drift []string
		// kept maps a kept orphan to the start of why it is kept.
		kept map[string]string
	}
	orphansAndTheirs := []string{"parent unit", "child unit", "consultant", "consultant's position", "manager function", "service user", "stray user"}
	tests := []struct {
		name    string
		orphans string // SYNC_ORPHANS
		keep    []string
		want    want
	}{
		{name: "default: every orphan is deactivated", want: want{orphans: 5}},
		{name: "keep the parent unit and the service user", keep: []string{"parent unit", "service user"}, want: want{
			untouched: []string{"parent unit", "child unit", "consultant", "consultant's position", "manager function", "OS2MO user's position", "service user"},
			orphans:   1, keptUnits: 2, keptUsers: 2,
			kept: map[string]string{"parent unit": "in SYNC_KEEP_UUIDS", "child unit": "below kept unit", "consultant": "function in kept unit", "service user": "in SYNC_KEEP_UUIDS"}}},
		{name: "keeping the child keeps its orphan parent", keep: []string{"child unit"}, want: want{
			untouched: []string{"parent unit", "child unit", "consultant", "consultant's position", "manager function", "OS2MO user's position"},
			orphans:   2, keptUnits: 2, keptUsers: 1,
			kept: map[string]string{"parent unit": "above kept unit", "child unit": "in SYNC_KEEP_UUIDS", "consultant": "function in kept unit"}}},
		{name: "report leaves every orphan active", orphans: "report", want: want{
			untouched: orphansAndTheirs, orphans: 5, reported: 5,
			drift: []string{"parent unit", "child unit", "consultant", "service user", "stray user"}}},
		{name: "report units, deactivate users", orphans: "units=report,users=deactivate", want: want{
			untouched: []string{"parent unit", "child unit", "manager function"}, orphans: 5, reported: 2,
			drift: []string{"parent unit", "child unit"}}},
		{name: "report, and keep the parent unit", orphans: "report", keep: []string{"parent unit"}, want: want{
			untouched: append(slices.Clone(orphansAndTheirs), "OS2MO user's position"), orphans: 2, reported: 2, keptUnits: 2, keptUsers: 1,
			drift: []string{"service user", "stray user"},
			kept:  map[string]string{"parent unit": "in SYNC_KEEP_UUIDS", "child unit": "below kept unit", "consultant": "function in kept unit"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loaded(t, data)
			h := makeByHand(t, e, data)
			ids := h.objects()
			policy, err := reconcile.ParseOrphanPolicy(cmp.Or(tt.orphans, "deactivate"))
			if err != nil {
				t.Fatal(err)
			}
			opts := func(o *reconcile.Options) {
				o.MaxDeactivationShare = 1
				o.Orphans = policy
				for _, k := range tt.keep {
					o.Keep = append(o.Keep, ids[k])
				}
			}
			before := map[string]*oio.Object{}
			for name, id := range ids {
				before[name] = stsObject(e, id)
			}

			res, err := e.engine(t, opts).Sync(t.Context())
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			p := res.Plan
			if p.Orphans != tt.want.orphans || p.OrphansReported != tt.want.reported || p.KeptUnits != tt.want.keptUnits || p.KeptUsers != tt.want.keptUsers {
				t.Errorf("plan: %d orphans (%d reported), %d units and %d users kept; want %d (%d), %d and %d",
					p.Orphans, p.OrphansReported, p.KeptUnits, p.KeptUsers, tt.want.orphans, tt.want.reported, tt.want.keptUnits, tt.want.keptUsers)
			}
			for name, id := range ids {
				after := stsObject(e, id)
				switch {
				case slices.Contains(tt.want.untouched, name) && !reflect.DeepEqual(after.Registration, before[name].Registration):
					t.Errorf("%s was changed: %+v", name, after.Registration)
				case !slices.Contains(tt.want.untouched, name) && after.StatusOn(time.Now()) != oio.Inaktiv:
					t.Errorf("%s is %s, want Inaktiv", name, after.StatusOn(time.Now()))
				}
			}
			for _, op := range p.Ops {
				for name, id := range ids {
					if op.UUID == id && slices.Contains(tt.want.untouched, name) {
						t.Errorf("the plan writes %s: %s %s", name, op.Action, op.Ref())
					}
				}
			}
			var listed []string
			for _, orp := range p.OrphanList {
				for name, id := range ids {
					if orp.UUID != id {
						continue
					}
					listed = append(listed, name)
					switch why, kept := tt.want.kept[name]; {
					case kept && (orp.Action != reconcile.OrphanKeep || !strings.HasPrefix(orp.Kept, why)):
						t.Errorf("%s: %s, kept %q; want kept %q…", name, orp.Action, orp.Kept, why)
					case !kept && orp.Action == reconcile.OrphanKeep:
						t.Errorf("%s is kept (%s)", name, orp.Kept)
					}
				}
			}
			if len(listed) != 5 {
				t.Errorf("the plan lists orphans %v, want the 5 hand-made units and users", listed)
			}

			var out strings.Builder
			if err := p.WriteSummary(&out); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteOrphans(&out, true); err != nil {
				t.Fatal(err)
			}
			if tt.want.reported > 0 && !strings.Contains(out.String(), "only reported, left active: SYNC_ORPHANS") {
				t.Errorf("the summary does not say orphans were only reported:\n%s", out.String())
			}
			if p.KeptUnits+p.KeptUsers > 0 && !strings.Contains(out.String(), "(SYNC_KEEP_UUIDS)") {
				t.Errorf("the summary does not count the kept orphans:\n%s", out.String())
			}
			for _, orp := range p.OrphanList {
				if orp.Action != reconcile.OrphanDeactivate && !strings.Contains(out.String(), string(orp.Action)+strings.Repeat(" ", 10-len(orp.Action))+" "+string(orp.Kind)) {
					t.Errorf("WriteOrphans does not list %s %s:\n%s", orp.Action, orp.UUID, out.String())
				}
			}

			// Verify after the sync: the orphans left active are drift, kept ones are not.
			r, err := e.engine(t, opts).Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var drift []string
			for _, d := range r.Differences {
				for name, id := range ids {
					if d.UUID == id && d.Kind == report.Orphan && d.ObjectKind != oio.KindOrganisationFunktion {
						drift = append(drift, name)
					}
				}
			}
			slices.Sort(drift)
			wantDrift := slices.Sorted(slices.Values(tt.want.drift))
			if !slices.Equal(drift, wantDrift) || r.InSync() != (len(wantDrift) == 0) {
				t.Errorf("verify after the sync: orphans %v (in sync %v, %d differences), want %v", drift, r.InSync(), len(r.Differences), wantDrift)
			}
			if r.Summary.KeptUnits != tt.want.keptUnits || r.Summary.KeptUsers != tt.want.keptUsers {
				t.Errorf("verify counts %d units and %d users kept, want %d and %d", r.Summary.KeptUnits, r.Summary.KeptUsers, tt.want.keptUnits, tt.want.keptUsers)
			}
			walk(r.Tree, nil, func(n, _ *report.Node) {
				if _, kept := tt.want.kept[nameOf(ids, n.UUID)]; (n.Status == report.StatusKept) != kept {
					t.Errorf("unit %s (%s) has status %s", n.Name, n.UUID, n.Status)
				}
			})

			// A second sync writes nothing.
			e.sts.ResetCalls()
			if _, err := e.engine(t, opts).Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := writes(e.sts.Calls()); n != 0 {
				t.Errorf("the second sync made %d writes: %v", n, e.sts.Calls())
			}
		})
	}
}

func nameOf(ids map[string]uuid.UUID, id uuid.UUID) string {
	for name, v := range ids {
		if v == id {
			return name
		}
	}
	return ""
}

// TestVerifyReportsOrphansWhateverThePolicy: with SYNC_ORPHANS=report, verify still reports every
// orphan as drift (exit 1), and keeping them all makes it report none (exit 0).
func TestVerifyReportsOrphansWhateverThePolicy(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 32, Units: 6, Persons: 10, Today: time.Now()})
	e := loaded(t, data)
	h := makeByHand(t, e, data)
	reportAll := func(o *reconcile.Options) {
		o.Orphans = reconcile.OrphanPolicy{Units: reconcile.OrphanReport, Users: reconcile.OrphanReport}
	}
	r, err := e.engine(t, reportAll).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range h.objects() {
		if strings.Contains(name, "position") || name == "manager function" {
			continue
		}
		if !slices.ContainsFunc(r.Differences, func(d report.Difference) bool { return d.UUID == id && d.Kind == report.Orphan }) {
			t.Errorf("verify does not report the %s as an orphan", name)
		}
	}
	keepAll := func(o *reconcile.Options) {
		reportAll(o)
		o.Keep = []uuid.UUID{h.parent, h.service, h.stray}
	}
	if r, err = e.engine(t, keepAll).Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !r.InSync() || r.Summary.KeptUnits != 2 || r.Summary.KeptUsers != 3 {
		t.Errorf("verify with every orphan kept: %d differences (%+v), %d units and %d users kept; want none, 2 and 3",
			len(r.Differences), r.Differences, r.Summary.KeptUnits, r.Summary.KeptUsers)
	}
	if writes(e.sts.Calls()) != 0 {
		t.Errorf("verify wrote: %v", e.sts.Calls())
	}
}

func TestParseOrphanPolicy(t *testing.T) {
	d, r := reconcile.OrphanDeactivate, reconcile.OrphanReport
	tests := []struct {
		in      string
		want    reconcile.OrphanPolicy
		str     string
		wantErr bool
	}{
		{in: "deactivate", want: reconcile.OrphanPolicy{Units: d, Users: d}, str: "deactivate"},
		{in: " report ", want: reconcile.OrphanPolicy{Units: r, Users: r}, str: "report"},
		{in: "units=report", want: reconcile.OrphanPolicy{Units: r, Users: d}, str: "units=report,users=deactivate"},
		{in: "users=report, units=deactivate", want: reconcile.OrphanPolicy{Units: d, Users: r}, str: "units=deactivate,users=report"},
		{in: "units=report,users=report", want: reconcile.OrphanPolicy{Units: r, Users: r}, str: "report"},
		{in: "", wantErr: true},
		{in: "keep", wantErr: true},
		{in: "Report", wantErr: true},
		{in: "units=keep", wantErr: true},
		{in: "units=report,units=deactivate", wantErr: true},
		{in: "functions=report", wantErr: true},
		{in: "units=report,", wantErr: true},
	}
	for _, tt := range tests {
		got, err := reconcile.ParseOrphanPolicy(tt.in)
		switch {
		case tt.wantErr && (err == nil || !strings.Contains(err.Error(), `"`+tt.in+`"`)):
			t.Errorf("ParseOrphanPolicy(%q) = %v, %v; want an error quoting the value", tt.in, got, err)
		case !tt.wantErr && (err != nil || got != tt.want || got.String() != tt.str):
			t.Errorf("ParseOrphanPolicy(%q) = %v (%q), %v; want %v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	if s := (reconcile.OrphanPolicy{}).String(); s != "deactivate" {
		t.Errorf("the zero policy is %q, want deactivate", s)
	}
}
