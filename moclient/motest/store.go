package motest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// ErrUnknownObject is returned (wrapped) for a UUID the fake does not hold.
var ErrUnknownObject = errors.New("motest: unknown object")

// ErrRefused is returned (wrapped) for a change OS2MO would refuse, such as terminating a unit that
// still has active sub-units or engagements.
var ErrRefused = errors.New("motest: change refused")

// Stored states, one per validity. They mirror OS2MO's objects, not the moclient model (which is
// what the reader makes of them).
type (
	unitData struct {
		name, userKey              string
		parent                     *uuid.UUID
		unitType, level, hierarchy *model.Class
	}
	personData struct {
		userKey, givenName, surname, nickGiven, nickSurname, cpr string
	}
	engData struct {
		userKey              string
		person, orgUnit      uuid.UUID
		jobFunction, engType model.Class
		primary              bool
		fraction             *int
		ext                  [10]string
	}
	addrData struct {
		userKey                             string
		person, orgUnit, engagement, itUser *uuid.UUID
		typ                                 model.Class
		visibility                          *model.Class
		value, name                         string
	}
	itData struct {
		userKey, externalID string
		person, orgUnit     *uuid.UUID
		// engagements are the engagements the account is linked to, distinct, in the order they
		// were given (OS2MO's engagement_response is the first).
		engagements []uuid.UUID
		system      model.Class
	}
	mgrData struct {
		userKey string
		orgUnit uuid.UUID
		person  *uuid.UUID
	}
	kleData struct {
		userKey          string
		orgUnit          uuid.UUID
		numbers, aspects []model.Class
	}
	assocData struct {
		userKey         string
		person, orgUnit uuid.UUID
		typ             model.Class
	}
	leaveData struct {
		userKey    string
		person     uuid.UUID
		engagement *uuid.UUID
		typ        model.Class
	}
)

func (d unitData) key() string   { return d.userKey }
func (d personData) key() string { return d.userKey }
func (d engData) key() string    { return d.userKey }
func (d addrData) key() string   { return d.userKey }
func (d itData) key() string     { return d.userKey }
func (d mgrData) key() string    { return d.userKey }
func (d kleData) key() string    { return d.userKey }
func (d assocData) key() string  { return d.userKey }
func (d leaveData) key() string  { return d.userKey }

func (d personData) fullName() string { return joinName(d.givenName, d.surname) }
func (d personData) nickname() string { return joinName(d.nickGiven, d.nickSurname) }

func joinName(a, b string) string { return strings.TrimSpace(a + " " + b) }

// Association is a person's association (tilknytning) with a unit, e.g. a seat in a MED
// committee. The reader only looks up its owners; the fake stores it for that.
type Association struct {
	UUID     uuid.UUID
	UserKey  string
	Person   uuid.UUID
	OrgUnit  uuid.UUID
	Type     model.Class
	Validity model.Validity
}

// Leave is a person's leave (orlov), optionally of one engagement.
type Leave struct {
	UUID       uuid.UUID
	UserKey    string
	Person     uuid.UUID
	Engagement *uuid.UUID
	Type       model.Class
	Validity   model.Validity
}

// linkKey indexes the objects of one type that refer to an owner (a unit or a person).
type linkKey struct {
	kind  string
	owner uuid.UUID
}

// store is the in-memory organisation. It is not locked itself; Server guards it with its mutex,
// and every write ends with finish.
type store struct {
	classes      map[uuid.UUID]model.Class // classes and IT systems, by UUID
	units        *table[unitData]
	persons      *table[personData]
	engagements  *table[engData]
	addresses    *table[addrData]
	itusers      *table[itData]
	managers     *table[mgrData]
	kles         *table[kleData]
	associations *table[assocData]
	leaves       *table[leaveData]
	// links lists, per (type, owner), the objects that refer to the owner in some validity.
	// Entries can be stale after an owner changes; readers re-check the validity they look at.
	links map[linkKey][]uuid.UUID
	// day, when set, maps a validity boundary to the start of its day in Copenhagen: OS2MO up to
	// GraphQL v28 keeps validities as dates (Options.ExactIntervals unset).
	day func(time.Time) time.Time
}

