package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// OrphanAction is what a sync does with an orphan: a unit or user that STS holds active in the
// municipality's hierarchy and that no OS2MO unit or person accounts for.
type OrphanAction string

// The orphan actions. OrphanDeactivate and OrphanReport are policies (Options.Orphans);
// OrphanKeep is what Options.Keep makes of an orphan.
const (
	// OrphanDeactivate ends the orphan and its positions, within the deactivation guards.
	OrphanDeactivate OrphanAction = "deactivate"
	// OrphanReport leaves the orphan as it is and lists it in the plan; verify reports it as
	// drift.
	OrphanReport OrphanAction = "report"
	// OrphanKeep leaves the orphan and the functions linked to it as they are; verify counts it
	// as kept, not as drift.
	OrphanKeep OrphanAction = "keep"
)

// OrphanPolicy is what a sync does with orphan units and with orphan users. An empty action is
// OrphanDeactivate, so the zero value deactivates both.
type OrphanPolicy struct {
	Units, Users OrphanAction
}

// ParseOrphanPolicy parses an orphan policy: "deactivate" or "report" for both kinds, or one
// action per kind, comma-separated, such as "units=report,users=deactivate" (a kind left out is
// deactivated).
func ParseOrphanPolicy(s string) (OrphanPolicy, error) {
	action := func(v string) (OrphanAction, bool) {
		switch a := OrphanAction(strings.TrimSpace(v)); a {
		case OrphanDeactivate, OrphanReport:
			return a, true
		}
		return "", false
	}
	bad := fmt.Errorf("expected deactivate, report, or an action per kind such as units=report,users=deactivate; got %q", s)
	if a, ok := action(s); ok {
		return OrphanPolicy{Units: a, Users: a}, nil
	}
	p := OrphanPolicy{Units: OrphanDeactivate, Users: OrphanDeactivate}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		kind, v, found := strings.Cut(part, "=")
		kind = strings.TrimSpace(kind)
		a, ok := action(v)
		if !found || !ok || seen[kind] {
			return OrphanPolicy{}, bad
		}
		seen[kind] = true
		switch kind {
		case "units":
			p.Units = a
		case "users":
			p.Users = a
		default:
			return OrphanPolicy{}, bad
		}
	}
	return p, nil
}

// String formats the policy as ParseOrphanPolicy reads it: one action when both kinds have it.
func (p OrphanPolicy) String() string {
	if p.units() == p.users() {
		return string(p.units())
	}
	return "units=" + string(p.units()) + ",users=" + string(p.users())
}

func (p OrphanPolicy) units() OrphanAction { return cmp.Or(p.Units, OrphanDeactivate) }
func (p OrphanPolicy) users() OrphanAction { return cmp.Or(p.Users, OrphanDeactivate) }

// Orphan is a unit or user that STS holds active in the municipality's hierarchy and that no
// OS2MO unit or person accounts for, with what the sync does with it.
type Orphan struct {
	Kind oio.Kind // OrganisationEnhed or Bruger
	UUID uuid.UUID
	// Name is its name in STS.
	Name string
	// Why says why OS2MO does not account for it ("unknown to OS2MO", "no OS2MO person", …).
	Why    string
	Action OrphanAction
	// Kept says, for a kept orphan, why Options.Keep keeps it ("in SYNC_KEEP_UUIDS", "below kept
	// unit …", "above kept unit …", "function in kept unit …").
	Kept string
}

// orphanSet is what the orphan search found.
type orphanSet struct {
	// bundles deactivate the orphans to deactivate; they also hold the bundles of units and
	// persons OS2MO created after the listing.
	bundles []*bundle
	// list is every orphan, with its action.
	list []Orphan
	// protected are the kept orphans and the functions linked to them: no bundle ends them.
	protected map[uuid.UUID]bool
}

