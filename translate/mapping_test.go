package translate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestMappingGolden pins, per mapping rule and setting, the exact STS requests (bodies through
// the oio codec, validated against the XSD) that creating the translated objects takes, with the
// problems the translation reports. Run go test ./translate -update to rewrite the files.
func TestMappingGolden(t *testing.T) {
	withSettings := func(f func(*translate.Settings)) translate.Settings {
		s := fullSettings()
		f(&s)
		return s
	}
	withUnit := func(f func(*model.OrgUnit)) *model.OrgUnit {
		u := teknik()
		f(u)
		return u
	}
	withPerson := func(f func(*model.Person)) *model.Person {
		p := anne()
		f(p)
		return p
	}
	type tc struct {
		name    string
		s       translate.Settings
		desired translate.Desired
	}
	unitCase := func(name string, s translate.Settings, u *model.OrgUnit) tc {
		return tc{name, s, translate.UnitDesired(s, u, now)}
	}
	personCase := func(name string, s translate.Settings, p *model.Person) tc {
		return tc{name, s, translate.PersonDesired(s, p, now)}
	}
	tests := []tc{
		// Units.
		unitCase("unit", fullSettings(), teknik()),
		unitCase("unit_default_settings", translate.Settings{Organisation: org, TopUnit: top}, teknik()),
		unitCase("unit_top_without_parent", fullSettings(), plainUnit(top, "Kolding Kommune", ptr(parentID), parentID)),
		unitCase("unit_team_type", withSettings(func(s *translate.Settings) { s.TeamUnitTypes = []uuid.UUID{clsTeam.UUID} }),
			withUnit(func(u *model.OrgUnit) { u.UnitType = ptr(clsTeam) })),
		unitCase("unit_kle_contact_for_tasks", withSettings(func(s *translate.Settings) { s.ContactForTasks = true }), teknik()),
		unitCase("unit_kle_disabled", withSettings(func(s *translate.Settings) { s.DisableKLE = true }), teknik()),
		unitCase("unit_landline", fullSettings(), withUnit(func(u *model.OrgUnit) {
			u.Addresses = []model.Address{addr("aa000000-0000-4000-8000-0000000000b1", clsUnitLandline, nil, "75 50 00 00", created)}
		})),
		unitCase("unit_kept_address_roles", withSettings(func(s *translate.Settings) {
			s.KeptAddressRoles = []uuid.UUID{translate.RoleUnitEAN, translate.RoleUnitPNumber}
		}), teknik()),
		unitCase("unit_managers_disabled_it_systems_disabled", withSettings(func(s *translate.Settings) {
			s.DisableManagers, s.DisableITSystems = true, true
		}), teknik()),
		unitCase("unit_manager_ituser_mode", withSettings(func(s *translate.Settings) { s.UserMode = translate.UsersPerITUser }), teknik()),
		unitCase("unit_vacant_manager", fullSettings(), withUnit(func(u *model.OrgUnit) {
			u.Managers = []model.Manager{{UUID: mgrRole, Validity: since(created)}}
		})),
		unitCase("unit_two_managers", fullSettings(), withUnit(func(u *model.OrgUnit) {
			u.Managers = append(u.Managers, model.Manager{UUID: mgrRole2, Person: ptr(annePerson), Validity: since(time.Date(2026, 1, 1, 0, 0, 0, 0, cph))})
		})),
		unitCase("unit_limits", fullSettings(), withUnit(func(u *model.OrgUnit) {
			u.Name = strings.Repeat("Æbleø ", 40) + "\x01"
			u.UserKey = strings.Repeat("k", 60)
			u.Addresses = []model.Address{addr("aa000000-0000-4000-8000-0000000000c1", clsUnitEmail, nil, strings.Repeat("å", 230)+"@kolding.dk", created)}
		})),
		unitCase("unit_future_end", fullSettings(), withUnit(func(u *model.OrgUnit) {
			u.Validity.To = time.Date(2027, 1, 1, 0, 0, 0, 0, cph)
			u.KLE, u.Addresses, u.Managers, u.ITUsers = nil, nil, nil, nil
		})),
		unitCase("unit_irrelevant_excluded", withSettings(func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{parentID} }), teknik()),

		// Users.
		personCase("person", fullSettings(), anne()),
		personCase("person_default_settings", translate.Settings{Organisation: org, TopUnit: top}, anne()),
		personCase("person_ituser_mode", withSettings(func(s *translate.Settings) { s.UserMode = translate.UsersPerITUser }), anne()),
		personCase("person_ituser_mode_without_fk_account", withSettings(func(s *translate.Settings) { s.UserMode = translate.UsersPerITUser }),
			withPerson(func(p *model.Person) { p.ITUsers = p.ITUsers[:1] })),
		personCase("person_cpr_nickname_extension", withSettings(func(s *translate.Settings) {
			s.SyncCPR, s.UseNickname, s.JobTitleExtension = true, true, 3
		}), withPerson(func(p *model.Person) { p.Engagements[0].Extensions[2] = "Projektingeniør" })),
		personCase("person_invalid_cpr", withSettings(func(s *translate.Settings) { s.SyncCPR = true }),
			withPerson(func(p *model.Person) { p.CPR = "0101901" })),
		personCase("person_future_engagement", fullSettings(), withPerson(func(p *model.Person) {
			start := time.Date(2027, 2, 1, 0, 0, 0, 0, cph)
			p.Engagements[0].Start, p.Engagements[0].Validity = start, model.Validity{From: start, To: time.Date(2027, 8, 1, 0, 0, 0, 0, cph)}
		})),
		personCase("person_no_relevant_position", withSettings(func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{unitID} }), anne()),
		personCase("person_require_ad_account", withSettings(func(s *translate.Settings) { s.RequireADAccount = true }),
			withPerson(func(p *model.Person) { p.ITUsers = nil })),
		personCase("person_without_ad_account", fullSettings(), withPerson(func(p *model.Person) { p.ITUsers = nil })),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := translate.PlanAll(tt.s, tt.desired, nil, now)
			golden.Assert(t, "mapping/"+tt.name+".golden.xml", opsXML(t, tt.desired.Problems, ops))
			for _, p := range tt.desired.Problems {
				if strings.Contains(p.String(), "0101901234") || strings.Contains(p.String(), "010190") {
					t.Errorf("problem shows the CPR number: %s", p)
				}
			}
			state := sts{}
			if err := translate.ApplyAll(state, ops); err != nil {
				t.Fatal(err)
			}
			if again := translate.PlanAll(tt.s, tt.desired, state.lookups(tt.desired), now); len(again) != 0 {
				t.Errorf("re-planning is not idempotent: %s", describe(again))
			}
		})
	}
}

