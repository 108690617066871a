package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// syncEnv is a fake OS2MO and a fake STS (with KOMBIT's security profile) over HTTP and the real
// Redis, with the settings `stsorgsync sync` and `verify` need; no broker and no daemon.
type syncEnv struct {
	mo  *motest.Server
	sts *ststest.Server
	env map[string]string
	org uuid.UUID
}

func newSyncEnv(t *testing.T, data motest.Dataset) *syncEnv {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	broker := testenv.AMQP(t) // the audit trail's stream
	mo := motest.NewServer(motest.Options{})
	if err := mo.Load(data); err != nil {
		t.Fatalf("load dataset: %v", err)
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	sts := ststest.NewServer(ststest.Options{RequireSecurity: true})
	stsSrv := httptest.NewServer(sts.Handler())
	t.Cleanup(stsSrv.Close)
	e := &syncEnv{mo: mo, sts: sts, org: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")}
	e.env = map[string]string{
		"REDIS_URL":             "redis://" + rdb.Options().Addr + "/0",
		"REDIS_KEY_PREFIX":      prefix,
		"AMQP_URL":              broker.URL,
		"MO_URL":                moSrv.URL,
		"MO_AUTH_SERVER":        moSrv.URL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          stsSrv.URL,
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": e.org.String(),
		"LOG_LEVEL":             "warn",
	}
	for k, v := range writeSecurityFiles(t, sts, stsSrv.URL, "29189846") {
		e.env[k] = v
	}
	return e
}

// run runs the stsorgsync command line and returns its exit code, stdout and stderr.
func (e *syncEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, getenvOf(e.env), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// verifyReport runs `verify --json` and decodes the report.
func (e *syncEnv) verifyReport(t *testing.T) (int, *report.Report) {
	t.Helper()
	code, out, errOut := e.run(t, "verify", "--json")
	if code == exitError {
		t.Fatalf("verify failed: %s", errOut)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("verify --json output: %v\n%s", err, out)
	}
	return code, &r
}

// virk is the Virkning the drift objects are written with.
func (e *syncEnv) virk() oio.Virkning {
	return oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: e.org, AktoerType: oio.AktoerTypeOrganisation}
}

// function is an active OrganisationFunktion as another tool would write it.
func (e *syncEnv) function(id, typ, unit uuid.UUID, user *uuid.UUID, name string) *oio.Object {
	v := e.virk()
	f := &oio.Object{Kind: oio.KindOrganisationFunktion, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: e.org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{
			{Name: oio.RelFunktionstype, Virkning: v, Ref: typ},
			{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: unit},
			{Name: oio.RelTilknyttedeOrganisationer, Virkning: v, Ref: e.org},
		},
	}}
	if user != nil {
		f.Registration.Relationer = append(f.Registration.Relationer, oio.Relation{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: *user})
	}
	translate.SortRelations(oio.KindOrganisationFunktion, f.Registration.Relationer)
	return f
}

// findDiff returns the first difference of the kind about the object.
func findDiff(r *report.Report, kind report.Kind, id uuid.UUID) *report.Difference {
	for i, d := range r.Differences {
		if d.Kind == kind && d.UUID == id {
			return &r.Differences[i]
		}
	}
	return nil
}

// TestSyncAndVerifyDriftedSTS is issue 7's acceptance test: a municipality is loaded with
// `sync`, STS then drifts (a unit OS2MO created is missing, a unit renamed by hand, an extra
// user, a stale position, OS2sync-style functions and an address with random UUIDs); `verify`
// reports each drift with exit 1, `sync` converges and reports the adoption, `verify` exits 0,
// and a second `sync` makes no STS write.
func TestSyncAndVerifyDriftedSTS(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 11, Units: 14, Persons: 50, Today: time.Now()})
	e := newSyncEnv(t, data)

	code, out, errOut := e.run(t, "sync")
	if code != exitOK {
		t.Fatalf("initial sync: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("initial sync:\n%s", out)
	if code, r := e.verifyReport(t); code != exitInSync {
		t.Fatalf("verify after the initial sync: exit %d, %d differences, first %+v", code, len(r.Differences), r.Differences[0])
	}

	// The drift.
	ctx := context.Background()
	units := e.sts.Objects(oio.KindOrganisationEnhed)
	var withParent []*oio.Object
	for _, u := range units {
		if slices.ContainsFunc(u.Registration.Relationer, func(r oio.Relation) bool { return r.Name == oio.RelOverordnet }) {
			withParent = append(withParent, u)
		}
	}
	parent := withParent[0].UUID
	missing := uuid.New()
	if _, err := e.mo.CreateUnit(ctx, motest.OrgUnitRequest{UUID: &missing, Name: "Ny Enhed Uden Event", UserKey: "NYENHED", Parent: &parent,
		From: ptrTo(time.Now().AddDate(0, 0, -3))}); err != nil {
		t.Fatalf("create unit: %v", err)
	}

	renamed := withParent[1]
	wantName := renamed.Registration.Egenskaber[0].Navn
	renamed.Registration.Egenskaber[0].Navn = "Omdøbt i hånden"
	e.sts.Put(renamed)

	extra := uuid.New()
	v := e.virk()
	e.sts.Put(&oio.Object{Kind: oio.KindBruger, UUID: extra, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: e.org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "ekstra", Navn: "ekstra"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: e.org}},
	}})

	users := e.sts.Objects(oio.KindBruger)
	var active []uuid.UUID
	for _, u := range users {
		if u.UUID != extra && u.StatusOn(time.Now()) == oio.Aktiv {
			active = append(active, u.UUID)
		}
	}
	stale := translate.PositionUUID(uuid.New(), active[0]) // a position of an engagement OS2MO no longer has
	e.sts.Put(e.function(stale, translate.FunktionstypeStilling, withParent[2].UUID, &active[0], "Tidligere stilling"))
	os2syncPosition, os2syncManager := uuid.New(), uuid.New()
	e.sts.Put(e.function(os2syncPosition, translate.FunktionstypeStilling, withParent[3].UUID, &active[1], "Stilling fra OS2sync"))
	e.sts.Put(e.function(os2syncManager, translate.FunktionstypeLeder, withParent[3].UUID, &active[2], "Leder"))

	os2syncAddress := uuid.New()
	e.sts.Put(&oio.Object{Kind: oio.KindAdresse, UUID: os2syncAddress, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: e.org,
		Egenskaber: []oio.Egenskab{{Virkning: oio.Virkning{From: v.From, Aktoer: e.org, AktoerType: oio.AktoerTypeOrganisation},
			BrugervendtNoegle: "Email", AdresseTekst: "os2sync@kommune.dk"}},
	}})
	withAddress := withParent[4]
	withAddress.Registration.Relationer = slices.DeleteFunc(withAddress.Registration.Relationer, func(r oio.Relation) bool {
		return r.Name == oio.RelAdresser && r.Rolle == translate.RoleUnitEmail
	})
	withAddress.Registration.Relationer = append(withAddress.Registration.Relationer, oio.Relation{Name: oio.RelAdresser, Virkning: v,
		Ref: os2syncAddress, Rolle: translate.RoleUnitEmail, Type: translate.AdresseTypeEnhed, Indeks: uuid.NewString()})
	translate.SortRelations(oio.KindOrganisationEnhed, withAddress.Registration.Relationer)
	e.sts.Put(withAddress)

	// verify reports each drift, exit 1.
	code, r := e.verifyReport(t)
	if code != exitDrift {
		t.Fatalf("verify of the drifted STS: exit %d, want %d", code, exitDrift)
	}
	checks := []struct {
		name  string
		kind  report.Kind
		id    uuid.UUID
		check func(d *report.Difference) bool
	}{
		{"missing unit", report.MissingInSTS, missing, func(d *report.Difference) bool { return d.ObjectKind == oio.KindOrganisationEnhed }},
		{"renamed unit", report.Field, renamed.UUID, func(d *report.Difference) bool {
			return d.Field == "name" && d.MO == wantName && d.STS == "Omdøbt i hånden"
		}},
		{"extra user", report.Orphan, extra, func(d *report.Difference) bool { return d.ObjectKind == oio.KindBruger }},
		{"stale position", report.Stale, stale, nil},
		{"OS2sync position", report.Foreign, os2syncPosition, nil},
		{"OS2sync manager", report.Foreign, os2syncManager, nil},
		{"OS2sync address", report.Foreign, os2syncAddress, func(d *report.Difference) bool { return d.ObjectKind == oio.KindAdresse && d.Unit == withAddress.UUID }},
	}
	for _, c := range checks {
		d := findDiff(r, c.kind, c.id)
		if d == nil || (c.check != nil && !c.check(d)) {
			t.Errorf("%s: no %s difference for %s as expected; got %+v", c.name, c.kind, c.id, d)
		}
	}
	t.Logf("verify found %d differences: %v", len(r.Differences), r.Summary.ByKind)

	// The table and the HTML page show the drift too.
	htmlFile := filepath.Join(t.TempDir(), "report.html")
	code, out, errOut = e.run(t, "verify", "--html", htmlFile)
	if code != exitDrift {
		t.Fatalf("verify --html: exit %d: %s", code, errOut)
	}
	t.Logf("verify:\n%s", out)
	html, err := os.ReadFile(htmlFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Omdøbt i hånden", "Ny Enhed Uden Event", extra.String(), os2syncPosition.String()} {
		if !strings.Contains(out, want) || !strings.Contains(string(html), want) {
			t.Errorf("the table or the HTML report lacks %q", want)
		}
	}

	// A dry run with --adopt lists what would be ended and writes nothing.
	e.sts.ResetCalls()
	code, out, errOut = e.run(t, "sync", "--dry-run", "--adopt")
	if code != exitOK {
		t.Fatalf("sync --dry-run: exit %d: %s", code, errOut)
	}
	if n := writes(e.sts.Calls()); n != 0 {
		t.Errorf("a dry run made %d writes", n)
	}
	t.Logf("sync --dry-run --adopt:\n%s", out)
	for _, want := range []string{"Adoption:", os2syncPosition.String(), os2syncAddress.String(), "foreign", extra.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}

	// sync converges, listing what it adopted.
	code, out, errOut = e.run(t, "sync", "--adopt")
	if code != exitOK {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("sync of the drifted STS:\n%s", out)
	if !strings.Contains(out, "Adoption: written by other tools: 2 functions (1 position function, 1 manager function) and 1 address reference ended") {
		t.Errorf("sync output does not report the adoption:\n%s", out)
	}
	for _, want := range []string{"Adopted:", "ended    organisationfunktion " + os2syncPosition.String(), "ended    organisationfunktion " + os2syncManager.String(), "unlinked adresse              " + os2syncAddress.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("sync --adopt output lacks %q", want)
		}
	}
	if code, r := e.verifyReport(t); code != exitInSync {
		t.Fatalf("verify after the sync: exit %d, %d differences, first %+v", code, len(r.Differences), r.Differences[0])
	}
	if o, _ := e.sts.Object(oio.KindBruger, extra); o.StatusOn(time.Now()) != oio.Inaktiv {
		t.Errorf("the extra user is still active: %+v", o.Registration.Gyldighed)
	}

	// A second sync makes no write.
	e.sts.ResetCalls()
	code, out, errOut = e.run(t, "sync")
	if code != exitOK {
		t.Fatalf("second sync: exit %d\n%s", code, errOut)
	}
	if n := writes(e.sts.Calls()); n != 0 {
		t.Errorf("the second sync made %d writes: %v\n%s", n, e.sts.Calls(), out)
	}
	t.Logf("second sync: calls %v\n%s", e.sts.Calls(), out)
}

