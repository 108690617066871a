package translate

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// unitFacts are what relevance looks at, for a full unit or an engagement's unit summary.
type unitFacts struct {
	id        uuid.UUID
	root      bool        // has no parent
	ancestors []uuid.UUID // nearest first
	unitType  *model.Class
	level     *model.Class
	hierarchy *model.Class
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
func Relevant(s Settings, u *model.OrgUnit) (bool, string) {
	if u == nil {
		return false, "no unit"
	}
	return relevant(s, unitFacts{id: u.UUID, root: u.Parent == nil, ancestors: u.Ancestors,
		unitType: u.UnitType, level: u.Level, hierarchy: u.Hierarchy, hasFK: s.hasFKAccount(u.ITUsers)})
}

// RelevantSummary is Relevant for the unit summary of an engagement.
func RelevantSummary(s Settings, u *model.UnitSummary) (bool, string) {
	if u == nil {
		return false, "unit not in effect"
	}
	return relevant(s, unitFacts{id: u.UUID, root: len(u.Ancestors) == 0, ancestors: u.Ancestors,
		unitType: u.UnitType, level: u.Level, hierarchy: u.Hierarchy, hasFK: s.hasFKAccount(u.ITUsers)})
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

// hasFKAccount reports whether one of a unit's IT users is in an FK bookkeeping IT system or
// in one of the UUIDFromITSystems: such a unit is exported whatever its hierarchy, level and type.
func (s Settings) hasFKAccount(users []model.ITUser) bool {
	for _, it := range users {
		if s.isFK(it) || s.uuidSystemPriority(it) >= 0 {
			return true
		}
	}
	return false
}

// isFK reports whether the IT user is in an FK bookkeeping IT system.
func (s Settings) isFK(it model.ITUser) bool {
	return nameIn(s.fkSystems(), it.ITSystem.UserKey, it.ITSystem.Name)
}

// adPriority returns the priority of an IT user's system among the AD systems (0 = highest), or
// -1 when it is not an AD account.
func (s Settings) adPriority(it model.ITUser) int {
	return systemPriority(s.adSystems(), it)
}

// uuidSystemPriority returns the priority of an IT user's system among UUIDFromITSystems, or -1.
func (s Settings) uuidSystemPriority(it model.ITUser) int {
	return systemPriority(s.UUIDFromITSystems, it)
}

// systemPriority returns the index of the first of systems that names the IT user's system by
// user key or name, or -1.
func systemPriority(systems []string, it model.ITUser) int {
	for i, k := range systems {
		if nameIn([]string{k}, it.ITSystem.UserKey, it.ITSystem.Name) {
			return i
		}
	}
	return -1
}

// byPriority returns the IT users whose system has a priority (0 = highest; -1: none, left out),
// ordered by priority, then earliest start, then lowest UUID.
func byPriority(users []model.ITUser, priority func(model.ITUser) int) []model.ITUser {
	var out []model.ITUser
	for _, it := range users {
		if priority(it) >= 0 {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(x, y model.ITUser) int {
		if d := priority(x) - priority(y); d != 0 {
			return d
		}
		if d := x.Validity.From.Compare(y.Validity.From); d != 0 {
			return d
		}
		return strings.Compare(x.UUID.String(), y.UUID.String())
	})
	return out
}

// objectUUID returns the UUID the OS2MO unit or person id has in STS: the UUID held by its IT
// user (users) in the first of UUIDFromITSystems that has one, in the IT user's user key or else
// its external id; id itself when there is none. Among several IT users of one system the one
// that started first (then the lowest UUID) counts. An IT user of those systems that holds no
// UUID is reported (when ps is not nil) on kind and id and ignored.
func (s Settings) objectUUID(id uuid.UUID, users []model.ITUser, ps *problems, kind oio.Kind) uuid.UUID {
	if len(s.UUIDFromITSystems) == 0 {
		return id
	}
	for _, it := range byPriority(users, s.uuidSystemPriority) {
		for _, v := range []string{it.UserKey, it.ExternalID} {
			if u, err := uuid.Parse(strings.TrimSpace(v)); err == nil && u != uuid.Nil {
				return u
			}
		}
		if ps != nil {
			ps.add(kind, id, "UUID", "IT user %s (%s) holds no UUID in its user key or external id; ignored", it.UUID, it.ITSystem.Name)
		}
	}
	return id
}
