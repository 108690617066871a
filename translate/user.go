package translate

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// account is an AD account with the Bruger UUID it is written as (ituser mode).
type account struct {
	it     model.ITUser
	bruger uuid.UUID
}

// adAccounts returns the AD accounts among users in priority order (AD system priority, earliest
// start, lowest UUID).
func (s Settings) adAccounts(users []model.ITUser) []model.ITUser {
	return byPriority(users, s.adPriority)
}

// accounts returns the AD accounts among users with their Bruger UUIDs: the external id of the
// FK bookkeeping IT user whose user key is the account's external id, else the account's
// external id. Accounts without a usable UUID, and second accounts with an already used UUID, are
// reported (on kind/id) and left out.
func (s Settings) accounts(users []model.ITUser, ps *problems, kind oio.Kind, id uuid.UUID) []account {
	var out []account
	for _, ad := range s.adAccounts(users) {
		var bruger uuid.UUID
		for _, fk := range users {
			if !s.isFK(fk) || ad.ExternalID == "" || !strings.EqualFold(strings.TrimSpace(fk.UserKey), strings.TrimSpace(ad.ExternalID)) {
				continue
			}
			if u, err := uuid.Parse(strings.TrimSpace(fk.ExternalID)); err == nil && u != uuid.Nil {
				bruger = u
				break
			}
			ps.add(kind, id, "UUID", "FK bookkeeping IT user %s has no UUID as external id; ignored", fk.UUID)
		}
		if bruger == uuid.Nil {
			u, err := uuid.Parse(strings.TrimSpace(ad.ExternalID))
			if err != nil || u == uuid.Nil {
				ps.add(kind, id, "UUID", "AD account %s has no UUID as external id; not exported", ad.UUID)
				continue
			}
			bruger = u
		}
		if slices.ContainsFunc(out, func(a account) bool { return a.bruger == bruger }) {
			ps.add(kind, id, "UUID", "AD account %s maps to STS user %s like another account; not exported", ad.UUID, bruger)
			continue
		}
		out = append(out, account{it: ad, bruger: bruger})
	}
	return out
}

// orphanedFKUsers returns the Bruger UUIDs of FK bookkeeping IT users whose AD account is gone.
func (s Settings) orphanedFKUsers(users []model.ITUser) []uuid.UUID {
	var out []uuid.UUID
	for _, fk := range users {
		if !s.isFK(fk) {
			continue
		}
		if slices.ContainsFunc(users, func(ad model.ITUser) bool {
			return s.adPriority(ad) >= 0 && ad.ExternalID != "" &&
				strings.EqualFold(strings.TrimSpace(fk.UserKey), strings.TrimSpace(ad.ExternalID))
		}) {
			continue
		}
		if u, err := uuid.Parse(strings.TrimSpace(fk.ExternalID)); err == nil && u != uuid.Nil {
			out = appendNew(out, u)
		}
	}
	return out
}

// userSpec is one STS user of a person before translation.
type userSpec struct {
	id          uuid.UUID
	name        string // BrugerNavn
	validity    model.Validity
	engagements []model.Engagement
	addresses   []model.Address
}

