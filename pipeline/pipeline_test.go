package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// fakeLease counts renewals; after lostAfter successful ones (if positive) it reports the lease
// lost.
type fakeLease struct {
	renewals  atomic.Int32
	released  atomic.Bool
	lostAfter int32
}

func (l *fakeLease) Key() string { return "" }

func (l *fakeLease) Renew(context.Context, time.Duration) error {
	n := l.renewals.Add(1)
	if l.lostAfter > 0 && n > l.lostAfter {
		return state.ErrLeaseLost
	}
	return nil
}

func (l *fakeLease) Release(context.Context) error {
	l.released.Store(true)
	return nil
}

// fakeStore hands out one lease and keeps no hashes.
type fakeStore struct{ lease *fakeLease }

func (s fakeStore) AcquireLease(context.Context, string, time.Duration) (state.Lease, error) {
	return s.lease, nil
}
func (fakeStore) Peek(context.Context, string) (string, bool, bool, error) {
	return "", false, false, nil
}
func (fakeStore) LastSent(context.Context, string) (string, bool, error) { return "", false, nil }
func (fakeStore) RecordSent(context.Context, string, string) error       { return nil }
func (fakeStore) ForgetSent(context.Context, string) error               { return nil }

// slowFetcher takes `took` (or until ctx ends) and then reports the unit unknown.
type slowFetcher struct{ took time.Duration }

func (f slowFetcher) OrgUnit(ctx context.Context, _ uuid.UUID) (*model.OrgUnit, error) {
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-time.After(f.took):
		return nil, moclient.ErrNotFound
	}
}

func (f slowFetcher) Person(context.Context, uuid.UUID) (*model.Person, error) {
	return nil, moclient.ErrNotFound
}
func (f slowFetcher) Owners(context.Context, string, uuid.UUID) (moclient.Owners, error) {
	return moclient.Owners{}, moclient.ErrNotFound
}
func (f slowFetcher) UnitPersons(context.Context, uuid.UUID) ([]uuid.UUID, error) { return nil, nil }
func (f slowFetcher) Subtree(context.Context, uuid.UUID) ([]uuid.UUID, error)     { return nil, nil }

// noSTS fails the test if called.
type noSTS struct{ t *testing.T }

func (s noSTS) ReadMany(context.Context, oio.Kind, []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	s.t.Error("unexpected STS read")
	return nil, nil
}
func (s noSTS) Search(context.Context, oio.SoegInput) ([]uuid.UUID, error) {
	s.t.Error("unexpected STS search")
	return nil, nil
}
func (s noSTS) Apply(context.Context, translate.Operation) error {
	s.t.Error("unexpected STS write")
	return nil
}

// TestPipelineRenewsLease: long work renews the lease every ttl/3; a lost lease cancels the work
// with a retryable error and the lease is not released (it is not ours).
func TestPipelineRenewsLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		lostAfter int32
		wantErr   bool
	}{
		{"renewed while working", 0, false},
		{"lost mid-work", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lease := &fakeLease{lostAfter: tt.lostAfter}
			p := &Pipeline{MO: slowFetcher{took: 300 * time.Millisecond}, STS: noSTS{t}, Store: fakeStore{lease},
				LeaseTTL: 60 * time.Millisecond, Logger: testLogger(t)}
			start := time.Now()
			err := p.Handle(context.Background(), consumer.Event{Type: consumer.TypeOrgUnit, UUID: uuid.New()})
			took := time.Since(start)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Handle = %v", err)
				}
				if n := lease.renewals.Load(); n < 3 {
					t.Errorf("%d renewals during 300ms with a 60ms lease; want ≥ 3", n)
				}
				if !lease.released.Load() {
					t.Error("lease not released")
				}
				return
			}
			var lost *converge.LeaseLostError
			if !errors.Is(err, state.ErrLeaseLost) || !errors.As(err, &lost) || !lost.Retryable() {
				t.Fatalf("Handle = %v; want a retryable ErrLeaseLost", err)
			}
			if took > 200*time.Millisecond {
				t.Errorf("work ran %s after the lease was lost; want it cancelled", took)
			}
			if lease.released.Load() {
				t.Error("a lost lease was released")
			}
		})
	}
}

// testLogger logs to the test's output at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
