package motest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// Change is the outcome of a mutation: the object created or changed, and the events OS2MO emits
// for it, in the order they were published.
type Change struct {
	UUID    uuid.UUID // the object created or changed (for TerminatePerson and ClearManager: the person or unit)
	Created bool      // an object was created
	Events  []Event   // what was published, in order
}

// The mutation functions below store a change the way OS2MO's API does (an edit from a date
// splits the validity containing it; a termination cuts the validity short) and then publish
// the events OS2MO emits: one new-style event per changed object, carrying the changed object's
// own type and UUID (an address change is an "address" event for the address, not a "person"
// event), and, for publishers that send legacy keys, its owners. A zero from/to means now. On a
// publishing failure the change is kept and the error wraps [ErrNotPublished].

// mutate runs f under the write lock and publishes the events of its change.
func (s *Server) mutate(ctx context.Context, op string, f func(st *store, now time.Time) (Change, error)) (Change, error) {
	s.mu.Lock()
	ch, err := f(s.store, s.opts.Now())
	s.store.finish()
	s.mu.Unlock()
	if err != nil {
		return Change{}, fmt.Errorf("motest: %s: %w", op, err)
	}
	s.log.InfoContext(ctx, "OS2MO object changed", "op", op, "uuid", ch.UUID, "created", ch.Created, "events", len(ch.Events))
	if err := s.emit(ctx, ch.Events); err != nil {
		return ch, fmt.Errorf("motest: %s: %w", op, err)
	}
	return ch, nil
}

// UnitChange describes an edit of a unit; zero fields are left as they are. Class UUIDs must be
// known to the fake.
type UnitChange struct {
	Name      string
	UserKey   string
	Parent    *uuid.UUID
	UnitType  *uuid.UUID
	Level     *uuid.UUID
	Hierarchy *uuid.UUID
}

// CreateUnit creates a unit (a random UUID unless req.UUID is set; From defaults to now) and
// emits "org_unit".
func (s *Server) CreateUnit(ctx context.Context, req OrgUnitRequest) (Change, error) {
	return s.mutate(ctx, "CreateUnit", func(st *store, now time.Time) (Change, error) {
		if req.Name == "" {
			return Change{}, errors.New("name is required to create an org unit")
		}
		u := model.OrgUnit{UUID: uuid.New(), Name: req.Name, UserKey: req.UserKey, Parent: req.Parent}
		if req.UUID != nil {
			u.UUID = *req.UUID
		}
		if st.units.get(u.UUID) != nil {
			return Change{}, fmt.Errorf("org unit %s already exists", u.UUID)
		}
		if u.UserKey == "" {
			u.UserKey = u.UUID.String()
		}
		u.Validity.From = st.when(time.Time{}, now)
		if req.From != nil {
			u.Validity.From = st.when(*req.From, now)
		}
		if u.Parent != nil && st.units.get(*u.Parent) != nil && st.units.get(*u.Parent).at(u.Validity.From) == nil {
			return Change{}, fmt.Errorf("org unit %s: parent %s is not in effect on %s: %w", u.UUID, *u.Parent, u.Validity.From.Format(time.DateOnly), ErrRefused)
		}
		var err error
		if u.UnitType, err = st.classPtr(req.UnitType); err != nil {
			return Change{}, err
		}
		if u.Level, err = st.classPtr(req.Level); err != nil {
			return Change{}, err
		}
		if u.Hierarchy, err = st.classPtr(req.Hierarchy); err != nil {
			return Change{}, err
		}
		if err := st.putUnit(u, "CreateUnit", now); err != nil {
			return Change{}, err
		}
		return Change{UUID: u.UUID, Created: true, Events: []Event{{ObjectType: ObjectOrgUnit, UUID: u.UUID, Action: ActionCreate,
			Owners: unitOwner(u.UUID), Time: u.Validity.From}}}, nil
	})
}

