package converge

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Index answers the questions reading a bundle asks of STS: which users are linked to a person,
// which functions to a user, which functions (of a type, or any) to a unit, and what the objects
// of one kind are. LiveIndex asks STS itself; the full sync's snapshot answers from what it read
// in bulk. Found objects must be current: linked by a relation in effect, not passivated.
type Index interface {
	// UsersOfPerson returns the users whose TilknyttedePersoner names person.
	UsersOfPerson(ctx context.Context, person uuid.UUID) ([]uuid.UUID, error)
	// FunctionsOfUser returns the functions whose TilknyttedeBrugere names user.
	FunctionsOfUser(ctx context.Context, user uuid.UUID) ([]uuid.UUID, error)
	// FunctionsOfUnit returns the functions whose TilknyttedeEnheder names unit and, unless typ is
	// uuid.Nil, whose Funktionstype is typ.
	FunctionsOfUnit(ctx context.Context, unit, typ uuid.UUID) ([]uuid.UUID, error)
	// Objects returns the objects of kind among ids that exist and are not passivated (sorted,
	// unique ids; absent ones are left out).
	Objects(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error)
}

// Read fulfils a bundle's lookups: the objects it names, the users linked to its person, the
// functions of those users (and of the users it names), and its unit's functions of the types it
// manages (or all). It is the one answer to "what does STS hold for this bundle", for the event
// path and the full sync alike; the objects are read with one Objects call per kind.
func Read(ctx context.Context, idx Index, l translate.Lookups) (map[uuid.UUID]*oio.Object, error) {
	byKind := map[oio.Kind][]uuid.UUID{}
	for _, ref := range l.Read {
		byKind[ref.Kind] = append(byKind[ref.Kind], ref.UUID)
	}
	users := slices.Clone(l.FunctionsOfUsers)
	if l.UsersOfPerson != uuid.Nil {
		ids, err := idx.UsersOfPerson(ctx, l.UsersOfPerson)
		if err != nil {
			return nil, fmt.Errorf("find the users of person %s in STS: %w", l.UsersOfPerson, err)
		}
		byKind[oio.KindBruger] = append(byKind[oio.KindBruger], ids...)
		for _, id := range ids {
			if !slices.Contains(users, id) {
				users = append(users, id)
			}
		}
	}
	for _, u := range users {
		ids, err := idx.FunctionsOfUser(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("find the functions of user %s in STS: %w", u, err)
		}
		byKind[oio.KindOrganisationFunktion] = append(byKind[oio.KindOrganisationFunktion], ids...)
	}
	for _, uf := range l.FunctionsOfUnits {
		types := uf.Types
		if types == nil {
			types = []uuid.UUID{uuid.Nil}
		}
		for _, typ := range types {
			ids, err := idx.FunctionsOfUnit(ctx, uf.Unit, typ)
			if err != nil {
				return nil, fmt.Errorf("find the functions of unit %s in STS: %w", uf.Unit, err)
			}
			byKind[oio.KindOrganisationFunktion] = append(byKind[oio.KindOrganisationFunktion], ids...)
		}
	}
	return objects(ctx, idx, byKind)
}

// ReadRefs reads the named objects (those that changed since a bundle's last-sent record), one
// Objects call per kind.
func ReadRefs(ctx context.Context, idx Index, refs []translate.Ref) (map[uuid.UUID]*oio.Object, error) {
	byKind := map[oio.Kind][]uuid.UUID{}
	for _, ref := range refs {
		byKind[ref.Kind] = append(byKind[ref.Kind], ref.UUID)
	}
	return objects(ctx, idx, byKind)
}

// Objects reads the objects by kind, one Objects call per kind, in kind order.
func Objects(ctx context.Context, idx Index, byKind map[oio.Kind][]uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	return objects(ctx, idx, byKind)
}

func objects(ctx context.Context, idx Index, byKind map[oio.Kind][]uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	current := map[uuid.UUID]*oio.Object{}
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		ids := slices.Compact(slices.SortedFunc(slices.Values(byKind[kind]), func(a, b uuid.UUID) int {
			return bytes.Compare(a[:], b[:]) // the order of their strings, without making them
		}))
		if len(ids) == 0 {
			continue
		}
		objs, err := idx.Objects(ctx, kind, ids)
		if err != nil {
			return nil, fmt.Errorf("read %d %s object(s) from STS: %w", len(ids), kind, err)
		}
		for id, o := range objs {
			if o != nil && o.Kind == kind {
				current[id] = o
			}
		}
	}
	return current, nil
}

// STS is what LiveIndex needs of STS Organisation: bulk reads of existing objects (list; missing
// and passivated ones left out) and searches by relation (soeg, every page).
type STS interface {
	ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error)
	Search(ctx context.Context, in oio.SoegInput) ([]uuid.UUID, error)
}

// LiveIndex is the Index of the event path: it searches STS (soeg) and reads it (list).
type LiveIndex struct{ STS STS }

// UsersOfPerson implements Index with a soeg for Bruger by TilknyttedePersoner.
func (x LiveIndex) UsersOfPerson(ctx context.Context, person uuid.UUID) ([]uuid.UUID, error) {
	return x.search(ctx, oio.KindBruger, oio.Relation{Name: oio.RelTilknyttedePersoner, Ref: person})
}

// FunctionsOfUser implements Index with a soeg for OrganisationFunktion by TilknyttedeBrugere.
func (x LiveIndex) FunctionsOfUser(ctx context.Context, user uuid.UUID) ([]uuid.UUID, error) {
	return x.search(ctx, oio.KindOrganisationFunktion, oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: user})
}

// FunctionsOfUnit implements Index with a soeg for OrganisationFunktion by TilknyttedeEnheder (and
// Funktionstype).
func (x LiveIndex) FunctionsOfUnit(ctx context.Context, unit, typ uuid.UUID) ([]uuid.UUID, error) {
	rels := []oio.Relation{{Name: oio.RelTilknyttedeEnheder, Ref: unit}}
	if typ != uuid.Nil {
		rels = append(rels, oio.Relation{Name: oio.RelFunktionstype, Ref: typ})
	}
	return x.search(ctx, oio.KindOrganisationFunktion, rels...)
}

// Objects implements Index with one bulk read (list).
func (x LiveIndex) Objects(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	return x.STS.ReadMany(ctx, kind, ids)
}

func (x LiveIndex) search(ctx context.Context, kind oio.Kind, rels ...oio.Relation) ([]uuid.UUID, error) {
	ids, err := x.STS.Search(ctx, oio.SoegInput{Kind: kind, Relationer: rels})
	if err != nil {
		return nil, fmt.Errorf("search STS for %s by %s: %w", kind, rels[0].Name, err)
	}
	return ids, nil
}
