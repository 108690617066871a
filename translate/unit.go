package translate

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Schema limits (characters) of the attribute values the sync writes.
const (
	maxBrugervendtNoegle = 50
	maxNavn              = 200 // EnhedNavn, BrugerNavn, FunktionNavn
	maxAdresseTekst      = 200
	maxPersonNavn        = 100 // Person NavnTekst (sts:ShortNavnTekst)
)

// OrgUnit returns the OrganisationEnhed the municipality's STS Organisation should hold for an
// OS2MO unit that is valid now: its name and user key, Gyldighed Aktiv, the unit type
// (Enhedstype), the parent unit (Overordnet; none for the top unit), the municipality
// (Tilhoerer), its KLE numbers (Opgaver), the IT systems of its IT users and references to its
// Adresse objects, each in effect from the start of the MO validity it comes from. The STS object
// has the MO unit's UUID. It is UnitDesired's OrganisationEnhed, without the derived objects; a
// unit without a start date gets open-ended Virkning.
func OrgUnit(s Settings, u *model.OrgUnit) oio.Object {
	var ps problems
	return newUnitBuilder(s, clock{}, u, s.objectUUID(u.UUID, u.ITUsers, nil, oio.KindOrganisationEnhed), &ps).unit()
}

// UnitDesired returns everything STS should hold for the OS2MO unit u, valid now (see Relevant):
//
//   - for a relevant unit: its OrganisationEnhed (OrgUnit), one Adresse per mapped address that
//     may be shown externally (visibility PUBLIC or none), with Settings.DisableManagers unset its
//     manager function ("Leder", deactivated when the post is vacant) and, with
//     Settings.ContactForTasks, its Henvendelsessted function. With managers or contact places
//     switched off, the unit's own functions of that kind (written before the setting changed)
//     are deactivated, and functions of that type written by others are left alone;
//   - for an irrelevant unit: the unit, its manager and Henvendelsessted functions to deactivate
//     (UnitGone), never the top unit.
//
// The unit is written with the UUID Settings.UUIDFromITSystems gives it (else OS2MO's). Virkning
// starts at the MO validity each value comes from, or today (now's date in Copenhagen) when MO
// has none.
func UnitDesired(s Settings, u *model.OrgUnit, now time.Time) Desired {
	if u == nil {
		return Desired{}
	}
	var ps problems
	id := s.objectUUID(u.UUID, u.ITUsers, &ps, oio.KindOrganisationEnhed)
	if s.TopUnit != uuid.Nil && u.UUID == s.TopUnit {
		top := *u
		top.Validity.To = time.Time{} // the top unit is never deactivated, nor set to end
		u = &top
	} else if end := Day(u.Validity.To); !end.IsZero() && !end.After(Day(now)) {
		d := UnitGone(s, id) // its validity has ended
		d.Problems = append(ps.list, d.Problems...)
		return d
	}
	if ok, why := Relevant(s, u); !ok {
		d := UnitGone(s, id)
		if len(d.Deactivate) > 0 {
			d.Problems = append(ps.list, Problem{Kind: oio.KindOrganisationEnhed, UUID: id,
				Message: "not exported: " + why})
		}
		return d
	}
	b := newUnitBuilder(s, clock{today: Day(now)}, u, id, &ps)
	d := Desired{Units: []uuid.UUID{id}, functionTypes: s.unitFunctionTypes()}
	d.Objects = append(d.Objects, b.addresses()...)
	d.Objects = append(d.Objects, b.unit())
	// Without the setting (or a manager, or contact tasks) the unit's own function is ended.
	var m, f oio.Object
	var ok bool
	if !s.DisableManagers {
		m, ok = b.manager()
	}
	if ok {
		d.Objects = append(d.Objects, m)
	} else {
		d.Deactivate = append(d.Deactivate, Ref{oio.KindOrganisationFunktion, ManagerUUID(id)})
	}
	ok = false
	if s.contactPlaces() {
		f, ok = b.contactPlace()
	}
	if ok {
		d.Objects = append(d.Objects, f)
	} else {
		d.Deactivate = append(d.Deactivate, Ref{oio.KindOrganisationFunktion, ContactPlaceUUID(id)})
	}
	d.Problems = ps.list
	return d
}

