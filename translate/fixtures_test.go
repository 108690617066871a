package translate_test

import (
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/translate"
)

// A small municipality: the top unit "Kolding Kommune", below it "Forvaltning" (parentID), below
// that "Teknik og Miljø" (unitID) and a sibling "Skole" (schoolID). Anne works in Teknik og Miljø;
// Bo is its manager.
var (
	schoolID = uuid.MustParse("0b6a3f8e-2d52-4c9a-9e1b-3c4d5e6f7a8b")

	annePerson = uuid.MustParse("a1a1a1a1-0000-4000-8000-000000000001")
	boPerson   = uuid.MustParse("b0b0b0b0-0000-4000-8000-000000000002")
	anneAD     = uuid.MustParse("a1a1a1a1-0000-4000-8000-0000000000ad")
	anneFK     = uuid.MustParse("a1a1a1a1-0000-4000-8000-0000000000f0")
	anneGUID   = uuid.MustParse("a1a1a1a1-1111-4111-8111-111111111111") // AD ObjectGUID
	anneFKUser = uuid.MustParse("a1a1a1a1-2222-4222-8222-222222222222") // STS Bruger UUID kept by FK-ORG-UUID
	boGUID     = uuid.MustParse("b0b0b0b0-1111-4111-8111-111111111111")
	engA       = uuid.MustParse("e0000000-0000-4000-8000-00000000000a")
	engB       = uuid.MustParse("e0000000-0000-4000-8000-00000000000b")
	mgrRole    = uuid.MustParse("f0000000-0000-4000-8000-000000000001")
	mgrRole2   = uuid.MustParse("f0000000-0000-4000-8000-000000000002")

	// MO classes.
	clsUnitEmail     = class("c0000000-0000-4000-8000-000000000001", "EmailUnit", "Email", "EMAIL")
	clsUnitPhone     = class("c0000000-0000-4000-8000-000000000002", "PhoneUnit", "Telefon", "PHONE")
	clsUnitLandline  = class("c0000000-0000-4000-8000-000000000003", "LandlineUnit", "Fastnet", "PHONE")
	clsUnitPost      = class("c0000000-0000-4000-8000-000000000004", "AddressMailUnit", "Postadresse", "DAR")
	clsUnitContact   = class("c0000000-0000-4000-8000-000000000005", "Contact", "Henvendelsessted", "DAR")
	clsUnitEAN       = class("c0000000-0000-4000-8000-000000000006", "EAN", "EAN", "EAN")
	clsUnitPNumber   = class("c0000000-0000-4000-8000-000000000007", "p-nummer", "P-nummer", "PNUMBER")
	clsUnitURL       = class("c0000000-0000-4000-8000-000000000008", "Url", "Hjemmeside", "WWW")
	clsUnitOpenHours = class("c0000000-0000-4000-8000-000000000009", "ContactOpenHours", "Åbningstid", "TEXT")
	clsUnitDtrID     = class("c0000000-0000-4000-8000-00000000000a", "DtrId", "DTR-id", "TEXT")
	clsUnitLocation  = class("c0000000-0000-4000-8000-00000000000b", "Location", "Lokation", "DAR")
	clsEmpEmail      = class("c0000000-0000-4000-8000-000000000011", "EmailEmployee", "Email", "EMAIL")
	clsEmpMobile     = class("c0000000-0000-4000-8000-000000000012", "MobilePhoneEmployee", "Mobil", "PHONE")
	clsEmpLandline   = class("c0000000-0000-4000-8000-000000000013", "PhoneEmployee", "Telefon", "PHONE")
	clsEmpLocation   = class("c0000000-0000-4000-8000-000000000014", "LocationEmployee", "Lokation", "TEXT")
	clsEmpEmail2     = class("c0000000-0000-4000-8000-000000000015", "EmailEmployee2", "Privat email", "EMAIL")
	visPublic        = class("c0000000-0000-4000-8000-000000000021", "Ekstern", "Må vises eksternt", "PUBLIC")
	visSecret        = class("c0000000-0000-4000-8000-000000000022", "Hemmelig", "Hemmelig", "SECRET")
	clsAfdeling      = class("c0000000-0000-4000-8000-000000000031", "Afdeling", "Afdeling", "")
	clsTeam          = class("c0000000-0000-4000-8000-000000000032", "Team", "Team", "")
	clsLevel         = class("c0000000-0000-4000-8000-000000000033", "NY3", "NY3-niveau", "")
	clsIgnoredLevel  = class("c0000000-0000-4000-8000-000000000034", "NY0", "NY0-niveau", "")
	clsLinje         = class("c0000000-0000-4000-8000-000000000035", "linjeorg", "Linjeorganisation", "")
	clsSikkerhed     = class("c0000000-0000-4000-8000-000000000036", "sikkerhedsorg", "Sikkerhedsorganisation", "")
	clsKLE1          = class("c0000000-0000-4000-8000-000000000041", "00.01.00", "Kommunens styrelse", "")
	clsKLE2          = class("c0000000-0000-4000-8000-000000000042", "00.03.00", "Internationalt samarbejde", "")
	clsKLE3          = class("c0000000-0000-4000-8000-000000000043", "02.00.00", "Byggeri", "")
	clsUdfoerende    = class("c0000000-0000-4000-8000-000000000051", "U", "Udførende", "")
	clsAnsvarlig     = class("c0000000-0000-4000-8000-000000000052", "A", "Ansvarlig", "")
	clsIndsigt       = class("c0000000-0000-4000-8000-000000000053", "I", "Indsigt", "")
	clsIngenioer     = class("c0000000-0000-4000-8000-000000000061", "ingenioer", "Ingeniør", "")
	clsLeder         = class("c0000000-0000-4000-8000-000000000062", "leder", "Afdelingsleder", "")
	sysAD            = class("d0000000-0000-4000-8000-000000000001", "Active Directory", "Active Directory", "")
	sysFK            = class("d0000000-0000-4000-8000-000000000002", "FK-ORG-UUID", "FK-org uuid", "")
	sysOPUS          = class("d0000000-0000-4000-8000-000000000003", "OPUS", "OPUS", "")

	created = time.Date(2024, 3, 13, 0, 0, 0, 0, cph)
)