// newStore returns an empty store; day, when set, makes every validity boundary the start of its
// day (date granularity).
func newStore(day func(time.Time) time.Time) *store {
	return &store{
		classes: map[uuid.UUID]model.Class{}, units: newTable[unitData](day), persons: newTable[personData](day),
		engagements: newTable[engData](day), addresses: newTable[addrData](day), itusers: newTable[itData](day),
		managers: newTable[mgrData](day), kles: newTable[kleData](day), associations: newTable[assocData](day),
		leaves: newTable[leaveData](day), links: map[linkKey][]uuid.UUID{}, day: day,
	}
}

// when is the boundary a change or end given as t takes effect at: now when t is zero, and with
// date granularity the start of its day.
func (st *store) when(t, now time.Time) time.Time {
	if t.IsZero() {
		t = now
	}
	if st.day != nil {
		return st.day(t)
	}
	return t
}

func (st *store) finish() {
	st.units.finish()
	st.persons.finish()
	st.engagements.finish()
	st.addresses.finish()
	st.itusers.finish()
	st.managers.finish()
	st.kles.finish()
	st.associations.finish()
	st.leaves.finish()
}

func (st *store) link(kind string, owner *uuid.UUID, id uuid.UUID) {
	if owner == nil {
		return
	}
	k := linkKey{kind, *owner}
	if !slices.Contains(st.links[k], id) {
		st.links[k] = append(st.links[k], id)
	}
}

func (st *store) unlink(kind string, owner *uuid.UUID, id uuid.UUID) {
	if owner == nil {
		return
	}
	k := linkKey{kind, *owner}
	st.links[k] = slices.DeleteFunc(st.links[k], func(x uuid.UUID) bool { return x == id })
}

func (st *store) linked(kind string, owner uuid.UUID) []uuid.UUID {
	return st.links[linkKey{kind, owner}]
}

// register checks that classes seen before carry the same user key, name and scope, then records
// them; nil entries are skipped.
func (st *store) register(op string, owner uuid.UUID, cs ...*model.Class) error {
	for _, c := range cs {
		if c == nil {
			continue
		}
		if c.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: %s: class %q has no UUID", op, owner, c.UserKey)
		}
		if old, ok := st.classes[c.UUID]; ok && old != *c {
			return fmt.Errorf("motest: %s: %s: class %s is %+v here but %+v elsewhere", op, owner, c.UUID, *c, old)
		}
	}
	for _, c := range cs {
		if c != nil {
			st.classes[c.UUID] = *c
		}
	}
	return nil
}

// parentOf returns the unit's parent as of t (falling back to its latest state), or nil.
func (st *store) parentOf(id uuid.UUID, t time.Time) *uuid.UUID {
	h := st.units.get(id)
	if h == nil {
		return nil
	}
	return h.nowOrLast(t).d.parent
}

// ancestors returns the UUIDs above unit id as of t, nearest first.
func (st *store) ancestors(id uuid.UUID, t time.Time) []uuid.UUID {
	var out []uuid.UUID
	for p := st.parentOf(id, t); p != nil && len(out) <= len(st.units.m); p = st.parentOf(*p, t) {
		out = append(out, *p)
	}
	return out
}

// AddOrgUnit stores a new unit with its addresses, managers, KLE mark-ups and IT users as separate
// OS2MO objects. Its parent, if any, must already exist. Validity.From must be set; details
// without a validity get the unit's. Ancestors is ignored (derived from Parent). The classes the
// unit refers to are registered; a class UUID seen before must carry the same user key, name and
// scope. A manager's person is not checked (it may be loaded later).
func (s *Server) AddOrgUnit(u model.OrgUnit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	if u.UUID == uuid.Nil {
		return errors.New("motest: AddOrgUnit: UUID must be set")
	}
	if s.store.units.get(u.UUID) != nil {
		return fmt.Errorf("motest: AddOrgUnit: org unit %s already exists", u.UUID)
	}
	return s.store.putUnit(u, "AddOrgUnit", s.opts.Now())
}

// UpdateOrgUnit replaces the stored history of an existing unit with the single state u (rename,
// move, new addresses, …), under the same rules as [Server.AddOrgUnit]; details of the unit that
// u no longer lists are deleted, and moving a unit below itself is refused. It publishes nothing;
// see [Server.RenameUnit] and friends for changes with events.
func (s *Server) UpdateOrgUnit(u model.OrgUnit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	if s.store.units.get(u.UUID) == nil {
		return fmt.Errorf("motest: UpdateOrgUnit: org unit %s: %w", u.UUID, ErrUnknownObject)
	}
	return s.store.putUnit(u, "UpdateOrgUnit", s.opts.Now())
}

