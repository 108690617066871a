package reconcile_test

import (
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestSyncHoldsAFewBatchesAtOnce guards the memory design of the full sync and verify (README:
// Memory): the persons are translated a batch at a time while planned and while converged, and
// the model of STS forgets each person's objects once planned in sync or written. An initial load,
// a sync of a municipality in sync and a verify of 400 persons (40 batches of 10) each hold at most
// the batches the planning reads ahead (and those the sync converges at once) translated, and a
// model of STS far smaller than the municipality's objects. Holding the whole plan again, or every
// object read or written, fails it.
func TestSyncHoldsAFewBatchesAtOnce(t *testing.T) {
	const units, persons, batch = 10, 400, 10
	data := motest.GenerateOrg(motest.GenOptions{Seed: 11, Units: units, Persons: persons, Today: time.Now()})
	e := newEnv(t, data)
	// A batch ahead of the planning, the one planned, and those converging (one per call in flight).
	maxTranslated := (reconcile.FeedBatchesAhead+2)*batch + 8
	count := func(kinds ...oio.Kind) int {
		n := 0
		for _, k := range kinds {
			n += len(e.sts.Objects(k))
		}
		return n
	}
	// run runs f and checks the peaks; the model of STS may hold held objects besides a few
	// batches' Adresse and Person objects.
	run := func(name string, held int, f func(*reconcile.Engine) error) {
		t.Helper()
		eng, peaks := e.engine(t, func(o *reconcile.Options) { o.PersonBatch = batch }).Peaks()
		if err := f(eng); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		translated, most := peaks()
		objects := count(oio.KindAdresse, oio.KindPerson, oio.KindBruger, oio.KindOrganisationEnhed, oio.KindOrganisationFunktion)
		t.Logf("%s: at most %d of %d persons translated at once; at most %d of the %d STS objects held", name, translated, persons, most, objects)
		if translated == 0 || translated > maxTranslated {
			t.Errorf("%s: %d persons translated at once; want 1 to %d (a few batches), not the whole plan", name, translated, maxTranslated)
		}
		if limit := held + 4*maxTranslated; most > limit {
			t.Errorf("%s: the model of STS held %d objects at once; want at most %d (%d and a few batches' addresses and persons)", name, most, limit, held)
		}
	}
	// An initial load keeps only what the units write (and the objects of the persons being
	// written); STS is empty at first.
	run("initial load", units*8, func(eng *reconcile.Engine) error { _, err := eng.Sync(t.Context()); return err })
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) != 0 {
		t.Fatalf("%d operations pending after the initial load", len(ops))
	}
	// A municipality in sync: the hierarchy read (units, users, functions) is kept, packed; the
	// addresses and persons read for planning only while a batch is planned.
	hierarchy := count(oio.KindBruger, oio.KindOrganisationEnhed, oio.KindOrganisationFunktion)
	run("sync in sync", hierarchy, func(eng *reconcile.Engine) error {
		res, err := eng.Sync(t.Context())
		if err == nil && res.Writes != 0 {
			t.Errorf("sync in sync wrote %d times", res.Writes)
		}
		return err
	})
	run("verify", hierarchy, func(eng *reconcile.Engine) error {
		r, err := eng.Verify(t.Context())
		if err == nil && !r.InSync() {
			t.Errorf("verify found %d differences", len(r.Differences))
		}
		return err
	})
}

// TestBusyPersonIsTranslatedOnce: a person bundle whose lease the event path holds when the
// sync reaches it is tried again at the end of its level from the translation it took from the
// store, and its batch's other bundles are unaffected: the initial load converges everything.
func TestBusyPersonIsTranslatedOnce(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 12, Units: 3, Persons: 9, Today: time.Now()})
	e := newEnv(t, data)
	busy := translate.BundleKey(translate.BundlePerson, data.Persons[4].UUID)
	// "The event path" holds the lease when the sync first reaches the bundle, and has let go
	// when the sync tries it again.
	attempts := 0
	eng := e.engine(t, func(o *reconcile.Options) { o.PersonBatch = 2; o.RetryDelay = 10 * time.Millisecond })
	eng.Store = hookStore{e.store, func(key string) {
		if key != busy {
			return
		}
		if attempts++; attempts == 1 {
			if _, err := e.store.AcquireLease(t.Context(), busy, 50*time.Millisecond); err != nil {
				t.Error(err)
			}
		} else {
			time.Sleep(60 * time.Millisecond) // the event path's lease expires
		}
	}}
	res, err := eng.Sync(t.Context())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Busy != 0 || len(res.Failed) != 0 || attempts != 2 {
		t.Errorf("busy %d, failed %v, %d attempts on the held bundle; want it converged when tried again (2 attempts)", res.Busy, res.Failed, attempts)
	}
	if _, ok, _ := e.store.LastSent(t.Context(), busy); !ok {
		t.Errorf("%s has no record after the sync", busy)
	}
	if ops := e.pendingOps(t, translate.Settings{Organisation: org}); len(ops) != 0 {
		t.Fatalf("%d operations pending after the sync, first %s %s", len(ops), ops[0].Op, ops[0].Ref())
	}
}