// EditUnit changes a unit from "from" onward (rename, move, new user key or classes) and emits
// "org_unit". Moving a unit below itself is refused. OS2MO emits nothing for the descendants of
// a moved unit, although their ancestors change.
func (s *Server) EditUnit(ctx context.Context, id uuid.UUID, c UnitChange, from time.Time) (Change, error) {
	return s.mutate(ctx, "EditUnit", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		h := st.units.get(id)
		if h == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", id, ErrUnknownObject)
		}
		if c.Parent != nil {
			if st.units.get(*c.Parent) == nil {
				return Change{}, fmt.Errorf("parent %s: %w", *c.Parent, ErrUnknownObject)
			}
			if *c.Parent == id || slices.Contains(st.ancestors(*c.Parent, now), id) {
				return Change{}, fmt.Errorf("org unit %s: parent %s is the unit itself or below it: %w", id, *c.Parent, ErrRefused)
			}
			// As OS2MO does, a unit is only moved below a parent in effect when the move takes
			// effect (and from then on: a parent that ends later is OS2MO's own business).
			if st.units.get(*c.Parent).at(from) == nil {
				return Change{}, fmt.Errorf("org unit %s: parent %s is not in effect on %s: %w", id, *c.Parent, from.Format(time.DateOnly), ErrRefused)
			}
		}
		typ, err := st.classPtr(c.UnitType)
		if err != nil {
			return Change{}, err
		}
		lvl, err := st.classPtr(c.Level)
		if err != nil {
			return Change{}, err
		}
		hier, err := st.classPtr(c.Hierarchy)
		if err != nil {
			return Change{}, err
		}
		if err := h.change(from, func(d *unitData) {
			if c.Name != "" {
				d.name = c.Name
			}
			if c.UserKey != "" {
				d.userKey = c.UserKey
			}
			if c.Parent != nil {
				d.parent = clonePtr(c.Parent)
			}
			if typ != nil {
				d.unitType = typ
			}
			if lvl != nil {
				d.level = lvl
			}
			if hier != nil {
				d.hierarchy = hier
			}
		}); err != nil {
			return Change{}, fmt.Errorf("org unit %w", err)
		}
		return Change{UUID: id, Events: []Event{{ObjectType: ObjectOrgUnit, UUID: id, Action: ActionEdit, Owners: unitOwner(id), Time: from}}}, nil
	})
}

// RenameUnit renames a unit from "from" onward; see [Server.EditUnit].
func (s *Server) RenameUnit(ctx context.Context, id uuid.UUID, name string, from time.Time) (Change, error) {
	if name == "" {
		return Change{}, errors.New("motest: RenameUnit: empty name")
	}
	return s.EditUnit(ctx, id, UnitChange{Name: name}, from)
}

// MoveUnit moves a unit below parent from "from" onward; see [Server.EditUnit].
func (s *Server) MoveUnit(ctx context.Context, id, parent uuid.UUID, from time.Time) (Change, error) {
	return s.EditUnit(ctx, id, UnitChange{Parent: &parent}, from)
}

