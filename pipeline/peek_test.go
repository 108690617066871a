package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// memStore is state.Memory counting lease acquisitions; onAcquire, if set, runs before each
// acquisition (to play another worker writing in between).
type memStore struct {
	*state.Memory
	acquired  atomic.Int32
	onAcquire func()
}

func (s *memStore) AcquireLease(ctx context.Context, key string, ttl time.Duration) (state.Lease, error) {
	if s.onAcquire != nil {
		s.onAcquire()
	}
	s.acquired.Add(1)
	return s.Memory.AcquireLease(ctx, key, ttl)
}

// unitFetcher serves one OS2MO unit whose name can change, counting reads.
type unitFetcher struct {
	mu    sync.Mutex
	unit  model.OrgUnit
	reads atomic.Int32
}

func (f *unitFetcher) rename(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unit.Name = name
}

func (f *unitFetcher) OrgUnit(_ context.Context, id uuid.UUID) (*model.OrgUnit, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.unit.UUID {
		return nil, moclient.ErrNotFound
	}
	u := f.unit
	return &u, nil
}
func (f *unitFetcher) Person(context.Context, uuid.UUID) (*model.Person, error) {
	return nil, moclient.ErrNotFound
}
func (f *unitFetcher) Owners(context.Context, string, uuid.UUID) (moclient.Owners, error) {
	return moclient.Owners{}, moclient.ErrNotFound
}
func (f *unitFetcher) UnitPersons(context.Context, uuid.UUID) ([]uuid.UUID, error) { return nil, nil }
func (f *unitFetcher) Subtree(context.Context, uuid.UUID) ([]uuid.UUID, error)     { return nil, nil }

// memSTS is STS Organisation as a map, changed through translate.Apply; failWrites makes every
// write fail after writing (a write whose answer was lost).
type memSTS struct {
	mu         sync.Mutex
	objects    map[uuid.UUID]*oio.Object
	reads      int
	writes     int
	failWrites bool
}

func (s *memSTS) ReadMany(_ context.Context, _ oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := map[uuid.UUID]*oio.Object{}
	for _, id := range ids {
		if o, ok := s.objects[id]; ok {
			out[id] = o
		}
	}
	return out, nil
}
func (s *memSTS) Search(context.Context, oio.SoegInput) ([]uuid.UUID, error) { return nil, nil }
func (s *memSTS) Apply(_ context.Context, op translate.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if err := translate.ApplyAll(s.objects, []translate.Operation{op}); err != nil {
		return err
	}
	if s.failWrites {
		return errors.New("connection reset by peer")
	}
	return nil
}

func (s *memSTS) name(id uuid.UUID, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.objects[id].Registration.Egenskaber {
		if e.Virkning.Covers(now) {
			return e.Navn
		}
	}
	return ""
}