// unitFunctionTypes are the function types the sync writes for units, and so ends when written
// by others for a unit it governs: the manager function unless Settings.DisableManagers, the
// Henvendelsessted function with Settings.ContactForTasks (and KLE).
func (s Settings) unitFunctionTypes() []uuid.UUID {
	out := []uuid.UUID{} // not nil: Desired.Lookups reads both types for nil
	if !s.DisableManagers {
		out = append(out, FunktionstypeLeder)
	}
	if s.contactPlaces() {
		out = append(out, FunktionstypeHenvendelsessted)
	}
	return out
}

// contactPlaces reports whether the sync writes Henvendelsessted functions.
func (s Settings) contactPlaces() bool { return s.ContactForTasks && !s.DisableKLE }

// UnitGone returns the bundle for a unit OS2MO no longer has in effect (terminated, unknown) or
// that is not exported: the unit (id, its UUID in STS) and its manager and Henvendelsessted
// functions are deactivated, and so are functions in the current state pointing at it (see
// PlanAll). The top unit is never deactivated: its bundle is empty but for a problem saying so.
func UnitGone(s Settings, id uuid.UUID) Desired {
	if s.TopUnit != uuid.Nil && id == s.TopUnit {
		return Desired{Problems: []Problem{{Kind: oio.KindOrganisationEnhed, UUID: id,
			Message: "the top unit is not in effect in OS2MO; it is never deactivated"}}}
	}
	return Desired{
		Units: []uuid.UUID{id},
		Deactivate: []Ref{
			{oio.KindOrganisationEnhed, id},
			{oio.KindOrganisationFunktion, ManagerUUID(id)},
			{oio.KindOrganisationFunktion, ContactPlaceUUID(id)},
		},
	}
}

// unitBuilder translates one MO unit.
type unitBuilder struct {
	s  Settings
	c  clock
	u  *model.OrgUnit
	id uuid.UUID // the unit's UUID in STS
	ps *problems
	// Computed once, so that each problem is reported once.
	addrs     []chosenAddress
	opgaver   []refPeriod // KLE numbers for the unit's Opgaver
	kontakt   []refPeriod // KLE numbers for its Henvendelsessted (ContactForTasks)
	itSystems []refPeriod
}

func newUnitBuilder(s Settings, c clock, u *model.OrgUnit, id uuid.UUID, ps *problems) *unitBuilder {
	b := &unitBuilder{s: s, c: c, u: u, id: id, ps: ps}
	b.addrs = b.chosenAddresses()
	b.opgaver, b.kontakt = b.tasks()
	if !s.DisableITSystems {
		b.itSystems = b.systems()
	}
	return b
}

func (b *unitBuilder) unit() oio.Object {
	s, u, id := b.s, b.u, b.id
	kind := oio.KindOrganisationEnhed
	v, ok := s.period(b.c, u.Validity, b.ps, kind, id, "validity")
	if !ok {
		v = s.virk(b.c.from(u.Validity.From), time.Time{})
	}
	name := b.ps.text(kind, id, "EnhedNavn", u.Name, maxNavn)
	if name == "" {
		b.ps.add(kind, id, "EnhedNavn", "empty name")
	}
	key := b.ps.text(kind, id, "BrugervendtNoegleTekst", u.UserKey, maxBrugervendtNoegle)
	if key == "" {
		key = u.UUID.String()
	}
	obj := oio.Object{
		Kind: kind,
		UUID: id,
		Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: key, Navn: name}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		},
	}
	rels := &obj.Registration.Relationer
	for _, a := range b.addrs {
		ref := AddressUUID(id, a.role)
		*rels = append(*rels, oio.Relation{Name: oio.RelAdresser, Virkning: a.rel, Ref: ref,
			Rolle: a.role, Type: AdresseTypeEnhed, Indeks: ref.String()})
	}
	typ := EnhedstypeAfdeling
	if u.UnitType != nil && slices.Contains(s.TeamUnitTypes, u.UnitType.UUID) {
		typ = EnhedstypeTeam
	}
	*rels = append(*rels, oio.Relation{Name: oio.RelEnhedstype, Virkning: v, Ref: typ})
	if !s.DisableKLE {
		for _, k := range b.opgaver {
			*rels = append(*rels, oio.Relation{Name: oio.RelOpgaver, Virkning: k.v, Ref: k.id,
				Rolle: OpgaveRolleAnsvarlig, Type: OpgaveTypeKlasse, Indeks: k.index})
		}
	}
	if u.Parent != nil && u.UUID != s.TopUnit {
		parent := s.objectUUID(*u.Parent, u.ParentITUsers, nil, kind)
		*rels = append(*rels, oio.Relation{Name: oio.RelOverordnet, Virkning: v, Ref: parent})
	}
	*rels = append(*rels, oio.Relation{Name: oio.RelTilhoerer, Virkning: v, Ref: s.Organisation})
	if !s.DisableITSystems {
		for _, it := range b.itSystems {
			*rels = append(*rels, oio.Relation{Name: oio.RelTilknyttedeItSystemer, Virkning: it.v, Ref: it.id})
		}
	}
	SortRelations(kind, *rels)
	return obj
}