// TerminateUnit ends a unit at "to" (exclusive). As OS2MO does, it refuses while sub-units,
// engagements or associations of the unit remain in effect at or after "to"; the unit's own
// addresses, manager roles, KLE mark-ups and IT users are ended with it. It emits "org_unit" and
// one event per ended detail.
func (s *Server) TerminateUnit(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return s.mutate(ctx, "TerminateUnit", func(st *store, now time.Time) (Change, error) {
		to = st.when(to, now)
		h := st.units.get(id)
		if h == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", id, ErrUnknownObject)
		}
		if to.Before(h.start()) {
			return Change{}, fmt.Errorf("org unit %s: end %s is before its start %s", id, to.Format(time.RFC3339), h.start().Format(time.RFC3339))
		}
		after := func(v model.Validity) bool { return overlaps(v, &to, nil) && !(v.To.Equal(v.From)) }
		for _, cid := range st.units.sorted {
			for _, v := range st.units.get(cid).vs {
				if isID(v.d.parent, id) && after(v.val) {
					return Change{}, fmt.Errorf("org unit %s still has the sub-unit %s after %s: %w", id, cid, to.Format(time.RFC3339), ErrRefused)
				}
			}
		}
		for _, e := range st.linked(ObjectEngagement, id) {
			if slices.ContainsFunc(st.engagements.get(e).vs, func(v *ver[engData]) bool { return v.d.orgUnit == id && after(v.val) }) {
				return Change{}, fmt.Errorf("org unit %s still has the engagement %s after %s: %w", id, e, to.Format(time.RFC3339), ErrRefused)
			}
		}
		for _, a := range st.linked(ObjectAssociation, id) {
			if slices.ContainsFunc(st.associations.get(a).vs, func(v *ver[assocData]) bool { return v.d.orgUnit == id && after(v.val) }) {
				return Change{}, fmt.Errorf("org unit %s still has the association %s after %s: %w", id, a, to.Format(time.RFC3339), ErrRefused)
			}
		}
		if _, err := h.end(to); err != nil {
			return Change{}, fmt.Errorf("org unit %w", err)
		}
		ch := Change{UUID: id, Events: []Event{{ObjectType: ObjectOrgUnit, UUID: id, Action: ActionTerminate, Owners: unitOwner(id), Time: to}}}
		unit := &id
		ch.Events = append(ch.Events, endOwned(st.addresses, ObjectAddress, st.linked(ObjectAddress, id), to,
			func(v *ver[addrData]) bool { return isID(v.d.orgUnit, id) }, func(*ver[addrData]) []EventOwner { return unitOwner(id) })...)
		ch.Events = append(ch.Events, endOwned(st.managers, ObjectManager, st.linked(ObjectManager, id), to,
			func(v *ver[mgrData]) bool { return v.d.orgUnit == id }, func(v *ver[mgrData]) []EventOwner { return owners(v.d.person, unit) })...)
		ch.Events = append(ch.Events, endOwned(st.kles, ObjectKLE, st.linked(ObjectKLE, id), to,
			func(v *ver[kleData]) bool { return v.d.orgUnit == id }, func(*ver[kleData]) []EventOwner { return unitOwner(id) })...)
		ch.Events = append(ch.Events, endOwned(st.itusers, ObjectITUser, st.linked(ObjectITUser, id), to,
			func(v *ver[itData]) bool { return isID(v.d.orgUnit, id) }, func(*ver[itData]) []EventOwner { return unitOwner(id) })...)
		return ch, nil
	})
}

// endOwned ends, at to, each object among ids that belongs to the owner (per owns) in a validity
// reaching to or later, and returns a terminate event for each object that changed.
func endOwned[T keyed](t *table[T], kind string, ids []uuid.UUID, to time.Time, owns func(*ver[T]) bool, own func(*ver[T]) []EventOwner) []Event {
	var out []Event
	for _, id := range ids {
		h := t.get(id)
		if h == nil || !slices.ContainsFunc(h.vs, func(v *ver[T]) bool { return owns(v) && overlaps(v.val, &to, nil) }) {
			continue
		}
		cut := to
		if cut.Before(h.start()) {
			cut = h.start() // an object starting later is cut to nothing
		}
		if changed, err := h.end(cut); err != nil || !changed {
			continue
		}
		out = append(out, Event{ObjectType: kind, UUID: id, Action: ActionTerminate, Owners: own(h.vs[len(h.vs)-1]), Time: to})
	}
	return out
}

// CreatePerson stores p as [Server.AddPerson] does (a random UUID unless set) and emits "person"
// and one create event per engagement, IT user and address.
func (s *Server) CreatePerson(ctx context.Context, p model.Person) (Change, error) {
	return s.mutate(ctx, "CreatePerson", func(st *store, now time.Time) (Change, error) {
		if p.UUID == uuid.Nil {
			p.UUID = uuid.New()
		}
		if p.Validity.From.IsZero() {
			p.Validity.From = now
		}
		if err := st.addPerson(p, "CreatePerson"); err != nil {
			return Change{}, err
		}
		id := p.UUID
		ch := Change{UUID: id, Created: true, Events: []Event{{ObjectType: ObjectPerson, UUID: id, Action: ActionCreate, Owners: personOwner(&id), Time: p.Validity.From}}}
		for _, e := range p.Engagements {
			ch.Events = append(ch.Events, Event{ObjectType: ObjectEngagement, UUID: e.UUID, Action: ActionCreate,
				Owners: owners(&id, &e.OrgUnit), Time: defaulted(e.Validity, p.Validity).From})
		}
		for _, it := range p.ITUsers {
			ch.Events = append(ch.Events, Event{ObjectType: ObjectITUser, UUID: it.UUID, Action: ActionCreate, Owners: personOwner(&id), Time: defaulted(it.Validity, p.Validity).From})
		}
		for _, a := range p.Addresses {
			ch.Events = append(ch.Events, Event{ObjectType: ObjectAddress, UUID: a.UUID, Action: ActionCreate, Owners: personOwner(&id), Time: defaulted(a.Validity, p.Validity).From})
		}
		return ch, nil
	})
}