// PersonDesired returns everything STS should hold for the OS2MO person p, valid now:
//
//   - the users (Bruger): one per person (person mode, with the person's UUID or the one
//     Settings.UUIDFromITSystems gives), or one per AD account (ituser mode, see UserMode);
//     BrugerNavn is the AD account's user key (person mode: the first AD account's, else the
//     person's user key);
//   - for each user with a position in a relevant unit: its Bruger, linked to the person's STS
//     Person (TilknyttedePersoner), its email, mobile, landline and location Adresse objects
//     chosen among the addresses that may be shown externally (see Settings.EmailClasses and
//     Settings.EngagementAddressTypes), and one position function (Enhedsrolle) per engagement
//     in a relevant unit, current or future, named by the job function (or the configured
//     extension field), from the engagement's start to its end; in ituser mode an AD account has
//     the engagements it is linked to (all of them), and a person's only account has every
//     engagement no other account is linked to;
//   - the person's STS Person (name or nickname; CPR only with Settings.SyncCPR and only when it
//     is 10 digits);
//   - users without a position in a relevant unit (unless the person manages an exported unit:
//     the manager role keeps the user the unit's Leder function points at), and the users of
//     removed AD accounts with an FK bookkeeping IT user, to deactivate.
//
// A position's unit is relevant by RelevantSummary (a unit with an FK bookkeeping account is, as
// the summary carries its IT users).
func PersonDesired(s Settings, p *model.Person, now time.Time) Desired {
	if p == nil {
		return Desired{}
	}
	var ps problems
	c := clock{today: Day(now)}
	d := Desired{Person: PersonUUID(p.UUID)}
	var specs []userSpec
	switch s.userMode() {
	case UsersPerITUser:
		accs := s.accounts(p.ITUsers, &ps, "", p.UUID)
		for _, a := range accs {
			spec := userSpec{id: a.bruger, name: a.it.UserKey, validity: a.it.Validity}
			single := len(accs) == 1
			for _, e := range p.Engagements {
				linked := slices.ContainsFunc(p.ITUsers, func(it model.ITUser) bool {
					return s.adPriority(it) >= 0 && slices.Contains(it.Engagements, e.UUID)
				})
				if slices.Contains(a.it.Engagements, e.UUID) || (single && !linked) {
					spec.engagements = append(spec.engagements, e)
				}
			}
			for _, ad := range p.Addresses {
				if (ad.ITUser != nil && *ad.ITUser == a.it.UUID) || (single && ad.ITUser == nil) {
					spec.addresses = append(spec.addresses, ad)
				}
			}
			specs = append(specs, spec)
		}
		for _, orphan := range s.orphanedFKUsers(p.ITUsers) {
			if !slices.ContainsFunc(specs, func(u userSpec) bool { return u.id == orphan }) {
				d.Users = appendNew(d.Users, orphan)
				d.Deactivate = append(d.Deactivate, Ref{oio.KindBruger, orphan})
			}
		}
	default:
		id := s.objectUUID(p.UUID, p.ITUsers, &ps, oio.KindBruger)
		accs := s.adAccounts(p.ITUsers)
		if s.RequireADAccount && len(accs) == 0 {
			d.Users = []uuid.UUID{id}
			d.Deactivate = []Ref{{oio.KindBruger, id}}
			d.Problems = append(ps.list, Problem{Kind: oio.KindBruger, UUID: id, Message: "not exported: no AD account"})
			return d
		}
		name := p.UserKey
		if len(accs) > 0 && strings.TrimSpace(accs[0].UserKey) != "" {
			name = accs[0].UserKey
		}
		specs = append(specs, userSpec{id: id, name: name, validity: p.Validity,
			engagements: p.Engagements, addresses: p.Addresses})
	}

	// A manager of an exported unit keeps the user the unit's Leder function points at (the
	// person's user, or its first AD account's) exported, positions or not; without managers
	// (DisableManagers) no function points at it and the role keeps nothing.
	managerUser := uuid.Nil
	var managerSince time.Time
	for _, r := range p.ManagerRoles {
		if ok, _ := RelevantSummary(s, r.Unit); !ok || len(specs) == 0 || s.DisableManagers {
			continue
		}
		managerUser = specs[0].id
		if from := Day(r.Validity.From); managerSince.IsZero() || from.Before(managerSince) {
			managerSince = from
		}
	}
	var earliest time.Time // earliest start of an exported user, for the Person
	for _, spec := range specs {
		d.Users = appendNew(d.Users, spec.id)
		var keep time.Time
		if spec.id == managerUser {
			keep = managerSince
			if keep.IsZero() || keep.After(c.today) {
				keep = c.today
			}
		}
		objs, start, ok := s.user(c, p, spec, keep, &ps, &d)
		if !ok {
			d.Deactivate = append(d.Deactivate, Ref{oio.KindBruger, spec.id})
			ps.add(oio.KindBruger, spec.id, "", "no position in an exported unit; not exported")
			continue
		}
		d.Objects = append(d.Objects, objs...)
		if earliest.IsZero() || start.Before(earliest) {
			earliest = start
		}
	}
	if !earliest.IsZero() {
		d.Objects = append(d.Objects, s.person(p, earliest, &ps))
	}
	d.Problems = append(d.Problems, ps.list...)
	return d
}

