package translate

import (
	"slices"
	"time"

	"github.com/google/uuid"

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
	// TransactionUUID, when set by the caller, is sent as the call's RequestHeader/TransactionUUID
	// (and logged in the audit line), so a write can be found in KOMBIT's logs. Planning leaves it
	// zero.
	TransactionUUID uuid.UUID
	// Before is what STS held when the operation was planned (nil for a new object): the audit
	// trail records what the write changes and a digest of both.
	Before *oio.Object
}

// Ref returns the object the operation writes.
func (op Operation) Ref() Ref { return Ref{op.Object.Kind, op.Object.UUID} }

// Plan returns the operations that make current (nil when the object does not exist in STS, or
// passivated) equal to desired: nothing when they already agree, one importer when the object
// is missing, otherwise one ret.
//
// A ret sends all three lists, built from the current ones so that the history already
// registered is kept:
//
//   - attributes (Egenskab) and states (Gyldighed) form a time line: a current entry with the
//     desired values stays as it is (its earlier start is kept unless the desired start lies in
//     the future), and takes the desired end; other entries end where the desired ones start,
//     or are dropped if they would start there or later;
//   - relations the sync manages (Settings) are matched by target, role and type: a matching
//     relation keeps its registered start in the same way; a managed relation no longer wanted
//     ends today (dropped if it would only start today or later), or where its replacement
//     starts in a function; a single-valued relation (Overordnet, Tilhoerer, …) is overwritten
//     in place; ended relations stay as history;
//   - relations the sync does not manage (other address roles such as SOR, TilknyttedeFunktioner
//     of a unit, …) are sent back unchanged.
//
// Re-planning against the result of a planned operation yields no operation.
func Plan(s Settings, desired oio.Object, current *oio.Object, now time.Time) []Operation {
	return plan(s, desired, current, now, time.Time{})
}

// plan is Plan with the date since which the desired values are known to hold (zero: unknown):
// a value or target that replaces another one in effect starts there, not earlier, so that the
// replaced one stays on record until then (e.g. a position's unit and title, which start with
// the engagement on creation but change at the start of the engagement's current validity).
func plan(s Settings, desired oio.Object, current *oio.Object, now time.Time, since time.Time) []Operation {
	reg := desired.Registration
	reg.Relationer = slices.DeleteFunc(slices.Clone(reg.Relationer), func(r oio.Relation) bool { return !s.manages(desired.Kind, r) })
	reg.Tidspunkt = now
	reg.BrugerRef = s.Organisation
	reg.Livscyklus = oio.LivscyklusImporteret
	if !current.Exists() {
		reg.Egenskaber = slices.Clone(reg.Egenskaber)
		reg.Gyldighed = slices.Clone(reg.Gyldighed)
		SortRelations(desired.Kind, reg.Relationer)
		return []Operation{{Op: OpImport, Object: oio.Object{Kind: desired.Kind, UUID: desired.UUID, Registration: reg}, Before: current}}
	}
	today := Day(now)
	cur := current.Registration
	merged := oio.Registration{
		Tidspunkt: now,
		// Livscyklus is left empty: the service sets it on ret.
		BrugerRef:  s.Organisation,
		Egenskaber: mergeTimeline(carryOver(s, desired.Kind, reg.Egenskaber, cur.Egenskaber, today), cur.Egenskaber, today, since, egenskabValue, egenskabVirkning),
		Gyldighed:  mergeTimeline(reg.Gyldighed, cur.Gyldighed, today, since, gyldighedValue, gyldighedVirkning),
		Relationer: mergeRelations(s, desired.Kind, reg.Relationer, cur.Relationer, today, since),
	}
	if sameEntries(merged, cur) {
		return nil
	}
	return []Operation{{Op: OpUpdate, Object: oio.Object{Kind: desired.Kind, UUID: desired.UUID, Registration: merged}, Before: current}}
}

// carryOver fills attribute values the sync does not write from the current entry in effect
// today (else the one that starts last): a user's BrugerTypeTekst, and a person's CPR number when
// Settings.SyncCPR is off.
func carryOver(s Settings, kind oio.Kind, desired, current []oio.Egenskab, today time.Time) []oio.Egenskab {
	if kind != oio.KindBruger && (kind != oio.KindPerson || s.SyncCPR) {
		return desired
	}
	var now *oio.Egenskab // the entry in effect today, else the one that starts last
	for i := range current {
		c := &current[i]
		if now == nil || c.Virkning.Covers(today) ||
			(!now.Virkning.Covers(today) && c.Virkning.From.After(now.Virkning.From)) {
			now = c
		}
	}
	if now == nil {
		return desired
	}
	out := slices.Clone(desired)
	for i := range out {
		switch kind {
		case oio.KindBruger:
			if out[i].BrugerTypeTekst == "" {
				out[i].BrugerTypeTekst = now.BrugerTypeTekst
			}
		case oio.KindPerson:
			if out[i].CPR == "" {
				out[i].CPR = now.CPR
			}
		}
	}
	return out
}