// TerminateOrgUnit ends the unit's validity at to (exclusive; to may equal the start, leaving an
// empty interval): from then on its "current" state is null, as for a terminated unit in OS2MO.
// Unlike [Server.TerminateUnit] it checks nothing, ends no details and publishes nothing.
func (s *Server) TerminateOrgUnit(id uuid.UUID, to time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.store.units.get(id)
	if h == nil {
		return fmt.Errorf("motest: TerminateOrgUnit: org unit %s: %w", id, ErrUnknownObject)
	}
	if _, err := h.end(to); err != nil {
		return fmt.Errorf("motest: TerminateOrgUnit: org unit %w", err)
	}
	return nil
}

// putUnit validates u and stores it with its details, replacing an existing unit's history.
func (st *store) putUnit(u model.OrgUnit, op string, now time.Time) error {
	if u.Name == "" {
		return fmt.Errorf("motest: %s: org unit %s: Name must be set", op, u.UUID)
	}
	if u.Validity.From.IsZero() {
		return fmt.Errorf("motest: %s: org unit %s: Validity.From must be set", op, u.UUID)
	}
	if u.Parent != nil {
		if st.units.get(*u.Parent) == nil {
			return fmt.Errorf("motest: %s: org unit %s: parent %s: %w", op, u.UUID, *u.Parent, ErrUnknownObject)
		}
		if *u.Parent == u.UUID || slices.Contains(st.ancestors(*u.Parent, now), u.UUID) {
			return fmt.Errorf("motest: %s: org unit %s: parent %s is the unit itself or below it", op, u.UUID, *u.Parent)
		}
	}
	classes := []*model.Class{u.UnitType, u.Level, u.Hierarchy}
	for i := range u.Addresses {
		a := &u.Addresses[i]
		classes = append(classes, &a.Type, a.Visibility)
	}
	for i := range u.KLE {
		for j := range u.KLE[i].Numbers {
			classes = append(classes, &u.KLE[i].Numbers[j])
		}
		for j := range u.KLE[i].Aspects {
			classes = append(classes, &u.KLE[i].Aspects[j])
		}
	}
	for i := range u.ITUsers {
		classes = append(classes, &u.ITUsers[i].ITSystem)
	}
	if err := checkIDs(op, u.UUID, u.Addresses, u.Managers, u.KLE, u.ITUsers); err != nil {
		return err
	}
	if err := st.register(op, u.UUID, classes...); err != nil {
		return err
	}
	id := u.UUID
	keep := map[uuid.UUID]bool{}
	st.units.put(newHist(id, u.Validity, unitData{
		name: u.Name, userKey: u.UserKey, parent: clonePtr(u.Parent),
		unitType: clonePtr(u.UnitType), level: clonePtr(u.Level), hierarchy: clonePtr(u.Hierarchy),
	}))
	for _, a := range u.Addresses {
		keep[a.UUID] = true
		st.putAddress(a, addrData{orgUnit: &id}, u.Validity)
	}
	for _, m := range u.Managers {
		keep[m.UUID] = true
		st.putManager(m.UUID, defaulted(m.Validity, u.Validity), mgrData{userKey: m.UUID.String(), orgUnit: id, person: clonePtr(m.Person)})
	}
	for _, k := range u.KLE {
		keep[k.UUID] = true
		st.kles.put(newHist(k.UUID, defaulted(k.Validity, u.Validity), kleData{
			userKey: k.UUID.String(), orgUnit: id, numbers: slices.Clone(k.Numbers), aspects: slices.Clone(k.Aspects)}))
		st.link(ObjectKLE, &id, k.UUID)
	}
	for _, it := range u.ITUsers {
		keep[it.UUID] = true
		st.putITUser(it, itData{orgUnit: &id}, u.Validity)
	}
	// Details a replaced unit no longer lists are deleted (UpdateOrgUnit replaces the whole state).
	for _, kind := range []string{ObjectAddress, ObjectManager, ObjectKLE, ObjectITUser} {
		for _, d := range slices.Clone(st.linked(kind, id)) {
			if !keep[d] && st.ownedBy(kind, d, id) {
				st.deleteDetail(kind, d)
			}
		}
	}
	return nil
}

