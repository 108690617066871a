package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// storeConcurrency bounds the last-sent reads in flight at once (Redis, cheap).
const storeConcurrency = 32

// snapshot is what OS2MO and STS held when the sync or verification began.
type snapshot struct {
	// unitIDs and personIDs are what OS2MO listed as in effect now, in listing order.
	unitIDs, personIDs []uuid.UUID
	// units and persons are their current states; nil when one was no longer in effect when
	// read (terminated between the listing and the read), absent when OS2MO forgot it.
	units   map[uuid.UUID]*moclient.OrgUnit
	persons map[uuid.UUID]*moclient.Person
	// lastSent holds the last-sent record of every bundle that had one when the sync began.
	lastSent map[string]string
	// sts is what STS holds.
	sts *stsState
	// hierarchy lists the units, users and functions of the municipality's hierarchy (those that
	// belong to its Organisation; a service that ignores the token's CVR may list others).
	hierarchy map[oio.Kind][]uuid.UUID
	// read counts the STS objects read.
	read int
	// protected are the kept orphans and the functions linked to them (Options.Keep): no bundle
	// ends or changes them other than as desired.
	protected map[uuid.UUID]bool
}

// stsState is what STS holds, as read and then as written by the sync: the objects by UUID and
// the indexes that stand in for the event path's searches (soeg by relation). It is safe for
// concurrent use; stored objects are never modified, only replaced.
type stsState struct {
	mu            sync.RWMutex
	objects       map[uuid.UUID]*oio.Object
	usersByPerson map[uuid.UUID][]uuid.UUID // TilknyttedePersoner → Bruger
	funcsByUser   map[uuid.UUID][]uuid.UUID // TilknyttedeBrugere → OrganisationFunktion
	funcsByUnit   map[uuid.UUID][]uuid.UUID // TilknyttedeEnheder → OrganisationFunktion
}

func newSTSState() *stsState {
	return &stsState{objects: map[uuid.UUID]*oio.Object{}, usersByPerson: map[uuid.UUID][]uuid.UUID{},
		funcsByUser: map[uuid.UUID][]uuid.UUID{}, funcsByUnit: map[uuid.UUID][]uuid.UUID{}}
}

// clone returns a copy that can be changed (apply, put, remove) without changing s.
func (s *stsState) clone() *stsState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &stsState{objects: maps.Clone(s.objects)}
	for _, idx := range []*map[uuid.UUID][]uuid.UUID{&s.usersByPerson, &s.funcsByUser, &s.funcsByUnit} {
		for k, v := range *idx {
			(*idx)[k] = slices.Clip(v) // an append to either copy reallocates
		}
	}
	c.usersByPerson, c.funcsByUser, c.funcsByUnit = maps.Clone(s.usersByPerson), maps.Clone(s.funcsByUser), maps.Clone(s.funcsByUnit)
	return c
}

// put stores o (replacing what was stored under its UUID) and indexes its relations. An index
// entry may outlive the relation; lookups check the relation again.
func (s *stsState) put(o *oio.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(o)
}

func (s *stsState) putLocked(o *oio.Object) {
	old := s.objects[o.UUID]
	s.objects[o.UUID] = o
	for _, r := range o.Registration.Relationer {
		if r.Ref == uuid.Nil {
			continue
		}
		var idx map[uuid.UUID][]uuid.UUID
		switch {
		case o.Kind == oio.KindBruger && r.Name == oio.RelTilknyttedePersoner:
			idx = s.usersByPerson
		case o.Kind == oio.KindOrganisationFunktion && r.Name == oio.RelTilknyttedeBrugere:
			idx = s.funcsByUser
		case o.Kind == oio.KindOrganisationFunktion && r.Name == oio.RelTilknyttedeEnheder:
			idx = s.funcsByUnit
		default:
			continue
		}
		if old != nil && hasRelation(old, r.Name, r.Ref) {
			continue // indexed already
		}
		if !slices.Contains(idx[r.Ref], o.UUID) {
			idx[r.Ref] = append(idx[r.Ref], o.UUID)
		}
	}
}

// get returns the stored object (nil if none).
func (s *stsState) get(id uuid.UUID) *oio.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objects[id]
}

// hasRelation reports whether o has a relation name → ref (in any period), as a soeg template
// matches it.
func hasRelation(o *oio.Object, name oio.RelationName, ref uuid.UUID) bool {
	for _, r := range o.Registration.Relationer {
		if r.Name == name && r.Ref == ref {
			return true
		}
	}
	return false
}

