package translate

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// UserMode selects how OS2MO persons become STS users (Bruger).
type UserMode string

// The two user modes.
const (
	// UsersPerPerson writes one Bruger per OS2MO person, with the MO person's UUID. It is the
	// default (the empty UserMode means UsersPerPerson).
	UsersPerPerson UserMode = "person"
	// UsersPerITUser writes one Bruger per AD account (IT user in one of Settings.ADITSystems):
	// its UUID is the external id of the person's FK bookkeeping IT user for that account if
	// there is one, else the AD account's own external id (the AD ObjectGUID).
	UsersPerITUser UserMode = "ituser"
)

// Settings are the municipality-wide facts and choices every translation needs. The zero value
// of every field except Organisation is a sensible default; see each field.
type Settings struct {
	// Organisation is the UUID of the municipality's Organisation object in STS Organisation. Every
	// unit and user belongs to it (Tilhoerer) and it is the actor (AktoerRef) of every Virkning.
	Organisation uuid.UUID
	// TopUnit is the OS2MO unit written as the root of the municipality's tree: it gets no
	// Overordnet relation even if it has a parent in OS2MO, it is always relevant and it is never
	// deactivated. Only it and its descendants are exported. uuid.Nil means "MO's root units".
	TopUnit uuid.UUID

	// ExcludedSubtrees are units that, with all their descendants, are not exported.
	ExcludedSubtrees []uuid.UUID
	// HierarchyNames, when set, limits the export to units whose org_unit_hierarchy class has one
	// of these names (or user keys), e.g. "Linjeorganisation". A unit with an FK bookkeeping IT
	// user passes regardless.
	HierarchyNames []string
	// IgnoredUnitLevels and IgnoredUnitTypes are org_unit_level and unit_type classes whose units
	// are not exported (checked on the unit itself, not inherited). A unit with an FK bookkeeping
	// IT user passes regardless.
	IgnoredUnitLevels []uuid.UUID
	IgnoredUnitTypes  []uuid.UUID

	// TeamUnitTypes are the MO unit types written as Enhedstype "Team"; every other unit is an
	// "Afdeling".
	TeamUnitTypes []uuid.UUID
	// DisableKLE leaves the units' Opgaver (KLE tasks) alone, e.g. when the municipality maintains
	// them in FK Organisation's own UI.
	DisableKLE bool
	// ContactForTasks splits a unit's KLE by aspect: "Udførende" becomes the unit's Opgaver,
	// "Ansvarlig" the tasks of the unit's Henvendelsessted function, "Indsigt" is not exported.
	// Without it every KLE number becomes an Opgave and no Henvendelsessted function is written.
	ContactForTasks bool
	// DisableManagers leaves managers (Lederfunktion) alone.
	DisableManagers bool
	// DisableITSystems leaves the units' TilknyttedeItSystemer alone.
	DisableITSystems bool
	// KeptAddressRoles are Adresse roles (Rolle class UUIDs) the sync never writes, creates or ends
	// on units and users, e.g. to co-exist with KOMBIT's SOR synchroniser. Roles the mapping does
	// not produce are always kept. nil means DefaultKeptAddressRoles; an empty non-nil slice keeps
	// nothing beyond that.
	KeptAddressRoles []uuid.UUID
	// KeptRelations are relation names the sync never touches on units and users (besides the
	// ones it never manages, such as TilknyttedeFunktioner of a unit).
	KeptRelations []oio.RelationName

	// UserMode selects one Bruger per person (default) or per AD account.
	UserMode UserMode
	// ADITSystems name the IT systems (by user key or name) whose accounts are the users' AD
	// accounts, in priority order. nil means ["Active Directory"].
	ADITSystems []string
	// FKITSystems name the FK bookkeeping IT systems (by user key or name): on a person, an IT
	// user whose user key is an AD account's external id and whose external id is that account's
	// STS Bruger UUID; on a unit, its presence makes the unit exported whatever its hierarchy,
	// level and type. nil means ["FK-ORG-UUID", "FK-ORG UUID"].
	FKITSystems []string
	// UUIDFromITSystems name IT systems (by user key or name), in priority order, whose IT user on
	// an OS2MO unit, or on a person in person mode, holds the UUID the unit or the person's Bruger
	// has in STS (in its user key, else its external id), so that objects created in STS under
	// other UUIDs (by hand, by an earlier integration) are updated instead of duplicated. It is
	// used wherever the unit or user is referred to: a unit's parent, a position's unit, a
	// manager. An IT user of these systems also makes its unit exported, like an FK bookkeeping
	// account. Objects without such an IT user keep OS2MO's UUID.
	UUIDFromITSystems []string
	// RequireADAccount (person mode) exports only persons that have an AD account.
	RequireADAccount bool
	// SyncCPR writes the person's CPR number to the STS Person. Without it an existing CPR number
	// in STS is left as it is and none is written.
	SyncCPR bool
	// UseNickname writes the person's nickname, when set, instead of the name.
	UseNickname bool
	// JobTitleExtension, 1–10, names the engagement extension field (extension_N) used as the
	// position's name when it is not empty; 0 always uses the job function.
	JobTitleExtension int
	// EmailClasses, MobileClasses, LandlineClasses and LocationClasses are MO address-type classes
	// in priority order for a user's email, mobile phone, landline and location; only addresses
	// that may be shown externally (visibility PUBLIC or none) are used. An empty list chooses
	// by scope instead, as os2mo-os2sync-export does: email is an EMAIL address, mobile a PHONE
	// address of a class not in LandlineClasses, landline nothing, and location a DAR address
	// linked to one of the user's engagements (a work place; a person's home address is never
	// linked to an engagement). On units they rank email and phone addresses, and a unit phone
	// of a class in LandlineClasses is written as the unit's landline.
	EmailClasses    []uuid.UUID
	MobileClasses   []uuid.UUID
	LandlineClasses []uuid.UUID
	LocationClasses []uuid.UUID
	// EngagementAddressTypes name unit address types (by name or user key), in priority order: a
	// user's location is the first address of these types, shown externally, of the unit of the
	// user's primary engagement (else of its earliest). When that unit has none, the user's own
	// location is used. Needs the unit addresses read (moclient.Config.EngagementUnitAddresses).
	EngagementAddressTypes []string
}

