package translate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// The scenarios follow KOMBIT's compliance test for STS Organisation writers: each starts from a
// municipality already in STS, changes OS2MO, and asserts the exact operations the sync plans,
// what STS holds afterwards, and (in sts.sync) that the operations validate against the XSD and
// that planning again yields nothing.

func day(n int) time.Time { return now.AddDate(0, 0, n) }

// dayStart is local midnight n days after today.
func dayStart(n int) time.Time { return translate.Day(day(n)) }

var (
	school  = func() *model.OrgUnit { return plainUnit(schoolID, "Skole", ptr(parentID), parentID, top) }
	topUnit = func() *model.OrgUnit { return plainUnit(top, "Kolding Kommune", nil) }
	parent  = func() *model.OrgUnit { return plainUnit(parentID, "Forvaltning", ptr(top), top) }
)

// world is the municipality in STS after a first synchronisation of every unit and person.
func world(t *testing.T, s translate.Settings) sts {
	t.Helper()
	state := sts{}
	for _, u := range []*model.OrgUnit{topUnit(), parent(), teknik(), school()} {
		state.sync(t, s, translate.UnitDesired(s, u, now), now)
	}
	for _, p := range []*model.Person{anne(), bo()} {
		state.sync(t, s, translate.PersonDesired(s, p, now), now)
	}
	return state
}

// sortedOps returns one operation per id, ordered by UUID as PlanAll orders objects of a kind.
func sortedOps(op func(oio.Kind, uuid.UUID) opSummary, k oio.Kind, ids ...uuid.UUID) []opSummary {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	out := make([]opSummary, 0, len(ids))
	for _, id := range ids {
		out = append(out, op(k, id))
	}
	return out
}

func TestScenarioCreateUnit(t *testing.T) {
	s := fullSettings()
	state := sts{}
	d := translate.UnitDesired(s, teknik(), now)
	if c := translate.UnitCascade(unitID, d, nil, now); !c.Subtree || !c.Persons {
		t.Errorf("cascade of a new unit = %+v; its subtree and persons may have been waiting for it", c)
	}
	ops := state.sync(t, s, d, now)
	var addrs []uuid.UUID
	for _, role := range []uuid.UUID{translate.RoleUnitEmail, translate.RoleUnitPhone, translate.RoleUnitPost, translate.RoleUnitContact,
		translate.RoleUnitEAN, translate.RoleUnitPNumber, translate.RoleUnitURL, translate.RoleUnitContactOpenHours, translate.RoleUnitDTRID} {
		addrs = append(addrs, translate.AddressUUID(unitID, role))
	}
	want := sortedOps(imp, oio.KindAdresse, addrs...)
	want = append(want, imp(oio.KindOrganisationEnhed, unitID), imp(oio.KindOrganisationFunktion, translate.ManagerUUID(unitID)))
	assertOps(t, ops, want...)
}