// ownedBy reports whether detail d of kind belongs to unit or person owner in its latest state.
func (st *store) ownedBy(kind string, d, owner uuid.UUID) bool {
	is := func(p *uuid.UUID) bool { return p != nil && *p == owner }
	switch kind {
	case ObjectAddress:
		h := st.addresses.get(d)
		return h != nil && (is(h.vs[len(h.vs)-1].d.orgUnit) || is(h.vs[len(h.vs)-1].d.person))
	case ObjectITUser:
		h := st.itusers.get(d)
		return h != nil && (is(h.vs[len(h.vs)-1].d.orgUnit) || is(h.vs[len(h.vs)-1].d.person))
	case ObjectManager:
		h := st.managers.get(d)
		return h != nil && h.vs[len(h.vs)-1].d.orgUnit == owner
	case ObjectKLE:
		h := st.kles.get(d)
		return h != nil && h.vs[len(h.vs)-1].d.orgUnit == owner
	}
	return false
}

func (st *store) deleteDetail(kind string, d uuid.UUID) {
	switch kind {
	case ObjectAddress:
		if h := st.addresses.get(d); h != nil {
			for _, v := range h.vs {
				st.unlink(kind, v.d.orgUnit, d)
				st.unlink(kind, v.d.person, d)
			}
		}
		st.addresses.del(d)
	case ObjectITUser:
		if h := st.itusers.get(d); h != nil {
			for _, v := range h.vs {
				st.unlink(kind, v.d.orgUnit, d)
				st.unlink(kind, v.d.person, d)
			}
		}
		st.itusers.del(d)
	case ObjectManager:
		if h := st.managers.get(d); h != nil {
			for _, v := range h.vs {
				st.unlink(kind, &v.d.orgUnit, d)
				st.unlink(kind, v.d.person, d)
			}
		}
		st.managers.del(d)
	case ObjectKLE:
		if h := st.kles.get(d); h != nil {
			st.unlink(kind, &h.vs[0].d.orgUnit, d)
		}
		st.kles.del(d)
	}
}

func (st *store) putAddress(a model.Address, owner addrData, def model.Validity) {
	owner.userKey = a.Value
	owner.typ, owner.visibility = a.Type, clonePtr(a.Visibility)
	owner.value, owner.name = a.Value, a.Name
	owner.engagement, owner.itUser = clonePtr(a.Engagement), clonePtr(a.ITUser)
	st.addresses.put(newHist(a.UUID, defaulted(a.Validity, def), owner))
	st.link(ObjectAddress, owner.orgUnit, a.UUID)
	st.link(ObjectAddress, owner.person, a.UUID)
}

func (st *store) putITUser(it model.ITUser, owner itData, def model.Validity) {
	owner.userKey, owner.externalID, owner.system = it.UserKey, it.ExternalID, it.ITSystem
	owner.engagements = distinct(it.Engagements)
	st.itusers.put(newHist(it.UUID, defaulted(it.Validity, def), owner))
	st.link(ObjectITUser, owner.orgUnit, it.UUID)
	st.link(ObjectITUser, owner.person, it.UUID)
}

// distinct returns the UUIDs of ids without repeats, in first-seen order; nil when there are none.
func distinct(ids []uuid.UUID) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// linkedEngagements returns the engagements an IT user's state d is linked to that OS2MO holds
// with a validity in the window [from, to] (nil bounds: unbounded), ordered by UUID as OS2MO's
// paged results are (ITUser.engagements_responses).
func (st *store) linkedEngagements(d itData, from, to *time.Time) []uuid.UUID {
	var out []uuid.UUID
	for _, e := range d.engagements {
		if len(st.engagements.get(e).within(from, to)) > 0 {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, compareUUID)
	return out
}

func (st *store) putManager(id uuid.UUID, v model.Validity, d mgrData) {
	st.managers.put(newHist(id, v, d))
	st.link(ObjectManager, &d.orgUnit, id)
	st.link(ObjectManager, d.person, id)
}

// checkIDs requires a UUID on every detail.
func checkIDs(op string, owner uuid.UUID, addrs []model.Address, mgrs []model.Manager, kles []model.KLE, its []model.ITUser) error {
	for i, a := range addrs {
		if a.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: %s: address %d has no UUID", op, owner, i)
		}
	}
	for i, m := range mgrs {
		if m.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: %s: manager %d has no UUID", op, owner, i)
		}
	}
	for i, k := range kles {
		if k.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: %s: KLE %d has no UUID", op, owner, i)
		}
	}
	for i, it := range its {
		if it.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: %s: IT user %d has no UUID", op, owner, i)
		}
	}
	return nil
}

func defaulted(v, def model.Validity) model.Validity {
	if v.From.IsZero() {
		return def
	}
	return v
}

