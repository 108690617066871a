package reconcile

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// personStore keeps the OS2MO persons a sync or verification read, compressed, from the read
// until their bundles are planned and (by a sync) written, so that neither the persons nor their
// translations are held all at once: a bundle's desired objects exist only while it is planned
// or converged (see Engine.plan). A batch is the persons of one OS2MO read (moclient.MaxBatch),
// gob-encoded and deflated; the persons are read in the order the bundles are planned, so the
// planning decodes each batch once.
//
// The store holds CPR numbers (compressed, in memory only); it is never written anywhere.
type personStore struct {
	mu      sync.Mutex
	batches [][]byte
	// open holds the batches being converged, decoded, until each of their pending bundles took
	// its person.
	open map[int]*openBatch
	// pending counts, per batch, the bundles that will take their person while converging.
	pending map[int]int
}

type openBatch struct {
	persons map[uuid.UUID]*model.Person
	left    int
}

func newPersonStore(batches int) *personStore {
	return &personStore{batches: make([][]byte, batches), open: map[int]*openBatch{}, pending: map[int]int{}}
}

// put stores batch k (the persons OS2MO returned for it, in effect now).
func (s *personStore) put(k int, persons []*model.Person) error {
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		return fmt.Errorf("compress OS2MO persons: %w", err)
	}
	if err := gob.NewEncoder(zw).Encode(persons); err != nil {
		return fmt.Errorf("encode OS2MO persons: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress OS2MO persons: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches[k] = bytes.Clone(buf.Bytes())
	return nil
}

// batch decodes batch k.
func (s *personStore) batch(k int) (map[uuid.UUID]*model.Person, error) {
	s.mu.Lock()
	data := s.batches[k]
	s.mu.Unlock()
	var persons []*model.Person
	if err := gob.NewDecoder(flate.NewReader(bytes.NewReader(data))).Decode(&persons); err != nil {
		return nil, fmt.Errorf("decode OS2MO persons (batch %d): %w", k, err)
	}
	out := make(map[uuid.UUID]*model.Person, len(persons))
	for _, p := range persons {
		out[p.UUID] = p
	}
	return out, nil
}

// expect says that n bundles of batch k will take their person (take) while converging.
func (s *personStore) expect(k, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[k] += n
}

// take returns the person id of batch k for a bundle converging, decoding the batch the first
// time one of its bundles asks, and forgetting it (and the batch) when the last expected one has.
func (s *personStore) take(k int, id uuid.UUID) (*model.Person, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ob := s.open[k]
	if ob == nil {
		s.mu.Unlock()
		persons, err := s.batch(k)
		s.mu.Lock()
		if err != nil {
			return nil, err
		}
		if ob = s.open[k]; ob == nil {
			ob = &openBatch{persons: persons, left: s.pending[k]}
			s.open[k] = ob
		}
	}
	p := ob.persons[id]
	if ob.left--; ob.left <= 0 {
		delete(s.open, k)
		s.batches[k] = nil
	}
	return p, nil
}

// peaks records the most deferred bundles translated and STS objects held at once by a sync or
// verification, for the test that guards the memory design.
type peaks struct {
	translated, maxTranslated, maxObjects atomic.Int64
}

// translated counts n deferred bundles translated (negative: forgotten) and notes the peaks.
func (s *snapshot) translated(n int) {
	if s.peaks == nil {
		return
	}
	now := s.peaks.translated.Add(int64(n))
	for old := s.peaks.maxTranslated.Load(); now > old && !s.peaks.maxTranslated.CompareAndSwap(old, now); old = s.peaks.maxTranslated.Load() {
	}
	s.sts.mu.RLock()
	objects := int64(len(s.sts.objects))
	s.sts.mu.RUnlock()
	for old := s.peaks.maxObjects.Load(); objects > old && !s.peaks.maxObjects.CompareAndSwap(old, objects); old = s.peaks.maxObjects.Load() {
	}
}

// batchFeed translates the deferred person bundles a batch at a time, in the order they are
// planned, and reads the STS objects they name that the snapshot does not hold, a few batches
// ahead of the planning (Engine.feedBatches).
type batchFeed struct {
	batches chan []*bundle
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
}

// feedBatchesAhead is how many batches are translated and read ahead of the planning: enough
// for the reads of the next batches to overlap with planning this one.
const feedBatchesAhead = 4

// feedBatches starts translating the deferred bundles of bundles (sorted), batch by batch.
func (e *Engine) feedBatches(ctx context.Context, o Options, snap *snapshot, bundles []*bundle, now time.Time) *batchFeed {
	var groups [][]*bundle
	for _, b := range bundles {
		if !b.deferred {
			continue
		}
		if n := len(groups); n == 0 || groups[n-1][0].batch != b.batch {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], b)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &batchFeed{batches: make(chan []*bundle, feedBatchesAhead), cancel: cancel, done: make(chan struct{})}
	quiet := o
	quiet.Progress = func(Progress) {}
	go func() {
		defer close(f.done)
		defer close(f.batches)
		for _, group := range groups {
			persons, err := snap.store.batch(group[0].batch)
			if err != nil {
				f.err = err
				return
			}
			snap.translated(len(group))
			for _, b := range group {
				b.d = personBundle(o.Settings, b.id, persons[b.id], now).d
			}
			if err := e.readObjects(ctx, quiet, snap, snap.toRead(group)); err != nil {
				f.err = err
				return
			}
			snap.translated(0)
			select {
			case f.batches <- group:
			case <-ctx.Done():
				f.err = ctx.Err()
				return
			}
		}
	}()
	return f
}

// next returns the next batch's bundles, translated, with the objects they name read.
func (f *batchFeed) next(ctx context.Context) ([]*bundle, error) {
	select {
	case group, ok := <-f.batches:
		if ok {
			return group, nil
		}
		<-f.done
		if f.err != nil {
			return nil, f.err
		}
		return nil, errors.New("plan: no more persons batches") // cannot happen: one per batch
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop stops the feed and waits for it; it returns the feed's error, if any. It may be called
// more than once.
func (f *batchFeed) stop() error {
	f.cancel()
	for range f.batches {
	}
	<-f.done
	if errors.Is(f.err, context.Canceled) {
		return nil
	}
	return f.err
}

// endingRefs returns the units and users that bundles converged after the persons (deactivations)
// govern: a person's object linked to one of them is looked up by that bundle.
func endingRefs(bundles []*bundle) map[uuid.UUID]bool {
	out := map[uuid.UUID]bool{}
	for _, b := range bundles {
		if b.phase != phaseDeactivations {
			continue
		}
		for _, id := range b.desired().Units {
			out[id] = true
		}
		for _, id := range b.desired().Users {
			out[id] = true
		}
	}
	return out
}

// linkedTo reports whether o has a relation to one of refs.
func linkedTo(o *oio.Object, refs map[uuid.UUID]bool) bool {
	for _, r := range o.Registration.Relationer {
		if refs[r.Ref] {
			return true
		}
	}
	return false
}

// release forgets what a deferred bundle no longer needs once planned: its desired objects
// (translated again when it converges), and, when it is settled, the objects it names, which no
// other bundle looks up (each person's objects are its own), but those linked to a unit or user
// a later bundle ends and, for a verification's report (objects), the users it names. A bundle
// the sync converges is expected by the store.
func (s *snapshot) release(b *bundle, ending map[uuid.UUID]bool, objects bool) {
	if b.settled {
		s.forget(b, ending, objects)
	}
	switch {
	case objects && !b.settled:
		// Kept for the report.
		return
	case !objects && !b.settled:
		s.store.expect(b.batch, 1)
	}
	b.d = nil
	s.translated(-1)
}

// toRead returns the STS objects bundles' desired objects name that the snapshot must read:
// Adresse and Person objects are not in the hierarchy, and a desired object of another kind that
// it did not list may still exist (passivated, inactive, or another municipality's), which
// decides between importer and ret. An object to deactivate that it did not list needs nothing.
func (s *snapshot) toRead(bundles []*bundle) map[oio.Kind][]uuid.UUID {
	want := map[oio.Kind][]uuid.UUID{}
	for _, b := range bundles {
		for _, obj := range b.desired().Objects {
			if obj.Kind == oio.KindAdresse || obj.Kind == oio.KindPerson || s.sts.get(obj.UUID) == nil {
				want[obj.Kind] = append(want[obj.Kind], obj.UUID)
			}
		}
	}
	return want
}

// forget removes a deferred bundle's desired objects from the model of STS once it is planned
// in sync or written: no other bundle looks them up (each person's objects are its own), but
// those linked to a unit or user a later bundle ends stay, and so do its users when keepUsers
// (a verification's report names them).
func (s *snapshot) forget(b *bundle, ending map[uuid.UUID]bool, keepUsers bool) {
	for i := range b.desired().Objects {
		obj := &b.desired().Objects[i]
		if keepUsers && obj.Kind == oio.KindBruger {
			continue
		}
		if cur := s.sts.get(obj.UUID); cur != nil && !linkedTo(cur, ending) && !linkedTo(obj, ending) {
			s.sts.remove(obj.UUID)
		}
	}
}
