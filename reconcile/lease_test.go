package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// losingStore is state.Memory whose leases of the person bundles are lost at their first renewal,
// as when Redis restarts empty while a bundle is written.
type losingStore struct{ *state.Memory }

func (s losingStore) AcquireLease(ctx context.Context, key string, ttl time.Duration) (state.Lease, error) {
	l, err := s.Memory.AcquireLease(ctx, key, ttl)
	if err != nil || !strings.HasPrefix(key, translate.BundlePerson+":") {
		return l, err
	}
	return losingLease{l}, nil
}

type losingLease struct{ state.Lease }

func (losingLease) Renew(context.Context, time.Duration) error { return state.ErrLeaseLost }

// TestSyncStopsABundleWhoseLeaseIsLost: the full sync, through converge's shared lease code, stops
// writing a bundle whose lease is lost (its writes would interleave with another writer's), counts
// it as failed with an error matching state.ErrLeaseLost, keeps no record for it, and converges
// the other bundles; a later sync with its leases intact converges it.
func TestSyncStopsABundleWhoseLeaseIsLost(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 21, Units: 4, Persons: 6, Today: time.Now()})
	// Slow STS calls and a short lease: every person bundle's writes (three or more, 60 ms each)
	// outlast a renewal period (50 ms), while the units' leases, renewed for real, have room
	// for a busy machine's delays.
	e := newEnvWith(t, data, ststest.Options{Latency: 60 * time.Millisecond})
	eng := e.engine(t, func(o *reconcile.Options) { o.LeaseTTL = 150 * time.Millisecond; o.Attempts = 1 })
	eng.Store = losingStore{e.store}
	res, err := eng.Sync(t.Context())
	if err == nil {
		t.Fatal("Sync succeeded although every person bundle lost its lease")
	}
	persons := 0
	for _, f := range res.Failed {
		if !strings.HasPrefix(f.Bundle, translate.BundlePerson+":") {
			t.Errorf("bundle %s failed: %v; only person bundles lose their lease", f.Bundle, f.Err)
			continue
		}
		persons++
		var lost *converge.LeaseLostError
		if !errors.Is(f.Err, state.ErrLeaseLost) || !errors.As(f.Err, &lost) {
			t.Errorf("bundle %s failed with %v; want a LeaseLostError", f.Bundle, f.Err)
		}
		if _, ok, _ := e.store.LastSent(t.Context(), f.Bundle); ok {
			t.Errorf("bundle %s has a record although its writes were stopped", f.Bundle)
		}
	}
	if persons == 0 || res.Converged == 0 {
		t.Fatalf("%d person bundles failed, %d bundles converged; want the persons failed and the units converged", persons, res.Converged)
	}

	eng.Store = e.store
	eng.Options.LeaseTTL = time.Minute
	if _, err := eng.Sync(t.Context()); err != nil {
		t.Fatalf("second sync with working leases: %v", err)
	}
	if ops := e.pendingOps(t, eng.Options.Settings); len(ops) != 0 {
		t.Errorf("%d operations still pending after the second sync", len(ops))
	}
}
