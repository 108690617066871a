// Package translate maps OS2MO's model (moclient) to the STS Organisation objects the municipality
// should have (oio), following KOMBIT's registration patterns, and plans the minimal list of STS
// operations that turn the current STS state into the desired one.
//
// # Desired state
//
// UnitDesired and PersonDesired translate one OS2MO unit or person into a Desired bundle: every
// STS object that should exist for it (the OrganisationEnhed with its Adresse objects, manager
// and Henvendelsessted functions; the Bruger(s) with the Person, Adresse objects and one position
// function per engagement), the objects to deactivate, and the owners the bundle governs.
// UnitGone and PersonGone are the bundles of objects OS2MO no longer has. Relevant decides which
// units are exported (top unit, excluded subtrees, hierarchies, ignored levels and types).
//
// The STS objects OS2MO has no UUID for get deterministic UUIDv5s (AddressUUID, PersonUUID,
// PositionUUID, ManagerUUID, ContactPlaceUUID), so the sync finds its own objects with laes.
// Virkning is date-granular: local midnight in Europe/Copenhagen (Day), from the OS2MO validity
// the value comes from, or today when OS2MO has none; open ends are zero times
// (GraenseIndikator). Values longer than the schema allows are cut at a rune boundary, and
// characters XML cannot carry removed; every such adjustment, an invalid CPR number, an IT
// account without a usable UUID, … is reported as a Problem (never with a CPR number).
//
// # Plan
//
// Plan plans one object; PlanAll plans a bundle against the current state the consumer read
// (Desired.Lookups says what to read), in dependency order: nothing when STS already agrees,
// importer when an object is missing or passivated, otherwise one ret that keeps the history
// registered and every relation and address role the sync does not manage (Settings). Removing
// something ends its Virkning; nothing is deleted. Deactivate ends an object; PlanAll also ends
// the functions pointing at what it deactivates. UnitCascade tells the consumer when a unit's
// change requires re-evaluating its subtree or its persons. Apply models what STS stores after an
// operation: re-planning against the result of a plan yields nothing.
//
// The package is pure: no I/O, and the clock is passed in. Everything it produces is deterministic
// for the same input, which is what makes the last-sent hash (Hash, Desired.Hash) a reliable
// "nothing changed" test and what the golden tests pin down.
package translate