func TestScenarioRenameUnit(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	u.Name, u.Validity.From = "Teknik, Miljø og Klima", day(1)
	d := translate.UnitDesired(s, u, day(1))
	if c := translate.UnitCascade(unitID, d, state[unitID], day(1)); c != (translate.Cascade{}) {
		t.Errorf("cascade of a rename = %+v; want none", c)
	}
	ops := state.sync(t, s, d, day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	e := state[unitID].Registration.Egenskaber
	if len(e) != 2 || e[0].Navn != u.Name || !e[0].Virkning.From.Equal(dayStart(1)) ||
		e[1].Navn != "Teknik og Miljø" || !e[1].Virkning.To.Equal(dayStart(1)) {
		t.Errorf("Egenskaber after rename = %+v; want the new name from tomorrow and the old one until then", e)
	}
	for _, r := range state[unitID].Registration.Relationer {
		if r.Name != oio.RelAdresser && !r.Virkning.From.Equal(created) {
			t.Errorf("%s restarted at %v; a rename keeps the registered start", r.Name, r.Virkning.From)
		}
	}
}

// TestScenarioEditUnitEmail: OS2MO edits a unit's e-mail address from a date, so the address's
// current validity starts there while its history starts at creation. Only the Adresse object
// changes (its value from that date); the unit's Adresser relation keeps its start, so the
// unit's desired state, and with it its record hash, is unchanged and the event path reads and
// writes only the Adresse.
func TestScenarioEditUnitEmail(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	before := translate.UnitDesired(s, teknik(), now)
	u := teknik()
	u.Addresses[0].Started = u.Addresses[0].Validity.From
	u.Addresses[0].Value, u.Addresses[0].Name, u.Addresses[0].Validity.From = "tmk@kolding.dk", "tmk@kolding.dk", day(1)
	d := translate.UnitDesired(s, u, day(1))
	email := translate.AddressUUID(unitID, translate.RoleUnitEmail)
	part := d.Since(before.Record(), d.Record())
	if refs := part.Refs(); len(refs) != 1 || refs[0] != (translate.Ref{Kind: oio.KindAdresse, UUID: email}) {
		t.Errorf("objects changed since the last write = %v; want only the e-mail Adresse", refs)
	}
	ops := state.sync(t, s, d, day(1))
	assertOps(t, ops, ret(oio.KindAdresse, email))
	e := state[email].Registration.Egenskaber
	slices.SortFunc(e, func(a, b oio.Egenskab) int { return a.Virkning.From.Compare(b.Virkning.From) })
	if len(e) != 2 || e[0].AdresseTekst != "tm@kolding.dk" || !e[0].Virkning.To.Equal(dayStart(1)) ||
		e[1].AdresseTekst != "tmk@kolding.dk" || !e[1].Virkning.From.Equal(dayStart(1)) {
		t.Errorf("Adresse after the edit = %+v; want the old value until tomorrow and the new one from then", e)
	}
}

func TestScenarioMoveUnit(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	u.Parent, u.Ancestors, u.Validity.From = ptr(schoolID), []uuid.UUID{schoolID, parentID, top}, day(1)
	d := translate.UnitDesired(s, u, day(1))
	if c := translate.UnitCascade(unitID, d, state[unitID], day(1)); !c.Subtree || c.Persons {
		t.Errorf("cascade of a move = %+v; want the subtree only", c)
	}
	ops := state.sync(t, s, d, day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	if got := relations(state[unitID], oio.RelOverordnet); len(got) != 1 || got[0].Ref != schoolID || !got[0].Virkning.From.Equal(dayStart(1)) {
		t.Errorf("Overordnet after move = %+v; want only the new parent from the move", got)
	}
}

func TestScenarioMoveUnitOutOfTheTree(t *testing.T) {
	s := fullSettings()
	s.ExcludedSubtrees = []uuid.UUID{schoolID}
	state := world(t, s)
	u := teknik()
	u.Parent, u.Ancestors = ptr(schoolID), []uuid.UUID{schoolID, parentID, top}
	d := translate.UnitDesired(s, u, day(1))
	if c := translate.UnitCascade(unitID, d, state[unitID], day(1)); !c.Subtree || !c.Persons {
		t.Errorf("cascade of a move out of the tree = %+v; want subtree and persons", c)
	}
	ops := state.sync(t, s, d, day(1))
	want := sortedOps(ret, oio.KindOrganisationFunktion, translate.ManagerUUID(unitID), translate.PositionUUID(engA, annePerson), translate.PositionUUID(engB, boPerson))
	assertOps(t, ops, append(want, ret(oio.KindOrganisationEnhed, unitID))...)
}

func TestScenarioCloseUnit(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	sor := oio.Relation{Name: oio.RelAdresser, Virkning: oio.Virkning{From: created}, Ref: uuid.MustParse("50250250-0000-4000-8000-000000000001"),
		Rolle: translate.RoleUnitSOR, Type: translate.AdresseTypeEnhed, Indeks: "sor"}
	state[unitID].Registration.Relationer = append(state[unitID].Registration.Relationer, sor)

	d := translate.UnitGone(s, unitID)
	if c := translate.UnitCascade(unitID, d, state[unitID], day(1)); !c.Subtree || !c.Persons {
		t.Errorf("cascade of a closed unit = %+v", c)
	}
	ops := state.sync(t, s, d, day(1))
	want := sortedOps(ret, oio.KindOrganisationFunktion, translate.ManagerUUID(unitID), translate.PositionUUID(engA, annePerson), translate.PositionUUID(engB, boPerson))
	assertOps(t, ops, append(want, ret(oio.KindOrganisationEnhed, unitID))...)

	if state[unitID].ActiveOn(dayStart(1)) || !state[unitID].ActiveOn(now) {
		t.Error("the unit is not Inaktiv from the closing day (and Aktiv before)")
	}
	for _, r := range state[unitID].Registration.Relationer {
		if r.Rolle == translate.RoleUnitSOR {
			if r != sor {
				t.Errorf("the SOR address relation was changed: %+v", r)
			}
			continue
		}
		if r.Virkning.To.IsZero() || r.Virkning.To.After(dayStart(1)) {
			t.Errorf("relation %s still in effect after closing: %+v", r.Name, r.Virkning)
		}
	}
	for _, f := range []uuid.UUID{translate.ManagerUUID(unitID), translate.PositionUUID(engA, annePerson)} {
		if state[f].ActiveOn(dayStart(1)) || len(live(state[f], oio.RelTilknyttedeEnheder, dayStart(1))) != 0 {
			t.Errorf("function %s still points at the closed unit", f)
		}
	}
	// Anne's next synchronisation (the fan-out to the unit's persons), her engagement's unit no
	// longer in effect, ends her user.
	p := anne()
	p.Engagements[0].Unit = nil
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(1)), day(1))
	assertOps(t, ops, ret(oio.KindBruger, annePerson))
	// The top unit is never deactivated.
	if ops := translate.PlanAll(s, translate.UnitGone(s, top), state.lookups(translate.UnitGone(s, top)), day(1)); len(ops) != 0 {
		t.Errorf("closing the top unit plans %s", describe(ops))
	}
}

