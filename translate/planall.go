package translate

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// PlanAll returns the operations that bring STS Organisation in line with a bundle, given the
// current state of the objects involved (current; a missing or nil entry is an object STS does
// not have). The consumer reads into current:
//
//   - every object of d.Refs() (all UUIDs are deterministic, so laes finds them);
//   - for a person: the Bruger objects linked to d.Person (soeg TilknyttedePersoner) and the
//     functions linked to each of d.Users (soeg TilknyttedeBrugere);
//   - for a unit being deactivated: the functions linked to it (soeg TilknyttedeEnheder).
//
// Every desired object is planned with Plan. Then:
//
//   - the objects in d.Deactivate are deactivated (Deactivate);
//   - a Bruger in current linked to d.Person but not desired is deactivated (a removed AD
//     account, or a user of an earlier user mode);
//   - a position function of a governed user (d.Users), or a function of a governed unit
//     (d.Units) of a type the sync writes for units (manager unless Settings.DisableManagers,
//     Henvendelsessted with Settings.ContactForTasks), that is not desired is deactivated (an
//     ended engagement, a function an earlier integration wrote with a random UUID); functions of
//     the types it does not write are left to whoever maintains them (FK Organisation's own UI);
//   - a position function pointing at a unit or user deactivated here is deactivated, and so is
//     a manager or Henvendelsessted function pointing at a unit deactivated here; any other
//     function pointing at one has that relation ended.
//
// The operations are ordered so that nothing points at an object before it exists, and functions
// are ended before what they point at: Adresse and Person objects, units (parents before
// children), users, functions; then deactivations of functions, users, units (children first).
// Re-planning against the result yields nothing.
func PlanAll(s Settings, d Desired, current map[uuid.UUID]*oio.Object, now time.Time) []Operation {
	today := Day(now)
	get := func(kind oio.Kind, id uuid.UUID) *oio.Object {
		c := current[id]
		if c == nil || c.Kind != kind || c.UUID != id || !c.Exists() {
			return nil
		}
		return c
	}
	desired := map[uuid.UUID]bool{}
	var upserts []Operation
	for _, o := range d.Objects {
		desired[o.UUID] = true
		upserts = append(upserts, plan(s, o, get(o.Kind, o.UUID), now, d.since[o.UUID])...)
	}

	// Objects to deactivate: named ones, then strays found in current.
	off := map[uuid.UUID]*oio.Object{}
	for _, r := range d.Deactivate {
		if c := get(r.Kind, r.UUID); c != nil && !desired[r.UUID] {
			off[r.UUID] = c
		}
	}
	ids := make([]uuid.UUID, 0, len(current))
	for id, c := range current {
		if c != nil && c.Exists() && c.UUID == id && !desired[id] {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if d.Person != uuid.Nil {
		for _, id := range ids {
			if c := current[id]; c.Kind == oio.KindBruger && slices.Contains(c.LiveRefs(today, oio.RelTilknyttedePersoner), d.Person) {
				off[id] = c
			}
		}
	}
	users := map[uuid.UUID]bool{}
	units := map[uuid.UUID]bool{}
	for _, id := range d.Users {
		users[id] = true
	}
	for _, id := range d.Units {
		units[id] = true
	}
	offTargets := map[uuid.UUID]bool{}
	for id, c := range off {
		if c.Kind == oio.KindBruger || c.Kind == oio.KindOrganisationEnhed {
			offTargets[id] = true
			users[id] = users[id] || c.Kind == oio.KindBruger
		}
	}
	unitTypes := s.unitFunctionTypes()
	var endRefs []Operation
	for _, id := range ids {
		c := current[id]
		if c.Kind != oio.KindOrganisationFunktion || off[id] != nil {
			continue
		}
		typ := c.RefOn(oio.RelFunktionstype, today)
		brugere := c.LiveRefs(today, oio.RelTilknyttedeBrugere)
		enheder := c.LiveRefs(today, oio.RelTilknyttedeEnheder)
		anyIn := func(refs []uuid.UUID, set map[uuid.UUID]bool) bool {
			return slices.ContainsFunc(refs, func(r uuid.UUID) bool { return set[r] })
		}
		switch {
		case typ == FunktionstypeStilling && (anyIn(brugere, users) || anyIn(enheder, offTargets)):
			off[id] = c
		case slices.Contains(unitTypes, typ) && anyIn(enheder, units):
			off[id] = c
		case anyIn(brugere, offTargets) || anyIn(enheder, offTargets):
			endRefs = append(endRefs, endReferences(s, c, offTargets, now)...)
		}
	}
	var deactivations []Operation
	for _, c := range off {
		deactivations = append(deactivations, Deactivate(s, c, now)...)
	}

	ordered := orderUpserts(upserts)
	ordered = append(ordered, endRefs...)
	return append(ordered, orderDeactivations(deactivations, current)...)
}

// kindRank is the position of a kind in the order of creation.
func kindRank(k oio.Kind) int {
	switch k {
	case oio.KindAdresse:
		return 0
	case oio.KindPerson:
		return 1
	case oio.KindOrganisationEnhed:
		return 2
	case oio.KindBruger:
		return 3
	case oio.KindOrganisationFunktion:
		return 4
	}
	return 5
}

func byKindAndUUID(a, b Operation) int {
	if d := kindRank(a.Object.Kind) - kindRank(b.Object.Kind); d != 0 {
		return d
	}
	return strings.Compare(a.Object.UUID.String(), b.Object.UUID.String())
}

// depth returns how many of the planned units lie above each planned unit (by the parents in
// parent), so that sorting by depth puts parents first.
func depth(ops []Operation, parent func(Operation) uuid.UUID) map[uuid.UUID]int {
	units := map[uuid.UUID]Operation{}
	for _, op := range ops {
		if op.Object.Kind == oio.KindOrganisationEnhed {
			units[op.Object.UUID] = op
		}
	}
	out := map[uuid.UUID]int{}
	for id := range units {
		n, seen := 0, map[uuid.UUID]bool{id: true}
		for p := parent(units[id]); p != uuid.Nil && !seen[p]; {
			pop, ok := units[p]
			if !ok {
				break
			}
			seen[p] = true
			n++
			p = parent(pop)
		}
		out[id] = n
	}
	return out
}

// overordnet returns the parent an operation's unit has in effect today or later (uuid.Nil if
// none).
func overordnet(o oio.Object) uuid.UUID {
	var last uuid.UUID
	for _, r := range o.Registration.Relationer {
		if r.Name == oio.RelOverordnet && r.Virkning.To.IsZero() {
			return r.Ref
		}
		if r.Name == oio.RelOverordnet {
			last = r.Ref
		}
	}
	return last
}

func orderUpserts(ops []Operation) []Operation {
	dep := depth(ops, func(op Operation) uuid.UUID { return overordnet(op.Object) })
	slices.SortStableFunc(ops, func(a, b Operation) int {
		if d := kindRank(a.Object.Kind) - kindRank(b.Object.Kind); d != 0 {
			return d
		}
		if d := dep[a.Object.UUID] - dep[b.Object.UUID]; d != 0 {
			return d
		}
		return byKindAndUUID(a, b)
	})
	return ops
}

func orderDeactivations(ops []Operation, current map[uuid.UUID]*oio.Object) []Operation {
	dep := depth(ops, func(op Operation) uuid.UUID {
		if c := current[op.Object.UUID]; c != nil {
			return overordnet(*c)
		}
		return uuid.Nil
	})
	slices.SortStableFunc(ops, func(a, b Operation) int {
		if d := kindRank(b.Object.Kind) - kindRank(a.Object.Kind); d != 0 {
			return d // functions, users, units
		}
		if d := dep[b.Object.UUID] - dep[a.Object.UUID]; d != 0 {
			return d // children first
		}
		return byKindAndUUID(a, b)
	})
	return ops
}

// Cascade says what else a unit's change requires the consumer to re-evaluate.
type Cascade struct {
	// Subtree: the unit's parent or its being exported changed (a move, a relevance change, a
	// creation), so the relevance and parents of its descendants must be re-evaluated.
	Subtree bool
	// Persons: the unit started or stopped being exported, so the positions of the persons with
	// engagements in it must be re-evaluated.
	Persons bool
}

// UnitCascade compares the unit's bundle (d, from UnitDesired or UnitGone) with the unit as STS
// holds it before the plan is applied (current; nil when missing) and says whether the consumer
// must fan out to the unit's subtree and persons. A full synchronisation that visits every unit
// anyway may ignore Subtree on creation.
func UnitCascade(unit uuid.UUID, d Desired, current *oio.Object, now time.Time) Cascade {
	today := Day(now)
	var wantActive bool
	var wantParent uuid.UUID
	if o := d.Object(unit); o != nil && o.Kind == oio.KindOrganisationEnhed {
		wantActive = true
		wantParent = parentOn(*o, today)
	}
	var haveActive bool
	var haveParent uuid.UUID
	if current.Exists() && current.Kind == oio.KindOrganisationEnhed {
		for _, g := range current.Registration.Gyldighed {
			if g.Status == oio.Aktiv && g.Virkning.Covers(today) {
				haveActive = true
			}
		}
		haveParent = parentOn(*current, today)
	}
	c := Cascade{Persons: wantActive != haveActive}
	c.Subtree = c.Persons || (wantActive && wantParent != haveParent)
	return c
}

// parentOn returns the unit's parent in effect on day t (uuid.Nil if none).
func parentOn(o oio.Object, t time.Time) uuid.UUID {
	for _, r := range o.Registration.Relationer {
		if r.Name == oio.RelOverordnet && (r.Virkning.Covers(t) || r.Virkning.From.After(t)) {
			return r.Ref
		}
	}
	return uuid.Nil
}
