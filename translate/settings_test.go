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

// userAddressValues returns the address values of a user by role (email, mobile, landline,
// location).
func userAddressValues(t *testing.T, d translate.Desired, user uuid.UUID) map[string]string {
	t.Helper()
	out := map[string]string{}
	u := d.Object(user)
	if u == nil {
		t.Fatalf("no Bruger %s in %d objects", user, len(d.Objects))
	}
	names := map[uuid.UUID]string{translate.RoleUserEmail: "email", translate.RoleUserPhone: "mobile",
		translate.RoleUserLandline: "landline", translate.RoleUserLocation: "location"}
	for _, r := range relations(u, oio.RelAdresser) {
		a := d.Object(r.Ref)
		if a == nil || r.Ref != translate.AddressUUID(user, r.Rolle) {
			t.Fatalf("address relation %+v has no derived Adresse object", r)
		}
		out[names[r.Rolle]] = a.Registration.Egenskaber[0].AdresseTekst
	}
	return out
}

// TestUserAddressChoiceBySettings covers every way a user's addresses are chosen: by class
// priority, by scope when a class list is empty (as os2mo-os2sync-export does), from the unit of
// the primary engagement (EMPLOYEE_ENGAGEMENT_ADDRESS), and not at all for kept roles.
func TestUserAddressChoiceBySettings(t *testing.T) {
	home := class("c0000000-0000-4000-8000-000000000016", "AdressePostEmployee", "Hjemmeadresse", "DAR")
	work := class("c0000000-0000-4000-8000-000000000017", "AdresseArbejde", "Arbejdsadresse", "DAR")
	unitLocation := addr("aa000000-0000-4000-8000-0000000000d1", clsUnitLocation, ptr(visPublic), "Rådhuset, 6000 Kolding", created)
	unitSecretPost := addr("aa000000-0000-4000-8000-0000000000d2", clsUnitPost, ptr(visSecret), "Hemmelig vej 1", created)
	unitPost := addr("aa000000-0000-4000-8000-0000000000d3", clsUnitPost, nil, "Nytorv 11, 6000 Kolding", created)
	person := func(f func(p *model.Person)) *model.Person {
		p := anne()
		p.Addresses = append(p.Addresses,
			addr("ad000000-0000-4000-8000-000000000006", home, nil, "Privatvej 3, 6000 Kolding", created),
			model.Address{UUID: uuid.MustParse("ad000000-0000-4000-8000-000000000007"), Type: work, Value: "Havnegade 5, 6000 Kolding",
				Name: "Havnegade 5, 6000 Kolding", Validity: since(created), Engagement: ptr(engA)})
		if f != nil {
			f(p)
		}
		return p
	}
	base := translate.Settings{Organisation: org, TopUnit: top}
	with := func(f func(*translate.Settings)) translate.Settings { s := base; f(&s); return s }
	tests := []struct {
		name string
		s    translate.Settings
		p    *model.Person
		want map[string]string
	}{
		{"empty lists choose by scope", base, person(nil), map[string]string{
			// The lowest UUID among equally ranked public EMAIL addresses; the secret landline and
			// the home address (not linked to an engagement) are not exported; no landline.
			"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Havnegade 5, 6000 Kolding"}},
		{"a PHONE class listed as landline is not the mobile", with(func(s *translate.Settings) {
			s.LandlineClasses = []uuid.UUID{clsEmpMobile.UUID}
		}), person(nil), map[string]string{"email": "anan@kolding.dk", "landline": "20 30 40 50", "location": "Havnegade 5, 6000 Kolding"}},
		{"class priority", fullSettings(), person(nil), map[string]string{
			"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Kontor 2.14"}},
		{"class priority picks a later class when the first is missing", with(func(s *translate.Settings) {
			s.EmailClasses = []uuid.UUID{clsUnitEmail.UUID, clsEmpEmail2.UUID}
		}), person(nil), map[string]string{"email": "anne@example.org", "mobile": "20 30 40 50", "location": "Havnegade 5, 6000 Kolding"}},
		{"engagement address of the primary engagement's unit", with(func(s *translate.Settings) {
			s.EngagementAddressTypes = []string{"Lokation", "AddressMailUnit"}
		}), person(func(p *model.Person) {
			p.Engagements[0].Unit.Addresses = []model.Address{unitSecretPost, unitPost, unitLocation}
		}), map[string]string{"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Rådhuset, 6000 Kolding"}},
		{"engagement address: a later type when the first is missing, secret ones never", with(func(s *translate.Settings) {
			s.EngagementAddressTypes = []string{"Lokation", "Postadresse"}
		}), person(func(p *model.Person) {
			p.Engagements[0].Unit.Addresses = []model.Address{unitSecretPost, unitPost}
		}), map[string]string{"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Nytorv 11, 6000 Kolding"}},
		{"engagement address falls back to the person's own", with(func(s *translate.Settings) {
			s.EngagementAddressTypes = []string{"Lokation"}
		}), person(func(p *model.Person) { p.Engagements[0].Unit.Addresses = []model.Address{unitPost} }),
			map[string]string{"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Havnegade 5, 6000 Kolding"}},
		{"the primary engagement's unit wins over an earlier engagement's", with(func(s *translate.Settings) {
			s.EngagementAddressTypes = []string{"Lokation"}
		}), person(func(p *model.Person) {
			p.Engagements[0].Unit.Addresses = []model.Address{unitLocation}
			second := engagement(engB, school(), clsLeder, time.Date(2010, 1, 1, 0, 0, 0, 0, cph), created)
			second.Primary = true
			second.Unit.Addresses = []model.Address{addr("aa000000-0000-4000-8000-0000000000d4", clsUnitLocation, nil, "Skolevej 1", created)}
			p.Engagements = append(p.Engagements, second)
		}), map[string]string{"email": "anan@kolding.dk", "mobile": "20 30 40 50", "location": "Skolevej 1"}},
		{"kept roles are not written", with(func(s *translate.Settings) {
			s.KeptAddressRoles = []uuid.UUID{translate.RoleUserEmail, translate.RoleUserLocation}
		}), person(nil), map[string]string{"mobile": "20 30 40 50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := translate.PersonDesired(tt.s, tt.p, now)
			got := userAddressValues(t, d, annePerson)
			if len(got) != len(tt.want) {
				t.Errorf("addresses = %v, want %v", got, tt.want)
			}
			for role, v := range tt.want {
				if got[role] != v {
					t.Errorf("%s = %q, want %q (all: %v)", role, got[role], v, got)
				}
			}
		})
	}
}

