package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// loaded returns an env whose STS holds the dataset, written by a sync.
func loaded(t *testing.T, data motest.Dataset) *env {
	t.Helper()
	e := newEnv(t, data)
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatalf("initial sync: %v", err)
	}
	e.sts.ResetCalls()
	return e
}

// extraUser puts an active user no OS2MO person accounts for into STS.
func extraUser(e *env) uuid.UUID {
	id := uuid.New()
	v := oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	e.sts.Put(&oio.Object{Kind: oio.KindBruger, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "ekstra", Navn: "ekstra"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: org}},
	}})
	return id
}

func intPtr(n int) *int { return &n }

// TestGuards: the sync refuses, before any write, to deactivate when OS2MO returned no units or
// persons, or more than the limit; --max-deactivations replaces the share.
func TestGuards(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 3, Units: 12, Persons: 40, Today: time.Now()})
	small := motest.GenerateOrg(motest.GenOptions{Seed: 99, Units: 3, Persons: 5, Today: time.Now()})
	unitsOnly := motest.Dataset{Units: data.Units}
	tests := []struct {
		name       string
		mo         *motest.Dataset // nil: the loaded dataset
		extraUsers int
		opts       func(*reconcile.Options)
		wantErr    string // "" = the sync runs
	}{
		{name: "in sync, nothing to deactivate"},
		{name: "OS2MO returned nothing", mo: &motest.Dataset{}, wantErr: "OS2MO returned no units"},
		{name: "OS2MO returned no persons", mo: &unitsOnly, wantErr: "OS2MO returned no persons"},
		{name: "OS2MO returned far fewer objects", mo: &small, wantErr: "more than the limit"},
		{name: "far fewer, explicitly allowed", mo: &small, opts: func(o *reconcile.Options) { o.MaxDeactivations = intPtr(1000) }},
		{name: "one orphan within 10 %", extraUsers: 1},
		{name: "more orphans than 10 %", extraUsers: 6, wantErr: "more than the limit of 5 (10 % of the 58 active"},
		{name: "a higher share allows them", extraUsers: 6, opts: func(o *reconcile.Options) { o.MaxDeactivationShare = 0.5 }},
		{name: "--max-deactivations 0 forbids one", extraUsers: 1, opts: func(o *reconcile.Options) { o.MaxDeactivations = intPtr(0) }, wantErr: "limit of 0 (--max-deactivations)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loaded(t, data)
			for range tt.extraUsers {
				extraUser(e)
			}
			eng := e.engine(t, tt.opts)
			if tt.mo != nil {
				eng.MO = otherMO(t, *tt.mo)
			}
			res, err := eng.Sync(t.Context())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("sync refused: %v", err)
			case tt.wantErr != "" && (!errors.Is(err, reconcile.ErrRefused) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v; want ErrRefused saying %q", err, tt.wantErr)
			case tt.wantErr != "" && writes(e.sts.Calls()) != 0:
				t.Errorf("a refused sync wrote: %v", e.sts.Calls())
			case tt.wantErr != "" && res.Plan == nil:
				t.Errorf("a refused sync returns no plan")
			case tt.wantErr == "" && tt.extraUsers > 0 && res.Plan.Deactivations != tt.extraUsers:
				t.Errorf("deactivations = %d, want %d", res.Plan.Deactivations, tt.extraUsers)
			}
		})
	}
}

// hookStore calls onAcquire before a lease is taken.
type hookStore struct {
	*state.Memory
	onAcquire func(key string)
}

func (h hookStore) AcquireLease(ctx context.Context, key string, ttl time.Duration) (state.Lease, error) {
	h.onAcquire(key)
	return h.Memory.AcquireLease(ctx, key, ttl)
}

// TestEventPathKeepsItsBundles: a bundle whose lease the event path holds, or that the event
// path wrote after the sync read its record, is left alone; the rest converge, and a later sync
// converges those too.
func TestEventPathKeepsItsBundles(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 4, Units: 8, Persons: 10, Today: time.Now()})
	e := loaded(t, data)
	rename := func(i int) (uuid.UUID, string) {
		u, _ := e.mo.OrgUnit(data.Units[i].UUID)
		u.Name = "Nyt navn " + u.UserKey
		if err := e.mo.UpdateOrgUnit(u); err != nil {
			t.Fatal(err)
		}
		return u.UUID, u.Name
	}
	busy, _ := rename(1)
	changed, _ := rename(2)
	free, freeName := rename(3)
	held, err := e.store.AcquireLease(t.Context(), translate.BundleKey(translate.BundleUnit, busy), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	changedKey := translate.BundleKey(translate.BundleUnit, changed)
	eng := e.engine(t, nil)
	eng.Store = hookStore{e.store, func(key string) {
		if key == changedKey { // the event path wrote it just now
			_ = e.store.RecordSent(t.Context(), key, "r1 written-by-the-event-path\n")
		}
	}}
	res, err := eng.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Busy != 1 || res.Changed != 1 || res.Converged != 1 {
		t.Errorf("busy %d, changed %d, converged %d; want 1 each", res.Busy, res.Changed, res.Converged)
	}
	name := func(id uuid.UUID) string {
		o, _ := e.sts.Object(oio.KindOrganisationEnhed, id)
		return o.Registration.Egenskaber[0].Navn
	}
	if name(free) != freeName || strings.HasPrefix(name(busy), "Nyt navn") || strings.HasPrefix(name(changed), "Nyt navn") {
		t.Errorf("names after the sync: free %q, busy %q, changed %q; want only the free one renamed", name(free), name(busy), name(changed))
	}
	if err := held.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if res, err = e.engine(t, nil).Sync(t.Context()); err != nil || res.Converged != 2 {
		t.Errorf("the next sync converged %d bundles (err %v), want the 2 left", res.Converged, err)
	}
}