// chosenAddress is the address chosen for one role of an owner.
type chosenAddress struct {
	role  uuid.UUID
	value string
	attr  oio.Virkning // of the Adresse's Egenskab (open-ended)
	rel   oio.Virkning // of the owner's Adresser relation
	mo    uuid.UUID    // the MO address
}

// unitRole returns the role an MO unit address is written with, or uuid.Nil.
func (s Settings) unitRole(a model.Address) uuid.UUID {
	t := a.Type
	switch strings.ToUpper(t.Scope) {
	case "EMAIL":
		return RoleUnitEmail
	case "EAN":
		return RoleUnitEAN
	case "PHONE":
		if slices.Contains(s.LandlineClasses, t.UUID) {
			return RoleUnitLandline
		}
		return RoleUnitPhone
	case "DAR":
		switch {
		case nameIn([]string{"Contact", "Henvendelsessted"}, t.UserKey):
			return RoleUnitContact
		case nameIn([]string{"Location", "Lokation"}, t.UserKey):
			return RoleUnitLocation
		case nameIn([]string{"PostReturn", "Returadresse"}, t.UserKey):
			return RoleUnitPostReturn
		}
		return RoleUnitPost
	case "PNUMBER":
		return RoleUnitPNumber
	case "WWW":
		return RoleUnitURL
	case "TEXT":
		switch {
		case nameIn([]string{"ContactOpenHours"}, t.UserKey):
			return RoleUnitContactOpenHours
		case nameIn([]string{"PhoneOpenHours"}, t.UserKey):
			return RoleUnitPhoneOpenHours
		case nameIn([]string{"DtrId"}, t.UserKey):
			return RoleUnitDTRID
		case nameIn([]string{"EmailRemarks"}, t.UserKey):
			return RoleUnitEmailRemarks
		}
	}
	return uuid.Nil
}

// priorityFor returns the class-priority list ranking addresses of a unit role.
func (s Settings) priorityFor(role uuid.UUID) []uuid.UUID {
	switch role {
	case RoleUnitEmail:
		return s.EmailClasses
	case RoleUnitPhone:
		return s.MobileClasses
	case RoleUnitLandline:
		return s.LandlineClasses
	case RoleUnitLocation:
		return s.LocationClasses
	}
	return nil
}

func (b *unitBuilder) chosenAddresses() []chosenAddress {
	s := b.s
	byRole := map[uuid.UUID][]model.Address{}
	for _, a := range b.u.Addresses {
		role := s.unitRole(a)
		if role == uuid.Nil || !s.managesRole(oio.KindOrganisationEnhed, role) || !public(a) {
			continue
		}
		byRole[role] = append(byRole[role], a)
	}
	var out []chosenAddress
	for _, role := range unitRoles {
		if c, ok := choose(s, b.c, byRole[role], s.priorityFor(role), role, b.id, b.ps); ok {
			out = append(out, c)
		}
	}
	return out
}

// public reports whether an address may be shown externally: visibility PUBLIC or none.
func public(a model.Address) bool {
	return a.Visibility == nil || strings.EqualFold(a.Visibility.Scope, "PUBLIC")
}