// DefaultKeptAddressRoles are the roles kept when Settings.KeptAddressRoles is nil: SOR (written
// by KOMBIT's SOR synchroniser) and the LOS short name.
var DefaultKeptAddressRoles = []uuid.UUID{RoleUnitSOR, RoleUnitLOSShortName}

func (s Settings) userMode() UserMode {
	if s.UserMode == "" {
		return UsersPerPerson
	}
	return s.UserMode
}

func (s Settings) adSystems() []string {
	if s.ADITSystems == nil {
		return []string{"Active Directory"}
	}
	return s.ADITSystems
}

func (s Settings) fkSystems() []string {
	if s.FKITSystems == nil {
		return []string{"FK-ORG-UUID", "FK-ORG UUID"}
	}
	return s.FKITSystems
}

func (s Settings) keptRoles() []uuid.UUID {
	if s.KeptAddressRoles == nil {
		return DefaultKeptAddressRoles
	}
	return s.KeptAddressRoles
}

// Class and type UUIDs of STS Organisation (KOMBIT's classification) the sync writes.
var (
	// FunktionstypeLeder is the Lederrolle function type (a unit's manager).
	FunktionstypeLeder = uuid.MustParse("46c73630-f7ad-4000-9624-c06131cde671")
	// FunktionstypeStilling is the Enhedsrolle function type (a user's position in a unit).
	FunktionstypeStilling = uuid.MustParse("02e61900-33e0-407f-a2a7-22f70221f003")
	// FunktionstypeHenvendelsessted is the contact-place function type (a unit's KLE contact tasks).
	FunktionstypeHenvendelsessted = uuid.MustParse("7368482a-177e-4e04-8574-f558e6f1ef45")
	// EnhedstypeAfdeling and EnhedstypeTeam are the unit types.
	EnhedstypeAfdeling = uuid.MustParse("16bf18c3-ed6f-44b0-b7a1-35f94984e519")
	EnhedstypeTeam     = uuid.MustParse("2d9710bf-e9cc-465f-8ec7-46d5f2a64412")
	// OpgaveRolleAnsvarlig and OpgaveTypeKlasse are the Rolle and Type of a unit's Opgaver.
	OpgaveRolleAnsvarlig = uuid.MustParse("2a5f38d8-7092-4b3f-85cc-7e272c3c4bb0")
	OpgaveTypeKlasse     = uuid.MustParse("9870b51e-3bc0-4f98-8827-eba991dd89a9")
	// AdresseTypeEnhed and AdresseTypeBruger are the Type of the Adresser relation of a unit and
	// of a user.
	AdresseTypeEnhed  = uuid.MustParse("9b33c0a0-a566-4ec0-8200-325cb1e5bb9a")
	AdresseTypeBruger = uuid.MustParse("71a08d28-3af7-4bb4-9964-bc2b76b93d64")
)

