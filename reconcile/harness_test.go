package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// org is the municipality's Organisation UUID in the tests.
var org = uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")

// env is a fake OS2MO and a fake STS over HTTP, with the real clients, and an in-memory store.
type env struct {
	mo    *motest.Server
	sts   *ststest.Server
	moc   *moclient.Client
	stsc  *stsclient.Client
	store *state.Memory
	data  motest.Dataset
}

func newEnv(t testing.TB, data motest.Dataset) *env {
	t.Helper()
	return newEnvWith(t, data, ststest.Options{})
}

// newEnvWith is newEnv with options for the fake STS.
func newEnvWith(t testing.TB, data motest.Dataset, stsOpts ststest.Options) *env {
	t.Helper()
	mo := motest.NewServer(motest.Options{})
	if err := mo.Load(data); err != nil {
		t.Fatalf("load dataset: %v", err)
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	sts := ststest.NewServer(stsOpts)
	stsSrv := httptest.NewServer(sts.Handler())
	t.Cleanup(stsSrv.Close)
	e := &env{mo: mo, sts: sts, data: data, store: newMemStore(), moc: moClient(t, moSrv.URL)}
	var err error
	if e.stsc, err = stsclient.New(stsclient.Config{BaseURL: stsSrv.URL}); err != nil {
		t.Fatal(err)
	}
	return e
}

// moClient returns an OS2MO client for a fake at url.
func moClient(t testing.TB, url string) *moclient.Client {
	t.Helper()
	c, err := moclient.New(moclient.Config{URL: url, AuthServer: url + "/auth",
		ClientID: motest.DefaultClientID, ClientSecret: motest.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// otherMO serves data from a second fake OS2MO and returns its client.
func otherMO(t testing.TB, data motest.Dataset) *moclient.Client {
	t.Helper()
	mo := motest.NewServer(motest.Options{})
	if err := mo.Load(data); err != nil {
		t.Fatalf("load dataset: %v", err)
	}
	srv := httptest.NewServer(mo.Handler())
	t.Cleanup(srv.Close)
	return moClient(t, srv.URL)
}

// engine returns an engine over the env with options adjusted by mutate.
func (e *env) engine(t testing.TB, mutate func(*reconcile.Options)) *reconcile.Engine {
	t.Helper()
	o := reconcile.Options{
		Settings:   translate.Settings{Organisation: org},
		CVR:        "29189846",
		RetryDelay: time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mutate != nil {
		mutate(&o)
	}
	return &reconcile.Engine{MO: e.moc, STS: &stsAdapter{c: e.stsc}, Store: e.store, Options: o}
}

// writes counts the importer and ret calls among the fake's calls.
func writes(calls map[string]int) int {
	n := 0
	for k, v := range calls {
		if strings.HasSuffix(k, "/importer") || strings.HasSuffix(k, "/ret") || strings.HasSuffix(k, "/passiver") {
			n += v
		}
	}
	return n
}

// stsAdapter is reconcile.STS over the real client (what cmd wires, without metrics).
type stsAdapter struct{ c *stsclient.Client }

func (a *stsAdapter) HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error) {
	return a.c.SearchHierarchy(ctx, &oio.HierarchyInput{First: first, Max: max})
}

func (a *stsAdapter) ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	objs, err := a.c.List(ctx, kind, ids)
	if err != nil {
		return nil, err
	}
	for id, o := range objs {
		if !o.Exists() {
			delete(objs, id)
		}
	}
	return objs, nil
}

func (a *stsAdapter) Apply(ctx context.Context, op translate.Operation) error {
	switch op.Op {
	case translate.OpImport:
		return a.c.Import(ctx, &op.Object)
	case translate.OpUpdate:
		return a.c.Update(ctx, &op.Object)
	}
	return fmt.Errorf("unknown operation %q", op.Op)
}

// newMemStore returns the in-memory leases and records of these tests (state.Memory implements
// converge.Store as state.Redis does).
func newMemStore() *state.Memory {
	n := 0
	return state.NewMemory(time.Now, func() string { n++; return fmt.Sprint(n) })
}

// pendingOps returns the operations still needed to bring STS in line with OS2MO for every unit
// and person of the dataset, planned bundle by bundle against all of STS (as a test oracle
// independent of the engine's indexes).
func (e *env) pendingOps(t testing.TB, s translate.Settings) []translate.Operation {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	state := map[uuid.UUID]*oio.Object{}
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindOrganisationFunktion, oio.KindBruger, oio.KindPerson, oio.KindAdresse} {
		for _, o := range e.sts.Objects(k) {
			state[o.UUID] = o
		}
	}
	var ops []translate.Operation
	for _, id := range e.mo.OrgUnitIDs() {
		u, err := e.moc.OrgUnit(ctx, id)
		switch {
		case errors.Is(err, moclient.ErrNotCurrent):
			ops = append(ops, translate.PlanAll(s, translate.UnitGone(s, id), state, now)...)
		case err != nil:
			t.Fatalf("unit %s: %v", id, err)
		default:
			ops = append(ops, translate.PlanAll(s, translate.UnitDesired(s, u, now), state, now)...)
		}
	}
	for _, id := range e.mo.PersonIDs() {
		p, err := e.moc.Person(ctx, id)
		switch {
		case errors.Is(err, moclient.ErrNotCurrent):
			ops = append(ops, translate.PlanAll(s, translate.PersonGone(s, id), state, now)...)
		case err != nil:
			t.Fatalf("person %s: %v", id, err)
		default:
			ops = append(ops, translate.PlanAll(s, translate.PersonDesired(s, p, now), state, now)...)
		}
	}
	return ops
}