// TestUnitMappingRules checks the unit rules one by one on the translated objects.
func TestUnitMappingRules(t *testing.T) {
	s := fullSettings()
	d := translate.UnitDesired(s, teknik(), now)
	u := d.Object(unitID)
	if u == nil {
		t.Fatal("no OrganisationEnhed")
	}
	roles := map[uuid.UUID]string{}
	for _, r := range relations(u, oio.RelAdresser) {
		if r.Type != translate.AdresseTypeEnhed || r.Ref != translate.AddressUUID(unitID, r.Rolle) {
			t.Errorf("address relation %+v", r)
		}
		a := d.Object(r.Ref)
		if a == nil || a.Kind != oio.KindAdresse {
			t.Fatalf("no Adresse object for role %s", r.Rolle)
		}
		roles[r.Rolle] = a.Registration.Egenskaber[0].AdresseTekst
	}
	want := map[uuid.UUID]string{
		translate.RoleUnitEmail:            "tm@kolding.dk",
		translate.RoleUnitPhone:            "76 79 79 79",
		translate.RoleUnitPost:             "Nytorv 11, 6000 Kolding",
		translate.RoleUnitContact:          "Akseltorv 1, 6000 Kolding",
		translate.RoleUnitEAN:              "5798000420526",
		translate.RoleUnitPNumber:          "1003388438",
		translate.RoleUnitURL:              "https://www.kolding.dk/tm",
		translate.RoleUnitContactOpenHours: "Man-fre 9-15",
		translate.RoleUnitDTRID:            "DTR-1234",
	}
	if len(roles) != len(want) {
		t.Errorf("address roles = %v; want %v (the secret landline is not exported)", roles, want)
	}
	for role, v := range want {
		if roles[role] != v {
			t.Errorf("role %s = %q; want %q", role, roles[role], v)
		}
	}
	if got := relations(u, oio.RelOpgaver); len(got) != 3 {
		t.Errorf("Opgaver = %+v; want all three KLE numbers", got)
	}
	if got := relations(u, oio.RelTilknyttedeItSystemer); len(got) != 1 || got[0].Ref != sysOPUS.UUID {
		t.Errorf("TilknyttedeItSystemer = %+v; want OPUS only (not the FK bookkeeping system)", got)
	}
	if got := relations(u, oio.RelEnhedstype); len(got) != 1 || got[0].Ref != translate.EnhedstypeAfdeling {
		t.Errorf("Enhedstype = %+v", got)
	}
	m := d.Object(translate.ManagerUUID(unitID))
	if m == nil || len(relations(m, oio.RelTilknyttedeBrugere)) != 1 || relations(m, oio.RelTilknyttedeBrugere)[0].Ref != boPerson ||
		relations(m, oio.RelFunktionstype)[0].Ref != translate.FunktionstypeLeder {
		t.Errorf("manager function = %+v", m)
	}

	// Split KLE by aspect.
	s.ContactForTasks = true
	d = translate.UnitDesired(s, teknik(), now)
	if got := relations(d.Object(unitID), oio.RelOpgaver); len(got) != 1 || got[0].Ref != clsKLE1.UUID {
		t.Errorf("Opgaver with ContactForTasks = %+v; want the Udførende number", got)
	}
	c := d.Object(translate.ContactPlaceUUID(unitID))
	if c == nil || len(relations(c, oio.RelTilknyttedeOpgaver)) != 1 || relations(c, oio.RelTilknyttedeOpgaver)[0].Ref != clsKLE2.UUID {
		t.Errorf("Henvendelsessted = %+v; want the Ansvarlig number", c)
	}
}

