package reconcile_test

import (
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestInitialLoadConvergesAndIsIdempotent: a sync into an empty STS writes every unit and
// person; afterwards nothing is pending, verify finds no difference, and a second sync reads
// but writes nothing.
func TestInitialLoadConvergesAndIsIdempotent(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 5, Units: 15, Persons: 60, Today: time.Now()})
	e := newEnv(t, data)
	res, err := e.engine(t, nil).Sync(t.Context())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	t.Logf("initial load: %d bundles written, %d in sync, %d reads, %d writes, calls %v", res.Converged, res.InSync, res.Reads, res.Writes, e.sts.Calls())
	if res.Writes == 0 || res.Writes != writes(e.sts.Calls()) {
		t.Errorf("result counts %d writes, the fake %d", res.Writes, writes(e.sts.Calls()))
	}
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) != 0 {
		t.Fatalf("%d operations pending after the sync, first %s %s", len(ops), ops[0].Op, ops[0].Ref())
	}
	r, err := e.engine(t, nil).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync() {
		t.Errorf("verify after the sync found %d differences, first %+v", len(r.Differences), r.Differences[0])
	}
	e.sts.ResetCalls()
	res, err = e.engine(t, nil).Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := writes(e.sts.Calls()); n != 0 || res.Converged != 0 {
		t.Errorf("second sync made %d writes (%d bundles); want none. Calls %v", n, res.Converged, e.sts.Calls())
	}
	if res.InSync != res.Plan.Bundles {
		t.Errorf("second sync: %d of %d bundles in sync", res.InSync, res.Plan.Bundles)
	}
}