// Address roles (Rolle of the Adresser relation) of units.
var (
	RoleUnitEmail            = uuid.MustParse("2b670843-ce42-411a-8fb5-311dfdd5caf0")
	RoleUnitPhone            = uuid.MustParse("8dcfa714-5ed3-4000-b551-2ba520e7d8ad")
	RoleUnitLandline         = uuid.MustParse("02826f64-5613-468e-ace5-3f089cb3ed20")
	RoleUnitLocation         = uuid.MustParse("ec387d90-263c-4cce-8de2-63b407a0daac")
	RoleUnitPost             = uuid.MustParse("80b610c6-314b-485a-a014-a9a1d7070bc4")
	RoleUnitPostReturn       = uuid.MustParse("3629ce92-594b-4380-9527-81d6e53edc11")
	RoleUnitContact          = uuid.MustParse("639a3ed9-86b0-4968-825b-434666cf6220")
	RoleUnitContactOpenHours = uuid.MustParse("f37e5877-1549-4b5d-a53b-819491f0b933")
	RoleUnitPhoneOpenHours   = uuid.MustParse("f6fd6117-c718-4254-a6f5-92538ad5a2f4")
	RoleUnitEmailRemarks     = uuid.MustParse("d4939781-f2c4-401c-8c2f-0d08221127b9")
	RoleUnitEAN              = uuid.MustParse("9ccaafe4-c4b2-4d25-942a-2ec5730d4ed8")
	RoleUnitURL              = uuid.MustParse("a99c073d-482e-47d3-9275-13c79f453c3a")
	RoleUnitLOSShortName     = uuid.MustParse("47a33082-4687-4a68-b82f-5bf6f9d8ee13")
	RoleUnitLOSID            = uuid.MustParse("ee78e99a-6220-48ea-81fe-e4db239ee10a")
	RoleUnitDTRID            = uuid.MustParse("81912344-ef86-4cff-a522-a0001607d2ce")
	RoleUnitFOA              = uuid.MustParse("0dac99a2-c419-4113-bb1d-757e00669bf2")
	RoleUnitPNumber          = uuid.MustParse("7c6e2a82-ec39-4ec4-a2b7-fdfe667e1d2b")
	RoleUnitSOR              = uuid.MustParse("b44138cf-72df-45d1-8821-83db39b62093")
)

// Address roles of users.
var (
	RoleUserEmail    = uuid.MustParse("5d13e891-162a-456b-abf2-fd9b864df96d")
	RoleUserPhone    = uuid.MustParse("5ef6be2d-59f4-4652-a680-585929924ba9")
	RoleUserLandline = uuid.MustParse("47c05422-5379-4c27-9ddf-e02b52b3d961")
	RoleUserLocation = uuid.MustParse("ad04ac80-e24a-45a5-9dd9-8537a916ac74")
	RoleUserRACF     = uuid.MustParse("519a2d12-d099-434a-a3a2-a7397db7c741")
	RoleUserFMK      = uuid.MustParse("85760831-0671-4127-93f7-0eee227c5ff9")
)

// roleLabels name the roles the mapping writes; the label is the Adresse's BrugervendtNoegle.
var roleLabels = map[uuid.UUID]string{
	RoleUnitEmail: "Email", RoleUnitPhone: "Telefon", RoleUnitLandline: "FastnetTelefon",
	RoleUnitLocation: "Lokation", RoleUnitPost: "Postadresse", RoleUnitPostReturn: "Returadresse",
	RoleUnitContact: "Henvendelsessted", RoleUnitContactOpenHours: "Åbningstid henvendelse",
	RoleUnitPhoneOpenHours: "Åbningstid telefon", RoleUnitEmailRemarks: "Email bemærkninger",
	RoleUnitEAN: "EAN", RoleUnitURL: "URL", RoleUnitDTRID: "DTR-id", RoleUnitPNumber: "P-nummer",
	RoleUserEmail: "Email", RoleUserPhone: "Mobil", RoleUserLandline: "FastnetTelefon",
	RoleUserLocation: "Lokation",
}

// unitRoles are the unit address roles the mapping produces (and therefore manages).
var unitRoles = []uuid.UUID{RoleUnitEmail, RoleUnitPhone, RoleUnitLandline, RoleUnitLocation,
	RoleUnitPost, RoleUnitPostReturn, RoleUnitContact, RoleUnitContactOpenHours, RoleUnitPhoneOpenHours,
	RoleUnitEmailRemarks, RoleUnitEAN, RoleUnitURL, RoleUnitDTRID, RoleUnitPNumber}