// TestRelevance walks the relevance rules.
func TestRelevance(t *testing.T) {
	base := func() *model.OrgUnit { u := teknik(); u.ITUsers = nil; return u }
	tests := []struct {
		name string
		s    func(*translate.Settings)
		u    func(*model.OrgUnit)
		want bool
	}{
		{"below the top unit", nil, nil, true},
		{"the top unit even when excluded", func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{top} },
			func(u *model.OrgUnit) { u.UUID = top }, true},
		{"outside the top unit", nil, func(u *model.OrgUnit) { u.Ancestors = []uuid.UUID{parentID} }, false},
		{"another root", nil, func(u *model.OrgUnit) { u.Parent, u.Ancestors = nil, nil }, false},
		{"any root without a top unit", func(s *translate.Settings) { s.TopUnit = uuid.Nil }, func(u *model.OrgUnit) { u.Parent, u.Ancestors = nil, nil }, true},
		{"excluded subtree", func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{parentID} }, nil, false},
		{"excluded itself", func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{unitID} }, nil, false},
		{"hierarchy listed", func(s *translate.Settings) { s.HierarchyNames = []string{"Linjeorganisation"} }, nil, true},
		{"hierarchy not listed", func(s *translate.Settings) { s.HierarchyNames = []string{"Sikkerhedsorganisation"} }, nil, false},
		{"hierarchy not listed but FK account", func(s *translate.Settings) { s.HierarchyNames = []string{"Sikkerhedsorganisation"} },
			func(u *model.OrgUnit) { u.ITUsers = teknik().ITUsers }, true},
		{"ignored level", func(s *translate.Settings) { s.IgnoredUnitLevels = []uuid.UUID{clsLevel.UUID} }, nil, false},
		{"ignored type", func(s *translate.Settings) { s.IgnoredUnitTypes = []uuid.UUID{clsAfdeling.UUID} }, nil, false},
		{"ignored type but FK account", func(s *translate.Settings) { s.IgnoredUnitTypes = []uuid.UUID{clsAfdeling.UUID} },
			func(u *model.OrgUnit) { u.ITUsers = teknik().ITUsers }, true},
		{"excluded subtree despite FK account", func(s *translate.Settings) { s.ExcludedSubtrees = []uuid.UUID{parentID} },
			func(u *model.OrgUnit) { u.ITUsers = teknik().ITUsers }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fullSettings()
			if tt.s != nil {
				tt.s(&s)
			}
			u := base()
			if tt.u != nil {
				tt.u(u)
			}
			got, why := translate.Relevant(s, u)
			if got != tt.want {
				t.Errorf("Relevant = %v (%s); want %v", got, why, tt.want)
			}
			d := translate.UnitDesired(s, u, now)
			if exported := d.Object(u.UUID) != nil; exported != tt.want {
				t.Errorf("UnitDesired exports the unit: %v; want %v", exported, tt.want)
			}
			if !tt.want && !slices.Contains(d.Deactivate, translate.Ref{Kind: oio.KindOrganisationEnhed, UUID: u.UUID}) {
				t.Errorf("irrelevant unit not deactivated: %+v", d.Deactivate)
			}
		})
	}
	if d := translate.UnitGone(fullSettings(), top); len(d.Deactivate) != 0 || len(d.Problems) != 1 {
		t.Errorf("UnitGone(top) = %+v; the top unit is never deactivated", d)
	}
}