func class(id, key, name, scope string) model.Class {
	return model.Class{UUID: uuid.MustParse(id), UserKey: key, Name: name, Scope: scope}
}

func ptr[T any](v T) *T { return &v }

func since(t time.Time) model.Validity { return model.Validity{From: t} }

// fullSettings configures every class-priority list and the FK account exception.
func fullSettings() translate.Settings {
	return translate.Settings{
		Organisation:    org,
		TopUnit:         top,
		EmailClasses:    []uuid.UUID{clsEmpEmail.UUID, clsEmpEmail2.UUID, clsUnitEmail.UUID},
		MobileClasses:   []uuid.UUID{clsEmpMobile.UUID, clsUnitPhone.UUID},
		LandlineClasses: []uuid.UUID{clsEmpLandline.UUID, clsUnitLandline.UUID},
		LocationClasses: []uuid.UUID{clsEmpLocation.UUID},
	}
}

func addr(id string, typ model.Class, vis *model.Class, name string, from time.Time) model.Address {
	return model.Address{UUID: uuid.MustParse(id), Type: typ, Visibility: vis, Value: name, Name: name, Validity: since(from)}
}

// teknik is "Teknik og Miljø" with every kind of detail.
func teknik() *model.OrgUnit {
	return &model.OrgUnit{
		UUID: unitID, Name: "Teknik og Miljø", UserKey: "TM", Parent: ptr(parentID), Ancestors: []uuid.UUID{parentID, top},
		UnitType: ptr(clsAfdeling), Level: ptr(clsLevel), Hierarchy: ptr(clsLinje),
		Addresses: []model.Address{
			addr("aa000000-0000-4000-8000-000000000001", clsUnitEmail, ptr(visPublic), "tm@kolding.dk", created),
			addr("aa000000-0000-4000-8000-000000000002", clsUnitPhone, nil, "76 79 79 79", created),
			addr("aa000000-0000-4000-8000-000000000003", clsUnitPost, nil, "Nytorv 11, 6000 Kolding", created),
			addr("aa000000-0000-4000-8000-000000000004", clsUnitContact, ptr(visPublic), "Akseltorv 1, 6000 Kolding", created),
			addr("aa000000-0000-4000-8000-000000000005", clsUnitEAN, nil, "5798000420526", created),
			addr("aa000000-0000-4000-8000-000000000006", clsUnitPNumber, nil, "1003388438", created),
			addr("aa000000-0000-4000-8000-000000000007", clsUnitURL, nil, "https://www.kolding.dk/tm", created),
			addr("aa000000-0000-4000-8000-000000000008", clsUnitOpenHours, nil, "Man-fre 9-15", created),
			addr("aa000000-0000-4000-8000-000000000009", clsUnitDtrID, nil, "DTR-1234", created),
			addr("aa000000-0000-4000-8000-00000000000a", clsUnitLandline, ptr(visSecret), "75 50 00 00", created),
		},
		Managers: []model.Manager{{UUID: mgrRole, Person: ptr(boPerson), Validity: since(time.Date(2025, 2, 1, 0, 0, 0, 0, cph)),
			PersonITUsers: []model.ITUser{{UUID: uuid.MustParse("b0b0b0b0-0000-4000-8000-0000000000ad"), UserKey: "bobo", ExternalID: boGUID.String(), ITSystem: sysAD, Validity: since(created)}}}},
		KLE: []model.KLE{
			{UUID: uuid.MustParse("ab000000-0000-4000-8000-000000000001"), Numbers: []model.Class{clsKLE1}, Aspects: []model.Class{clsUdfoerende}, Validity: since(created)},
			{UUID: uuid.MustParse("ab000000-0000-4000-8000-000000000002"), Numbers: []model.Class{clsKLE2}, Aspects: []model.Class{clsAnsvarlig}, Validity: since(created)},
			{UUID: uuid.MustParse("ab000000-0000-4000-8000-000000000003"), Numbers: []model.Class{clsKLE3}, Aspects: []model.Class{clsIndsigt}, Validity: since(created)},
		},
		ITUsers: []model.ITUser{
			{UUID: uuid.MustParse("ac000000-0000-4000-8000-000000000001"), UserKey: "TM-OPUS", ITSystem: sysOPUS, Validity: since(created)},
			{UUID: uuid.MustParse("ac000000-0000-4000-8000-000000000002"), UserKey: unitID.String(), ExternalID: unitID.String(), ITSystem: sysFK, Validity: since(created)},
		},
		Validity: since(created),
	}
}

