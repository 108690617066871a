package translate

import (
	"github.com/google/uuid"
)

// Namespace is the UUIDv5 namespace of every object UUID the sync derives. It is fixed forever:
// changing it would orphan every derived object already written to STS.
var Namespace = uuid.MustParse("514f6d1d-cb17-4421-b29c-f8b01fc1e545")

func derive(parts ...string) uuid.UUID {
	name := "stsorgsync"
	for _, p := range parts {
		name += "/" + p
	}
	return uuid.NewSHA1(Namespace, []byte(name))
}

// AddressUUID is the UUID of the Adresse object holding the owner's (unit's or user's) address of
// the given role. Changing the address value changes the object, never its UUID.
func AddressUUID(owner, role uuid.UUID) uuid.UUID {
	return derive("adresse", owner.String(), role.String())
}

// PersonUUID is the UUID of the STS Person object of an OS2MO person. It differs from the
// person's UUID, which (in person mode) is the Bruger's.
func PersonUUID(moPerson uuid.UUID) uuid.UUID {
	return derive("person", moPerson.String())
}

// PositionUUID is the UUID of the position OrganisationFunktion (Enhedsrolle) of an OS2MO
// engagement held by the STS user bruger.
func PositionUUID(engagement, bruger uuid.UUID) uuid.UUID {
	return derive("stilling", engagement.String(), bruger.String())
}

// ManagerUUID is the UUID of a unit's manager OrganisationFunktion (Lederrolle).
func ManagerUUID(unit uuid.UUID) uuid.UUID {
	return derive("leder", unit.String())
}

// ContactPlaceUUID is the UUID of a unit's Henvendelsessted OrganisationFunktion.
func ContactPlaceUUID(unit uuid.UUID) uuid.UUID {
	return derive("henvendelsessted", unit.String())
}