func TestScenarioMoveEmployee(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	p := anne()
	p.Engagements[0].OrgUnit, p.Engagements[0].Unit, p.Engagements[0].Validity.From = schoolID, summary(school()), day(7)
	ops := state.sync(t, s, translate.PersonDesired(s, p, day(7)), day(7))
	pos := translate.PositionUUID(engA, annePerson)
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, pos))
	units := relations(state[pos], oio.RelTilknyttedeEnheder)
	if len(units) != 2 || units[0].Ref != schoolID || !units[0].Virkning.From.Equal(dayStart(7)) ||
		units[1].Ref != unitID || !units[1].Virkning.To.Equal(dayStart(7)) {
		t.Errorf("TilknyttedeEnheder after the move = %+v; want Teknik until the move and Skole from it", units)
	}
	if e := state[pos].Registration.Egenskaber; len(e) != 1 {
		t.Errorf("the title did not change, but Egenskaber = %+v", e)
	}
	// Back again a week later: the stay in Skole stays on record.
	p.Engagements[0].OrgUnit, p.Engagements[0].Unit, p.Engagements[0].Validity.From = unitID, summary(teknik()), day(14)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(14)), day(14))
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, pos))
	units = relations(state[pos], oio.RelTilknyttedeEnheder)
	slices.SortFunc(units, func(a, b oio.Relation) int { return a.Virkning.From.Compare(b.Virkning.From) })
	if len(units) != 3 || units[0].Ref != unitID || !units[0].Virkning.To.Equal(dayStart(7)) ||
		units[1].Ref != schoolID || !units[1].Virkning.To.Equal(dayStart(14)) ||
		units[2].Ref != unitID || !units[2].Virkning.From.Equal(dayStart(14)) || !units[2].Virkning.To.IsZero() {
		t.Errorf("TilknyttedeEnheder after moving back = %+v", units)
	}
}

func TestScenarioChangeJobTitle(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	p := anne()
	p.Engagements[0].JobFunction, p.Engagements[0].Validity.From = clsLeder, day(3)
	ops := state.sync(t, s, translate.PersonDesired(s, p, day(3)), day(3))
	pos := translate.PositionUUID(engA, annePerson)
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, pos))
	e := state[pos].Registration.Egenskaber
	if len(e) != 2 || e[0].Navn != "Afdelingsleder" || !e[0].Virkning.From.Equal(dayStart(3)) || e[1].Navn != "Ingeniør" || !e[1].Virkning.To.Equal(dayStart(3)) {
		t.Errorf("Egenskaber after the title change = %+v", e)
	}
}

func TestScenarioSecondPosition(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	p := anne()
	engC := uuid.MustParse("e0000000-0000-4000-8000-00000000000c")
	p.Engagements = append(p.Engagements, engagement(engC, school(), clsLeder, day(14), day(14)))
	ops := state.sync(t, s, translate.PersonDesired(s, p, day(1)), day(1))
	assertOps(t, ops, imp(oio.KindOrganisationFunktion, translate.PositionUUID(engC, annePerson)))
	if f := state[translate.PositionUUID(engC, annePerson)]; !f.ActiveOn(dayStart(14)) || f.ActiveOn(dayStart(13)) {
		t.Error("the future position is not active from its start only")
	}
	// The start moves later before it took effect: the registered start follows exactly.
	p.Engagements[1].Start, p.Engagements[1].Validity.From = day(21), day(21)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(2)), day(2))
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, translate.PositionUUID(engC, annePerson)))
	if f := state[translate.PositionUUID(engC, annePerson)]; f.ActiveOn(dayStart(20)) || !f.ActiveOn(dayStart(21)) {
		t.Error("the postponed position does not start on its new start")
	}
}

