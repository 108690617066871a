package translate

import (
	"slices"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// OpKind is the STS operation an Operation calls.
type OpKind string

// The operations Plan emits.
const (
	// OpImport creates an object that does not exist (importer).
	OpImport OpKind = "importer"
	// OpUpdate replaces the registration lists of an existing object (ret).
	OpUpdate OpKind = "ret"
)

// Operation is one planned STS call with the complete object to send.
type Operation struct {
	Op     OpKind
	Object oio.Object
}

// Plan returns the operations that make current (nil when the object does not exist in STS, or is
// passivated) equal to desired: nothing when they already agree, one importer when the object is
// missing, otherwise one ret.
//
// A ret sends all three lists, following the write pattern KOMBIT's clients use: the attribute and
// state lists are replaced by the desired ones (STS keeps the old registration as history);
// single-valued relations (Overordnet, Tilhoerer, …) are overwritten in place, or ended today when
// the sync no longer wants one; values of multi-valued relations the sync no longer wants are ended
// today rather than removed, ended values stay as they are, and relations the sync does not manage
// are sent back unchanged. Re-planning against the result of a planned ret yields no operation.
func Plan(s Settings, desired oio.Object, current *oio.Object, now time.Time) []Operation {
	reg := desired.Registration
	reg.Tidspunkt = now
	reg.BrugerRef = s.Organisation
	reg.Livscyklus = oio.LivscyklusImporteret
	if current == nil {
		SortRelations(desired.Kind, reg.Relationer)
		return []Operation{{Op: OpImport, Object: oio.Object{Kind: desired.Kind, UUID: desired.UUID, Registration: reg}}}
	}
	cur := current.Registration
	merged := oio.Registration{
		Tidspunkt: now,
		// Livscyklus is left empty: the service sets it on ret.
		BrugerRef:  s.Organisation,
		Egenskaber: reg.Egenskaber,
		Gyldighed:  reg.Gyldighed,
		Relationer: mergeRelations(desired.Kind, reg.Relationer, cur.Relationer, Day(now)),
	}
	if sameEntries(merged, cur) {
		return nil
	}
	return []Operation{{Op: OpUpdate, Object: oio.Object{Kind: desired.Kind, UUID: desired.UUID, Registration: merged}}}
}

// mergeList returns desired followed by the entries of current that desired does not contain:
// entries already ended before today are kept as history; entries still in effect (or starting
// later) are ended today, or dropped when they would start on or after today (they never took
// effect, so there is no history to keep).
func mergeList[T any](desired, current []T, today time.Time, equal func(a, b T) bool, virk func(*T) *oio.Virkning) []T {
	out := slices.Clone(desired)
	for _, c := range current {
		if slices.ContainsFunc(desired, func(d T) bool { return equal(c, d) }) {
			continue
		}
		v := virk(&c)
		switch {
		case !v.To.IsZero() && !v.To.After(today):
			out = append(out, c) // history
		case !v.From.IsZero() && !v.From.Before(today):
			// never took effect: drop
		default:
			v.To = today
			out = append(out, c)
		}
	}
	return out
}

// mergeRelations builds the RelationListe of a ret: managed single-valued relations take the
// desired value (or the current one ended today), managed multi-valued relations are merged like
// mergeList, unmanaged relations are sent back unchanged; everything in the kind's XSD order.
func mergeRelations(kind oio.Kind, desired, current []oio.Relation, today time.Time) []oio.Relation {
	var out, managedMulti []oio.Relation
	wantSingle := map[oio.RelationName]bool{}
	for _, d := range desired {
		if oio.SingleValued(kind, d.Name) {
			wantSingle[d.Name] = true
		}
	}
	for _, c := range current {
		switch {
		case !isManaged(kind, c.Name):
			out = append(out, c)
		case oio.SingleValued(kind, c.Name):
			if !wantSingle[c.Name] {
				out = append(out, endRelation(c, today)...)
			}
		default:
			managedMulti = append(managedMulti, c)
		}
	}
	var desiredMulti []oio.Relation
	for _, d := range desired {
		if oio.SingleValued(kind, d.Name) {
			out = append(out, d)
		} else {
			desiredMulti = append(desiredMulti, d)
		}
	}
	out = append(out, mergeList(desiredMulti, managedMulti, today, relationEqual, relationVirkning)...)
	SortRelations(kind, out)
	return out
}

// endRelation returns r ended today, r unchanged if it already ended, or nothing if it would only
// have started today or later.
func endRelation(r oio.Relation, today time.Time) []oio.Relation {
	switch {
	case !r.Virkning.To.IsZero() && !r.Virkning.To.After(today):
		return []oio.Relation{r}
	case !r.Virkning.From.IsZero() && !r.Virkning.From.Before(today):
		return nil
	}
	r.Virkning.To = today
	return []oio.Relation{r}
}

func isManaged(kind oio.Kind, name oio.RelationName) bool {
	switch kind {
	case oio.KindOrganisationEnhed:
		return managedUnitRelations[name]
	}
	return false
}

// SortRelations orders relations by the kind's XSD sequence, keeping the relative order of
// relations with the same name.
func SortRelations(kind oio.Kind, rels []oio.Relation) {
	order := oio.RelationOrder(kind)
	slices.SortStableFunc(rels, func(a, b oio.Relation) int {
		return slices.Index(order, a.Name) - slices.Index(order, b.Name)
	})
}

func relationVirkning(r *oio.Relation) *oio.Virkning { return &r.Virkning }

func virkningEqual(a, b oio.Virkning) bool {
	return a.From.Equal(b.From) && a.To.Equal(b.To)
}

func egenskabEqual(a, b oio.Egenskab) bool {
	return virkningEqual(a.Virkning, b.Virkning) && a.BrugervendtNoegle == b.BrugervendtNoegle &&
		a.Navn == b.Navn && a.BrugerTypeTekst == b.BrugerTypeTekst && a.AdresseTekst == b.AdresseTekst && a.CPR == b.CPR
}

func gyldighedEqual(a, b oio.Gyldighed) bool {
	return virkningEqual(a.Virkning, b.Virkning) && a.Status == b.Status
}

func relationEqual(a, b oio.Relation) bool {
	return virkningEqual(a.Virkning, b.Virkning) && a.Name == b.Name && a.Ref == b.Ref && a.URN == b.URN &&
		a.Rolle == b.Rolle && a.Type == b.Type && a.Indeks == b.Indeks
}

// sameEntries reports whether two registrations hold the same entries, in any order.
func sameEntries(a, b oio.Registration) bool {
	return sameSet(a.Egenskaber, b.Egenskaber, egenskabEqual) &&
		sameSet(a.Gyldighed, b.Gyldighed, gyldighedEqual) &&
		sameSet(a.Relationer, b.Relationer, relationEqual)
}

func sameSet[T any](a, b []T, equal func(x, y T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y T) bool { return equal(x, y) }) {
			return false
		}
	}
	return true
}