// choose picks the address for a role among candidates: the class earliest in priority (classes
// not listed after all listed ones), then the earliest start, then the lowest UUID.
func choose(s Settings, c clock, cands []model.Address, priority []uuid.UUID, role, owner uuid.UUID, ps *problems) (chosenAddress, bool) {
	rank := func(a model.Address) int {
		if i := slices.Index(priority, a.Type.UUID); i >= 0 {
			return i
		}
		return len(priority)
	}
	cands = slices.Clone(cands)
	slices.SortStableFunc(cands, func(x, y model.Address) int {
		if d := rank(x) - rank(y); d != 0 {
			return d
		}
		if d := x.Validity.From.Compare(y.Validity.From); d != 0 {
			return d
		}
		return strings.Compare(x.UUID.String(), y.UUID.String())
	})
	id := AddressUUID(owner, role)
	for _, a := range cands {
		raw := a.Name
		if strings.TrimSpace(raw) == "" {
			raw = a.Value
		}
		value := ps.text(oio.KindAdresse, id, "AdresseTekst", raw, maxAdresseTekst)
		if value == "" {
			continue
		}
		rel, ok := s.period(c, a.Validity, ps, oio.KindAdresse, id, "validity")
		if !ok {
			continue
		}
		attr := rel
		attr.To = time.Time{}
		// The owner's relation starts when the address first took effect: an edit of the
		// address changes the Adresse object's value, not the owner.
		if first := c.from(a.Started); !a.Started.IsZero() && first.Before(rel.From) {
			rel.From = first
		}
		return chosenAddress{role: role, value: value, attr: attr, rel: rel, mo: a.UUID}, true
	}
	return chosenAddress{}, false
}

// addressObject returns the Adresse object of an owner's chosen address.
func (s Settings) addressObject(owner uuid.UUID, a chosenAddress) oio.Object {
	return oio.Object{
		Kind: oio.KindAdresse,
		UUID: AddressUUID(owner, a.role),
		Registration: oio.Registration{Egenskaber: []oio.Egenskab{{
			Virkning: a.attr, BrugervendtNoegle: roleLabels[a.role], AdresseTekst: a.value,
		}}},
	}
}

func (b *unitBuilder) addresses() []oio.Object {
	var out []oio.Object
	for _, a := range b.addrs {
		out = append(out, b.s.addressObject(b.id, a))
	}
	return out
}

// refPeriod is a referenced class or object with the Virkning of the reference.
type refPeriod struct {
	id    uuid.UUID
	v     oio.Virkning
	index string
}

// addRef adds id to list, or widens the period of an existing entry to the earliest start and
// the latest end.
func addRef(list []refPeriod, r refPeriod) []refPeriod {
	for i := range list {
		if list[i].id == r.id {
			if r.v.From.Before(list[i].v.From) {
				list[i].v.From = r.v.From
			}
			if list[i].v.To.IsZero() || r.v.To.IsZero() {
				list[i].v.To = time.Time{}
			} else if r.v.To.After(list[i].v.To) {
				list[i].v.To = r.v.To
			}
			return list
		}
	}
	return append(list, r)
}

// tasks returns the unit's KLE numbers for its Opgaver and, with Settings.ContactForTasks, for
// its Henvendelsessted function.
func (b *unitBuilder) tasks() (opgaver, kontakt []refPeriod) {
	for _, k := range b.u.KLE {
		dest := "opgaver"
		if b.s.ContactForTasks {
			dest = ""
			for _, a := range k.Aspects {
				switch {
				case nameIn([]string{"Udførende", "Udfoerende"}, a.Name, a.UserKey):
					if dest == "" {
						dest = "opgaver"
					}
				case nameIn([]string{"Ansvarlig"}, a.Name, a.UserKey):
					dest = "kontakt"
				}
			}
			if len(k.Aspects) == 0 {
				dest = "opgaver"
			}
		}
		if dest == "" {
			continue
		}
		v, ok := b.s.period(b.c, k.Validity, b.ps, oio.KindOrganisationEnhed, b.id, "KLE validity")
		if !ok {
			continue
		}
		for _, n := range k.Numbers {
			if n.UUID == uuid.Nil {
				continue
			}
			r := refPeriod{id: n.UUID, v: v, index: n.UUID.String()}
			if dest == "kontakt" {
				kontakt = addRef(kontakt, r)
			} else {
				opgaver = addRef(opgaver, r)
			}
		}
	}
	byID := func(x, y refPeriod) int { return strings.Compare(x.id.String(), y.id.String()) }
	slices.SortFunc(opgaver, byID)
	slices.SortFunc(kontakt, byID)
	return opgaver, kontakt
}

// systems returns the IT systems of the unit's IT users, except the AD, FK bookkeeping and
// UUIDFromITSystems ones.
func (b *unitBuilder) systems() []refPeriod {
	var out []refPeriod
	for _, it := range b.u.ITUsers {
		if it.ITSystem.UUID == uuid.Nil || b.s.isFK(it) || b.s.adPriority(it) >= 0 || b.s.uuidSystemPriority(it) >= 0 {
			continue
		}
		v, ok := b.s.period(b.c, it.Validity, b.ps, oio.KindOrganisationEnhed, b.id, "IT user validity")
		if !ok {
			continue
		}
		out = addRef(out, refPeriod{id: it.ITSystem.UUID, v: v})
	}
	slices.SortFunc(out, func(x, y refPeriod) int { return strings.Compare(x.id.String(), y.id.String()) })
	return out
}