// TestUUIDFromITSystems: a unit's or person's IT user in one of UUIDFromITSystems gives the UUID
// its STS object has, wherever it is referred to.
func TestUUIDFromITSystems(t *testing.T) {
	sysSTS := class("d0000000-0000-4000-8000-000000000004", "OS2sync", "FK-org UUID (gammel)", "")
	fkUnit := uuid.MustParse("11111111-aaaa-4aaa-8aaa-111111111111")
	fkParent := uuid.MustParse("22222222-aaaa-4aaa-8aaa-222222222222")
	fkAnne := uuid.MustParse("33333333-aaaa-4aaa-8aaa-333333333333")
	fkBo := uuid.MustParse("44444444-aaaa-4aaa-8aaa-444444444444")
	it := func(id, key, ext string) model.ITUser {
		return model.ITUser{UUID: uuid.MustParse(id), UserKey: key, ExternalID: ext, ITSystem: sysSTS, Validity: since(created)}
	}
	s := fullSettings()
	s.UUIDFromITSystems = []string{"FK-org UUID (gammel)"} // by name; the user key works too
	unit := teknik()
	unit.ITUsers = append(unit.ITUsers, it("ac000000-0000-4000-8000-000000000003", fkUnit.String(), ""))
	unit.ParentITUsers = []model.ITUser{it("ac000000-0000-4000-8000-000000000004", "not a uuid", fkParent.String())}
	unit.Managers[0].PersonITUsers = append(unit.Managers[0].PersonITUsers, it("ac000000-0000-4000-8000-000000000005", fkBo.String(), ""))

	d := translate.UnitDesired(s, unit, now)
	if d.Object(unitID) != nil || d.UnitUUID() != fkUnit {
		t.Fatalf("unit written as %v, want %s", d.Units, fkUnit)
	}
	u := d.Object(fkUnit)
	if u == nil {
		t.Fatal("no OrganisationEnhed with the IT user's UUID")
	}
	if got := relations(u, oio.RelOverordnet); len(got) != 1 || got[0].Ref != fkParent {
		t.Errorf("Overordnet = %+v, want the parent's UUID from its IT user's external id", got)
	}
	if got := relations(u, oio.RelTilknyttedeItSystemer); len(got) != 1 || got[0].Ref != sysOPUS.UUID {
		t.Errorf("TilknyttedeItSystemer = %+v, want OPUS only (not the UUID system)", got)
	}
	for _, r := range relations(u, oio.RelAdresser) {
		if r.Ref != translate.AddressUUID(fkUnit, r.Rolle) {
			t.Errorf("address %+v not derived from the unit's STS UUID", r)
		}
	}
	m := d.Object(translate.ManagerUUID(fkUnit))
	if m == nil || relations(m, oio.RelTilknyttedeBrugere)[0].Ref != fkBo || relations(m, oio.RelTilknyttedeEnheder)[0].Ref != fkUnit {
		t.Errorf("manager function = %s, want Bo's STS UUID in the unit's", dumpObj(m))
	}

	p := anne()
	p.ITUsers = append(p.ITUsers, it("ac000000-0000-4000-8000-000000000006", fkAnne.String(), ""))
	p.Engagements[0].Unit = summary(unit)
	pd := translate.PersonDesired(s, p, now)
	if pd.Object(annePerson) != nil || pd.Object(fkAnne) == nil || !slices.Equal(pd.Users, []uuid.UUID{fkAnne}) {
		t.Fatalf("person mode user written as %v, want %s", pd.Users, fkAnne)
	}
	pos := pd.Object(translate.PositionUUID(engA, fkAnne))
	if pos == nil || relations(pos, oio.RelTilknyttedeEnheder)[0].Ref != fkUnit {
		t.Errorf("position = %s, want it in the unit's STS UUID", dumpObj(pos))
	}

	// An IT user of the system makes its unit exported whatever the hierarchy filter says.
	s.HierarchyNames = []string{"Sikkerhedsorganisation"}
	unit.ITUsers = []model.ITUser{it("ac000000-0000-4000-8000-000000000003", fkUnit.String(), "")}
	if d := translate.UnitDesired(s, unit, now); d.Object(fkUnit) == nil {
		t.Error("a unit with an IT user of UUID_FROM_IT_SYSTEMS is not exported")
	}
	// Without a UUID the IT user is reported and OS2MO's UUID is used.
	unit.ITUsers = []model.ITUser{it("ac000000-0000-4000-8000-000000000003", "TM", "")}
	d = translate.UnitDesired(s, unit, now)
	if d.Object(unitID) == nil || !slices.ContainsFunc(d.Problems, func(p translate.Problem) bool { return strings.Contains(p.Message, "holds no UUID") }) {
		t.Errorf("IT user without a UUID: units %v, problems %v", d.Units, d.Problems)
	}
}

