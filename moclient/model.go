package moclient

import (
	"time"

	"github.com/google/uuid"
)

// Validity is an OS2MO validity period as instants in Europe/Copenhagen. A zero To means open-ended
// ("until further notice").
type Validity struct {
	From time.Time
	To   time.Time
}

// Class is an OS2MO class (klasse) reference: address types, unit types, levels, job functions,
// visibility and KLE numbers are all classes.
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
}

// ITUser is an IT account (ituser) of a person or unit.
type ITUser struct {
	UUID       uuid.UUID
	UserKey    string
	ExternalID string
	ITSystem   Class // UUID, user key and name of the IT system
	Validity   Validity
}

// Manager is a manager role of a unit; Person is nil when the role is vacant.
type Manager struct {
	UUID     uuid.UUID
	Person   *uuid.UUID
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
	UnitType  *Class
	Level     *Class
	Hierarchy *Class
	Addresses []Address
	Managers  []Manager
	KLE       []KLE
	ITUsers   []ITUser
	Validity  Validity
}