// manager returns the unit's manager function, or false when the post is vacant (or the
// manager has no STS user). With several managers the one that started first is written.
func (b *unitBuilder) manager() (oio.Object, bool) {
	s, u := b.s, b.u
	ms := slices.Clone(u.Managers)
	slices.SortStableFunc(ms, func(x, y model.Manager) int {
		if d := x.Validity.From.Compare(y.Validity.From); d != 0 {
			return d
		}
		return strings.Compare(x.UUID.String(), y.UUID.String())
	})
	id := ManagerUUID(b.id)
	kind := oio.KindOrganisationFunktion
	filled := 0
	var obj oio.Object
	found := false
	for _, m := range ms {
		if m.Person == nil || m.PersonGone {
			continue
		}
		filled++
		if found {
			continue
		}
		// The manager's user is the one the person's own bundle keeps exported for the role
		// (PersonDesired): the same rules, or the two bundles would fight over the function.
		var user uuid.UUID
		if s.userMode() == UsersPerPerson {
			if s.RequireADAccount && len(s.adAccounts(m.PersonITUsers)) == 0 {
				b.ps.add(kind, id, "TilknyttedeBrugere", "manager %s has no AD account (FILTER_USERS_BY_IT_SYSTEM); treated as vacant", *m.Person)
				continue
			}
			user = s.objectUUID(*m.Person, m.PersonITUsers, nil, oio.KindBruger)
		} else {
			accs := s.accounts(m.PersonITUsers, b.ps, kind, id)
			if len(accs) == 0 {
				b.ps.add(kind, id, "TilknyttedeBrugere", "manager %s has no AD account; treated as vacant", *m.Person)
				continue
			}
			user = accs[0].bruger
		}
		v, ok := s.period(b.c, m.Validity, b.ps, kind, id, "manager validity")
		if !ok {
			continue
		}
		open := v
		open.To = time.Time{}
		obj = oio.Object{
			Kind: kind,
			UUID: id,
			Registration: oio.Registration{
				Egenskaber: []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "Leder", Navn: "Leder"}},
				Gyldighed:  []oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}},
				Relationer: []oio.Relation{
					{Name: oio.RelFunktionstype, Virkning: open, Ref: FunktionstypeLeder},
					{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: user},
					{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: b.id},
					{Name: oio.RelTilknyttedeOrganisationer, Virkning: open, Ref: s.Organisation},
				},
			},
		}
		found = true
	}
	if filled > 1 {
		b.ps.add(kind, id, "TilknyttedeBrugere", "the unit has %d managers; the first to start is written", filled)
	}
	return obj, found
}

// contactPlace returns the unit's Henvendelsessted function with its contact tasks, or false
// when it has none.
func (b *unitBuilder) contactPlace() (oio.Object, bool) {
	s, u := b.s, b.u
	tasks := b.kontakt
	if len(tasks) == 0 {
		return oio.Object{}, false
	}
	v, ok := s.period(b.c, u.Validity, b.ps, oio.KindOrganisationFunktion, ContactPlaceUUID(b.id), "validity")
	if !ok {
		return oio.Object{}, false
	}
	open := v
	open.To = time.Time{}
	obj := oio.Object{
		Kind: oio.KindOrganisationFunktion,
		UUID: ContactPlaceUUID(b.id),
		Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "Henvendelsessted", Navn: "Henvendelsessted"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}},
			Relationer: []oio.Relation{
				{Name: oio.RelFunktionstype, Virkning: open, Ref: FunktionstypeHenvendelsessted},
				{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: b.id},
				{Name: oio.RelTilknyttedeOrganisationer, Virkning: open, Ref: s.Organisation},
			},
		},
	}
	for _, t := range tasks {
		obj.Registration.Relationer = append(obj.Registration.Relationer,
			oio.Relation{Name: oio.RelTilknyttedeOpgaver, Virkning: t.v, Ref: t.id})
	}
	SortRelations(oio.KindOrganisationFunktion, obj.Registration.Relationer)
	return obj, true
}