func ptrTo[T any](v T) *T { return &v }

// TestScheduledSync: with SYNC_INTERVAL the daemon brings STS in line with OS2MO by itself, with
// no event published.
func TestScheduledSync(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 21, Units: 6, Persons: 10, Today: time.Now()})
	s := startSliceWith(t, nil, sliceOptions{dataset: &data, env: map[string]string{"SYNC_INTERVAL": "1s"}})
	waitFor(t, 30*time.Second, "the scheduled sync to write every unit", func() bool {
		return len(s.sts.Objects(oio.KindOrganisationEnhed)) == len(data.Units)
	})
	waitFor(t, 30*time.Second, "nothing pending", func() bool {
		return len(s.pendingOps(t, unitIDs(data), personIDs(data))) == 0
	})
	if n := s.settled(t); n != 0 {
		t.Errorf("the daemon settled %d events; none were published", n)
	}
}

// unit puts an active unit made by hand (another tool's UUID) into STS, under parent.
func (e *syncEnv) unit(id, parent uuid.UUID, name string) {
	v := e.virk()
	rels := []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: e.org}, {Name: oio.RelOverordnet, Virkning: v, Ref: parent}}
	translate.SortRelations(oio.KindOrganisationEnhed, rels)
	e.sts.Put(&oio.Object{Kind: oio.KindOrganisationEnhed, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: e.org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: rels,
	}})
}

