package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Ref names an STS object.
type Ref struct {
	Kind oio.Kind
	UUID uuid.UUID
}

// String formats the reference as "kind:uuid" (the consumer's object key format).
func (r Ref) String() string { return string(r.Kind) + ":" + r.UUID.String() }

// Desired is everything the sync wants in STS Organisation for one OS2MO unit or person: the
// objects to create or update, the objects to deactivate, and the owners the bundle governs, so
// that PlanAll can also end objects the sync wrote earlier but OS2MO no longer has (a terminated
// engagement's position, the Bruger of a removed AD account, a manager function with a random
// UUID written by an earlier integration).
type Desired struct {
	// Objects are the desired objects, created or updated by PlanAll: Adresse, Person,
	// OrganisationEnhed, Bruger and OrganisationFunktion objects.
	Objects []oio.Object
	// Deactivate are objects that must not be active (an irrelevant or terminated unit, a user
	// without positions, a vacant unit's manager function). Missing ones need nothing.
	Deactivate []Ref
	// Units and Users are the OrganisationEnhed and Bruger UUIDs the bundle governs, active or
	// deactivated. Position functions of a governed user, and manager and Henvendelsessted
	// functions of a governed unit, that are not among Objects are deactivated.
	Units []uuid.UUID
	Users []uuid.UUID
	// Person is the STS Person of the OS2MO person (uuid.Nil for a unit): a Bruger linked to it
	// that is not among Objects is deactivated (e.g. the user of a removed AD account).
	Person uuid.UUID
	// Problems are the adjustments the translation made to OS2MO's data (truncations, invalid
	// values left out). They contain no CPR numbers.
	Problems []Problem

	// since holds, per object, the date since which its desired values are known to hold (see
	// plan): a position's values start with the engagement, but a change of them starts with the
	// engagement's current validity.
	since map[uuid.UUID]time.Time
	// functionTypes are the function types of a governed unit that Lookups reads (the ones the
	// sync writes for units); nil reads the manager and Henvendelsessted functions.
	functionTypes []uuid.UUID
}

// UnitUUID returns the STS UUID of the unit a unit bundle is about (its first governed unit), or
// uuid.Nil for a person's bundle or an empty one.
func (d Desired) UnitUUID() uuid.UUID {
	if d.Person != uuid.Nil || len(d.Units) == 0 {
		return uuid.Nil
	}
	return d.Units[0]
}

func (d *Desired) setSince(id uuid.UUID, t time.Time) {
	if d.since == nil {
		d.since = map[uuid.UUID]time.Time{}
	}
	d.since[id] = t
}

// Object returns the desired object with the UUID (pointing into d.Objects), or nil.
func (d Desired) Object(id uuid.UUID) *oio.Object {
	for i := range d.Objects {
		if d.Objects[i].UUID == id {
			return &d.Objects[i]
		}
	}
	return nil
}

// Refs returns every object the bundle names (desired and to deactivate), sorted: the objects the
// consumer reads (laes) before planning.
func (d Desired) Refs() []Ref {
	var out []Ref
	for _, o := range d.Objects {
		out = append(out, Ref{o.Kind, o.UUID})
	}
	for _, r := range d.Deactivate {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	sortRefs(out)
	return out
}

func sortRefs(rs []Ref) {
	slices.SortFunc(rs, func(a, b Ref) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.UUID.String(), b.UUID.String())
	})
}

// Merge returns one bundle with the objects, deactivations, owners and problems of all; PlanAll
// orders the operations of the merged bundle as for one (e.g. a subtree: parents first).
func Merge(ds ...Desired) Desired {
	var out Desired
	for _, d := range ds {
		for _, o := range d.Objects {
			if out.Object(o.UUID) == nil {
				out.Objects = append(out.Objects, o)
			}
		}
		for _, r := range d.Deactivate {
			if !slices.Contains(out.Deactivate, r) {
				out.Deactivate = append(out.Deactivate, r)
			}
		}
		out.Units = appendNew(out.Units, d.Units...)
		out.Users = appendNew(out.Users, d.Users...)
		if out.Person == uuid.Nil {
			out.Person = d.Person
		}
		out.Problems = append(out.Problems, d.Problems...)
		for id, t := range d.since {
			out.setSince(id, t)
		}
		out.functionTypes = appendNew(out.functionTypes, d.functionTypes...)
	}
	return out
}