// AddPerson stores a new person with the IT users, engagements and addresses listed in p, each as
// its own OS2MO object owned by the person. Name parts: GivenName and Surname (or else Name split
// at its last space), NicknameGivenName and NicknameSurname. A person's Validity.From may be zero
// (since always); details without a validity get the person's, and must then have a start.
// Engagement units must exist; an engagement whose Start lies before its Validity.From gets an
// earlier validity from Start with the same state, so its original start differs from its current
// validity as in OS2MO after an edit. An IT user is linked to every engagement in its Engagements
// (repeats dropped; the first is what OS2MO's singular engagement_response gives); links are not
// checked, and one to an engagement the fake does not hold is never answered.
func (s *Server) AddPerson(p model.Person) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	return s.store.addPerson(p, "AddPerson")
}

func (st *store) addPerson(p model.Person, op string) error {
	if p.UUID == uuid.Nil {
		return fmt.Errorf("motest: %s: UUID must be set", op)
	}
	if st.persons.get(p.UUID) != nil {
		return fmt.Errorf("motest: %s: person %s already exists", op, p.UUID)
	}
	given, surname := p.GivenName, p.Surname
	if given == "" && surname == "" {
		if i := strings.LastIndexByte(p.Name, ' '); i > 0 {
			given, surname = p.Name[:i], p.Name[i+1:]
		} else {
			given = p.Name
		}
	}
	if given == "" && surname == "" {
		return fmt.Errorf("motest: %s: person %s: a name must be set", op, p.UUID)
	}
	nickGiven, nickSurname := p.NicknameGivenName, p.NicknameSurname
	if nickGiven == "" && nickSurname == "" && p.Nickname != "" {
		if i := strings.LastIndexByte(p.Nickname, ' '); i > 0 {
			nickGiven, nickSurname = p.Nickname[:i], p.Nickname[i+1:]
		} else {
			nickGiven = p.Nickname
		}
	}
	var classes []*model.Class
	for i := range p.Engagements {
		e := &p.Engagements[i]
		if e.UUID == uuid.Nil {
			return fmt.Errorf("motest: %s: person %s: engagement %d has no UUID", op, p.UUID, i)
		}
		if st.units.get(e.OrgUnit) == nil {
			return fmt.Errorf("motest: %s: person %s: engagement %s: unit %s: %w", op, p.UUID, e.UUID, e.OrgUnit, ErrUnknownObject)
		}
		if defaulted(e.Validity, p.Validity).From.IsZero() {
			return fmt.Errorf("motest: %s: person %s: engagement %s: Validity.From must be set", op, p.UUID, e.UUID)
		}
		defaultEngagementClasses(e)
		classes = append(classes, &e.JobFunction, &e.EngagementType)
	}
	for i := range p.ITUsers {
		classes = append(classes, &p.ITUsers[i].ITSystem)
		if defaulted(p.ITUsers[i].Validity, p.Validity).From.IsZero() {
			return fmt.Errorf("motest: %s: person %s: IT user %s: Validity.From must be set", op, p.UUID, p.ITUsers[i].UUID)
		}
	}
	for i := range p.Addresses {
		classes = append(classes, &p.Addresses[i].Type, p.Addresses[i].Visibility)
		if defaulted(p.Addresses[i].Validity, p.Validity).From.IsZero() {
			return fmt.Errorf("motest: %s: person %s: address %s: Validity.From must be set", op, p.UUID, p.Addresses[i].UUID)
		}
	}
	if err := checkIDs(op, p.UUID, p.Addresses, nil, nil, p.ITUsers); err != nil {
		return err
	}
	if err := st.register(op, p.UUID, classes...); err != nil {
		return err
	}
	id := p.UUID
	userKey := p.UserKey
	if userKey == "" {
		userKey = id.String()
	}
	st.persons.put(newHist(id, p.Validity, personData{userKey: userKey, givenName: given, surname: surname,
		nickGiven: nickGiven, nickSurname: nickSurname, cpr: p.CPR}))
	for _, e := range p.Engagements {
		st.putEngagement(id, e, defaulted(e.Validity, p.Validity))
	}
	for _, it := range p.ITUsers {
		st.putITUser(it, itData{person: &id}, p.Validity)
	}
	for _, a := range p.Addresses {
		st.putAddress(a, addrData{person: &id}, p.Validity)
	}
	return nil
}

