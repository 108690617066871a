package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Managed is what the municipality's STS Organisation holds of what the sync manages, as read by
// ReadManaged.
type Managed struct {
	// ReadAt is when the read began.
	ReadAt time.Time
	// Objects are the objects read, by kind, each kind sorted by UUID: the Organisation (if STS
	// holds it), the units, users and functions of the municipality's hierarchy, and the Adresse
	// and Person objects they refer to.
	Objects map[oio.Kind][]*oio.Object
	// OtherOrganisations counts the hierarchy's objects that belong to another Organisation (a
	// service that ignores the token's CVR lists them); they are not in Objects.
	OtherOrganisations int
	// Unresolved counts the addresses and persons referred to that STS does not hold (or holds
	// passivated).
	Unresolved int
	// Calls counts the STS calls made (hierarchy pages and list calls).
	Calls int
}

// All returns every object of m, in no particular order.
func (m *Managed) All() []*oio.Object {
	var out []*oio.Object
	for _, k := range slices.Sorted(maps.Keys(m.Objects)) {
		out = append(out, m.Objects[k]...)
	}
	return out
}

// ReadManaged reads, without writing, what the municipality's STS Organisation holds of what the
// sync manages, with the reads sync and verify make: every page of its hierarchy
// (fremsoegobjekthierarki; the units, users and functions that belong to Settings.Organisation
// and are not passivated, Gyldighed Inaktiv included), the Organisation object (list), and, in
// bulk (list, ListChunk UUIDs per call, Concurrency calls at once), the Adresse objects their
// Adresser relations and the Person objects their TilknyttedePersoner relations name, in any
// period. Progress is reported as the sync's is (phases "STS" and "STS objects").
func (e *Engine) ReadManaged(ctx context.Context) (*Managed, error) {
	o := e.Options.withDefaults()
	m := &Managed{ReadAt: o.Now(), Objects: map[oio.Kind][]*oio.Object{}}
	snap := &snapshot{sts: newSTSState(), hierarchy: map[oio.Kind][]uuid.UUID{}}
	calls := &readOnlySTS{STS: e.STS}
	reader := &Engine{STS: calls, Options: o}
	if err := reader.readHierarchy(ctx, o, snap); err != nil {
		return nil, err
	}
	refs := map[oio.Kind][]uuid.UUID{}
	belonging := 0
	for _, kind := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion} {
		for _, id := range snap.hierarchy[kind] {
			obj := snap.sts.get(id)
			if obj == nil || obj.Kind != kind {
				// Another object with the same UUID replaced it in the snapshot's state (UUIDs of
				// different kinds never coincide in what the sync writes).
				return nil, fmt.Errorf("read the STS hierarchy: %s %s is listed as two kinds", kind, id)
			}
			belonging++
			m.Objects[kind] = append(m.Objects[kind], obj)
			for _, r := range obj.Registration.Relationer {
				switch {
				case r.Ref == uuid.Nil:
				case r.Name == oio.RelAdresser:
					refs[oio.KindAdresse] = append(refs[oio.KindAdresse], r.Ref)
				case r.Name == oio.RelTilknyttedePersoner:
					refs[oio.KindPerson] = append(refs[oio.KindPerson], r.Ref)
				}
			}
		}
	}
	m.OtherOrganisations = snap.read - belonging
	if org := o.Settings.Organisation; org != uuid.Nil {
		refs[oio.KindOrganisation] = []uuid.UUID{org}
	}
	o.Logger.Info("read the STS hierarchy", "units", len(m.Objects[oio.KindOrganisationEnhed]),
		"users", len(m.Objects[oio.KindBruger]), "functions", len(m.Objects[oio.KindOrganisationFunktion]),
		"other_organisations", m.OtherOrganisations, "took", o.Now().Sub(m.ReadAt).Round(time.Millisecond))

	got, unresolved, err := readKinds(ctx, o, calls, refs)
	if err != nil {
		return nil, err
	}
	m.Unresolved = unresolved
	if len(refs[oio.KindOrganisation]) > 0 && len(got[oio.KindOrganisation]) == 0 {
		m.Unresolved-- // not a reference; Objects simply has no Organisation
	}
	maps.Copy(m.Objects, got)
	for _, objs := range m.Objects {
		slices.SortFunc(objs, func(a, b *oio.Object) int { return compareUUID(a.UUID, b.UUID) })
	}
	m.Calls = int(calls.n.Load())
	return m, nil
}

// readKinds reads the objects of each kind (unique UUIDs) in chunks of o.ListChunk,
// o.Concurrency calls at once, and returns those STS holds (not passivated) and how many it does
// not.
func readKinds(ctx context.Context, o Options, sts STS, want map[oio.Kind][]uuid.UUID) (map[oio.Kind][]*oio.Object, int, error) {
	type job struct {
		kind oio.Kind
		ids  []uuid.UUID
	}
	var jobs []job
	total := 0
	for _, kind := range slices.Sorted(maps.Keys(want)) {
		ids := unique(want[kind])
		slices.SortFunc(ids, compareUUID)
		total += len(ids)
		for chunk := range slices.Chunk(ids, o.ListChunk) {
			jobs = append(jobs, job{kind, chunk})
		}
	}
	var mu sync.Mutex
	out := map[oio.Kind][]*oio.Object{}
	found := 0
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, j := range jobs {
		g.Go(func() error {
			objs, err := sts.ReadMany(gctx, j.kind, j.ids)
			if err != nil {
				return fmt.Errorf("read %d %s objects from STS: %w", len(j.ids), j.kind, err)
			}
			mu.Lock()
			for _, id := range j.ids {
				if obj := objs[id]; obj != nil && obj.Exists() && obj.Kind == j.kind {
					out[j.kind] = append(out[j.kind], obj)
					found++
				}
			}
			mu.Unlock()
			o.Progress(Progress{Phase: "STS objects", Done: int(done.Add(int64(len(j.ids)))), Total: total})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	return out, total - found, nil
}

// readOnlySTS counts the reads made through it and refuses writes (ReadManaged makes none).
type readOnlySTS struct {
	STS
	n atomic.Int64
}

func (c *readOnlySTS) Apply(context.Context, translate.Operation) error {
	return errors.New("reading what STS holds writes nothing")
}

func (c *readOnlySTS) HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error) {
	c.n.Add(1)
	return c.STS.HierarchyPage(ctx, first, max)
}

func (c *readOnlySTS) ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	c.n.Add(1)
	return c.STS.ReadMany(ctx, kind, ids)
}