// TerminatePerson does what OS2MO's employee termination does: it ends the person's engagements,
// addresses, IT users, associations and leaves at "to" and makes the manager roles the person
// holds vacant from "to" (the person object itself stays). It emits one event per changed object.
func (s *Server) TerminatePerson(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return s.mutate(ctx, "TerminatePerson", func(st *store, now time.Time) (Change, error) {
		to = st.when(to, now)
		if st.persons.get(id) == nil {
			return Change{}, fmt.Errorf("person %s: %w", id, ErrUnknownObject)
		}
		ch := Change{UUID: id}
		person := &id
		ch.Events = append(ch.Events, endOwned(st.engagements, ObjectEngagement, st.linked(ObjectEngagement, id), to,
			func(v *ver[engData]) bool { return v.d.person == id }, func(v *ver[engData]) []EventOwner { return owners(person, &v.d.orgUnit) })...)
		ch.Events = append(ch.Events, endOwned(st.addresses, ObjectAddress, st.linked(ObjectAddress, id), to,
			func(v *ver[addrData]) bool { return isID(v.d.person, id) }, func(*ver[addrData]) []EventOwner { return personOwner(person) })...)
		ch.Events = append(ch.Events, endOwned(st.itusers, ObjectITUser, st.linked(ObjectITUser, id), to,
			func(v *ver[itData]) bool { return isID(v.d.person, id) }, func(*ver[itData]) []EventOwner { return personOwner(person) })...)
		ch.Events = append(ch.Events, endOwned(st.associations, ObjectAssociation, st.linked(ObjectAssociation, id), to,
			func(v *ver[assocData]) bool { return v.d.person == id }, func(v *ver[assocData]) []EventOwner { return owners(person, &v.d.orgUnit) })...)
		ch.Events = append(ch.Events, endOwned(st.leaves, ObjectLeave, st.linked(ObjectLeave, id), to,
			func(v *ver[leaveData]) bool { return v.d.person == id }, func(*ver[leaveData]) []EventOwner { return personOwner(person) })...)
		for _, m := range st.linked(ObjectManager, id) {
			h := st.managers.get(m)
			if h == nil || !slices.ContainsFunc(h.vs, func(v *ver[mgrData]) bool { return isID(v.d.person, id) && overlaps(v.val, &to, nil) }) {
				continue
			}
			if err := h.change(to, func(d *mgrData) {
				if isID(d.person, id) {
					d.person = nil
				}
			}); err != nil {
				continue
			}
			unit := h.vs[len(h.vs)-1].d.orgUnit
			ch.Events = append(ch.Events, Event{ObjectType: ObjectManager, UUID: m, Action: ActionEdit, Owners: owners(person, &unit), Time: to})
		}
		return ch, nil
	})
}

// AddEngagement adds an engagement of an existing person in an existing unit (a random UUID
// unless e.UUID is set; Validity.From defaults to now; UserKey to the UUID; job function and
// engagement type to "Medarbejder" and "Ansat") and emits "engagement".
func (s *Server) AddEngagement(ctx context.Context, person uuid.UUID, e model.Engagement) (Change, error) {
	return s.mutate(ctx, "AddEngagement", func(st *store, now time.Time) (Change, error) {
		if e.UUID == uuid.Nil {
			e.UUID = uuid.New()
		}
		if st.engagements.get(e.UUID) != nil {
			return Change{}, fmt.Errorf("engagement %s already exists", e.UUID)
		}
		if st.persons.get(person) == nil {
			return Change{}, fmt.Errorf("person %s: %w", person, ErrUnknownObject)
		}
		if st.units.get(e.OrgUnit) == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", e.OrgUnit, ErrUnknownObject)
		}
		e.Validity.From = st.when(e.Validity.From, now)
		defaultEngagementClasses(&e)
		if err := st.register("AddEngagement", e.UUID, &e.JobFunction, &e.EngagementType); err != nil {
			return Change{}, err
		}
		st.putEngagement(person, e, e.Validity)
		return Change{UUID: e.UUID, Created: true, Events: []Event{{ObjectType: ObjectEngagement, UUID: e.UUID, Action: ActionCreate,
			Owners: owners(&person, &e.OrgUnit), Time: e.Validity.From}}}, nil
	})
}