// defaultEngagementClasses fills a missing job function ("Medarbejder") or engagement type
// ("Ansat"): OS2MO requires both, and tests rarely care which.
func defaultEngagementClasses(e *model.Engagement) {
	if e.JobFunction == (model.Class{}) {
		e.JobFunction = genClass("engagement_job_function", "Medarbejder", "Medarbejder", "")
	}
	if e.EngagementType == (model.Class{}) {
		e.EngagementType = genClass("engagement_type", "Ansat", "Ansat", "")
	}
}

func (st *store) putEngagement(person uuid.UUID, e model.Engagement, v model.Validity) {
	d := engData{userKey: e.UserKey, person: person, orgUnit: e.OrgUnit, jobFunction: e.JobFunction, engType: e.EngagementType,
		primary: e.Primary, fraction: clonePtr(e.Fraction), ext: e.Extensions}
	if d.userKey == "" {
		d.userKey = e.UUID.String()
	}
	h := newHist(e.UUID, v, d)
	if !e.Start.IsZero() && e.Start.Before(v.From) {
		h.vs = append([]*ver[engData]{{id: e.UUID, val: model.Validity{From: e.Start, To: v.From}, d: d}}, h.vs...)
	}
	st.engagements.put(h)
	st.link(ObjectEngagement, &person, e.UUID)
	st.link(ObjectEngagement, &d.orgUnit, e.UUID)
}

// AddAssociation stores an association of an existing person with an existing unit.
func (s *Server) AddAssociation(a Association) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	return s.store.addAssociation(a)
}

func (st *store) addAssociation(a Association) error {
	if a.UUID == uuid.Nil || a.Validity.From.IsZero() {
		return errors.New("motest: AddAssociation: UUID and Validity.From must be set")
	}
	if st.persons.get(a.Person) == nil || st.units.get(a.OrgUnit) == nil {
		return fmt.Errorf("motest: AddAssociation: %s: person %s or unit %s: %w", a.UUID, a.Person, a.OrgUnit, ErrUnknownObject)
	}
	if err := st.register("AddAssociation", a.UUID, &a.Type); err != nil {
		return err
	}
	userKey := a.UserKey
	if userKey == "" {
		userKey = a.UUID.String()
	}
	st.associations.put(newHist(a.UUID, a.Validity, assocData{userKey: userKey, person: a.Person, orgUnit: a.OrgUnit, typ: a.Type}))
	st.link(ObjectAssociation, &a.Person, a.UUID)
	st.link(ObjectAssociation, &a.OrgUnit, a.UUID)
	return nil
}

// AddLeave stores a leave of an existing person.
func (s *Server) AddLeave(l Leave) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	return s.store.addLeave(l)
}

func (st *store) addLeave(l Leave) error {
	if l.UUID == uuid.Nil || l.Validity.From.IsZero() {
		return errors.New("motest: AddLeave: UUID and Validity.From must be set")
	}
	if st.persons.get(l.Person) == nil {
		return fmt.Errorf("motest: AddLeave: %s: person %s: %w", l.UUID, l.Person, ErrUnknownObject)
	}
	if err := st.register("AddLeave", l.UUID, &l.Type); err != nil {
		return err
	}
	userKey := l.UserKey
	if userKey == "" {
		userKey = l.UUID.String()
	}
	st.leaves.put(newHist(l.UUID, l.Validity, leaveData{userKey: userKey, person: l.Person, engagement: clonePtr(l.Engagement), typ: l.Type}))
	st.link(ObjectLeave, &l.Person, l.UUID)
	return nil
}

// Load adds all units (parents first, as [Generate] orders them), persons, associations and leaves
// of d under one lock.
func (s *Server) Load(d Dataset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.store.finish()
	now := s.opts.Now()
	for i, u := range d.Units {
		if u.UUID == uuid.Nil {
			return fmt.Errorf("motest: Load: unit %d: UUID must be set", i)
		}
		if s.store.units.get(u.UUID) != nil {
			return fmt.Errorf("motest: Load: unit %d: org unit %s already exists", i, u.UUID)
		}
		if err := s.store.putUnit(u, "Load", now); err != nil {
			return fmt.Errorf("motest: Load: unit %d: %w", i, err)
		}
	}
	for i, p := range d.Persons {
		if err := s.store.addPerson(p, "Load"); err != nil {
			return fmt.Errorf("motest: Load: person %d: %w", i, err)
		}
	}
	for i, a := range d.Associations {
		if err := s.store.addAssociation(a); err != nil {
			return fmt.Errorf("motest: Load: association %d: %w", i, err)
		}
	}
	for i, l := range d.Leaves {
		if err := s.store.addLeave(l); err != nil {
			return fmt.Errorf("motest: Load: leave %d: %w", i, err)
		}
	}
	return nil
}