// TestFunctionsLeftToFK: with managers or contact places switched off, functions of that type
// other tools wrote for a unit are kept, and the sync's own are ended; switched on, both kinds of
// foreign function are ended (and replaced).
func TestFunctionsLeftToFK(t *testing.T) {
	foreignLeder := uuid.MustParse("f1f1f1f1-0000-4000-8000-000000000001")
	foreignKontakt := uuid.MustParse("f1f1f1f1-0000-4000-8000-000000000002")
	foreign := func(id, typ uuid.UUID, user *uuid.UUID) *oio.Object {
		v := oio.Virkning{From: created, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
		f := &oio.Object{Kind: oio.KindOrganisationFunktion, UUID: id, Registration: oio.Registration{
			Tidspunkt: created, Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "FK", Navn: "Lavet i FK"}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
			Relationer: []oio.Relation{{Name: oio.RelFunktionstype, Virkning: v, Ref: typ},
				{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: unitID},
				{Name: oio.RelTilknyttedeOrganisationer, Virkning: v, Ref: org}}}}
		if user != nil {
			f.Registration.Relationer = append(f.Registration.Relationer, oio.Relation{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: *user})
		}
		translate.SortRelations(oio.KindOrganisationFunktion, f.Registration.Relationer)
		return f
	}
	tests := []struct {
		name            string
		managers, tasks bool
		// the functions active after converging: foreign Leder, foreign Henvendelsessted, own
		// Leder, own Henvendelsessted
		want [4]bool
	}{
		{"both on", true, true, [4]bool{false, false, true, true}},
		{"managers off", false, true, [4]bool{true, false, false, true}},
		{"contact places off", true, false, [4]bool{false, true, true, false}},
		{"both off", false, false, [4]bool{true, true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on := fullSettings()
			on.ContactForTasks = true
			state := world(t, on) // with both on, the unit's own functions exist
			state[foreignLeder] = foreign(foreignLeder, translate.FunktionstypeLeder, ptr(annePerson))
			state[foreignKontakt] = foreign(foreignKontakt, translate.FunktionstypeHenvendelsessted, nil)
			s := fullSettings()
			s.DisableManagers, s.ContactForTasks = !tt.managers, tt.tasks
			state.sync(t, s, translate.UnitDesired(s, teknik(), day(1)), day(1))
			for i, id := range []uuid.UUID{foreignLeder, foreignKontakt, translate.ManagerUUID(unitID), translate.ContactPlaceUUID(unitID)} {
				if got := state[id].ActiveOn(dayStart(2)); got != tt.want[i] {
					t.Errorf("function %d (%s) active = %v, want %v", i, id, got, tt.want[i])
				}
			}
		})
	}
}

