package translate

import (
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Deactivate plans the deactivation of an object the sync manages but OS2MO no longer has in
// effect (terminated, or no longer relevant): from today its Gyldighed is Inaktiv and the
// relations the sync manages end (one that would only start later is dropped). Attributes and
// unmanaged relations stay, and nothing is deleted, so the history stays readable in STS. It
// returns nothing when current is missing or passivated, has no states (Person, Adresse), or is
// already inactive with no managed relation in effect.
func Deactivate(s Settings, current *oio.Object, now time.Time) []Operation {
	if !current.Exists() || !oio.HasTilstande(current.Kind) {
		return nil
	}
	today := Day(now)
	cur := current.Registration
	inactive := []oio.Gyldighed{{Virkning: s.virk(today, time.Time{}), Status: oio.Inaktiv}}
	reg := oio.Registration{
		Tidspunkt:  now,
		BrugerRef:  s.Organisation,
		Egenskaber: cur.Egenskaber,
		Gyldighed:  mergeTimeline(inactive, cur.Gyldighed, today, time.Time{}, gyldighedValue, gyldighedVirkning),
	}
	for _, r := range cur.Relationer {
		if !s.manages(current.Kind, r) {
			reg.Relationer = append(reg.Relationer, r)
			continue
		}
		if v, ok := endAt(r.Virkning, today); ok {
			r.Virkning = v
			reg.Relationer = append(reg.Relationer, r)
		}
	}
	if sameEntries(reg, cur) {
		return nil
	}
	return []Operation{{Op: OpUpdate, Object: oio.Object{Kind: current.Kind, UUID: current.UUID, Registration: reg}, Before: current}}
}

// endReferences plans ending, today, the relations of current that point at one of the targets
// and are in effect today or later (the rest of the object is sent back unchanged); nothing when
// there are none.
func endReferences(s Settings, current *oio.Object, targets map[uuid.UUID]bool, now time.Time) []Operation {
	if !current.Exists() {
		return nil
	}
	today := Day(now)
	cur := current.Registration
	reg := oio.Registration{Tidspunkt: now, BrugerRef: s.Organisation, Egenskaber: cur.Egenskaber, Gyldighed: cur.Gyldighed}
	for _, r := range cur.Relationer {
		if targets[r.Ref] && (r.Name == oio.RelTilknyttedeEnheder || r.Name == oio.RelTilknyttedeBrugere) {
			v, ok := endAt(r.Virkning, today)
			if !ok {
				continue
			}
			r.Virkning = v
		}
		reg.Relationer = append(reg.Relationer, r)
	}
	if sameEntries(reg, cur) {
		return nil
	}
	return []Operation{{Op: OpUpdate, Object: oio.Object{Kind: current.Kind, UUID: current.UUID, Registration: reg}, Before: current}}
}