// TestUserAddressChoice checks the class-priority and visibility rules of user addresses.
func TestUserAddressChoice(t *testing.T) {
	s := fullSettings()
	d := translate.PersonDesired(s, anne(), now)
	values := map[uuid.UUID]string{}
	for _, o := range d.Objects {
		if o.Kind == oio.KindAdresse {
			values[o.UUID] = o.Registration.Egenskaber[0].AdresseTekst
		}
	}
	want := map[uuid.UUID]string{
		translate.AddressUUID(annePerson, translate.RoleUserEmail):    "anan@kolding.dk", // first class in EmailClasses
		translate.AddressUUID(annePerson, translate.RoleUserPhone):    "20 30 40 50",
		translate.AddressUUID(annePerson, translate.RoleUserLocation): "Kontor 2.14",
		// the landline is secret: not exported
	}
	if len(values) != len(want) {
		t.Errorf("addresses = %v; want %v", values, want)
	}
	for id, v := range want {
		if values[id] != v {
			t.Errorf("address %s = %q; want %q", id, values[id], v)
		}
	}
	// Swap the priority: the second email class wins.
	s.EmailClasses = []uuid.UUID{clsEmpEmail2.UUID, clsEmpEmail.UUID}
	d = translate.PersonDesired(s, anne(), now)
	if a := d.Object(translate.AddressUUID(annePerson, translate.RoleUserEmail)); a == nil || a.Registration.Egenskaber[0].AdresseTekst != "anne@example.org" {
		t.Errorf("email with swapped priority = %+v", a)
	}
}

// TestPersonPositionRelevance drops positions in irrelevant units and deactivates a user without
// any; the FK-account exception applies through the IT users of the engagement's unit, which the
// unit summary carries.
func TestPersonPositionRelevance(t *testing.T) {
	s := fullSettings()
	s.HierarchyNames = []string{"Sikkerhedsorganisation"}
	withoutFK := anne()
	withoutFK.Engagements[0].Unit.ITUsers = nil
	d := translate.PersonDesired(s, withoutFK, now)
	if len(d.Objects) != 0 || !slices.Contains(d.Deactivate, translate.Ref{Kind: oio.KindBruger, UUID: annePerson}) {
		t.Errorf("user without relevant positions: objects %d, deactivate %v", len(d.Objects), d.Deactivate)
	}
	d = translate.PersonDesired(s, anne(), now) // Teknik og Miljø has an FK-ORG-UUID account
	if d.Object(translate.PositionUUID(engA, annePerson)) == nil {
		t.Error("a position in a unit exported for its FK account is left out")
	}
}

// TestProblemsNeverShowCPR makes every CPR-related problem happen and checks the messages.
func TestProblemsNeverShowCPR(t *testing.T) {
	s := fullSettings()
	s.SyncCPR = true
	for _, cpr := range []string{"0101901", "01019O1234", "123-456-7890x"} {
		p := anne()
		p.CPR = cpr
		d := translate.PersonDesired(s, p, now)
		if len(d.Problems) == 0 {
			t.Errorf("invalid CPR %d characters long not reported", len(cpr))
		}
		for _, pr := range d.Problems {
			if strings.Contains(pr.String(), cpr) {
				t.Errorf("problem shows the CPR number: %s", pr)
			}
		}
		if o := d.Object(translate.PersonUUID(annePerson)); o == nil || o.Registration.Egenskaber[0].CPR != "" {
			t.Errorf("invalid CPR written: %+v", o)
		}
	}
}
