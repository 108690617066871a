// Package model is the source side of the sync: the municipality's organisation as a source
// system reports it — units, persons, their addresses, engagements, IT users, manager roles, KLE
// and classes, with validities as instants in Europe/Copenhagen. OS2MO's client (package moclient)
// fills it today; translate turns it into STS Organisation's registrations without knowing where
// it came from, so another source can feed the same translation. CPR numbers are redacted in logs
// and %v output (Person.LogValue, Person.String).
package model

import (
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Validity is an OS2MO validity period as instants in Europe/Copenhagen. A zero To means open-ended
// ("until further notice"); a zero From (persons only) means "since always".
type Validity struct {
	From time.Time
	To   time.Time
}

// Class is an OS2MO class (klasse) reference: address types, unit types, levels, job functions,
// visibility and KLE numbers are all classes. IT systems are represented with the same shape
// (UUID, user key, name).
type Class struct {
	UUID    uuid.UUID
	UserKey string
	Name    string
	Scope   string // e.g. "EMAIL", "PHONE", "DAR" for address types; "PUBLIC"/"SECRET" for visibility
}

// Address is an address attached to a unit or person.
type Address struct {
	UUID       uuid.UUID
	Type       Class
	Visibility *Class // nil when MO has no visibility set
	Value      string // raw stored value (for DAR: the DAR UUID)
	Name       string // human form (for DAR: the formatted address)
	Validity   Validity
	// Started is the start of the address's earliest validity: Validity.From unless the
	// address was edited since it was created (zero when OS2MO did not say).
	Started time.Time
	// Engagement and ITUser are the engagement and IT user a person's address is linked to, if
	// any (OS2MO lets an address belong to one AD account or one engagement of the person).
	Engagement *uuid.UUID
	ITUser     *uuid.UUID
}

// ITUser is an IT account (ituser) of a person or unit.
type ITUser struct {
	UUID       uuid.UUID
	UserKey    string
	ExternalID string
	ITSystem   Class // UUID, user key and name of the IT system
	Validity   Validity
	// Engagements are the engagements the account is linked to (OS2MO's engagements_responses:
	// an AD account may serve several jobs of the person), in OS2MO's order; empty when none.
	Engagements []uuid.UUID
}

// Manager is a manager role of a unit; Person is nil when the role is vacant.
type Manager struct {
	UUID   uuid.UUID
	Person *uuid.UUID
	// PersonGone says the role names a person OS2MO does not have in effect now (terminated
	// while the role was left); such a role is as good as vacant.
	PersonGone bool
	Validity   Validity
	// PersonITUsers are the current IT accounts of the manager person (e.g. the AD account and the
	// FK bookkeeping account, from which the manager's STS user is found); nil when vacant.
	PersonITUsers []ITUser
}

// ManagerRole is one of a person's own manager roles in effect now: the unit it manages, with a
// summary of the unit (nil when the unit is not in effect now).
type ManagerRole struct {
	UUID     uuid.UUID
	OrgUnit  uuid.UUID
	Unit     *UnitSummary
	Validity Validity
}

// KLE is a KLE mark-up of a unit: task numbers and aspects (e.g. "Udførende", "Ansvarlig").
type KLE struct {
	UUID     uuid.UUID
	Numbers  []Class
	Aspects  []Class
	Validity Validity
}

// OrgUnit is the current state of an OS2MO organisation unit, with what the translator needs.
type OrgUnit struct {
	UUID      uuid.UUID
	Name      string
	UserKey   string
	Parent    *uuid.UUID  // nil for a root unit
	Ancestors []uuid.UUID // nearest first, excluding the unit itself
	// ParentITUsers are the current IT users of the parent unit (from which the parent's STS UUID
	// may be taken, translate.Settings.UUIDFromITSystems); nil for a root unit.
	ParentITUsers []ITUser
	UnitType      *Class
	Level         *Class
	Hierarchy     *Class
	Addresses     []Address
	Managers      []Manager
	KLE           []KLE
	ITUsers       []ITUser
	Validity      Validity
}

// UnitSummary is what a person's engagement says about its unit: enough to decide whether the
// unit is exported (relevance: ancestors, hierarchy, level, type), not the unit's full state.
type UnitSummary struct {
	UUID      uuid.UUID
	Name      string
	UserKey   string
	Ancestors []uuid.UUID // nearest first, excluding the unit itself
	UnitType  *Class
	Level     *Class
	Hierarchy *Class
	// ITUsers are the unit's current IT users: an FK bookkeeping account makes the unit exported
	// whatever its hierarchy, level and type, and an IT user may give its STS UUID.
	ITUsers []ITUser
	// Addresses are the unit's current addresses, read only when the client is configured to
	// (Config.EngagementUnitAddresses; a user's location may come from its engagement's unit).
	Addresses []Address
}

// Engagement is an employment of a person in a unit that is in effect now or starts later.
type Engagement struct {
	UUID    uuid.UUID
	UserKey string
	// OrgUnit is the engagement's unit. Unit summarises it; Unit is nil when the unit itself is
	// not in effect now.
	OrgUnit        uuid.UUID
	Unit           *UnitSummary
	JobFunction    Class // stillingsbetegnelse, e.g. "Pædagog"
	EngagementType Class // e.g. "Ansat", "Timelønnet"
	Primary        bool  // OS2MO's is_primary
	// Fraction is the employment fraction as OS2MO stores it (nil when unset).
	Fraction *int
	// Extensions holds extension_1 … extension_10 (Extensions[0] is extension_1); the AD job
	// title is often kept in extension_1 or extension_3.
	Extensions [10]string
	// Validity is the validity of the engagement's state used here: the one in effect now, or for
	// a future engagement the first one.
	Validity Validity
	// Start is the engagement's original start, the earliest start over all its validities.
	Start time.Time
}

// Person is the current state of an OS2MO person (employee), with what the translator needs.
//
// A Person holds a CPR number: it implements [slog.LogValuer], [fmt.Stringer] and
// [fmt.GoStringer] so that logging or printing it never shows the CPR number or names.
type Person struct {
	UUID              uuid.UUID
	UserKey           string
	Name              string // full name as OS2MO composes it
	GivenName         string
	Surname           string
	Nickname          string // full nickname; empty when none
	NicknameGivenName string
	NicknameSurname   string
	// CPR is the Danish civil registration number (10 digits), empty when unknown. Never log it.
	CPR         string
	ITUsers     []ITUser
	Engagements []Engagement // current and future engagements, in OS2MO's order
	Addresses   []Address
	// ManagerRoles are the person's manager roles in effect now.
	ManagerRoles []ManagerRole
	Validity     Validity
}

// LogValue implements [slog.LogValuer]: the UUID and user key only, and whether a CPR number is
// held, never the number or the names.
func (p Person) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("uuid", p.UUID.String()),
		slog.String("user_key", p.UserKey),
		slog.Bool("has_cpr", p.CPR != ""),
		slog.Int("engagements", len(p.Engagements)),
		slog.Int("itusers", len(p.ITUsers)),
	)
}

// String implements [fmt.Stringer] with the same redaction as [Person.LogValue].
func (p Person) String() string {
	return "moclient.Person{UUID: " + p.UUID.String() + ", UserKey: " + p.UserKey + ", CPR: " + redacted(p.CPR) + "}"
}

// GoString implements [fmt.GoStringer] so %#v does not print the CPR number either.
func (p Person) GoString() string { return p.String() }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}
