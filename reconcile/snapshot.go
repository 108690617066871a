package reconcile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// storeConcurrency bounds the last-sent reads in flight at once (Redis, cheap).
const storeConcurrency = 32

// snapshot is what OS2MO and STS held when the sync or verification began.
type snapshot struct {
	// unitIDs and personIDs are what OS2MO listed as in effect now, in listing order.
	unitIDs, personIDs []uuid.UUID
	// units are their current states; nil when one was no longer in effect when read
	// (terminated between the listing and the read), absent when OS2MO forgot it.
	units map[uuid.UUID]*model.OrgUnit
	// persons are the persons' bundles: those in effect deferred (their OS2MO data is in store,
	// translated again when planned and when converged), those no longer in effect, or
	// forgotten, translated as gone.
	persons map[uuid.UUID]*bundle
	// store holds the OS2MO data of the deferred person bundles, compressed.
	store *personStore
	// personUsers are the users the deferred person bundles govern, personRefs their STS Person
	// objects, and owned the functions they desire or end (see orphans and ownedUUIDs).
	personUsers map[uuid.UUID]bool
	personRefs  []uuid.UUID
	owned       map[uuid.UUID]bool
	// personsKnown counts the persons OS2MO knew when read (in effect or not).
	personsKnown int
	// sent holds a digest of the last-sent record of every bundle that had one when the sync
	// began: the sync only compares records with it, so it keeps no record itself.
	sent map[bundleRef]recordSum
	// recordedFunctions are the functions those records name (see ownedUUIDs).
	recordedFunctions map[uuid.UUID]bool
	// sts is what STS holds.
	sts *stsState
	// hierarchy lists the units, users and functions of the municipality's hierarchy (those that
	// belong to its Organisation; a service that ignores the token's CVR may list others).
	hierarchy map[oio.Kind][]uuid.UUID
	// read counts the STS objects read.
	read int
	// peaks is Engine.peaks.
	peaks *peaks
	// protected are the kept orphans and the functions linked to them (Options.Keep): no bundle
	// ends or changes them other than as desired.
	protected map[uuid.UUID]bool
}

// stsState is what STS holds, as read and then as written by the sync: the objects by UUID and
// the indexes that stand in for the event path's searches (soeg by relation). It is safe for
// concurrent use; stored objects are never modified, only replaced.
//
// The plan's simulation (overlay) is a state over the snapshot's: it holds only what the planned
// writes change, and keeps an object a planned write imports as the desired object it was
// planned from, making the import again (translate.Plan) when a lookup finds it: most are never
// looked up again, and a desired object is kept until the bundle is written anyway.
type stsState struct {
	mu            sync.RWMutex
	objects       map[uuid.UUID]packed
	usersByPerson map[uuid.UUID][]uuid.UUID // TilknyttedePersoner → Bruger
	funcsByUser   map[uuid.UUID][]uuid.UUID // TilknyttedeBrugere → OrganisationFunktion
	funcsByUnit   map[uuid.UUID][]uuid.UUID // TilknyttedeEnheder → OrganisationFunktion

	// base is the state under an overlay (nil for the snapshot's): read, never changed through
	// the overlay, and not changed while the overlay is used.
	base *stsState
	// imported holds the desired objects planned writes import (overlay only), and settings and
	// now what they were planned with.
	imported map[uuid.UUID]*oio.Object
	settings translate.Settings
	now      time.Time
}

func newSTSState() *stsState {
	return &stsState{objects: map[uuid.UUID]packed{}, usersByPerson: map[uuid.UUID][]uuid.UUID{},
		funcsByUser: map[uuid.UUID][]uuid.UUID{}, funcsByUnit: map[uuid.UUID][]uuid.UUID{}}
}

// overlay returns a state over s for planning with settings and now (planned), which changes
// without changing s. While the overlay is used, s may only gain or lose objects no planned write
// touched (the planning's feed reads a batch's objects into it, and forgets a settled bundle's).
func (s *stsState) overlay(settings translate.Settings, now time.Time) *stsState {
	o := newSTSState()
	o.base, o.imported, o.settings, o.now = s, map[uuid.UUID]*oio.Object{}, settings, now
	return o
}

// objectLocked returns the object stored under id (nil if none); s.mu is held.
func (s *stsState) objectLocked(id uuid.UUID) *oio.Object {
	if p, ok := s.objects[id]; ok {
		return p.unpack()
	}
	if d := s.imported[id]; d != nil {
		return s.importOf(d)
	}
	if s.base != nil {
		return s.base.get(id)
	}
	return nil
}

// importOf returns the object STS holds after importing the desired object d as planned
// (translate.Plan against a missing object, whatever the date its values are known since).
func (s *stsState) importOf(d *oio.Object) *oio.Object {
	o := translate.Plan(s.settings, *d, nil, s.now)[0].Object
	o.Registration.Livscyklus = oio.LivscyklusImporteret
	return &o
}