// plainUnit is a unit with nothing but a name and a parent.
func plainUnit(id uuid.UUID, name string, parent *uuid.UUID, ancestors ...uuid.UUID) *model.OrgUnit {
	return &model.OrgUnit{UUID: id, Name: name, UserKey: name, Parent: parent, Ancestors: ancestors,
		UnitType: ptr(clsAfdeling), Hierarchy: ptr(clsLinje), Validity: since(created)}
}

func summary(u *model.OrgUnit) *model.UnitSummary {
	return &model.UnitSummary{UUID: u.UUID, Name: u.Name, UserKey: u.UserKey, Ancestors: u.Ancestors,
		UnitType: u.UnitType, Level: u.Level, Hierarchy: u.Hierarchy, ITUsers: u.ITUsers, Addresses: u.Addresses}
}

func engagement(id uuid.UUID, unit *model.OrgUnit, job model.Class, start, from time.Time) model.Engagement {
	return model.Engagement{UUID: id, UserKey: "E-" + id.String()[34:], OrgUnit: unit.UUID, Unit: summary(unit),
		JobFunction: job, Validity: since(from), Start: start}
}

// anne is an engineer in Teknik og Miljø with an AD account and its FK bookkeeping account.
func anne() *model.Person {
	return &model.Person{
		UUID: annePerson, UserKey: "anne-emp", Name: "Anne Andersen", GivenName: "Anne", Surname: "Andersen",
		Nickname: "Annie Andersen", CPR: "010190-1234",
		ITUsers: []model.ITUser{
			{UUID: anneAD, UserKey: "anan", ExternalID: anneGUID.String(), ITSystem: sysAD, Validity: since(created)},
			{UUID: anneFK, UserKey: anneGUID.String(), ExternalID: anneFKUser.String(), ITSystem: sysFK, Validity: since(created)},
		},
		Engagements: []model.Engagement{engagement(engA, teknik(), clsIngenioer,
			time.Date(2020, 1, 1, 0, 0, 0, 0, cph), time.Date(2025, 1, 1, 0, 0, 0, 0, cph))},
		Addresses: []model.Address{
			addr("ad000000-0000-4000-8000-000000000001", clsEmpEmail, ptr(visPublic), "anan@kolding.dk", created),
			addr("ad000000-0000-4000-8000-000000000002", clsEmpEmail2, nil, "anne@example.org", created),
			addr("ad000000-0000-4000-8000-000000000003", clsEmpMobile, nil, "20 30 40 50", created),
			addr("ad000000-0000-4000-8000-000000000004", clsEmpLandline, ptr(visSecret), "79 79 12 34", created),
			addr("ad000000-0000-4000-8000-000000000005", clsEmpLocation, nil, "Kontor 2.14", created),
		},
	}
}

// bo is Teknik og Miljø's manager.
func bo() *model.Person {
	return &model.Person{
		UUID: boPerson, UserKey: "bo-emp", Name: "Bo Borg",
		ITUsers: []model.ITUser{{UUID: uuid.MustParse("b0b0b0b0-0000-4000-8000-0000000000ad"), UserKey: "bobo", ExternalID: boGUID.String(), ITSystem: sysAD, Validity: since(created)}},
		Engagements: []model.Engagement{engagement(engB, teknik(), clsLeder,
			time.Date(2019, 6, 1, 0, 0, 0, 0, cph), time.Date(2019, 6, 1, 0, 0, 0, 0, cph))},
	}
}