// TestADAccountWithSeveralEngagements: in ituser mode an AD account linked to several engagements
// holds a position for each of them.
func TestADAccountWithSeveralEngagements(t *testing.T) {
	s := fullSettings()
	s.UserMode = translate.UsersPerITUser
	p := anne()
	p.ITUsers[0].Engagements = []uuid.UUID{engA, engB}
	p.Engagements = append(p.Engagements, engagement(engB, school(), clsLeder, created, created))
	d := translate.PersonDesired(s, p, now)
	for _, e := range []uuid.UUID{engA, engB} {
		if d.Object(translate.PositionUUID(e, anneFKUser)) == nil {
			t.Errorf("no position for engagement %s of the account's user", e)
		}
	}
	// A second account linked to one of them takes it; the first keeps the other.
	p.ITUsers = append(p.ITUsers, model.ITUser{UUID: uuid.MustParse("a1a1a1a1-0000-4000-8000-0000000000ae"), UserKey: "anan2",
		ExternalID: "a1a1a1a1-3333-4333-8333-333333333333", ITSystem: sysAD, Engagements: []uuid.UUID{engB}, Validity: since(created)})
	p.ITUsers[0].Engagements = []uuid.UUID{engA}
	d = translate.PersonDesired(s, p, now)
	if d.Object(translate.PositionUUID(engA, anneFKUser)) == nil || d.Object(translate.PositionUUID(engB, anneFKUser)) != nil ||
		d.Object(translate.PositionUUID(engB, uuid.MustParse("a1a1a1a1-3333-4333-8333-333333333333"))) == nil {
		t.Errorf("positions with two accounts: %s", describeObjects(d))
	}
}

// TestITSystemsByName: the AD and FK bookkeeping systems may be named by user key or name.
func TestITSystemsByName(t *testing.T) {
	s := fullSettings()
	s.UserMode = translate.UsersPerITUser
	s.ADITSystems = []string{"active directory"} // sysAD's name, any case
	s.FKITSystems = []string{"FK-org uuid"}      // sysFK's name
	d := translate.PersonDesired(s, anne(), now)
	if d.Object(anneFKUser) == nil {
		t.Errorf("the FK bookkeeping user was not found by its system's name: %s", describeObjects(d))
	}
}