// TestTopUnitIsNeverDeactivated: the top unit stays active in STS even when OS2MO no longer has
// it in effect (which makes every unit below it irrelevant, so they are all deactivated, with an
// explicit limit); a terminated leaf is reported as an orphan.
func TestTopUnitIsNeverDeactivated(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 6, Units: 10, Persons: 0, Today: time.Now()})
	top := data.Units[0].UUID
	if data.Units[0].Parent != nil {
		t.Fatal("the first generated unit is not the root")
	}
	e := newEnv(t, data)
	opts := func(o *reconcile.Options) { o.Settings.TopUnit = top }
	if _, err := e.engine(t, opts).Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var leaf uuid.UUID
	for _, u := range data.Units {
		if u.Parent != nil && !hasChild(data, u.UUID) {
			leaf = u.UUID
		}
	}
	for _, id := range []uuid.UUID{top, leaf} {
		if err := e.mo.TerminateOrgUnit(id, time.Now().Add(-48*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.engine(t, opts).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var orphans []uuid.UUID
	for _, d := range r.Differences {
		if d.Kind == report.Orphan && d.ObjectKind == oio.KindOrganisationEnhed {
			orphans = append(orphans, d.UUID)
			if d.MO != "not in effect in OS2MO" {
				t.Errorf("orphan %s: reason %q", d.UUID, d.MO)
			}
		}
	}
	if len(orphans) != 1 || orphans[0] != leaf {
		t.Errorf("orphan units %v, want only the terminated leaf %s", orphans, leaf)
	}
	if _, err := e.engine(t, opts).Sync(t.Context()); !errors.Is(err, reconcile.ErrRefused) {
		t.Fatalf("sync deactivating everything: err %v, want the guard to refuse", err)
	}
	if _, err := e.engine(t, func(o *reconcile.Options) { opts(o); o.MaxDeactivations = intPtr(100) }).Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uuid.UUID]oio.GyldighedStatus{top: oio.Aktiv, leaf: oio.Inaktiv} {
		o, _ := e.sts.Object(oio.KindOrganisationEnhed, id)
		if got := o.StatusOn(time.Now()); got != want {
			t.Errorf("unit %s is %s, want %s", id, got, want)
		}
	}
}

func hasChild(d motest.Dataset, id uuid.UUID) bool {
	for _, u := range d.Units {
		if u.Parent != nil && *u.Parent == id {
			return true
		}
	}
	return false
}

// TestFailedWrites: a transient failure is retried; a permanent one fails its bundle only, the
// sync reports it, and the next sync converges it.
func TestFailedWrites(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 7, Units: 6, Persons: 8, Today: time.Now()})
	e := newEnv(t, data)
	e.sts.FailNext(ststest.Failure{Kind: oio.KindBruger, Operation: oio.OpImporter, HTTPStatus: 503, Times: 2})
	e.sts.FailNext(ststest.Failure{Kind: oio.KindOrganisationFunktion, Operation: oio.OpImporter, StatusKode: 40})
	res, err := e.engine(t, nil).Sync(t.Context())
	if err == nil || len(res.Failed) != 1 {
		t.Fatalf("sync: err %v, %d failed bundles; want one failed bundle", err, len(res.Failed))
	}
	var be reconcile.BundleError
	if !errors.As(err, &be) || !strings.Contains(be.Error(), "importer organisationfunktion") {
		t.Errorf("error %v does not name the failed write", err)
	}
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) == 0 {
		t.Errorf("nothing pending after a failed bundle")
	}
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) != 0 {
		t.Errorf("%d operations pending after the second sync", len(ops))
	}
}