// lookup returns what the event path reads for a bundle with these lookups (consumer
// readBundle): the named objects, the users linked to the person, the functions of the named
// and found users, and the functions of the units (of the given types, or all).
func (s *stsState) lookup(l translate.Lookups) map[uuid.UUID]*oio.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cur := map[uuid.UUID]*oio.Object{}
	add := func(kind oio.Kind, id uuid.UUID) {
		if o := s.objects[id]; o != nil && o.Kind == kind {
			cur[id] = o
		}
	}
	for _, r := range l.Read {
		add(r.Kind, r.UUID)
	}
	users := slices.Clone(l.FunctionsOfUsers)
	if l.UsersOfPerson != uuid.Nil {
		for _, id := range s.usersByPerson[l.UsersOfPerson] {
			if o := s.objects[id]; o != nil && o.Kind == oio.KindBruger && hasRelation(o, oio.RelTilknyttedePersoner, l.UsersOfPerson) {
				cur[id] = o
				if !slices.Contains(users, id) {
					users = append(users, id)
				}
			}
		}
	}
	for _, u := range users {
		for _, id := range s.funcsByUser[u] {
			if o := s.objects[id]; o != nil && o.Kind == oio.KindOrganisationFunktion && hasRelation(o, oio.RelTilknyttedeBrugere, u) {
				cur[id] = o
			}
		}
	}
	for _, uf := range l.FunctionsOfUnits {
		for _, id := range s.funcsByUnit[uf.Unit] {
			o := s.objects[id]
			if o == nil || o.Kind != oio.KindOrganisationFunktion || !hasRelation(o, oio.RelTilknyttedeEnheder, uf.Unit) {
				continue
			}
			if uf.Types == nil || slices.ContainsFunc(uf.Types, func(t uuid.UUID) bool { return hasRelation(o, oio.RelFunktionstype, t) }) {
				cur[id] = o
			}
		}
	}
	return cur
}

// apply records a successful write.
func (s *stsState) apply(op translate.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := translate.Apply(s.objects[op.Object.UUID], op)
	if err != nil {
		return err
	}
	s.putLocked(o)
	return nil
}

