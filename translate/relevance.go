package translate

import (
	"slices"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// unitFacts are what relevance looks at, for a full unit or an engagement's unit summary.
type unitFacts struct {
	id        uuid.UUID
	root      bool        // has no parent
	ancestors []uuid.UUID // nearest first
	unitType  *moclient.Class
	level     *moclient.Class
	hierarchy *moclient.Class
	hasFK     bool // has an FK bookkeeping IT user
}

// Relevant reports whether the OS2MO unit is exported to STS Organisation, and if not, why:
//
//  1. the top unit is always exported;
//  2. with a top unit set, only its descendants are (a root other than the top unit is not);
//  3. a unit in, or below, an excluded subtree is not;
//  4. a unit with an FK bookkeeping IT user is, whatever its hierarchy, level and type;
//  5. with hierarchy names set, a unit of another hierarchy is not;
//  6. a unit of an ignored level or type is not.
//
// An irrelevant unit is deactivated in STS (never the top unit).
func Relevant(s Settings, u *moclient.OrgUnit) (bool, string) {
	if u == nil {
		return false, "no unit"
	}
	return relevant(s, unitFacts{id: u.UUID, root: u.Parent == nil, ancestors: u.Ancestors,
		unitType: u.UnitType, level: u.Level, hierarchy: u.Hierarchy, hasFK: s.hasFKAccount(u.ITUsers)})
}

// RelevantSummary is Relevant for the unit summary of an engagement. The summary does not say
// whether the unit has an FK bookkeeping IT user; hasFK supplies it (rule 4).
func RelevantSummary(s Settings, u *moclient.UnitSummary, hasFK bool) (bool, string) {
	if u == nil {
		return false, "unit not in effect"
	}
	return relevant(s, unitFacts{id: u.UUID, root: len(u.Ancestors) == 0, ancestors: u.Ancestors,
		unitType: u.UnitType, level: u.Level, hierarchy: u.Hierarchy, hasFK: hasFK})
}

func relevant(s Settings, u unitFacts) (bool, string) {
	if s.TopUnit != uuid.Nil && u.id == s.TopUnit {
		return true, ""
	}
	if s.TopUnit != uuid.Nil {
		if u.root {
			return false, "a root unit other than the top unit"
		}
		if !slices.Contains(u.ancestors, s.TopUnit) {
			return false, "not below the top unit"
		}
	}
	if slices.Contains(s.ExcludedSubtrees, u.id) {
		return false, "an excluded subtree"
	}
	for _, a := range u.ancestors {
		if a == s.TopUnit {
			break // the top unit is exported; exclusions above it do not apply
		}
		if slices.Contains(s.ExcludedSubtrees, a) {
			return false, "in an excluded subtree"
		}
	}
	if u.hasFK {
		return true, ""
	}
	if len(s.HierarchyNames) > 0 && (u.hierarchy == nil || !nameIn(s.HierarchyNames, u.hierarchy.Name, u.hierarchy.UserKey)) {
		return false, "not in an exported hierarchy"
	}
	if u.level != nil && slices.Contains(s.IgnoredUnitLevels, u.level.UUID) {
		return false, "an ignored unit level"
	}
	if u.unitType != nil && slices.Contains(s.IgnoredUnitTypes, u.unitType.UUID) {
		return false, "an ignored unit type"
	}
	return true, ""
}

// hasFKAccount reports whether one of the IT users is in an FK bookkeeping IT system.
func (s Settings) hasFKAccount(users []moclient.ITUser) bool {
	for _, it := range users {
		if s.isFK(it) {
			return true
		}
	}
	return false
}

func (s Settings) isFK(it moclient.ITUser) bool {
	return nameIn(s.fkSystems(), it.ITSystem.UserKey)
}

// adPriority returns the priority of an IT user's system among the AD systems (0 = highest), or
// -1 when it is not an AD account.
func (s Settings) adPriority(it moclient.ITUser) int {
	for i, k := range s.adSystems() {
		if nameIn([]string{k}, it.ITSystem.UserKey) {
			return i
		}
	}
	return -1
}