// keepOrphans decides which orphans Options.Keep keeps, marks them OrphanKeep in found, and
// returns the kept orphans with the functions linked to them. A unit is kept when it is in keep
// or below a unit in keep (by Overordnet in STS), or when it is above a kept orphan unit and every
// unit between them is an orphan (so a kept unit never hangs under a deactivated one); a user is
// kept when it is in keep or has an active function in a unit below (or being) a unit in keep.
func keepOrphans(keep []uuid.UUID, s *stsState, found []Orphan, today time.Time) map[uuid.UUID]bool {
	protected := map[uuid.UUID]bool{}
	if len(keep) == 0 {
		return protected
	}
	kept := map[uuid.UUID]bool{}
	for _, id := range keep {
		kept[id] = true
	}
	parent := func(id uuid.UUID) uuid.UUID {
		o := s.get(id)
		if o == nil || o.Kind != oio.KindOrganisationEnhed {
			return uuid.Nil
		}
		return o.RefOn(oio.RelOverordnet, today)
	}
	// keptUnit returns the unit of keep whose subtree holds the unit (uuid.Nil: none).
	keptUnit := func(id uuid.UUID) uuid.UUID {
		seen := map[uuid.UUID]bool{}
		for ; id != uuid.Nil && !seen[id]; id = parent(id) {
			if kept[id] {
				return id
			}
			seen[id] = true
		}
		return uuid.Nil
	}
	describe := func(id uuid.UUID) string {
		if n := objectName(s.get(id), today); n != "" {
			return id.String() + " " + strconv.QuoteToGraphic(n)
		}
		return id.String()
	}
	orphanUnits := map[uuid.UUID]*Orphan{}
	for i := range found {
		if found[i].Kind == oio.KindOrganisationEnhed {
			orphanUnits[found[i].UUID] = &found[i]
		}
	}
	for i := range found {
		orp := &found[i]
		switch {
		case kept[orp.UUID]:
			orp.Kept = "in SYNC_KEEP_UUIDS"
		case orp.Kind == oio.KindOrganisationEnhed:
			if k := keptUnit(orp.UUID); k != uuid.Nil {
				orp.Kept = "below kept unit " + describe(k)
			}
		default:
			if u := keptFunctionUnit(s, orp.UUID, keptUnit, today); u != uuid.Nil {
				orp.Kept = "function in kept unit " + describe(u)
			}
		}
	}
	// The orphan units above a kept orphan unit, up to the first unit that is not an orphan.
	for _, id := range slices.SortedFunc(maps.Keys(orphanUnits), compareUUID) {
		if orphanUnits[id].Kept == "" {
			continue
		}
		seen := map[uuid.UUID]bool{id: true}
		for p := parent(id); p != uuid.Nil && !seen[p]; p = parent(p) {
			seen[p] = true
			up := orphanUnits[p]
			if up == nil || up.Kept != "" {
				break
			}
			up.Kept = "above kept unit " + describe(id)
		}
	}
	for i := range found {
		orp := &found[i]
		if orp.Kept == "" {
			continue
		}
		orp.Action = OrphanKeep
		protected[orp.UUID] = true
		l := translate.Lookups{FunctionsOfUsers: []uuid.UUID{orp.UUID}}
		if orp.Kind == oio.KindOrganisationEnhed {
			l = translate.Lookups{FunctionsOfUnits: []translate.UnitFunctions{{Unit: orp.UUID}}}
		}
		for id := range s.lookup(l) {
			protected[id] = true
		}
	}
	return protected
}

// keptFunctionUnit returns a unit in a kept subtree (keptUnit) that an active function of the
// user points at, the least by UUID (uuid.Nil: none).
func keptFunctionUnit(s *stsState, user uuid.UUID, keptUnit func(uuid.UUID) uuid.UUID, today time.Time) uuid.UUID {
	var out uuid.UUID
	for _, f := range s.lookup(translate.Lookups{FunctionsOfUsers: []uuid.UUID{user}}) {
		if f.StatusOn(today) != oio.Aktiv || !slices.Contains(f.LiveRefs(today, oio.RelTilknyttedeBrugere), user) {
			continue
		}
		for _, u := range f.LiveRefs(today, oio.RelTilknyttedeEnheder) {
			if keptUnit(u) != uuid.Nil && (out == uuid.Nil || compareUUID(u, out) < 0) {
				out = u
			}
		}
	}
	return out
}

// sortOrphans orders orphans as the plan lists them: by action (deactivate, report, keep), units
// before users, then by name and UUID.
func sortOrphans(list []Orphan) {
	rank := func(a OrphanAction) int {
		return slices.Index([]OrphanAction{OrphanDeactivate, OrphanReport, OrphanKeep}, a)
	}
	kind := func(k oio.Kind) int {
		if k == oio.KindOrganisationEnhed {
			return 0
		}
		return 1
	}
	slices.SortFunc(list, func(a, b Orphan) int {
		return cmp.Or(cmp.Compare(rank(a.Action), rank(b.Action)), cmp.Compare(kind(a.Kind), kind(b.Kind)),
			strings.Compare(a.Name, b.Name), compareUUID(a.UUID, b.UUID))
	})
}