// indexed returns the UUIDs listed under key in the index pick chooses, the base's included
// (possibly repeated).
func (s *stsState) indexed(pick func(*stsState) map[uuid.UUID][]uuid.UUID, key uuid.UUID) []uuid.UUID {
	ids := pick(s)[key]
	if s.base != nil {
		s.base.mu.RLock()
		defer s.base.mu.RUnlock()
		if more := pick(s.base)[key]; len(more) > 0 {
			ids = append(slices.Clip(ids), more...)
		}
	}
	return ids
}

func usersByPerson(s *stsState) map[uuid.UUID][]uuid.UUID { return s.usersByPerson }
func funcsByUser(s *stsState) map[uuid.UUID][]uuid.UUID   { return s.funcsByUser }
func funcsByUnit(s *stsState) map[uuid.UUID][]uuid.UUID   { return s.funcsByUnit }

// put stores an object read from STS (packed), replacing what was stored under its UUID, and
// indexes its relations. An index entry may outlive the relation; lookups check the relation
// again.
func (s *stsState) put(o *oio.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(o)
}

func (s *stsState) putLocked(o *oio.Object) {
	old := s.indexedAs(o.UUID)
	s.objects[o.UUID] = pack(o)
	delete(s.imported, o.UUID)
	s.index(o, old)
}

// indexedAs returns an object whose relations are all indexed for the object stored under id:
// the stored object itself, or the desired object of an import (nil if none).
func (s *stsState) indexedAs(id uuid.UUID) *oio.Object {
	if p, ok := s.objects[id]; ok {
		return p.unpack()
	}
	if d := s.imported[id]; d != nil {
		return d
	}
	if s.base != nil {
		return s.base.get(id)
	}
	return nil
}

// index adds o's relations to the indexes, but those of old (indexed already).
func (s *stsState) index(o, old *oio.Object) {
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
	return s.objectLocked(id)
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

// lookup returns what STS holds for a bundle with these lookups: converge.Read over the state
// (the event path runs the same algorithm over STS itself).
func (s *stsState) lookup(l translate.Lookups) map[uuid.UUID]*oio.Object {
	cur, _ := converge.Read(context.Background(), s, l) // the state's Index never fails
	return cur
}

// The state is the full sync's converge.Index: its indexes stand in for STS's soeg, its objects
// for list. An index entry may outlive the relation it was made for, so the relation is checked
// again (as a soeg template matches it: in any period).

// UsersOfPerson implements converge.Index.
func (s *stsState) UsersOfPerson(_ context.Context, person uuid.UUID) ([]uuid.UUID, error) {
	return s.linked(usersByPerson, person, oio.KindBruger, oio.RelTilknyttedePersoner, uuid.Nil), nil
}

// FunctionsOfUser implements converge.Index.
func (s *stsState) FunctionsOfUser(_ context.Context, user uuid.UUID) ([]uuid.UUID, error) {
	return s.linked(funcsByUser, user, oio.KindOrganisationFunktion, oio.RelTilknyttedeBrugere, uuid.Nil), nil
}

// FunctionsOfUnit implements converge.Index.
func (s *stsState) FunctionsOfUnit(_ context.Context, unit, typ uuid.UUID) ([]uuid.UUID, error) {
	return s.linked(funcsByUnit, unit, oio.KindOrganisationFunktion, oio.RelTilknyttedeEnheder, typ), nil
}

// Objects implements converge.Index.
func (s *stsState) Objects(_ context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[uuid.UUID]*oio.Object, len(ids))
	for _, id := range ids {
		if o := s.objectLocked(id); o != nil && o.Kind == kind {
			out[id] = o
		}
	}
	return out, nil
}

