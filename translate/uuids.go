package translate

import (
	"crypto/sha1"
	"github.com/google/uuid"
)

// Namespace is the UUIDv5 namespace of every object UUID the sync derives. It is fixed forever:
// changing it would orphan every derived object already written to STS.
var Namespace = uuid.MustParse("514f6d1d-cb17-4421-b29c-f8b01fc1e545")

// derive returns the UUIDv5 (RFC 4122, SHA-1) in Namespace of the name
// "stsorgsync/<kind>/<id>[/<id>…]", the ids in their canonical text form. It is built on the
// stack: it runs for every address and position of every event.
func derive(kind string, ids ...uuid.UUID) uuid.UUID {
	var buf [160]byte
	b := append(buf[:0], Namespace[:]...)
	b = append(b, "stsorgsync/"...)
	b = append(b, kind...)
	for _, id := range ids {
		b = append(b, '/')
		b = appendUUID(b, id)
	}
	sum := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // the RFC 4122 variant
	return u
}

// AddressUUID is the UUID of the Adresse object holding the owner's (unit's or user's) address of
// the given role. Changing the address value changes the object, never its UUID.
func AddressUUID(owner, role uuid.UUID) uuid.UUID {
	return derive("adresse", owner, role)
}

// PersonUUID is the UUID of the STS Person object of an OS2MO person. It differs from the
// person's UUID, which (in person mode) is the Bruger's.
func PersonUUID(moPerson uuid.UUID) uuid.UUID {
	return derive("person", moPerson)
}

// PositionUUID is the UUID of the position OrganisationFunktion (Enhedsrolle) of an OS2MO
// engagement held by the STS user bruger.
func PositionUUID(engagement, bruger uuid.UUID) uuid.UUID {
	return derive("stilling", engagement, bruger)
}

// ManagerUUID is the UUID of a unit's manager OrganisationFunktion (Lederrolle).
func ManagerUUID(unit uuid.UUID) uuid.UUID {
	return derive("leder", unit)
}

// ContactPlaceUUID is the UUID of a unit's Henvendelsessted OrganisationFunktion.
func ContactPlaceUUID(unit uuid.UUID) uuid.UUID {
	return derive("henvendelsessted", unit)
}