// EngagementChange describes an edit of an engagement; nil fields are left as they are.
// Extensions maps 1…10 to the new extension_N value.
type EngagementChange struct {
	OrgUnit     *uuid.UUID
	JobFunction *model.Class
	Primary     *bool
	Extensions  map[int]string
}

// ChangeEngagement edits an engagement from "from" onward (new unit, job function, extension
// fields) and emits "engagement".
func (s *Server) ChangeEngagement(ctx context.Context, id uuid.UUID, c EngagementChange, from time.Time) (Change, error) {
	return s.mutate(ctx, "ChangeEngagement", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		h := st.engagements.get(id)
		if h == nil {
			return Change{}, fmt.Errorf("engagement %s: %w", id, ErrUnknownObject)
		}
		if c.OrgUnit != nil && st.units.get(*c.OrgUnit) == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", *c.OrgUnit, ErrUnknownObject)
		}
		for n := range c.Extensions {
			if n < 1 || n > 10 {
				return Change{}, fmt.Errorf("engagement %s: no extension_%d", id, n)
			}
		}
		if err := st.register("ChangeEngagement", id, c.JobFunction); err != nil {
			return Change{}, err
		}
		old := h.nowOrLast(from).d.orgUnit
		if err := h.change(from, func(d *engData) {
			if c.OrgUnit != nil {
				d.orgUnit = *c.OrgUnit
			}
			if c.JobFunction != nil {
				d.jobFunction = *c.JobFunction
			}
			if c.Primary != nil {
				d.primary = *c.Primary
			}
			for _, n := range slices.Sorted(maps.Keys(c.Extensions)) {
				d.ext[n-1] = c.Extensions[n]
			}
		}); err != nil {
			return Change{}, fmt.Errorf("engagement %w", err)
		}
		person := h.vs[0].d.person
		own := owners(&person, &old)
		if c.OrgUnit != nil && *c.OrgUnit != old {
			st.link(ObjectEngagement, c.OrgUnit, id)
			own = append(own, unitOwner(*c.OrgUnit)...)
		}
		return Change{UUID: id, Events: []Event{{ObjectType: ObjectEngagement, UUID: id, Action: ActionEdit, Owners: own, Time: from}}}, nil
	})
}

// EndEngagement ends an engagement at "to" and emits "engagement".
func (s *Server) EndEngagement(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return endOne(s, ctx, "EndEngagement", ObjectEngagement, id, to, func(st *store) *table[engData] { return st.engagements },
		func(v *ver[engData]) []EventOwner { return owners(&v.d.person, &v.d.orgUnit) })
}

// endOne ends one object of a table at to and emits its terminate event.
func endOne[T keyed](s *Server, ctx context.Context, op, kind string, id uuid.UUID, to time.Time, tab func(*store) *table[T], own func(*ver[T]) []EventOwner) (Change, error) {
	return s.mutate(ctx, op, func(st *store, now time.Time) (Change, error) {
		to = st.when(to, now)
		h := tab(st).get(id)
		if h == nil {
			return Change{}, fmt.Errorf("%s %s: %w", kind, id, ErrUnknownObject)
		}
		changed, err := h.end(to)
		if err != nil {
			return Change{}, fmt.Errorf("%s %w", kind, err)
		}
		if !changed {
			return Change{UUID: id}, nil
		}
		return Change{UUID: id, Events: []Event{{ObjectType: kind, UUID: id, Action: ActionTerminate, Owners: own(h.vs[len(h.vs)-1]), Time: to}}}, nil
	})
}