// linked returns the objects of kind the index pick lists under key that have the relation
// rel → key (and, unless typ is uuid.Nil, Funktionstype typ). It checks the relations on the
// stored or desired object, not on a planned import (which has the same relations), so that
// finding an object costs no translation.
func (s *stsState) linked(pick func(*stsState) map[uuid.UUID][]uuid.UUID, key uuid.UUID, kind oio.Kind, rel oio.RelationName, typ uuid.UUID) []uuid.UUID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []uuid.UUID
	for _, id := range s.indexed(pick, key) {
		o := s.indexedAs(id)
		if o == nil || o.Kind != kind || !hasRelation(o, rel, key) || typ != uuid.Nil && !hasRelation(o, oio.RelFunktionstype, typ) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// apply records a successful write.
func (s *stsState) apply(op translate.Operation) error {
	return s.applyPlanned(op, nil)
}

// applyPlanned records a write planned for a bundle (in the plan's simulation), or a successful
// one; desired is the bundle's desired object with the UUID (nil if none). In an overlay, the
// import of a desired object is kept as that object.
func (s *stsState) applyPlanned(op translate.Operation, desired *oio.Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := op.Object.UUID
	if s.imported != nil && op.Op == translate.OpImport && desired != nil && desired.Kind == op.Object.Kind && desired.UUID == id {
		if s.objectLocked(id).Exists() {
			return fmt.Errorf("importer %s: already exists", op.Ref())
		}
		old := s.indexedAs(id)
		delete(s.objects, id)
		s.imported[id] = desired
		s.index(desired, old)
		return nil
	}
	o, err := applyShared(s.objectLocked(id), op)
	if err != nil {
		return err
	}
	s.putLocked(o)
	return nil
}

// applyShared is translate.Apply without copying the lists of op's object (or current's): the
// object it returns shares them. Neither operations nor stored objects are ever modified, so
// sharing is safe, and a state then holds one copy of what was planned or written instead of
// two.
func applyShared(current *oio.Object, op translate.Operation) (*oio.Object, error) {
	switch op.Op {
	case translate.OpImport:
		if current.Exists() {
			return nil, fmt.Errorf("importer %s: already exists", op.Ref())
		}
		o := op.Object
		o.Registration.Livscyklus = oio.LivscyklusImporteret
		return &o, nil
	case translate.OpUpdate:
		if !current.Exists() {
			return nil, fmt.Errorf("ret %s: does not exist", op.Ref())
		}
		if current.Kind != op.Object.Kind || current.UUID != op.Object.UUID {
			return nil, fmt.Errorf("ret %s: applied to %s %s", op.Ref(), current.Kind, current.UUID)
		}
		o := *current
		if !op.Object.Registration.Tidspunkt.IsZero() {
			o.Registration.Tidspunkt = op.Object.Registration.Tidspunkt
		}
		o.Registration.Egenskaber = op.Object.Registration.Egenskaber
		o.Registration.Gyldighed = op.Object.Registration.Gyldighed
		o.Registration.Relationer = op.Object.Registration.Relationer
		return &o, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op.Op)
}

// readSnapshot reads OS2MO (listing, then batched reads, translating the persons as of now) and
// the municipality's hierarchy from STS; with a Store it first reads the last-sent record of
// every listed bundle, so that a bundle the event path writes while the sync runs is recognised
// and left to it.
func (e *Engine) readSnapshot(ctx context.Context, o Options, now time.Time) (*snapshot, error) {
	snap := &snapshot{sent: map[bundleRef]recordSum{}, recordedFunctions: map[uuid.UUID]bool{}, sts: newSTSState(), hierarchy: map[oio.Kind][]uuid.UUID{},
		personUsers: map[uuid.UUID]bool{}, owned: map[uuid.UUID]bool{}, peaks: e.peaks}
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
	// The persons are read, stored and planned in the order their bundles converge (by key).
	snap.personIDs = unique(snap.personIDs)
	slices.SortFunc(snap.personIDs, compareUUID)
	o.Logger.Info("listed OS2MO", "units", len(snap.unitIDs), "persons", len(snap.personIDs), "took", o.Now().Sub(start).Round(time.Millisecond))

	if err := e.readLastSent(ctx, refsOf(snap.unitIDs, snap.personIDs), snap); err != nil {
		return nil, err
	}

	start = o.Now()
	snap.persons = make(map[uuid.UUID]*bundle, len(snap.personIDs))
	snap.store = newPersonStore((len(snap.personIDs) + o.PersonBatch - 1) / o.PersonBatch)
	var err error
	snap.units, err = e.readMO(ctx, o, snap.unitIDs, snap.personIDs, "OS2MO", func(k int, ids []uuid.UUID, got map[uuid.UUID]*model.Person) (func(), error) {
		bs := make([]*bundle, len(ids))
		var keep []*model.Person
		var users, persons, funcs []uuid.UUID
		for i, id := range ids {
			p := got[id]
			if p == nil {
				bs[i] = personBundle(o.Settings, id, nil, now)
				continue
			}
			// Translated now for what the orphans and the guards need to know of every bundle;
			// translated again when planned.
			d := personBundle(o.Settings, id, p, now).desired()
			users = append(users, d.Users...)
			if d.Person != uuid.Nil {
				persons = append(persons, d.Person)
			}
			for _, obj := range d.Objects {
				if obj.Kind == oio.KindOrganisationFunktion {
					funcs = append(funcs, obj.UUID)
				}
			}
			for _, r := range d.Deactivate {
				if r.Kind == oio.KindOrganisationFunktion {
					funcs = append(funcs, r.UUID)
				}
			}
			bs[i] = &bundle{id: id, origin: originExported, phase: phasePersons, deferred: true, batch: k}
			keep = append(keep, p)
		}
		if err := snap.store.put(k, keep); err != nil {
			return nil, err
		}
		return func() {
			for i, id := range ids {
				snap.persons[id] = bs[i]
			}
			for _, id := range users {
				snap.personUsers[id] = true
			}
			for _, id := range funcs {
				snap.owned[id] = true
			}
			snap.personRefs = append(snap.personRefs, persons...)
			snap.personsKnown += len(got)
		}, nil
	})
	if err != nil {
		return nil, err
	}
	o.Logger.Info("read OS2MO", "units", len(snap.units), "persons", snap.personsKnown, "took", o.Now().Sub(start).Round(time.Millisecond))

	start = o.Now()
	if err := e.readHierarchy(ctx, o, snap); err != nil {
		return nil, err
	}
	o.Logger.Info("read the STS hierarchy", "units", len(snap.hierarchy[oio.KindOrganisationEnhed]),
		"users", len(snap.hierarchy[oio.KindBruger]), "functions", len(snap.hierarchy[oio.KindOrganisationFunktion]),
		"took", o.Now().Sub(start).Round(time.Millisecond))
	return snap, nil
}

// bundleRef names a bundle as its key does (a unit's or else a person's), in 17 bytes instead of
// a string.
type bundleRef struct {
	unit bool
	id   uuid.UUID
}

// refsOf names the bundles of units and persons (or orphan users).
func refsOf(units, persons []uuid.UUID) []bundleRef {
	refs := make([]bundleRef, 0, len(units)+len(persons))
	for _, id := range units {
		refs = append(refs, bundleRef{unit: true, id: id})
	}
	for _, id := range persons {
		refs = append(refs, bundleRef{id: id})
	}
	return refs
}

// recordSum is the digest of a last-sent record.
type recordSum [sha256.Size]byte

func sumRecord(record string) recordSum { return sha256.Sum256([]byte(record)) }

// readLastSent reads the last-sent records of the bundles refs names (nothing without a Store) and keeps their
// digests (snapshot.sent) and the functions they name (snapshot.recordedFunctions).
func (e *Engine) readLastSent(ctx context.Context, refs []bundleRef, snap *snapshot) error {
	if e.Store == nil {
		return nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeConcurrency)
	for _, ref := range refs {
		g.Go(func() error {
			key := (&bundle{unit: ref.unit, id: ref.id}).key()
			v, ok, err := e.Store.LastSent(gctx, key)
			if err != nil {
				return fmt.Errorf("read the last-sent record of %s: %w", key, err)
			}
			if !ok {
				return nil
			}
			var funcs []uuid.UUID
			if r, err := translate.ParseRecord(v); err == nil {
				for ref := range r.Objects {
					if ref.Kind == oio.KindOrganisationFunktion {
						funcs = append(funcs, ref.UUID)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			snap.sent[ref] = sumRecord(v)
			for _, id := range funcs {
				snap.recordedFunctions[id] = true
			}
			return nil
		})
	}
	return g.Wait()
}

// readMO reads units in batches of moclient.MaxBatch and persons in batches of
// Options.PersonBatch, Options.Concurrency at once. It
// returns the units, and hands each batch of persons (its index k, the UUIDs asked for, and what
// OS2MO returned for them) to persons, concurrently; the function persons returns is called under
// a lock, one at a time. The persons' data is not kept.
func (e *Engine) readMO(ctx context.Context, o Options, unitIDs, personIDs []uuid.UUID, phase string,
	persons func(k int, ids []uuid.UUID, got map[uuid.UUID]*model.Person) (func(), error)) (map[uuid.UUID]*model.OrgUnit, error) {
	units := map[uuid.UUID]*model.OrgUnit{}
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
	next := 0
	for chunk := range slices.Chunk(personIDs, o.PersonBatch) {
		k := next
		next++
		g.Go(func() error {
			got, err := e.MO.Persons(gctx, chunk)
			if err != nil {
				return fmt.Errorf("read %d persons from OS2MO: %w", len(chunk), err)
			}
			store, err := persons(k, chunk, got)
			if err != nil {
				return err
			}
			mu.Lock()
			store()
			mu.Unlock()
			o.Progress(Progress{Phase: phase, Done: int(done.Add(int64(len(chunk)))), Total: total})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return units, nil
}

// readHierarchy reads every page of the municipality's hierarchy until a page comes back empty,
// and stores units, users and functions: the first page alone, then (when it was full)
// Options.HierarchyConcurrency pages at once.
func (e *Engine) readHierarchy(ctx context.Context, o Options, snap *snapshot) error {
	size := o.HierarchyPageSize
	seen := map[uuid.UUID]bool{}
	next := 0 // index of the next page to read
	for {
		n := o.HierarchyConcurrency
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