func TestScenarioTerminateEmployee(t *testing.T) {
	for _, gone := range []bool{false, true} {
		t.Run(map[bool]string{false: "engagement ended", true: "person gone"}[gone], func(t *testing.T) {
			s := fullSettings()
			state := world(t, s)
			d := translate.PersonGone(s, annePerson)
			if !gone {
				p := anne()
				p.Engagements = nil
				d = translate.PersonDesired(s, p, day(1))
			}
			ops := state.sync(t, s, d, day(1))
			pos := translate.PositionUUID(engA, annePerson)
			assertOps(t, ops, ret(oio.KindOrganisationFunktion, pos), ret(oio.KindBruger, annePerson))
			if state[annePerson].ActiveOn(dayStart(1)) || state[pos].ActiveOn(dayStart(1)) {
				t.Error("the user or position is still active")
			}
			if got := live(state[annePerson], oio.RelTilknyttedePersoner, dayStart(1)); len(got) != 0 {
				t.Errorf("the user still points at the person: %+v", got)
			}
		})
	}
}

func TestScenarioChangeManager(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	u.Managers = []model.Manager{{UUID: mgrRole2, Person: ptr(annePerson), Validity: since(day(3))}}
	ops := state.sync(t, s, translate.UnitDesired(s, u, day(3)), day(3))
	m := translate.ManagerUUID(unitID)
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, m))
	users := relations(state[m], oio.RelTilknyttedeBrugere)
	if len(users) != 2 || users[0].Ref != annePerson || !users[0].Virkning.From.Equal(dayStart(3)) ||
		users[1].Ref != boPerson || !users[1].Virkning.To.Equal(dayStart(3)) {
		t.Errorf("TilknyttedeBrugere after the change = %+v; want Bo until the change and Anne from it", users)
	}

	// Vacate: the function is deactivated; appoint again: it is reactivated.
	u.Managers = []model.Manager{{UUID: mgrRole2, Validity: since(day(5))}}
	ops = state.sync(t, s, translate.UnitDesired(s, u, day(5)), day(5))
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, m))
	if state[m].ActiveOn(dayStart(5)) || len(live(state[m], oio.RelTilknyttedeBrugere, dayStart(5))) != 0 {
		t.Error("the vacant manager function is still active")
	}
	u.Managers = []model.Manager{{UUID: mgrRole, Person: ptr(boPerson), Validity: since(day(9))}}
	ops = state.sync(t, s, translate.UnitDesired(s, u, day(9)), day(9))
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, m))
	if !state[m].ActiveOn(dayStart(9)) || state[m].ActiveOn(dayStart(7)) {
		t.Error("the manager function is not active again from the appointment only")
	}
}

func TestScenarioKLE(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	kle4 := class("c0000000-0000-4000-8000-000000000044", "13.00.00", "Forsyning", "")
	u.KLE = append(u.KLE, model.KLE{UUID: uuid.New(), Numbers: []model.Class{kle4}, Aspects: []model.Class{clsUdfoerende}, Validity: since(day(1))})
	ops := state.sync(t, s, translate.UnitDesired(s, u, day(1)), day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	if got := live(state[unitID], oio.RelOpgaver, dayStart(1)); len(got) != 4 {
		t.Errorf("Opgaver after adding = %+v", got)
	}
	// Removing every KLE number clears them in STS (they end; history stays).
	u.KLE = nil
	ops = state.sync(t, s, translate.UnitDesired(s, u, day(2)), day(2))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	if got := live(state[unitID], oio.RelOpgaver, dayStart(2)); len(got) != 0 {
		t.Errorf("Opgaver after removing all = %+v; want none in effect", got)
	}
	if got := relations(state[unitID], oio.RelOpgaver); len(got) != 4 {
		t.Errorf("ended Opgaver = %d; all four stay as history", len(got))
	}
}

func TestScenarioChangeAddress(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	u.Addresses[0] = addr("aa000000-0000-4000-8000-0000000000e1", clsUnitEmail, ptr(visPublic), "teknik@kolding.dk", day(2))
	ops := state.sync(t, s, translate.UnitDesired(s, u, day(2)), day(2))
	email := translate.AddressUUID(unitID, translate.RoleUnitEmail)
	assertOps(t, ops, ret(oio.KindAdresse, email))
	e := state[email].Registration.Egenskaber
	if len(e) != 2 || e[0].AdresseTekst != "teknik@kolding.dk" || !e[0].Virkning.From.Equal(dayStart(2)) || !e[1].Virkning.To.Equal(dayStart(2)) {
		t.Errorf("Adresse after the change = %+v", e)
	}

	// A user's mobile number changes the same way: only the Adresse.
	p := anne()
	p.Addresses[2].Name, p.Addresses[2].Validity.From = "99 88 77 66", day(3)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(3)), day(3))
	assertOps(t, ops, ret(oio.KindAdresse, translate.AddressUUID(annePerson, translate.RoleUserPhone)))
}