func describeObjects(d translate.Desired) string {
	var b strings.Builder
	for _, o := range d.Objects {
		b.WriteString("\n  " + string(o.Kind) + " " + o.UUID.String())
	}
	return b.String()
}

// TestManagerRoleKeepsItsUser: the unit's bundle and the manager's own bundle agree on the
// manager's user in every case, so neither ends what the other writes: a manager of an exported
// unit keeps the user the Leder function points at, positions or not; a manager the unit treats
// as vacant (person gone, no AD account where one is required) has no user kept for the role.
func TestManagerRoleKeepsItsUser(t *testing.T) {
	role := func(unit *model.OrgUnit) model.ManagerRole {
		return model.ManagerRole{UUID: mgrRole, OrgUnit: unit.UUID, Unit: summary(unit), Validity: since(created)}
	}
	boWithout := func(f func(p *model.Person, u *model.OrgUnit)) (*model.Person, *model.OrgUnit) {
		p, u := bo(), teknik()
		p.Engagements = nil // no position anywhere
		p.ManagerRoles = []model.ManagerRole{role(u)}
		if f != nil {
			f(p, u)
		}
		return p, u
	}
	tests := []struct {
		name     string
		s        func(*translate.Settings)
		p        func(p *model.Person, u *model.OrgUnit)
		wantUser uuid.UUID // the user the Leder function names and the person's bundle keeps (Nil: vacant, no user)
	}{
		{"manager without positions", nil, nil, boPerson},
		{"manager without positions, ituser mode", func(s *translate.Settings) { s.UserMode = translate.UsersPerITUser }, nil, boGUID},
		{"manager of a unit that is not exported", func(s *translate.Settings) { s.HierarchyNames = []string{"Sikkerhedsorganisation"} },
			func(p *model.Person, u *model.OrgUnit) {
				u.ITUsers = nil
				p.ManagerRoles = []model.ManagerRole{role(u)}
			}, uuid.Nil},
		{"manager person gone", nil, func(_ *model.Person, u *model.OrgUnit) { u.Managers[0].PersonGone = true }, uuid.Nil},
		{"manager without the required AD account", func(s *translate.Settings) { s.RequireADAccount = true },
			func(p *model.Person, u *model.OrgUnit) { p.ITUsers = nil; u.Managers[0].PersonITUsers = nil }, uuid.Nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fullSettings()
			if tt.s != nil {
				tt.s(&s)
			}
			p, u := boWithout(tt.p)
			unit := translate.UnitDesired(s, u, now)
			person := translate.PersonDesired(s, p, now)
			leder := unit.Object(translate.ManagerUUID(unitID))
			switch {
			case tt.wantUser == uuid.Nil && leder != nil:
				t.Errorf("the unit's Leder function names %v; want the post vacant", relations(leder, oio.RelTilknyttedeBrugere))
			case tt.wantUser != uuid.Nil && (leder == nil || relations(leder, oio.RelTilknyttedeBrugere)[0].Ref != tt.wantUser):
				t.Errorf("the unit's Leder function = %s; want it to name %s", dumpObj(leder), tt.wantUser)
			}
			if tt.wantUser != uuid.Nil {
				if person.Object(tt.wantUser) == nil || slices.Contains(person.Deactivate, translate.Ref{Kind: oio.KindBruger, UUID: tt.wantUser}) {
					t.Errorf("the manager's bundle does not keep user %s: %s, deactivate %v", tt.wantUser, describeObjects(person), person.Deactivate)
				}
			}
			// Whatever the unit's function names, the person's bundle plans nothing against it.
			if leder != nil {
				state := sts{}
				state.sync(t, s, unit, now)
				state.sync(t, s, person, now)
				if ops := translate.PlanAll(s, unit, state.lookups(unit), now); len(ops) != 0 {
					t.Errorf("the unit's bundle plans %s after the person's", describe(ops))
				}
			}
		})
	}
}