// keepStart returns the Virkning a current entry c gets when it stays in effect as desired d
// says: d's end, and c's registered start when that is consistent with d: c started no later
// than the date since which d's value is known to hold (d's start, or since when later), and, if
// d starts in the future, exactly there (a future start may have been moved). Otherwise c starts
// there.
func keepStart(c, d oio.Virkning, since, today time.Time) oio.Virkning {
	v := c
	v.To = d.To
	hi := startSince(d, since).From
	switch {
	case d.From.IsZero():
		v.From = d.From
	case d.From.After(today):
		if !c.From.Equal(d.From) && !c.From.Equal(hi) {
			v.From = d.From
		}
	case c.From.IsZero() || !c.From.After(hi):
		// keep the registered start
	default:
		v.From = hi
	}
	return v
}

// startSince returns v starting at since if that is later (and before v's end).
func startSince(v oio.Virkning, since time.Time) oio.Virkning {
	if !since.IsZero() && since.After(v.From) && (v.To.IsZero() || since.Before(v.To)) {
		v.From = since
	}
	return v
}

// matchable reports whether a current entry is still in effect where desired starts (or ends
// exactly there), so that it can be extended rather than replaced. Where desired starts is its
// start, or since when later: an entry that ended before since (e.g. a position's earlier stay
// in the unit it returns to) is history, and the value starts anew.
func matchable(c, d oio.Virkning, since time.Time) bool {
	from := startSince(d, since).From
	return c.To.IsZero() || from.IsZero() || !c.To.Before(from)
}

// mergeTimeline merges a desired attribute or state list into the current one (see Plan).
func mergeTimeline[T any](desired, current []T, today, since time.Time, sameValue func(a, b T) bool, virk func(*T) *oio.Virkning) []T {
	if len(desired) == 0 {
		return current // nothing desired: the list is left as it is
	}
	used := make([]bool, len(current))
	var out []T
	for _, d := range desired {
		dv := *virk(&d)
		best := -1
		for i := range current {
			if used[i] || !sameValue(current[i], d) || !matchable(*virk(&current[i]), dv, since) {
				continue
			}
			if best < 0 || virk(&current[i]).To.Equal(dv.To) {
				best = i
			}
		}
		if best < 0 {
			if slices.ContainsFunc(current, func(c T) bool {
				cv := virk(&c)
				return cv.To.IsZero() || cv.To.After(dv.From)
			}) {
				*virk(&d) = startSince(dv, since) // replaces a value in effect
			}
			out = append(out, d)
			continue
		}
		used[best] = true
		m := current[best]
		*virk(&m) = keepStart(*virk(&m), dv, since, today)
		out = append(out, m)
	}
	var cut time.Time
	for i := range out {
		f := virk(&out[i]).From
		if i == 0 || f.Before(cut) {
			cut = f
		}
	}
	for i, c := range current {
		if used[i] {
			continue
		}
		if e, ok := endAt(*virk(&c), cut); ok {
			*virk(&c) = e
			out = append(out, c)
		}
	}
	return out
}

// endAt returns v ended at t (v unchanged if it already ends by then), or false if v would only
// start at t or later (it never took effect before t). A zero t is the beginning of time.
func endAt(v oio.Virkning, t time.Time) (oio.Virkning, bool) {
	if t.IsZero() {
		return v, false
	}
	if !v.To.IsZero() && !v.To.After(t) {
		return v, true
	}
	if !v.From.IsZero() && !v.From.Before(t) {
		return v, false
	}
	v.To = t
	return v, true
}

// sameTarget reports whether two relations point at the same thing in the same role.
func sameTarget(a, b oio.Relation) bool {
	return a.Name == b.Name && a.Ref == b.Ref && a.URN == b.URN && a.Rolle == b.Rolle && a.Type == b.Type
}