func TestScenarioAddressMadeSecretOrRemoved(t *testing.T) {
	s := fullSettings()
	state := world(t, s)
	u := teknik()
	u.Addresses[0].Visibility = ptr(visSecret)     // the email
	u.Addresses = slices.Delete(u.Addresses, 1, 2) // the last phone
	ops := state.sync(t, s, translate.UnitDesired(s, u, day(1)), day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, unitID))
	for _, role := range []uuid.UUID{translate.RoleUnitEmail, translate.RoleUnitPhone} {
		for _, r := range relations(state[unitID], oio.RelAdresser) {
			if r.Rolle == role && !r.Virkning.To.Equal(dayStart(1)) {
				t.Errorf("address role %s not ended: %+v", role, r.Virkning)
			}
		}
	}
	// A user's email made secret.
	p := anne()
	p.Addresses[0].Visibility = ptr(visSecret)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(1)), day(1))
	// The next email class is used instead: a new value for the same role.
	assertOps(t, ops, ret(oio.KindAdresse, translate.AddressUUID(annePerson, translate.RoleUserEmail)))
	p.Addresses[1].Visibility = ptr(visSecret)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(2)), day(2))
	assertOps(t, ops, ret(oio.KindBruger, annePerson))
}

func TestScenarioTopUnitHasNoParent(t *testing.T) {
	s := fullSettings()
	state := sts{}
	u := topUnit()
	u.Parent, u.Ancestors = ptr(uuid.MustParse("99999999-0000-4000-8000-000000000000")), []uuid.UUID{uuid.MustParse("99999999-0000-4000-8000-000000000000")}
	state.sync(t, s, translate.UnitDesired(s, u, now), now)
	if got := relations(state[top], oio.RelOverordnet); len(got) != 0 {
		t.Errorf("the top unit is sent with a parent outside the tree: %+v", got)
	}
}

func TestScenarioITUserMode(t *testing.T) {
	s := fullSettings()
	s.UserMode = translate.UsersPerITUser
	state := world(t, s)
	if state[anneFKUser] == nil || state[annePerson] != nil {
		t.Fatal("the user is not keyed by the FK bookkeeping account")
	}
	// A second AD account linked to a new engagement gets its own user.
	p := anne()
	secondGUID := uuid.MustParse("a1a1a1a1-3333-4333-8333-333333333333")
	engC := uuid.MustParse("e0000000-0000-4000-8000-00000000000c")
	p.ITUsers = append(p.ITUsers, model.ITUser{UUID: uuid.MustParse("a1a1a1a1-0000-4000-8000-0000000000ae"), UserKey: "anan2",
		ExternalID: secondGUID.String(), ITSystem: sysAD, Engagements: []uuid.UUID{engC}, Validity: since(day(1))})
	p.ITUsers[0].Engagements = []uuid.UUID{engA}
	p.Engagements = append(p.Engagements, engagement(engC, school(), clsLeder, day(1), day(1)))
	ops := state.sync(t, s, translate.PersonDesired(s, p, day(1)), day(1))
	// With two accounts, addresses linked to neither belong to neither: the first user's end.
	assertOps(t, ops, ret(oio.KindBruger, anneFKUser), imp(oio.KindBruger, secondGUID), imp(oio.KindOrganisationFunktion, translate.PositionUUID(engC, secondGUID)))

	// The first AD account is removed: its FK bookkeeping account still names the user, which is
	// deactivated with its position; the only account left gets the unlinked addresses and
	// engagements.
	p.ITUsers = slices.Delete(p.ITUsers, 0, 1)
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(2)), day(2))
	want := sortedOps(imp, oio.KindAdresse, translate.AddressUUID(secondGUID, translate.RoleUserEmail),
		translate.AddressUUID(secondGUID, translate.RoleUserPhone), translate.AddressUUID(secondGUID, translate.RoleUserLocation))
	want = append(want, ret(oio.KindBruger, secondGUID))
	want = append(want, sortedOps(imp, oio.KindOrganisationFunktion, translate.PositionUUID(engA, secondGUID))...)
	want = append(want, ret(oio.KindOrganisationFunktion, translate.PositionUUID(engA, anneFKUser)), ret(oio.KindBruger, anneFKUser))
	assertOps(t, ops, want...)

	// Without the FK bookkeeping account the user is still found through the Person it links to.
	state = world(t, s)
	p = anne()
	p.ITUsers = nil
	ops = state.sync(t, s, translate.PersonDesired(s, p, day(1)), day(1))
	assertOps(t, ops, ret(oio.KindOrganisationFunktion, translate.PositionUUID(engA, anneFKUser)), ret(oio.KindBruger, anneFKUser))
}