// user puts an active user made by hand into STS.
func (e *syncEnv) user(id uuid.UUID, name string) {
	v := e.virk()
	e.sts.Put(&oio.Object{Kind: oio.KindBruger, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret, BrugerRef: e.org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: e.org}},
	}})
}

// TestSyncOrphanSettings: SYNC_ORPHANS=report makes `sync` leave orphans active and list them,
// `--orphans deactivate` overrides it for one run, and SYNC_KEEP_UUIDS keeps a unit made by hand
// with its subtree, and a service user, from every sync; `verify` reports the orphans left
// active as drift (exit 1) and counts the kept ones as kept, not as drift (exit 0 once the
// others are gone).
func TestSyncOrphanSettings(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 23, Units: 8, Persons: 20, Today: time.Now()})
	e := newSyncEnv(t, data)
	if code, out, errOut := e.run(t, "sync"); code != exitOK {
		t.Fatalf("initial sync: exit %d\n%s\n%s", code, out, errOut)
	}
	var root uuid.UUID
	for _, u := range data.Units {
		if u.Parent == nil {
			root = u.UUID
		}
	}
	consultants, team, service, stray := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	e.unit(consultants, root, "Eksterne konsulenter")
	e.unit(team, consultants, "Konsulentteam")
	e.user(service, "svc-print")
	e.user(stray, "ekstra")
	e.env["SYNC_ORPHANS"] = "report"
	e.env["SYNC_KEEP_UUIDS"] = consultants.String() + ", " + service.String()
	active := func(id uuid.UUID) bool {
		for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger} {
			if o, ok := e.sts.Object(k, id); ok {
				return o.StatusOn(time.Now()) == oio.Aktiv
			}
		}
		return false
	}

	// SYNC_ORPHANS=report: nothing is written; the stray user is listed, the rest counted as kept.
	e.sts.ResetCalls()
	code, out, errOut := e.run(t, "sync")
	if code != exitOK {
		t.Fatalf("sync with SYNC_ORPHANS=report: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("sync with SYNC_ORPHANS=report:\n%s", out)
	if n := writes(e.sts.Calls()); n != 0 {
		t.Errorf("sync with SYNC_ORPHANS=report made %d writes: %v", n, e.sts.Calls())
	}
	for _, want := range []string{
		"Deactivations of units and users: 0 (limit 3); orphans: 1 (1 only reported, left active: SYNC_ORPHANS); kept: 2 units and 1 user (SYNC_KEEP_UUIDS)\n",
		"Orphans left active:\nreport     bruger               " + stray.String() + `  "ekstra"  no OS2MO person` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sync output lacks %q", want)
		}
	}
	if strings.Contains(out, consultants.String()) {
		t.Errorf("a sync without --dry-run lists the kept orphans:\n%s", out)
	}

	// verify reports the stray user, not the kept unit, team or service user.
	code, r := e.verifyReport(t)
	if code != exitDrift || findDiff(r, report.Orphan, stray) == nil {
		t.Errorf("verify: exit %d, stray user reported %v; want exit %d and the stray user as an orphan", code, findDiff(r, report.Orphan, stray) != nil, exitDrift)
	}
	for _, id := range []uuid.UUID{consultants, team, service} {
		for _, d := range r.Differences {
			if d.UUID == id {
				t.Errorf("verify reports kept %s: %+v", id, d)
			}
		}
	}
	if r.Summary.KeptUnits != 2 || r.Summary.KeptUsers != 1 {
		t.Errorf("verify counts %d units and %d users kept, want 2 and 1", r.Summary.KeptUnits, r.Summary.KeptUsers)
	}

	// A bad --orphans is a usage error.
	if code, _, errOut := e.run(t, "sync", "--orphans", "ignore"); code != exitConfig || !strings.Contains(errOut, `"ignore"`) || !strings.Contains(errOut, "-orphans") {
		t.Errorf("sync --orphans ignore: exit %d, stderr %s; want exit %d naming the flag and the value", code, errOut, exitConfig)
	}

	// --orphans deactivate overrides SYNC_ORPHANS: the dry run plans the stray user's end and
	// lists the kept orphans.
	code, out, errOut = e.run(t, "sync", "--orphans", "deactivate", "--dry-run")
	if code != exitOK {
		t.Fatalf("sync --orphans deactivate --dry-run: exit %d\n%s", code, errOut)
	}
	t.Logf("sync --orphans deactivate --dry-run:\n%s", out)
	for _, want := range []string{"orphans: 1; kept: 2 units and 1 user (SYNC_KEEP_UUIDS)\n", "orphan        \"ekstra\"",
		"keep       organisationenhed    " + consultants.String() + `  "Eksterne konsulenter"  unknown to OS2MO; kept: in SYNC_KEEP_UUIDS`,
		"keep       organisationenhed    " + team.String() + `  "Konsulentteam"  unknown to OS2MO; kept: below kept unit ` + consultants.String(),
		"keep       bruger               " + service.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	code, out, errOut = e.run(t, "sync", "--orphans", "deactivate")
	if code != exitOK {
		t.Fatalf("sync --orphans deactivate: exit %d\n%s\n%s", code, out, errOut)
	}
	if active(stray) || !active(consultants) || !active(team) || !active(service) {
		t.Errorf("after sync --orphans deactivate: stray %v, consultants %v, team %v, service %v active; want only the kept ones",
			active(stray), active(consultants), active(team), active(service))
	}
	if code, r := e.verifyReport(t); code != exitInSync || r.Summary.KeptUnits != 2 || r.Summary.KeptUsers != 1 {
		t.Errorf("verify after the sync: exit %d, %d differences, %d units and %d users kept; want in sync with 2 and 1 kept",
			code, len(r.Differences), r.Summary.KeptUnits, r.Summary.KeptUsers)
	}
	code, out, _ = e.run(t, "verify")
	if code != exitInSync || !strings.Contains(out, "2 units and 1 user kept (SYNC_KEEP_UUIDS)") {
		t.Errorf("verify table: exit %d\n%s", code, out)
	}
}

// TestSyncAndVerifyStderrIsJSONLines: when stderr is not a terminal, everything sync and verify
// write there is a JSON log record, progress included, with durations as numbers of seconds;
// their reports go to stdout.
func TestSyncAndVerifyStderrIsJSONLines(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 12, Units: 10, Persons: 30, Today: time.Now()})
	e := newSyncEnv(t, data)
	e.env["LOG_LEVEL"] = "info"
	for _, args := range [][]string{{"sync"}, {"verify"}, {"sync", "--dry-run"}} {
		code, out, errOut := e.run(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		if out == "" {
			t.Errorf("%v: no report on stdout", args)
		}
		msgs := map[string]int{}
		for i, line := range strings.Split(strings.TrimRight(errOut, "\n"), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: stderr line %d is not JSON (%v): %q", args, i+1, err, line)
			}
			msg, _ := rec["msg"].(string)
			msgs[msg]++
			for k, v := range rec {
				if k == "took" || k == "interval" || k == "wait" {
					t.Errorf("%v: duration %q without unit: %v", args, k, v)
				}
				if strings.HasSuffix(k, "_seconds") {
					if _, ok := v.(float64); !ok {
						t.Errorf("%v: %s = %v is not a number", args, k, v)
					}
				}
				if v == "00000000-0000-0000-0000-000000000000" {
					t.Errorf("%v: %s is the zero UUID: %s", args, k, line)
				}
			}
		}
		if msgs["progress"] == 0 {
			t.Errorf("%v: no progress record on stderr: %v", args, msgs)
		}
	}
}
