package motest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// ErrUnknownObject is returned (wrapped) by the store methods for a UUID the fake does not hold.
var ErrUnknownObject = errors.New("motest: unknown object")

// store is the in-memory organisation. It is not locked itself; Server guards it with its mutex.
type store struct {
	units   map[uuid.UUID]*moclient.OrgUnit // Ancestors is not stored; it is derived from Parent
	classes map[uuid.UUID]moclient.Class    // every class a unit refers to, by UUID
}

func newStore() *store {
	return &store{units: map[uuid.UUID]*moclient.OrgUnit{}, classes: map[uuid.UUID]moclient.Class{}}
}

// AddOrgUnit stores a new unit. Its parent, if any, must already exist. Validity.From must be set;
// addresses, managers, KLEs and IT users without a validity get the unit's. Ancestors is ignored
// (derived from Parent). The classes the unit refers to are registered; a class UUID seen before
// must carry the same user key, name and scope.
func (s *Server) AddOrgUnit(u moclient.OrgUnit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.UUID == uuid.Nil {
		return errors.New("motest: AddOrgUnit: UUID must be set")
	}
	if _, ok := s.store.units[u.UUID]; ok {
		return fmt.Errorf("motest: AddOrgUnit: org unit %s already exists", u.UUID)
	}
	return s.store.put(cloneUnit(u), "AddOrgUnit")
}

// UpdateOrgUnit replaces the stored state of an existing unit (rename, move, new addresses, …)
// with u, under the same rules as [Server.AddOrgUnit]; moving a unit below itself is refused.
func (s *Server) UpdateOrgUnit(u moclient.OrgUnit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.store.units[u.UUID]; !ok {
		return fmt.Errorf("motest: UpdateOrgUnit: org unit %s: %w", u.UUID, ErrUnknownObject)
	}
	return s.store.put(cloneUnit(u), "UpdateOrgUnit")
}

// TerminateOrgUnit ends the unit's validity at to (exclusive; to may equal the start, leaving
// an empty interval): from then on its "current" state is null, as for a terminated unit in
// OS2MO.
func (s *Server) TerminateOrgUnit(id uuid.UUID, to time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.store.units[id]
	if !ok {
		return fmt.Errorf("motest: TerminateOrgUnit: org unit %s: %w", id, ErrUnknownObject)
	}
	if to.Before(u.Validity.From) {
		return fmt.Errorf("motest: TerminateOrgUnit: org unit %s: end %s is before its start %s", id, to, u.Validity.From)
	}
	u.Validity.To = to
	return nil
}

// OrgUnit returns a copy of the stored unit, with Ancestors derived (nearest first), regardless
// of its validity.
func (s *Server) OrgUnit(id uuid.UUID) (moclient.OrgUnit, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.store.units[id]
	if !ok {
		return moclient.OrgUnit{}, false
	}
	c := cloneUnit(*u)
	c.Ancestors = s.store.ancestors(u)
	return c, true
}

// OrgUnitIDs returns the UUIDs of all stored units, parents before children.
func (s *Server) OrgUnitIDs() []uuid.UUID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]uuid.UUID, 0, len(s.store.units))
	for id := range s.store.units {
		ids = append(ids, id)
	}
	depth := func(id uuid.UUID) int { return len(s.store.ancestors(s.store.units[id])) }
	slices.SortFunc(ids, func(a, b uuid.UUID) int {
		if d := depth(a) - depth(b); d != 0 {
			return d
		}
		return slices.Compare(a[:], b[:])
	})
	return ids
}

// Load adds all units of d (parents must precede children, as [Generate] orders them).
func (s *Server) Load(d Dataset) error {
	for i, u := range d.Units {
		if err := s.AddOrgUnit(u); err != nil {
			return fmt.Errorf("motest: Load: unit %d: %w", i, err)
		}
	}
	return nil
}

