package translate

import (
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Deactivate plans the deactivation of an object the sync manages but OS2MO no longer has in
// effect (terminated, or no longer relevant): from today its Gyldighed is Inaktiv and its managed
// relations end. Nothing is deleted, so the history stays readable in STS. It returns nothing when
// current is nil or already inactive with no managed relation in effect.
func Deactivate(s Settings, current *oio.Object, now time.Time) []Operation {
	if current == nil {
		return nil
	}
	today := Day(now)
	v := oio.Virkning{From: today, Aktoer: s.Organisation, AktoerType: oio.AktoerTypeOrganisation}
	desired := oio.Object{Kind: current.Kind, UUID: current.UUID}
	reg := &desired.Registration
	// Keep the attributes as they are; end everything managed that is still in effect.
	reg.Egenskaber = current.Registration.Egenskaber
	for _, g := range current.Registration.Gyldighed {
		if g.Status == oio.Aktiv && (g.Virkning.To.IsZero() || g.Virkning.To.After(today)) {
			if !g.Virkning.From.IsZero() && !g.Virkning.From.Before(today) {
				continue // would never have been active
			}
			g.Virkning.To = today
		}
		reg.Gyldighed = append(reg.Gyldighed, g)
	}
	reg.Gyldighed = appendInactive(reg.Gyldighed, v)
	for _, r := range current.Registration.Relationer {
		if isManaged(current.Kind, r.Name) {
			reg.Relationer = append(reg.Relationer, endRelation(r, today)...)
			continue
		}
		reg.Relationer = append(reg.Relationer, r)
	}
	reg.Tidspunkt = now
	reg.Livscyklus = "" // set by the service on ret
	reg.BrugerRef = s.Organisation
	if sameEntries(*reg, current.Registration) {
		return nil
	}
	return []Operation{{Op: OpUpdate, Object: desired}}
}

// appendInactive adds an open-ended Inaktiv state from v.From unless one already covers it.
func appendInactive(gs []oio.Gyldighed, v oio.Virkning) []oio.Gyldighed {
	for _, g := range gs {
		if g.Status == oio.Inaktiv && g.Virkning.To.IsZero() && !g.Virkning.From.After(v.From) {
			return gs
		}
	}
	return append(gs, oio.Gyldighed{Virkning: v, Status: oio.Inaktiv})
}
