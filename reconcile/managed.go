package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

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

	// The same bulk read the sync makes; objects land in the snapshot's state.
	if err := reader.readObjects(ctx, o, snap, refs); err != nil {
		return nil, err
	}
	for _, kind := range slices.Sorted(maps.Keys(refs)) {
		for _, id := range unique(refs[kind]) {
			if obj := snap.sts.get(id); obj != nil && obj.Kind == kind {
				m.Objects[kind] = append(m.Objects[kind], obj)
			} else if kind != oio.KindOrganisation {
				m.Unresolved++ // a reference STS does not hold; a missing Organisation is simply absent
			}
		}
	}
	for _, objs := range m.Objects {
		slices.SortFunc(objs, func(a, b *oio.Object) int { return compareUUID(a.UUID, b.UUID) })
	}
	m.Calls = int(calls.n.Load())
	return m, nil
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