// mergeRelations builds the RelationListe of a ret (see Plan), in the kind's XSD order.
func mergeRelations(s Settings, kind oio.Kind, desired, current []oio.Relation, today, since time.Time) []oio.Relation {
	var out []oio.Relation
	used := make([]bool, len(current))
	for i, c := range current {
		if !s.manages(kind, c) {
			out = append(out, c)
			used[i] = true
		}
	}
	count := map[oio.RelationName]int{}
	replacement := map[oio.RelationName]time.Time{} // start of the single desired entry, per name
	for _, d := range desired {
		count[d.Name]++
	}
	for _, d := range desired {
		best := -1
		for i, c := range current {
			if used[i] || !sameTarget(c, d) || !matchable(c.Virkning, d.Virkning, since) {
				continue
			}
			if best < 0 || c.Virkning.To.Equal(d.Virkning.To) {
				best = i
			}
		}
		if best < 0 {
			if slices.ContainsFunc(current, func(c oio.Relation) bool {
				return c.Name == d.Name && s.manages(kind, c) && (c.Virkning.To.IsZero() || c.Virkning.To.After(d.Virkning.From))
			}) {
				d.Virkning = startSince(d.Virkning, since) // replaces a value in effect
			}
			out = append(out, d)
			if count[d.Name] == 1 {
				replacement[d.Name] = d.Virkning.From
			}
			continue
		}
		used[best] = true
		m := current[best]
		m.Virkning = keepStart(m.Virkning, d.Virkning, since, today)
		out = append(out, m)
		if count[d.Name] == 1 {
			replacement[d.Name] = m.Virkning.From
		}
	}
	for i, c := range current {
		if used[i] {
			continue
		}
		if oio.SingleValued(kind, c.Name) && count[c.Name] > 0 {
			continue // overwritten in place
		}
		end := today
		if r, ok := replacement[c.Name]; ok && kind == oio.KindOrganisationFunktion && !r.IsZero() {
			end = r
		}
		if slices.ContainsFunc(out, func(o oio.Relation) bool { return sameTarget(o, c) }) {
			// A second entry for a target that stays: it is history up to the kept entry.
			end = earliestStart(out, c)
		}
		if v, ok := endAt(c.Virkning, end); ok {
			c.Virkning = v
			out = append(out, c)
		}
	}
	SortRelations(kind, out)
	return out
}

// earliestStart returns the earliest start among the entries of out with c's target.
func earliestStart(out []oio.Relation, c oio.Relation) time.Time {
	var t time.Time
	first := true
	for _, o := range out {
		if sameTarget(o, c) && (first || o.Virkning.From.Before(t)) {
			t, first = o.Virkning.From, false
		}
	}
	return t
}

// SortRelations orders relations by the kind's XSD sequence, keeping the relative order of
// relations with the same name.
func SortRelations(kind oio.Kind, rels []oio.Relation) {
	order := oio.RelationOrder(kind)
	slices.SortStableFunc(rels, func(a, b oio.Relation) int {
		return slices.Index(order, a.Name) - slices.Index(order, b.Name)
	})
}

func egenskabVirkning(e *oio.Egenskab) *oio.Virkning   { return &e.Virkning }
func gyldighedVirkning(g *oio.Gyldighed) *oio.Virkning { return &g.Virkning }

func virkningEqual(a, b oio.Virkning) bool {
	return a.From.Equal(b.From) && a.To.Equal(b.To)
}

func egenskabValue(a, b oio.Egenskab) bool {
	return a.BrugervendtNoegle == b.BrugervendtNoegle && a.Navn == b.Navn && a.BrugerTypeTekst == b.BrugerTypeTekst &&
		a.AdresseTekst == b.AdresseTekst && a.CPR == b.CPR
}

func gyldighedValue(a, b oio.Gyldighed) bool { return a.Status == b.Status }

func egenskabEqual(a, b oio.Egenskab) bool {
	return virkningEqual(a.Virkning, b.Virkning) && egenskabValue(a, b)
}

func gyldighedEqual(a, b oio.Gyldighed) bool {
	return virkningEqual(a.Virkning, b.Virkning) && a.Status == b.Status
}

func relationEqual(a, b oio.Relation) bool {
	return virkningEqual(a.Virkning, b.Virkning) && sameTarget(a, b) && a.Indeks == b.Indeks
}

// sameEntries reports whether two registrations hold the same entries, in any order.
func sameEntries(a, b oio.Registration) bool {
	return sameSet(a.Egenskaber, b.Egenskaber, egenskabEqual) &&
		sameSet(a.Gyldighed, b.Gyldighed, gyldighedEqual) &&
		sameSet(a.Relationer, b.Relationer, relationEqual)
}

// sameSet reports whether a and b hold the same entries with the same multiplicity.
func sameSet[T any](a, b []T, equal func(x, y T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && equal(x, y) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