// TestFailedWriteLeavesNoRecord: the record of a bundle is cleared before it is written, so a
// write that fails leaves none (the event path then reads the whole bundle instead of trusting
// a record of the state before), and the next sync writes it again.
func TestFailedWriteLeavesNoRecord(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 7, Units: 6, Persons: 0, Today: time.Now()})
	e := newEnv(t, data)
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	unit := e.mo.OrgUnitIDs()[2]
	key := translate.BundleKey(translate.BundleUnit, unit)
	if _, ok, _ := e.store.LastSent(t.Context(), key); !ok {
		t.Fatalf("no record of %s after the first sync", key)
	}
	if _, err := e.mo.RenameUnit(t.Context(), unit, "Omdøbt", translate.Day(time.Now())); err != nil {
		t.Fatal(err)
	}
	e.sts.FailNext(ststest.Failure{Kind: oio.KindOrganisationEnhed, Operation: oio.OpRet, StatusKode: 40})
	if res, err := e.engine(t, nil).Sync(t.Context()); err == nil || len(res.Failed) != 1 {
		t.Fatalf("sync: err %v, %d failed bundles; want the renamed unit's bundle failed", err, len(res.Failed))
	}
	if v, ok, _ := e.store.LastSent(t.Context(), key); ok {
		t.Errorf("a failed write left the record %q", v)
	}
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if _, ok, _ := e.store.LastSent(t.Context(), key); !ok {
		t.Error("no record after the second sync converged the bundle")
	}
}

// limitSTS records the most calls in flight at once.
type limitSTS struct {
	reconcile.STS
	mu            sync.Mutex
	now, maxSeen  int
	writesStarted atomic.Int64
}

func (l *limitSTS) enter() func() {
	l.mu.Lock()
	l.now++
	l.maxSeen = max(l.maxSeen, l.now)
	l.mu.Unlock()
	time.Sleep(time.Millisecond) // give others a chance to overlap
	return func() { l.mu.Lock(); l.now--; l.mu.Unlock() }
}

func (l *limitSTS) HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error) {
	defer l.enter()()
	return l.STS.HierarchyPage(ctx, first, max)
}

func (l *limitSTS) ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	defer l.enter()()
	return l.STS.ReadMany(ctx, kind, ids)
}

func (l *limitSTS) Apply(ctx context.Context, op translate.Operation) error {
	defer l.enter()()
	l.writesStarted.Add(1)
	return l.STS.Apply(ctx, op)
}

// TestConcurrencyIsBounded: never more than Options.Concurrency STS calls at once, and no two
// writes to one object overlap (the fake's detector).
func TestConcurrencyIsBounded(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 8, Units: 20, Persons: 60, Today: time.Now()})
	e := newEnvWith(t, data, ststest.Options{WriteHold: time.Millisecond})
	for _, n := range []int{1, 3} {
		l := &limitSTS{STS: &stsAdapter{c: e.stsc}}
		eng := e.engine(t, func(o *reconcile.Options) { o.Concurrency = n; o.MaxDeactivationShare = 1 })
		eng.STS = l
		extraUser(e)
		if _, err := eng.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if l.maxSeen > n || l.writesStarted.Load() == 0 {
			t.Errorf("concurrency %d: %d calls at once (%d writes)", n, l.maxSeen, l.writesStarted.Load())
		}
	}
	if n := e.sts.ConcurrentWritesSeen(); n != 0 {
		t.Errorf("the fake saw %d overlapping writes to one object", n)
	}
}

// TestOtherOrganisationsAreLeftAlone: a unit and a user of another municipality's Organisation
// (which a hierarchy read without the token's scope may list) are not orphans of this one.
func TestOtherOrganisationsAreLeftAlone(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 10, Units: 5, Persons: 5, Today: time.Now()})
	e := loaded(t, data)
	other := uuid.New()
	v := oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: other, AktoerType: oio.AktoerTypeOrganisation}
	for _, kind := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger} {
		e.sts.Put(&oio.Object{Kind: kind, UUID: uuid.New(), Registration: oio.Registration{
			Tidspunkt: time.Now(), Livscyklus: oio.LivscyklusImporteret,
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "nabo", Navn: "Nabokommunen"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
			Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: other}},
		}})
	}
	r, err := e.engine(t, nil).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync() {
		t.Errorf("another municipality's objects are reported: %+v", r.Differences)
	}
}

// TestDryRunWritesNothing: a dry run plans, reports the adoption and writes nothing.
func TestDryRunWritesNothing(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 9, Units: 6, Persons: 10, Today: time.Now()})
	e := newEnv(t, data)
	res, err := e.engine(t, func(o *reconcile.Options) { o.DryRun = true }).Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Ops) == 0 || writes(e.sts.Calls()) != 0 || res.Converged != 0 {
		t.Errorf("dry run: %d planned, %d written, calls %v", len(res.Plan.Ops), res.Converged, e.sts.Calls())
	}
	var out strings.Builder
	if err := res.Plan.WriteOps(&out, false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != len(res.Plan.Ops) {
		t.Errorf("WriteOps wrote %d lines for %d writes", n, len(res.Plan.Ops))
	}
}