func appendNew(list []uuid.UUID, ids ...uuid.UUID) []uuid.UUID {
	for _, id := range ids {
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}

// Hash returns a stable digest of the bundle (objects as Hash, deactivations, owners), for the
// last-sent comparison: equal bundles hash equally whatever their order. Problems are excluded.
func (d Desired) Hash() string { return d.hashOf(d.objectHashes()) }

// objectHashes returns Hash of each of d.Objects, in order.
func (d Desired) objectHashes() []string {
	out := make([]string, len(d.Objects))
	for i, o := range d.Objects {
		out[i] = Hash(o)
	}
	return out
}

// hashOf is Hash given the hashes of d.Objects (objectHashes), so Record hashes each object once.
func (d Desired) hashOf(objectHashes []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "bundle %s\n", HashVersion)
	objs := slices.Clone(objectHashes)
	slices.Sort(objs)
	for _, o := range objs {
		fmt.Fprintf(h, "O %s\n", o)
	}
	refs := slices.Clone(d.Deactivate)
	sortRefs(refs)
	for _, r := range refs {
		fmt.Fprintf(h, "D %s\n", r)
	}
	for _, ids := range [][]uuid.UUID{d.Units, d.Users} {
		s := make([]string, 0, len(ids))
		for _, id := range ids {
			s = append(s, id.String())
		}
		slices.Sort(s)
		fmt.Fprintf(h, "G %s\n", strings.Join(s, ","))
	}
	fmt.Fprintf(h, "P %s\n", d.Person)
	return hex.EncodeToString(h.Sum(nil))
}

// clock carries "today" (local midnight in Copenhagen) through a translation.
type clock struct {
	today time.Time // zero: missing starts stay open (GraenseIndikator)
}

// from returns the date-granular start of an MO validity, or today when MO has none.
func (c clock) from(t time.Time) time.Time {
	if t.IsZero() {
		return c.today
	}
	return Day(t)
}

// virkning returns the Virkning [from, to) with the municipality as actor; zero bounds are open.
func (s Settings) virk(from, to time.Time) oio.Virkning {
	return oio.Virkning{From: from, To: to, Aktoer: s.Organisation, AktoerType: oio.AktoerTypeOrganisation}
}

// period returns the Virkning of an MO validity made date-granular, and false (with a problem)
// when it ends on or before the day it starts.
func (s Settings) period(c clock, v model.Validity, ps *problems, kind oio.Kind, id uuid.UUID, field string) (oio.Virkning, bool) {
	from, to := c.from(v.From), Day(v.To)
	if !to.IsZero() && !to.After(from) {
		ps.add(kind, id, field, "period ends on or before the day it starts; left out")
		return oio.Virkning{}, false
	}
	return s.virk(from, to), true
}

// Lookups is what the consumer must read from STS Organisation before PlanAll, for one bundle.
type Lookups struct {
	// Read are the objects to read (laes) by UUID.
	Read []Ref
	// UsersOfPerson, when not uuid.Nil, is a Person UUID: read every Bruger whose
	// TilknyttedePersoner points at it (soeg Bruger, then laes/list).
	UsersOfPerson uuid.UUID
	// FunctionsOfUsers are Bruger UUIDs: read every OrganisationFunktion whose TilknyttedeBrugere
	// points at one of them, and at each user found through UsersOfPerson.
	FunctionsOfUsers []uuid.UUID
	// FunctionsOfUnits are OrganisationEnhed UUIDs with the function types to read: every
	// OrganisationFunktion of one of Types (all types when Types is nil) whose TilknyttedeEnheder
	// points at Unit.
	FunctionsOfUnits []UnitFunctions
}

// UnitFunctions asks for the functions of some types pointing at a unit.
type UnitFunctions struct {
	Unit  uuid.UUID
	Types []uuid.UUID // nil: every type
}

// Lookups returns what the consumer must read before planning the bundle: the bundle's objects,
// the person's users and their functions, the functions of a unit of the types the sync writes
// for units (manager, Henvendelsessted: to retire ones written with other UUIDs), and every
// function of a unit being deactivated.
func (d Desired) Lookups() Lookups {
	l := Lookups{Read: d.Refs(), UsersOfPerson: d.Person, FunctionsOfUsers: slices.Clone(d.Users)}
	for _, u := range d.Units {
		types := d.functionTypes
		if types == nil {
			types = []uuid.UUID{FunktionstypeLeder, FunktionstypeHenvendelsessted}
		}
		if slices.Contains(d.Deactivate, Ref{oio.KindOrganisationEnhed, u}) {
			types = nil
		} else if len(types) == 0 {
			continue // no function type of the unit is managed: nothing to search for
		}
		l.FunctionsOfUnits = append(l.FunctionsOfUnits, UnitFunctions{Unit: u, Types: types})
	}
	return l
}