// PersonGone returns the bundle for a person OS2MO no longer has in effect: the person-mode user
// is deactivated, and so is every Bruger linked to the person's STS Person and every position
// function of those users found in the current state (see PlanAll).
func PersonGone(s Settings, id uuid.UUID) Desired {
	d := Desired{Person: PersonUUID(id)}
	if s.userMode() == UsersPerPerson {
		d.Users = []uuid.UUID{id}
		d.Deactivate = []Ref{{oio.KindBruger, id}}
	}
	return d
}

// user translates one user: its Adresse objects, Bruger and position functions, the start of
// the Bruger, and false when it has no position in a relevant unit and keep is zero. keep, when
// not zero, is when the user's manager role of an exported unit started: it keeps the user
// exported without positions.
func (s Settings) user(c clock, p *model.Person, spec userSpec, keep time.Time, ps *problems, d *Desired) ([]oio.Object, time.Time, bool) {
	kind := oio.KindBruger
	var positions []oio.Object
	var exported []model.Engagement // the engagements with a position, for the location
	var first time.Time             // earliest position start
	for _, e := range spec.engagements {
		if end := Day(e.Validity.To); !end.IsZero() && !end.After(c.today) {
			continue // ended
		}
		if ok, _ := RelevantSummary(s, e.Unit); !ok || e.Unit == nil || e.Unit.UUID != e.OrgUnit {
			continue
		}
		f, start, ok := s.position(c, spec.id, e, ps)
		if !ok {
			continue
		}
		d.setSince(f.UUID, c.from(e.Validity.From))
		positions = append(positions, f)
		exported = append(exported, e)
		if first.IsZero() || start.Before(first) {
			first = start
		}
	}
	if len(positions) == 0 && keep.IsZero() {
		return nil, time.Time{}, false
	}
	if first.IsZero() || (!keep.IsZero() && keep.Before(first)) {
		first = keep
	}
	from := Day(spec.validity.From)
	if from.IsZero() {
		from = first
		if from.After(c.today) {
			from = c.today
		}
	}
	to := Day(spec.validity.To)
	if !to.IsZero() && !to.After(from) {
		ps.add(kind, spec.id, "validity", "period ends on or before the day it starts; left open")
		to = time.Time{}
	}
	v := s.virk(from, to)
	name := ps.text(kind, spec.id, "BrugerNavn", spec.name, maxNavn)
	if name == "" {
		ps.add(kind, spec.id, "BrugerNavn", "empty user name")
	}
	key := ps.text(kind, spec.id, "BrugervendtNoegleTekst", spec.name, maxBrugervendtNoegle)
	if key == "" {
		key = spec.id.String()
	}
	bruger := oio.Object{
		Kind: kind,
		UUID: spec.id,
		Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: key, Navn: name}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		},
	}
	var objs []oio.Object
	rels := &bruger.Registration.Relationer
	for _, a := range s.userAddresses(c, spec, exported, ps) {
		objs = append(objs, s.addressObject(spec.id, a))
		ref := AddressUUID(spec.id, a.role)
		*rels = append(*rels, oio.Relation{Name: oio.RelAdresser, Virkning: a.rel, Ref: ref,
			Rolle: a.role, Type: AdresseTypeBruger, Indeks: ref.String()})
	}
	*rels = append(*rels,
		oio.Relation{Name: oio.RelTilhoerer, Virkning: v, Ref: s.Organisation},
		oio.Relation{Name: oio.RelTilknyttedePersoner, Virkning: v, Ref: PersonUUID(p.UUID)})
	SortRelations(kind, *rels)
	objs = append(objs, bruger)
	objs = append(objs, positions...)
	return objs, from, true
}