// OrgUnit returns the unit as the model sees it, in its state now (or, if not in effect now, its
// next or else last state), with Ancestors derived (nearest first), every detail it owns in
// that detail's state now (or next, or last), and ParentITUsers the IT users of its parent in
// effect now (as the reader's query reads them). Managers' PersonITUsers are not filled.
func (s *Server) OrgUnit(id uuid.UUID) (model.OrgUnit, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, now := s.store, s.opts.Now()
	h := st.units.get(id)
	if h == nil {
		return model.OrgUnit{}, false
	}
	v := h.nowOrLast(now)
	u := model.OrgUnit{
		UUID: id, Name: v.d.name, UserKey: v.d.userKey, Parent: clonePtr(v.d.parent), Ancestors: st.ancestors(id, now),
		UnitType: clonePtr(v.d.unitType), Level: clonePtr(v.d.level), Hierarchy: clonePtr(v.d.hierarchy), Validity: v.val,
	}
	for _, d := range st.linked(ObjectAddress, id) {
		if a := st.addresses.get(d).nowOrLast(now); a != nil && isID(a.d.orgUnit, id) {
			u.Addresses = append(u.Addresses, addrModel(a))
		}
	}
	for _, d := range st.linked(ObjectManager, id) {
		if m := st.managers.get(d).nowOrLast(now); m != nil && m.d.orgUnit == id {
			mgr := model.Manager{UUID: d, Person: clonePtr(m.d.person), Validity: m.val}
			mgr.PersonGone = m.d.person != nil && st.persons.get(*m.d.person).at(now) == nil
			u.Managers = append(u.Managers, mgr)
		}
	}
	for _, d := range st.linked(ObjectKLE, id) {
		k := st.kles.get(d).nowOrLast(now)
		if k == nil || k.d.orgUnit != id {
			continue
		}
		u.KLE = append(u.KLE, model.KLE{UUID: d, Numbers: slices.Clone(k.d.numbers), Aspects: slices.Clone(k.d.aspects), Validity: k.val})
	}
	for _, d := range st.linked(ObjectITUser, id) {
		if it := st.itusers.get(d).nowOrLast(now); it != nil && isID(it.d.orgUnit, id) {
			u.ITUsers = append(u.ITUsers, st.itModel(it))
		}
	}
	if v.d.parent != nil {
		u.ParentITUsers = st.unitITUsersAt(*v.d.parent, now)
	}
	return u, true
}

// unitITUsersAt returns the IT users of unit id in effect at t, as OrganisationUnit.itusers
// answers them; nil when there are none.
func (st *store) unitITUsersAt(id uuid.UUID, t time.Time) []model.ITUser {
	var out []model.ITUser
	for _, d := range st.linked(ObjectITUser, id) {
		if it := st.itusers.get(d).at(t); it != nil && isID(it.d.orgUnit, id) {
			out = append(out, st.itModel(it))
		}
	}
	return out
}

// unitAddressesAt returns the addresses of unit id in effect at t, as OrganisationUnit.addresses
// answers them (Started is the current validity's start); nil when there are none.
func (st *store) unitAddressesAt(id uuid.UUID, t time.Time) []model.Address {
	var out []model.Address
	for _, d := range st.linked(ObjectAddress, id) {
		if a := st.addresses.get(d).at(t); a != nil && isID(a.d.orgUnit, id) {
			m := addrModel(a)
			m.Started = m.Validity.From
			out = append(out, m)
		}
	}
	return out
}