// userRoles are the user address roles the mapping produces (and therefore manages).
var userRoles = []uuid.UUID{RoleUserEmail, RoleUserPhone, RoleUserLandline, RoleUserLocation}

// managesRole reports whether the sync owns addresses of this role on objects of the kind.
func (s Settings) managesRole(kind oio.Kind, role uuid.UUID) bool {
	if slices.Contains(s.keptRoles(), role) {
		return false
	}
	switch kind {
	case oio.KindOrganisationEnhed:
		return slices.Contains(unitRoles, role)
	case oio.KindBruger:
		return slices.Contains(userRoles, role)
	}
	return false
}

// manages reports whether relation r of an object of the kind is owned by the sync: Plan
// rewrites and ends owned relations and sends every other relation back unchanged. Every
// relation of the function types the sync writes is owned.
func (s Settings) manages(kind oio.Kind, r oio.Relation) bool {
	if kind == oio.KindOrganisationFunktion {
		return true
	}
	if slices.Contains(s.KeptRelations, r.Name) {
		return false
	}
	switch kind {
	case oio.KindOrganisationEnhed:
		switch r.Name {
		case oio.RelAdresser:
			return s.managesRole(kind, r.Rolle)
		case oio.RelEnhedstype, oio.RelOverordnet, oio.RelTilhoerer:
			return true
		case oio.RelOpgaver:
			return !s.DisableKLE
		case oio.RelTilknyttedeItSystemer:
			return !s.DisableITSystems
		}
	case oio.KindBruger:
		switch r.Name {
		case oio.RelAdresser:
			return s.managesRole(kind, r.Rolle)
		case oio.RelTilhoerer, oio.RelTilknyttedePersoner:
			return true
		}
	}
	return false
}

// nameIn reports whether name matches one of list, ignoring case and surrounding space.
func nameIn(list []string, names ...string) bool {
	for _, l := range list {
		for _, n := range names {
			if n != "" && strings.EqualFold(strings.TrimSpace(l), strings.TrimSpace(n)) {
				return true
			}
		}
	}
	return false
}

// UnitAddressRoleNames returns the unit address roles by OS2sync's field name (upper case, as
// OS2sync's IgnoredOUAddressTypes names them): EMAIL, PHONE, LANDLINE, LOCATION, POST,
// POSTRETURN, CONTACT, CONTACTOPENHOURS, PHONEOPENHOURS, EMAILREMARKS, EAN, URL, LOSSHORTNAME,
// LOSID, DTRID, FOA, PNR and SOR.
func UnitAddressRoleNames() map[string]uuid.UUID {
	return map[string]uuid.UUID{
		"EMAIL": RoleUnitEmail, "PHONE": RoleUnitPhone, "LANDLINE": RoleUnitLandline, "LOCATION": RoleUnitLocation,
		"POST": RoleUnitPost, "POSTRETURN": RoleUnitPostReturn, "CONTACT": RoleUnitContact,
		"CONTACTOPENHOURS": RoleUnitContactOpenHours, "PHONEOPENHOURS": RoleUnitPhoneOpenHours,
		"EMAILREMARKS": RoleUnitEmailRemarks, "EAN": RoleUnitEAN, "URL": RoleUnitURL,
		"LOSSHORTNAME": RoleUnitLOSShortName, "LOSID": RoleUnitLOSID, "DTRID": RoleUnitDTRID, "FOA": RoleUnitFOA,
		"PNR": RoleUnitPNumber, "SOR": RoleUnitSOR,
	}
}

// UserAddressRoleNames returns the user address roles by OS2sync's field name (upper case):
// EMAIL, PHONE (mobile), LANDLINE, LOCATION, RACFID and FMKID.
func UserAddressRoleNames() map[string]uuid.UUID {
	return map[string]uuid.UUID{
		"EMAIL": RoleUserEmail, "PHONE": RoleUserPhone, "LANDLINE": RoleUserLandline, "LOCATION": RoleUserLocation,
		"RACFID": RoleUserRACF, "FMKID": RoleUserFMK,
	}
}

// KeepableRelations returns the relations of units and users that Settings.KeptRelations may name:
// the ones the mapping writes that another tool or FK Organisation's own UI may maintain instead.
func KeepableRelations() []oio.RelationName {
	return []oio.RelationName{oio.RelAdresser, oio.RelEnhedstype, oio.RelOpgaver, oio.RelTilknyttedeItSystemer}
}