// TestPeekBeforeLease: an item with a record and a free lease is checked without the lease; the
// translation made before the lease is reused only when no write happened in between; a write
// clears the record first, so a failed write leaves none.
func TestPeekBeforeLease(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	unitID := uuid.MustParse("9f6a2c1e-1b7d-4d7e-8f51-0c5e2a9d7b31")
	key := translate.BundleKey(translate.BundleUnit, unitID)
	tests := []struct {
		name string
		// before runs after the first sync and before the event under test.
		before func(t *testing.T, mo *unitFetcher, sts *memSTS, store *memStore)
		force  bool
		// Wanted: lease acquisitions and OS2MO reads for the event, STS writes, the unit's
		// name in STS afterwards, and whether a record is left.
		wantLeases, wantMOReads, wantWrites int
		wantName                            string
		wantRecord                          bool
		wantErr                             bool
	}{
		{name: "unchanged: no lease, one OS2MO read", wantLeases: 0, wantMOReads: 1, wantName: "Skole", wantRecord: true},
		{name: "forced: lease and a full read", force: true, wantLeases: 1, wantMOReads: 1, wantName: "Skole", wantRecord: true},
		{name: "renamed: the translation made before the lease is reused",
			before:     func(_ *testing.T, mo *unitFetcher, _ *memSTS, _ *memStore) { mo.rename("Skolen") },
			wantLeases: 1, wantMOReads: 1, wantWrites: 1, wantName: "Skolen", wantRecord: true},
		{name: "another worker wrote between the peek and the lease: OS2MO is read again",
			before: func(_ *testing.T, mo *unitFetcher, _ *memSTS, store *memStore) {
				mo.rename("Skolen")
				store.onAcquire = func() {
					// Another worker saw a later rename and recorded it.
					mo.rename("Skolen ved Søen")
					store.onAcquire = nil
					if err := store.RecordSent(context.Background(), key, "r1 written-by-another-worker\n"); err != nil {
						t.Error(err)
					}
				}
			},
			wantLeases: 1, wantMOReads: 2, wantWrites: 1, wantName: "Skolen ved Søen", wantRecord: true},
		{name: "lease held by another worker: busy, OS2MO not read",
			before: func(t *testing.T, _ *unitFetcher, _ *memSTS, store *memStore) {
				if _, err := store.Memory.AcquireLease(context.Background(), key, time.Minute); err != nil {
					t.Fatal(err)
				}
			},
			wantLeases: 1, wantMOReads: 0, wantName: "Skole", wantRecord: true, wantErr: true},
		{name: "a failed write leaves no record",
			before: func(_ *testing.T, mo *unitFetcher, sts *memSTS, _ *memStore) {
				mo.rename("Skolen")
				sts.failWrites = true
			},
			wantLeases: 1, wantMOReads: 1, wantWrites: 1, wantName: "Skolen", wantRecord: false, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			store := &memStore{Memory: state.NewMemory(func() time.Time { return now }, func() string { return fmt.Sprint(n.Add(1)) })}
			mo := &unitFetcher{unit: model.OrgUnit{UUID: unitID, Name: "Skole", UserKey: "SKOLE", Validity: model.Validity{From: now.AddDate(-5, 0, 0)}}}
			sts := &memSTS{objects: map[uuid.UUID]*oio.Object{}}
			p := &Pipeline{MO: mo, STS: sts, Store: store, Settings: translate.Settings{Organisation: org, TopUnit: unitID},
				Now: func() time.Time { return now }, Logger: testLogger(t)}
			ev := consumer.Event{Type: consumer.TypeOrgUnit, UUID: unitID}
			if err := p.Handle(t.Context(), ev); err != nil {
				t.Fatalf("first sync: %v", err)
			}
			if sts.writes == 0 {
				t.Fatal("the first sync wrote nothing")
			}
			if tt.before != nil {
				tt.before(t, mo, sts, store)
			}
			mo.reads.Store(0)
			store.acquired.Store(0)
			sts.writes = 0
			ev.Force = tt.force
			err := p.Handle(t.Context(), ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Handle = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && tt.wantMOReads == 0 && !errors.As(err, new(*converge.BusyError)) {
				t.Errorf("Handle = %v; want a busy error", err)
			}
			if got := store.acquired.Load(); int(got) != tt.wantLeases {
				t.Errorf("lease acquisitions = %d, want %d", got, tt.wantLeases)
			}
			if got := mo.reads.Load(); int(got) != tt.wantMOReads {
				t.Errorf("OS2MO reads = %d, want %d", got, tt.wantMOReads)
			}
			if sts.writes != tt.wantWrites {
				t.Errorf("STS writes = %d, want %d", sts.writes, tt.wantWrites)
			}
			if got := sts.name(unitID, now); got != tt.wantName {
				t.Errorf("name in STS = %q, want %q", got, tt.wantName)
			}
			if _, ok, _ := store.LastSent(t.Context(), key); ok != tt.wantRecord {
				t.Errorf("record present = %v, want %v", ok, tt.wantRecord)
			}
		})
	}
}