// userAddresses chooses the user's email, mobile, landline and location among the addresses
// that may be shown externally: by the class-priority settings, or by scope when a list is empty
// (see Settings.EmailClasses); the location from the unit of the user's primary engagement
// first when Settings.EngagementAddressTypes is set. exported are the engagements the user has a
// position for.
func (s Settings) userAddresses(c clock, spec userSpec, exported []model.Engagement, ps *problems) []chosenAddress {
	linked := func(a model.Address) bool {
		return a.Engagement != nil && slices.ContainsFunc(spec.engagements, func(e model.Engagement) bool { return e.UUID == *a.Engagement })
	}
	var out []chosenAddress
	for _, r := range []struct {
		role    uuid.UUID
		classes []uuid.UUID
		byScope func(model.Address) bool // the candidates of an empty class list
	}{
		{RoleUserEmail, s.EmailClasses, func(a model.Address) bool { return scopeIs(a, "EMAIL") }},
		{RoleUserPhone, s.MobileClasses, func(a model.Address) bool {
			return scopeIs(a, "PHONE") && !slices.Contains(s.LandlineClasses, a.Type.UUID)
		}},
		{RoleUserLandline, s.LandlineClasses, func(model.Address) bool { return false }},
		{RoleUserLocation, s.LocationClasses, func(a model.Address) bool { return scopeIs(a, "DAR") && linked(a) }},
	} {
		if !s.managesRole(oio.KindBruger, r.role) {
			continue
		}
		if r.role == RoleUserLocation && len(s.EngagementAddressTypes) > 0 {
			if a, ok := s.engagementAddress(c, spec.id, exported, ps); ok {
				out = append(out, a)
				continue
			}
		}
		var cands []model.Address
		for _, a := range spec.addresses {
			if !public(a) {
				continue
			}
			if (len(r.classes) > 0 && slices.Contains(r.classes, a.Type.UUID)) || (len(r.classes) == 0 && r.byScope(a)) {
				cands = append(cands, a)
			}
		}
		if a, ok := choose(s, c, cands, r.classes, r.role, spec.id, ps); ok {
			out = append(out, a)
		}
	}
	return out
}

// engagementAddress returns the user's location from the unit of its primary engagement among
// exported (else the one that started first): the first of the unit's addresses, shown
// externally, of the types in Settings.EngagementAddressTypes.
func (s Settings) engagementAddress(c clock, user uuid.UUID, exported []model.Engagement, ps *problems) (chosenAddress, bool) {
	if len(exported) == 0 {
		return chosenAddress{}, false
	}
	es := slices.Clone(exported)
	slices.SortStableFunc(es, func(x, y model.Engagement) int {
		if x.Primary != y.Primary {
			if x.Primary {
				return -1
			}
			return 1
		}
		if d := x.Start.Compare(y.Start); d != 0 {
			return d
		}
		return strings.Compare(x.UUID.String(), y.UUID.String())
	})
	unit := es[0].Unit
	if unit == nil {
		return chosenAddress{}, false
	}
	rank := func(a model.Address) int {
		for i, t := range s.EngagementAddressTypes {
			if nameIn([]string{t}, a.Type.Name, a.Type.UserKey) {
				return i
			}
		}
		return -1
	}
	var cands []model.Address
	for _, a := range unit.Addresses {
		if public(a) && rank(a) >= 0 {
			cands = append(cands, a)
		}
	}
	// Rank by the type's place in the list, as choose ranks by class.
	slices.SortStableFunc(cands, func(x, y model.Address) int { return rank(x) - rank(y) })
	var priority []uuid.UUID
	for _, a := range cands {
		priority = appendNew(priority, a.Type.UUID)
	}
	return choose(s, c, cands, priority, RoleUserLocation, user, ps)
}