// put validates u and stores it (u is already a private copy).
func (st *store) put(u moclient.OrgUnit, op string) error {
	if u.Name == "" {
		return fmt.Errorf("motest: %s: org unit %s: Name must be set", op, u.UUID)
	}
	if u.Validity.From.IsZero() {
		return fmt.Errorf("motest: %s: org unit %s: Validity.From must be set", op, u.UUID)
	}
	if u.Parent != nil {
		p, ok := st.units[*u.Parent]
		if !ok {
			return fmt.Errorf("motest: %s: org unit %s: parent %s: %w", op, u.UUID, *u.Parent, ErrUnknownObject)
		}
		for a := p; a != nil; a = st.parentOf(a) {
			if a.UUID == u.UUID {
				return fmt.Errorf("motest: %s: org unit %s: parent %s is the unit itself or below it", op, u.UUID, *u.Parent)
			}
		}
	}
	var classes []moclient.Class
	addClass := func(c *moclient.Class) {
		if c != nil {
			classes = append(classes, *c)
		}
	}
	addClass(u.UnitType)
	addClass(u.Level)
	addClass(u.Hierarchy)
	for i := range u.Addresses {
		a := &u.Addresses[i]
		addClass(&a.Type)
		addClass(a.Visibility)
		defaultValidity(&a.Validity, u.Validity)
		if a.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: org unit %s: address %d has no UUID", op, u.UUID, i)
		}
	}
	for i := range u.Managers {
		defaultValidity(&u.Managers[i].Validity, u.Validity)
	}
	for i := range u.KLE {
		k := &u.KLE[i]
		for j := range k.Numbers {
			addClass(&k.Numbers[j])
		}
		for j := range k.Aspects {
			addClass(&k.Aspects[j])
		}
		defaultValidity(&k.Validity, u.Validity)
	}
	for i := range u.ITUsers {
		defaultValidity(&u.ITUsers[i].Validity, u.Validity)
	}
	for _, c := range classes {
		if c.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: org unit %s: class %q has no UUID", op, u.UUID, c.UserKey)
		}
		if old, ok := st.classes[c.UUID]; ok && old != c {
			return fmt.Errorf("motest: %s: org unit %s: class %s is %+v here but %+v elsewhere", op, u.UUID, c.UUID, c, old)
		}
	}
	for _, c := range classes {
		st.classes[c.UUID] = c
	}
	u.Ancestors = nil
	st.units[u.UUID] = &u
	return nil
}

func defaultValidity(v *moclient.Validity, unit moclient.Validity) {
	if v.From.IsZero() {
		*v = unit
	}
}

func (st *store) parentOf(u *moclient.OrgUnit) *moclient.OrgUnit {
	if u.Parent == nil {
		return nil
	}
	return st.units[*u.Parent]
}

// ancestors returns the UUIDs above u, nearest first.
func (st *store) ancestors(u *moclient.OrgUnit) []uuid.UUID {
	var out []uuid.UUID
	for p := st.parentOf(u); p != nil; p = st.parentOf(p) {
		out = append(out, p.UUID)
	}
	return out
}

// cloneUnit deep-copies u so that callers cannot alias stored state.
func cloneUnit(u moclient.OrgUnit) moclient.OrgUnit {
	c := u
	c.Parent = clonePtr(u.Parent)
	c.Ancestors = slices.Clone(u.Ancestors)
	c.UnitType, c.Level, c.Hierarchy = clonePtr(u.UnitType), clonePtr(u.Level), clonePtr(u.Hierarchy)
	c.Addresses = slices.Clone(u.Addresses)
	for i := range c.Addresses {
		c.Addresses[i].Visibility = clonePtr(c.Addresses[i].Visibility)
	}
	c.Managers = slices.Clone(u.Managers)
	for i := range c.Managers {
		c.Managers[i].Person = clonePtr(c.Managers[i].Person)
	}
	c.KLE = slices.Clone(u.KLE)
	for i := range c.KLE {
		c.KLE[i].Numbers = slices.Clone(c.KLE[i].Numbers)
		c.KLE[i].Aspects = slices.Clone(c.KLE[i].Aspects)
	}
	c.ITUsers = slices.Clone(u.ITUsers)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// validAt reports whether v contains the instant t ([From, To), zero To open-ended).
func validAt(v moclient.Validity, t time.Time) bool {
	return !t.Before(v.From) && (v.To.IsZero() || t.Before(v.To))
}

// overlaps reports whether v meets the closed window [from, to]; nil bounds are unbounded.
func overlaps(v moclient.Validity, from, to *time.Time) bool {
	if to != nil && v.From.After(*to) {
		return false
	}
	if from != nil && !v.To.IsZero() && !v.To.After(*from) {
		return false
	}
	return true
}