// readSnapshot reads OS2MO (listing, then batched reads) and the municipality's hierarchy from
// STS; with a Store it first reads the last-sent record of every listed bundle, so that a
// bundle the event path writes while the sync runs is recognised and left to it.
func (e *Engine) readSnapshot(ctx context.Context, o Options) (*snapshot, error) {
	snap := &snapshot{lastSent: map[string]string{}, sts: newSTSState(), hierarchy: map[oio.Kind][]uuid.UUID{}}
	start := o.Now()
	if err := e.MO.ListUnits(ctx, func(page []uuid.UUID) error {
		snap.unitIDs = append(snap.unitIDs, page...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list the units in OS2MO: %w", err)
	}
	if err := e.MO.ListPersons(ctx, func(page []uuid.UUID) error {
		snap.personIDs = append(snap.personIDs, page...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list the persons in OS2MO: %w", err)
	}
	snap.unitIDs = unique(snap.unitIDs)
	snap.personIDs = unique(snap.personIDs)
	o.Logger.Info("listed OS2MO", "units", len(snap.unitIDs), "persons", len(snap.personIDs), "took", o.Now().Sub(start).Round(time.Millisecond))

	var keys []string
	for _, id := range snap.unitIDs {
		keys = append(keys, translate.BundleKey(translate.BundleUnit, id))
	}
	for _, id := range snap.personIDs {
		keys = append(keys, translate.BundleKey(translate.BundlePerson, id))
	}
	if err := e.readLastSent(ctx, keys, snap.lastSent); err != nil {
		return nil, err
	}

	start = o.Now()
	var err error
	if snap.units, snap.persons, err = e.readMO(ctx, o, snap.unitIDs, snap.personIDs, "OS2MO"); err != nil {
		return nil, err
	}
	o.Logger.Info("read OS2MO", "units", len(snap.units), "persons", len(snap.persons), "took", o.Now().Sub(start).Round(time.Millisecond))

	start = o.Now()
	if err := e.readHierarchy(ctx, o, snap); err != nil {
		return nil, err
	}
	o.Logger.Info("read the STS hierarchy", "units", len(snap.hierarchy[oio.KindOrganisationEnhed]),
		"users", len(snap.hierarchy[oio.KindBruger]), "functions", len(snap.hierarchy[oio.KindOrganisationFunktion]),
		"took", o.Now().Sub(start).Round(time.Millisecond))
	return snap, nil
}

// readLastSent reads the last-sent records of keys into out (nothing without a Store).
func (e *Engine) readLastSent(ctx context.Context, keys []string, out map[string]string) error {
	if e.Store == nil || len(keys) == 0 {
		return nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeConcurrency)
	for _, key := range keys {
		g.Go(func() error {
			v, ok, err := e.Store.LastSent(gctx, key)
			if err != nil {
				return fmt.Errorf("read the last-sent record of %s: %w", key, err)
			}
			if ok {
				mu.Lock()
				out[key] = v
				mu.Unlock()
			}
			return nil
		})
	}
	return g.Wait()
}

// readMO reads units and persons in batches of moclient.MaxBatch, Options.Concurrency at once.
func (e *Engine) readMO(ctx context.Context, o Options, unitIDs, personIDs []uuid.UUID, phase string) (map[uuid.UUID]*moclient.OrgUnit, map[uuid.UUID]*moclient.Person, error) {
	units := map[uuid.UUID]*moclient.OrgUnit{}
	persons := map[uuid.UUID]*moclient.Person{}
	total := len(unitIDs) + len(personIDs)
	var done atomic.Int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for chunk := range slices.Chunk(unitIDs, moclient.MaxBatch) {
		g.Go(func() error {
			got, err := e.MO.OrgUnits(gctx, chunk)
			if err != nil {
				return fmt.Errorf("read %d units from OS2MO: %w", len(chunk), err)
			}
			mu.Lock()
			maps.Copy(units, got)
			mu.Unlock()
			o.Progress(Progress{Phase: phase, Done: int(done.Add(int64(len(chunk)))), Total: total})
			return nil
		})
	}
	for chunk := range slices.Chunk(personIDs, moclient.MaxBatch) {
		g.Go(func() error {
			got, err := e.MO.Persons(gctx, chunk)
			if err != nil {
				return fmt.Errorf("read %d persons from OS2MO: %w", len(chunk), err)
			}
			mu.Lock()
			maps.Copy(persons, got)
			mu.Unlock()
			o.Progress(Progress{Phase: phase, Done: int(done.Add(int64(len(chunk)))), Total: total})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return units, persons, nil
}

// readHierarchy reads every page of the municipality's hierarchy until a page comes back empty,
// and stores units, users and functions: the first page alone, then (when it was full)
// Options.Concurrency pages at once.
func (e *Engine) readHierarchy(ctx context.Context, o Options, snap *snapshot) error {
	size := o.HierarchyPageSize
	seen := map[uuid.UUID]bool{}
	next := 0 // index of the next page to read
	for {
		n := o.Concurrency
		if next == 0 {
			n = 1
		}
		pages := make([]*oio.Hierarchy, n)
		g, gctx := errgroup.WithContext(ctx)
		for i := range pages {
			first := (next + i) * size
			g.Go(func() error {
				h, err := e.STS.HierarchyPage(gctx, first, size)
				if err != nil {
					return fmt.Errorf("read the STS hierarchy from %d: %w", first, err)
				}
				pages[i] = h
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		next += n
		for _, h := range pages {
			if h.Len() == 0 {
				return nil
			}
			// Full: a list, or all together, reached the page size (public sources do not settle
			// whether the service pages each list or all of them together).
			full := h.Len() >= size
			for _, kind := range oio.HierarchyKinds() {
				full = full || len(h.Objects(kind)) >= size
			}
			for _, kind := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion} {
				for _, obj := range h.Objects(kind) {
					if seen[obj.UUID] || !obj.Exists() {
						continue
					}
					seen[obj.UUID] = true
					if belongsTo(obj, o.Settings.Organisation) {
						snap.hierarchy[kind] = append(snap.hierarchy[kind], obj.UUID)
					}
					snap.sts.put(obj)
					snap.read++
				}
			}
			o.Progress(Progress{Phase: "STS", Done: snap.read, Total: 0})
			if !full {
				return nil // a short page: the last
			}
		}
	}
}

// readObjects reads the objects of the given kinds and UUIDs that are not already known, in
// chunks of Options.ListChunk, Options.Concurrency calls at once.
func (e *Engine) readObjects(ctx context.Context, o Options, snap *snapshot, want map[oio.Kind][]uuid.UUID) error {
	type job struct {
		kind oio.Kind
		ids  []uuid.UUID
	}
	var jobs []job
	total := 0
	for _, kind := range slices.Sorted(maps.Keys(want)) {
		var ids []uuid.UUID
		for _, id := range unique(want[kind]) {
			if snap.sts.get(id) == nil {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, compareUUID)
		total += len(ids)
		for chunk := range slices.Chunk(ids, o.ListChunk) {
			jobs = append(jobs, job{kind, chunk})
		}
	}
	var done atomic.Int64
	var read atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, j := range jobs {
		g.Go(func() error {
			objs, err := e.STS.ReadMany(gctx, j.kind, j.ids)
			if err != nil {
				return fmt.Errorf("read %d %s objects from STS: %w", len(j.ids), j.kind, err)
			}
			for _, obj := range objs {
				if obj != nil && obj.Exists() && obj.Kind == j.kind {
					snap.sts.put(obj)
					read.Add(1)
				}
			}
			o.Progress(Progress{Phase: "STS objects", Done: int(done.Add(int64(len(j.ids)))), Total: total})
			return nil
		})
	}
	err := g.Wait()
	snap.read += int(read.Load())
	return err
}

// belongsTo reports whether o belongs to the Organisation org (as OS2sync reads a hierarchy):
// a unit or user by Tilhoerer, a function by TilknyttedeOrganisationer.
func belongsTo(o *oio.Object, org uuid.UUID) bool {
	name := oio.RelTilhoerer
	if o.Kind == oio.KindOrganisationFunktion {
		name = oio.RelTilknyttedeOrganisationer
	}
	return hasRelation(o, name, org)
}

// compareUUID orders UUIDs as their strings sort, without formatting them.
func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// unique returns ids without repeats, in first-seen order.
func unique(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