// AddressChange describes an edit of an address; nil fields are left as they are. Visibility
// sets a visibility class; NoVisibility removes it.
type AddressChange struct {
	Value        *string
	Name         *string
	Visibility   *model.Class
	NoVisibility bool
}

// AddAddress adds an address to an existing person or unit (owner; a random UUID unless a.UUID is
// set; Validity.From defaults to now; Name to Value) and emits "address".
func (s *Server) AddAddress(ctx context.Context, owner uuid.UUID, a model.Address) (Change, error) {
	return s.mutate(ctx, "AddAddress", func(st *store, now time.Time) (Change, error) {
		if a.UUID == uuid.Nil {
			a.UUID = uuid.New()
		}
		if st.addresses.get(a.UUID) != nil {
			return Change{}, fmt.Errorf("address %s already exists", a.UUID)
		}
		a.Validity.From = st.when(a.Validity.From, now)
		if a.Name == "" {
			a.Name = a.Value
		}
		var d addrData
		switch {
		case st.persons.get(owner) != nil:
			d.person = &owner
		case st.units.get(owner) != nil:
			d.orgUnit = &owner
		default:
			return Change{}, fmt.Errorf("owner %s: %w", owner, ErrUnknownObject)
		}
		if err := st.register("AddAddress", a.UUID, &a.Type, a.Visibility); err != nil {
			return Change{}, err
		}
		st.putAddress(a, d, a.Validity)
		return Change{UUID: a.UUID, Created: true, Events: []Event{{ObjectType: ObjectAddress, UUID: a.UUID, Action: ActionCreate,
			Owners: owners(d.person, d.orgUnit), Time: a.Validity.From}}}, nil
	})
}

// ChangeAddress edits an address from "from" onward (value, name, visibility) and emits "address".
func (s *Server) ChangeAddress(ctx context.Context, id uuid.UUID, c AddressChange, from time.Time) (Change, error) {
	return s.mutate(ctx, "ChangeAddress", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		h := st.addresses.get(id)
		if h == nil {
			return Change{}, fmt.Errorf("address %s: %w", id, ErrUnknownObject)
		}
		if err := st.register("ChangeAddress", id, c.Visibility); err != nil {
			return Change{}, err
		}
		if err := h.change(from, func(d *addrData) {
			if c.Value != nil {
				d.value, d.userKey = *c.Value, *c.Value
			}
			if c.Name != nil {
				d.name = *c.Name
			}
			if c.Visibility != nil {
				d.visibility = clonePtr(c.Visibility)
			}
			if c.NoVisibility {
				d.visibility = nil
			}
		}); err != nil {
			return Change{}, fmt.Errorf("address %w", err)
		}
		last := h.vs[len(h.vs)-1].d
		return Change{UUID: id, Events: []Event{{ObjectType: ObjectAddress, UUID: id, Action: ActionEdit,
			Owners: owners(last.person, last.orgUnit), Time: from}}}, nil
	})
}

// EndAddress ends an address at "to" and emits "address".
func (s *Server) EndAddress(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return endOne(s, ctx, "EndAddress", ObjectAddress, id, to, func(st *store) *table[addrData] { return st.addresses },
		func(v *ver[addrData]) []EventOwner { return owners(v.d.person, v.d.orgUnit) })
}

// SetManager makes person (nil: vacant) the manager of unit from "from" onward: it edits the
// unit's manager role in effect then (or next), or creates one if the unit has none, and emits
// "manager".
func (s *Server) SetManager(ctx context.Context, unit uuid.UUID, person *uuid.UUID, from time.Time) (Change, error) {
	return s.mutate(ctx, "SetManager", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		if st.units.get(unit) == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", unit, ErrUnknownObject)
		}
		if person != nil && st.persons.get(*person) == nil {
			return Change{}, fmt.Errorf("person %s: %w", *person, ErrUnknownObject)
		}
		for _, m := range st.linked(ObjectManager, unit) {
			h := st.managers.get(m)
			if h == nil || !slices.ContainsFunc(h.vs, func(v *ver[mgrData]) bool { return v.d.orgUnit == unit && overlaps(v.val, &from, nil) }) {
				continue
			}
			old := h.nowOrLast(from).d.person
			if err := h.change(from, func(d *mgrData) { d.person = clonePtr(person) }); err != nil {
				return Change{}, fmt.Errorf("manager %w", err)
			}
			st.link(ObjectManager, person, m)
			own := owners(old, &unit)
			if person != nil && !isID(old, *person) {
				own = append(personOwner(person), own...)
			}
			return Change{UUID: m, Events: []Event{{ObjectType: ObjectManager, UUID: m, Action: ActionEdit, Owners: own, Time: from}}}, nil
		}
		id := uuid.New()
		st.putManager(id, model.Validity{From: from}, mgrData{userKey: id.String(), orgUnit: unit, person: clonePtr(person)})
		return Change{UUID: id, Created: true, Events: []Event{{ObjectType: ObjectManager, UUID: id, Action: ActionCreate,
			Owners: owners(person, &unit), Time: from}}}, nil
	})
}