// scopeIs reports whether the address's type has the scope (EMAIL, PHONE, DAR, …).
func scopeIs(a model.Address, scope string) bool { return strings.EqualFold(a.Type.Scope, scope) }

// jobTitle returns the position name of an engagement.
func (s Settings) jobTitle(e model.Engagement) string {
	if n := s.JobTitleExtension; n >= 1 && n <= len(e.Extensions) && strings.TrimSpace(e.Extensions[n-1]) != "" {
		return e.Extensions[n-1]
	}
	return e.JobFunction.Name
}

// position returns the position function of an engagement held by the user bruger, and the
// engagement's start. Everything starts with the engagement; a later change of its title or unit
// starts with the engagement's current validity (Desired.since).
// positionUnit returns the STS UUID of an engagement's unit (Settings.UUIDFromITSystems).
func (s Settings) positionUnit(e model.Engagement) uuid.UUID {
	if e.Unit == nil {
		return e.OrgUnit
	}
	return s.objectUUID(e.OrgUnit, e.Unit.ITUsers, nil, oio.KindOrganisationEnhed)
}

func (s Settings) position(c clock, bruger uuid.UUID, e model.Engagement, ps *problems) (oio.Object, time.Time, bool) {
	kind := oio.KindOrganisationFunktion
	id := PositionUUID(e.UUID, bruger)
	vFrom := c.from(e.Validity.From)
	start := vFrom
	if !e.Start.IsZero() && Day(e.Start).Before(start) {
		start = Day(e.Start)
	}
	end := Day(e.Validity.To)
	if !end.IsZero() && !end.After(vFrom) {
		ps.add(kind, id, "validity", "engagement ends on or before the day its current state starts; left out")
		return oio.Object{}, time.Time{}, false
	}
	name := ps.text(kind, id, "FunktionNavn", s.jobTitle(e), maxNavn)
	if name == "" {
		ps.add(kind, id, "FunktionNavn", "engagement %s has no job title", e.UUID)
	}
	key := ps.text(kind, id, "BrugervendtNoegleTekst", e.UserKey, maxBrugervendtNoegle)
	if key == "" {
		key = e.UUID.String()
	}
	open := s.virk(start, time.Time{})
	obj := oio.Object{
		Kind: kind,
		UUID: id,
		Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: open, BrugervendtNoegle: key, Navn: name}},
			Gyldighed:  []oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}},
			Relationer: []oio.Relation{
				{Name: oio.RelFunktionstype, Virkning: open, Ref: FunktionstypeStilling},
				{Name: oio.RelTilknyttedeBrugere, Virkning: s.virk(start, end), Ref: bruger},
				{Name: oio.RelTilknyttedeEnheder, Virkning: s.virk(start, end), Ref: s.positionUnit(e)},
				{Name: oio.RelTilknyttedeOrganisationer, Virkning: open, Ref: s.Organisation},
			},
		},
	}
	return obj, start, true
}

// person returns the STS Person of p, in effect from start.
func (s Settings) person(p *model.Person, start time.Time, ps *problems) oio.Object {
	kind := oio.KindPerson
	id := PersonUUID(p.UUID)
	raw := p.Name
	if s.UseNickname && strings.TrimSpace(p.Nickname) != "" {
		raw = p.Nickname
	}
	name := ps.text(kind, id, "NavnTekst", raw, maxPersonNavn)
	if name == "" {
		ps.add(kind, id, "NavnTekst", "empty name")
	}
	e := oio.Egenskab{Virkning: s.virk(start, time.Time{}), BrugervendtNoegle: p.UUID.String(), Navn: name}
	if s.SyncCPR && p.CPR != "" {
		if cpr, ok := normaliseCPR(p.CPR); ok {
			e.CPR = cpr
		} else {
			ps.add(kind, id, "CPR-NummerTekst", "the CPR number is not 10 digits; not written")
		}
	}
	return oio.Object{Kind: kind, UUID: id, Registration: oio.Registration{Egenskaber: []oio.Egenskab{e}}}
}