// Person returns the person as the model sees it: state now (or next, or last), IT users and
// addresses in their state now (or next, or last), and every engagement in its state now or
// next (or last), with Start the engagement's first start and Unit summarising its unit now,
// with the unit's IT users and addresses in effect now (the reader fills Unit.Addresses only
// with moclient.Config.EngagementUnitAddresses). An IT user's Engagements are the linked
// engagements the fake holds, ordered by UUID as the GraphQL API answers them.
func (s *Server) Person(id uuid.UUID) (model.Person, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, now := s.store, s.opts.Now()
	h := st.persons.get(id)
	if h == nil {
		return model.Person{}, false
	}
	v := h.nowOrLast(now)
	p := model.Person{
		UUID: id, UserKey: v.d.userKey, Name: v.d.fullName(), GivenName: v.d.givenName, Surname: v.d.surname,
		Nickname: v.d.nickname(), NicknameGivenName: v.d.nickGiven, NicknameSurname: v.d.nickSurname, CPR: v.d.cpr, Validity: v.val,
	}
	for _, d := range st.linked(ObjectITUser, id) {
		if it := st.itusers.get(d).nowOrLast(now); it != nil && isID(it.d.person, id) {
			p.ITUsers = append(p.ITUsers, st.itModel(it))
		}
	}
	for _, d := range st.linked(ObjectEngagement, id) {
		eh := st.engagements.get(d)
		if e := eh.nowOrLast(now); e != nil && e.d.person == id {
			m := engModel(e)
			m.Start = eh.start()
			m.Unit = st.unitSummary(e.d.orgUnit, now)
			p.Engagements = append(p.Engagements, m)
		}
	}
	for _, d := range st.linked(ObjectManager, id) {
		if m := st.managers.get(d).at(now); m != nil && isID(m.d.person, id) {
			p.ManagerRoles = append(p.ManagerRoles, model.ManagerRole{UUID: m.id, OrgUnit: m.d.orgUnit,
				Unit: st.unitSummary(m.d.orgUnit, now), Validity: m.val})
		}
	}
	for _, d := range st.linked(ObjectAddress, id) {
		if a := st.addresses.get(d).nowOrLast(now); a != nil && isID(a.d.person, id) {
			p.Addresses = append(p.Addresses, addrModel(a))
		}
	}
	return p, true
}

// unitSummary returns what an engagement or manager role says about its unit at t, or nil when
// the unit is not in effect then.
func (st *store) unitSummary(id uuid.UUID, t time.Time) *model.UnitSummary {
	uh := st.units.get(id).at(t)
	if uh == nil {
		return nil
	}
	return &model.UnitSummary{UUID: uh.id, Name: uh.d.name, UserKey: uh.d.userKey, Ancestors: st.ancestors(uh.id, t),
		UnitType: clonePtr(uh.d.unitType), Level: clonePtr(uh.d.level), Hierarchy: clonePtr(uh.d.hierarchy),
		ITUsers: st.unitITUsersAt(uh.id, t), Addresses: st.unitAddressesAt(uh.id, t)}
}

func addrModel(v *ver[addrData]) model.Address {
	return model.Address{UUID: v.id, Type: v.d.typ, Visibility: clonePtr(v.d.visibility), Value: v.d.value, Name: v.d.name,
		Validity: v.val, Engagement: clonePtr(v.d.engagement), ITUser: clonePtr(v.d.itUser)}
}

// itModel converts an IT user's validity; Engagements are the linked engagements over all time,
// as the reader's query asks for them.
func (st *store) itModel(v *ver[itData]) model.ITUser {
	return model.ITUser{UUID: v.id, UserKey: v.d.userKey, ExternalID: v.d.externalID, ITSystem: v.d.system,
		Validity: v.val, Engagements: st.linkedEngagements(v.d, nil, nil)}
}

func engModel(v *ver[engData]) model.Engagement {
	return model.Engagement{UUID: v.id, UserKey: v.d.userKey, OrgUnit: v.d.orgUnit, JobFunction: v.d.jobFunction,
		EngagementType: v.d.engType, Primary: v.d.primary, Fraction: clonePtr(v.d.fraction), Extensions: v.d.ext, Validity: v.val}
}

// OrgUnitIDs returns the UUIDs of all stored units, parents before children (by depth, then UUID).
func (s *Server) OrgUnitIDs() []uuid.UUID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.opts.Now()
	ids := slices.Clone(s.store.units.sorted)
	depth := make(map[uuid.UUID]int, len(ids))
	for _, id := range ids {
		depth[id] = len(s.store.ancestors(id, now))
	}
	slices.SortStableFunc(ids, func(a, b uuid.UUID) int { return depth[a] - depth[b] })
	return ids
}

// PersonIDs returns the UUIDs of all stored persons, sorted.
func (s *Server) PersonIDs() []uuid.UUID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.store.persons.sorted)
}

// Class returns a class (or IT system) the fake knows, by user key; with several of the same user
// key, the one with the smallest UUID.
func (s *Server) Class(userKey string) (model.Class, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out model.Class
	found := false
	for _, c := range s.store.classes {
		if c.UserKey == userKey && (!found || compareUUID(c.UUID, out.UUID) < 0) {
			out, found = c, true
		}
	}
	return out, found
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