// ClearManager ends every manager role of unit at "to" and emits "manager" for each.
func (s *Server) ClearManager(ctx context.Context, unit uuid.UUID, to time.Time) (Change, error) {
	return s.mutate(ctx, "ClearManager", func(st *store, now time.Time) (Change, error) {
		to = st.when(to, now)
		if st.units.get(unit) == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", unit, ErrUnknownObject)
		}
		ch := Change{UUID: unit}
		ch.Events = endOwned(st.managers, ObjectManager, st.linked(ObjectManager, unit), to,
			func(v *ver[mgrData]) bool { return v.d.orgUnit == unit }, func(v *ver[mgrData]) []EventOwner { return owners(v.d.person, &unit) })
		if len(ch.Events) == 0 {
			return Change{}, fmt.Errorf("org unit %s has no manager role in effect at or after %s: %w", unit, to.Format(time.RFC3339), ErrUnknownObject)
		}
		return ch, nil
	})
}

// AddKLE marks unit up with KLE numbers and aspects from "from" onward and emits "kle".
func (s *Server) AddKLE(ctx context.Context, unit uuid.UUID, numbers, aspects []model.Class, from time.Time) (Change, error) {
	return s.mutate(ctx, "AddKLE", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		if st.units.get(unit) == nil {
			return Change{}, fmt.Errorf("org unit %s: %w", unit, ErrUnknownObject)
		}
		if len(numbers) == 0 {
			return Change{}, errors.New("a KLE mark-up needs at least one KLE number")
		}
		numbers, aspects = slices.Clone(numbers), slices.Clone(aspects)
		if err := st.register("AddKLE", unit, append(ptrs(numbers), ptrs(aspects)...)...); err != nil {
			return Change{}, err
		}
		id := uuid.New()
		st.kles.put(newHist(id, model.Validity{From: from}, kleData{userKey: id.String(), orgUnit: unit, numbers: numbers, aspects: aspects}))
		st.link(ObjectKLE, &unit, id)
		return Change{UUID: id, Created: true, Events: []Event{{ObjectType: ObjectKLE, UUID: id, Action: ActionCreate, Owners: unitOwner(unit), Time: from}}}, nil
	})
}

// RemoveKLE ends a KLE mark-up at "to" and emits "kle".
func (s *Server) RemoveKLE(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return endOne(s, ctx, "RemoveKLE", ObjectKLE, id, to, func(st *store) *table[kleData] { return st.kles },
		func(v *ver[kleData]) []EventOwner { return unitOwner(v.d.orgUnit) })
}

// AddITUser gives an existing person an IT account (e.g. an AD account: IT system user key
// "Active Directory", UserKey the sAMAccountName, ExternalID the objectGUID; a random UUID unless
// set; Validity.From defaults to now) and emits "ituser". The account is linked to every
// engagement in it.Engagements (repeats dropped), which must be engagements of the person.
func (s *Server) AddITUser(ctx context.Context, person uuid.UUID, it model.ITUser) (Change, error) {
	return s.mutate(ctx, "AddITUser", func(st *store, now time.Time) (Change, error) {
		if it.UUID == uuid.Nil {
			it.UUID = uuid.New()
		}
		if st.itusers.get(it.UUID) != nil {
			return Change{}, fmt.Errorf("IT user %s already exists", it.UUID)
		}
		if st.persons.get(person) == nil {
			return Change{}, fmt.Errorf("person %s: %w", person, ErrUnknownObject)
		}
		if it.UserKey == "" {
			return Change{}, errors.New("an IT user needs a user key")
		}
		if err := st.checkEngagementLinks(person, it.Engagements); err != nil {
			return Change{}, fmt.Errorf("IT user %s: %w", it.UUID, err)
		}
		it.Validity.From = st.when(it.Validity.From, now)
		if err := st.register("AddITUser", it.UUID, &it.ITSystem); err != nil {
			return Change{}, err
		}
		st.putITUser(it, itData{person: &person}, it.Validity)
		return Change{UUID: it.UUID, Created: true, Events: []Event{{ObjectType: ObjectITUser, UUID: it.UUID, Action: ActionCreate,
			Owners: personOwner(&person), Time: it.Validity.From}}}, nil
	})
}