// TestScenarioRetiresForeignFunctions: a manager function and a position an earlier integration
// wrote with random UUIDs are ended when the sync writes its own.
func TestScenarioRetiresForeignFunctions(t *testing.T) {
	s := fullSettings()
	state := sts{}
	v := oio.Virkning{From: created, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	foreign := func(id uuid.UUID, typ, user, unit uuid.UUID) *oio.Object {
		return &oio.Object{Kind: oio.KindOrganisationFunktion, UUID: id, Registration: oio.Registration{
			Livscyklus: oio.LivscyklusImporteret,
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "x1y2z3w4", Navn: "Leder"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
			Relationer: []oio.Relation{
				{Name: oio.RelFunktionstype, Virkning: v, Ref: typ},
				{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: user},
				{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: unit},
			},
		}}
	}
	oldMgr := uuid.MustParse("0d0d0d0d-0000-4000-8000-000000000001")
	oldPos := uuid.MustParse("0d0d0d0d-0000-4000-8000-000000000002")
	payout := uuid.MustParse("0d0d0d0d-0000-4000-8000-000000000003")
	state[oldMgr] = foreign(oldMgr, translate.FunktionstypeLeder, boPerson, unitID)
	state[oldPos] = foreign(oldPos, translate.FunktionstypeStilling, annePerson, unitID)
	state[payout] = foreign(payout, uuid.MustParse("faf29ba2-da6d-49c4-8a2f-0739172f4227"), boPerson, unitID)
	ops := state.sync(t, s, translate.UnitDesired(s, teknik(), now), now)
	if !slices.Contains(summarise(ops), ret(oio.KindOrganisationFunktion, oldMgr)) || slices.Contains(summarise(ops), ret(oio.KindOrganisationFunktion, payout)) {
		t.Errorf("unit plan: %s; want the foreign manager function ended, the payout function untouched", describe(ops))
	}
	ops = state.sync(t, s, translate.PersonDesired(s, anne(), now), now)
	if !slices.Contains(summarise(ops), ret(oio.KindOrganisationFunktion, oldPos)) {
		t.Errorf("person plan: %s; want the foreign position ended", describe(ops))
	}
	// Closing the unit ends the payout function's reference to it, nothing else of it.
	ops = state.sync(t, s, translate.UnitGone(s, unitID), day(1))
	if !slices.Contains(summarise(ops), ret(oio.KindOrganisationFunktion, payout)) || !state[payout].ActiveOn(dayStart(1)) ||
		len(live(state[payout], oio.RelTilknyttedeEnheder, dayStart(1))) != 0 {
		t.Errorf("closing the unit: %s; want the payout function's unit relation ended", describe(ops))
	}
}

// TestScenarioOrdering: a merged bundle of a subtree creates parents before children, and
// deactivates children before parents.
func TestScenarioOrdering(t *testing.T) {
	s := fullSettings()
	state := sts{}
	d := translate.Merge(translate.UnitDesired(s, school(), now), translate.UnitDesired(s, parent(), now), translate.UnitDesired(s, topUnit(), now))
	ops := state.sync(t, s, d, now)
	assertOps(t, ops, imp(oio.KindOrganisationEnhed, top), imp(oio.KindOrganisationEnhed, parentID), imp(oio.KindOrganisationEnhed, schoolID))
	d = translate.Merge(translate.UnitGone(s, parentID), translate.UnitGone(s, schoolID))
	ops = state.sync(t, s, d, day(1))
	assertOps(t, ops, ret(oio.KindOrganisationEnhed, schoolID), ret(oio.KindOrganisationEnhed, parentID))
}