// ITUserChange describes an edit of an IT account; nil fields are left as they are. A non-nil
// Engagements replaces the engagement links (empty: linked to none).
type ITUserChange struct {
	UserKey     *string
	ExternalID  *string
	Engagements []uuid.UUID
}

// ChangeITUser edits an IT account from "from" onward (user key, external ID, the engagements it
// is linked to, which must be engagements of its person) and emits "ituser".
func (s *Server) ChangeITUser(ctx context.Context, id uuid.UUID, c ITUserChange, from time.Time) (Change, error) {
	return s.mutate(ctx, "ChangeITUser", func(st *store, now time.Time) (Change, error) {
		from = st.when(from, now)
		h := st.itusers.get(id)
		if h == nil {
			return Change{}, fmt.Errorf("IT user %s: %w", id, ErrUnknownObject)
		}
		if c.UserKey != nil && *c.UserKey == "" {
			return Change{}, fmt.Errorf("IT user %s: an IT user needs a user key", id)
		}
		last := h.vs[len(h.vs)-1].d
		if c.Engagements != nil {
			if last.person == nil {
				if len(c.Engagements) > 0 {
					return Change{}, fmt.Errorf("IT user %s belongs to a unit and cannot be linked to engagements", id)
				}
			} else if err := st.checkEngagementLinks(*last.person, c.Engagements); err != nil {
				return Change{}, fmt.Errorf("IT user %s: %w", id, err)
			}
		}
		links := distinct(c.Engagements)
		if err := h.change(from, func(d *itData) {
			if c.UserKey != nil {
				d.userKey = *c.UserKey
			}
			if c.ExternalID != nil {
				d.externalID = *c.ExternalID
			}
			if c.Engagements != nil {
				d.engagements = links
			}
		}); err != nil {
			return Change{}, fmt.Errorf("IT user %w", err)
		}
		return Change{UUID: id, Events: []Event{{ObjectType: ObjectITUser, UUID: id, Action: ActionEdit,
			Owners: owners(last.person, last.orgUnit), Time: from}}}, nil
	})
}

// checkEngagementLinks requires every engagement in ids to be one the fake holds of person.
func (st *store) checkEngagementLinks(person uuid.UUID, ids []uuid.UUID) error {
	for _, e := range ids {
		h := st.engagements.get(e)
		if h == nil {
			return fmt.Errorf("engagement %s: %w", e, ErrUnknownObject)
		}
		if h.vs[0].d.person != person {
			return fmt.Errorf("engagement %s is not an engagement of person %s", e, person)
		}
	}
	return nil
}

// RemoveITUser ends an IT account at "to" and emits "ituser".
func (s *Server) RemoveITUser(ctx context.Context, id uuid.UUID, to time.Time) (Change, error) {
	return endOne(s, ctx, "RemoveITUser", ObjectITUser, id, to, func(st *store) *table[itData] { return st.itusers },
		func(v *ver[itData]) []EventOwner { return owners(v.d.person, v.d.orgUnit) })
}

// classPtr looks up a class by UUID (nil in, nil out).
func (st *store) classPtr(id *uuid.UUID) (*model.Class, error) {
	if id == nil {
		return nil, nil
	}
	c, ok := st.classes[*id]
	if !ok {
		return nil, fmt.Errorf("class %s: %w", *id, ErrUnknownObject)
	}
	return &c, nil
}
