package motest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
)

// prepFunc builds the type-specific part of a top-level filter: a predicate on one validity and,
// optionally, candidate UUIDs (sorted; nil means all objects of the type).
type prepFunc[T keyed] func(ex *execution, filter map[string]any) (pred func(*ver[T]) bool, cands []uuid.UUID, err error)

// commonFilterKeys returns the filter keys every top-level collection supports, plus extra.
func commonFilterKeys(extra ...string) []string {
	return append([]string{"uuids", "user_keys", "from_date", "to_date"}, extra...)
}

// matcher returns whether an object matches filter: some validity in the filter's window (absent
// dates mean now; explicit nulls are unbounded) with a matching user key that passes prep's
// predicate. It also returns the UUIDs to consider, sorted, or nil for all.
func matcher[T keyed](ex *execution, filter map[string]any, prep prepFunc[T]) (func(*hist[T]) bool, []uuid.UUID, error) {
	ids, byID, err := uuidList(filter["uuids"])
	if err != nil {
		return nil, nil, fmt.Errorf("uuids: %w", err)
	}
	keys, byKey, err := stringList(filter["user_keys"])
	if err != nil {
		return nil, nil, fmt.Errorf("user_keys: %w", err)
	}
	from, to, err := ex.window(filter)
	if err != nil {
		return nil, nil, err
	}
	var pred func(*ver[T]) bool
	var cands []uuid.UUID
	if prep != nil {
		if pred, cands, err = prep(ex, filter); err != nil {
			return nil, nil, err
		}
	}
	if byID {
		slices.SortFunc(ids, compareUUID)
		ids = slices.Compact(ids)
		if cands != nil {
			ids = slices.DeleteFunc(ids, func(id uuid.UUID) bool { _, found := slices.BinarySearchFunc(cands, id, compareUUID); return !found })
		}
		cands = ids
		if cands == nil {
			cands = []uuid.UUID{}
		}
	}
	match := func(h *hist[T]) bool {
		for _, v := range h.within(from, to) {
			if (!byKey || slices.Contains(keys, v.d.key())) && (pred == nil || pred(v)) {
				return true
			}
		}
		return false
	}
	return match, cands, nil
}

// topList answers a top-level collection (org_units, persons, engagements, …) with filter,
// limit and an opaque keyset cursor (the last UUID of the page), ordered by UUID.
func topList[T keyed](ex *execution, args map[string]any, where string, t *table[T], prep prepFunc[T], extraKeys ...string) (any, error) {
	filter, err := subFilter(where+" filter", args["filter"], commonFilterKeys(extraKeys...)...)
	if err != nil {
		return nil, err
	}
	match, cands, err := matcher(ex, filter, prep)
	if err != nil {
		return nil, fmt.Errorf("%s filter: %w", where, err)
	}
	limit := 0
	if l := args["limit"]; l != nil {
		if limit, err = toInt(l); err != nil || limit < 1 {
			return nil, fmt.Errorf("%s: invalid limit %v (must be a positive integer)", where, l)
		}
	}
	ids := cands
	if ids == nil {
		ids = t.sorted
	}
	start := 0
	if c := args["cursor"]; c != nil {
		after, err := decodeCursor(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		start = sort.Search(len(ids), func(i int) bool { return compareUUID(ids[i], after) > 0 })
	}
	objs := []resp[T]{}
	var next *string
	for i := start; i < len(ids); i++ {
		h := t.get(ids[i])
		if h == nil || !match(h) {
			continue
		}
		objs = append(objs, resp[T]{id: ids[i], h: h})
		if limit > 0 && len(objs) == limit && i < len(ids)-1 {
			c := encodeCursor(ids[i])
			next = &c
			break
		}
	}
	return paged{objects: objs, next: next}, nil
}

func encodeCursor(id uuid.UUID) string { return base64.StdEncoding.EncodeToString([]byte(id.String())) }

func decodeCursor(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("invalid cursor %v", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("invalid cursor %q", s)
	}
	id, err := uuid.ParseBytes(b)
	if err != nil {
		return uuid.Nil, fmt.Errorf("invalid cursor %q", s)
	}
	return id, nil
}

func resolveOrgUnits(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "org_units", ex.s.store.units, prepareUnits, "names", "parent", "ancestor")
}

func resolvePersons(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "persons", ex.s.store.persons, preparePersons, "cpr_numbers")
}

func resolveEngagements(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "engagements", ex.s.store.engagements, prepareDetail(ObjectEngagement,
		func(v *ver[engData]) *uuid.UUID { return &v.d.orgUnit }, func(v *ver[engData]) *uuid.UUID { return &v.d.person }, nil),
		"org_unit", "employee")
}

func resolveAddresses(ex *execution, _ any, args map[string]any) (any, error) {
	extra := func(filter map[string]any) (func(*ver[addrData]) bool, error) {
		typ, err := classFilter("address_type", filter["address_type"], func(v *ver[addrData]) *model.Class { return &v.d.typ })
		if err != nil {
			return nil, err
		}
		vis, err := classFilter("visibility", filter["visibility"], func(v *ver[addrData]) *model.Class { return v.d.visibility })
		if err != nil {
			return nil, err
		}
		return func(v *ver[addrData]) bool { return (typ == nil || typ(v)) && (vis == nil || vis(v)) }, nil
	}
	return topList(ex, args, "addresses", ex.s.store.addresses, prepareDetail(ObjectAddress,
		func(v *ver[addrData]) *uuid.UUID { return v.d.orgUnit }, func(v *ver[addrData]) *uuid.UUID { return v.d.person }, extra),
		"org_unit", "employee", "address_type", "visibility")
}

func resolveITUsers(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "itusers", ex.s.store.itusers, prepareDetail(ObjectITUser,
		func(v *ver[itData]) *uuid.UUID { return v.d.orgUnit }, func(v *ver[itData]) *uuid.UUID { return v.d.person }, itUserFilter),
		"org_unit", "employee", "itsystem", "external_ids")
}

func resolveManagers(ex *execution, _ any, args map[string]any) (any, error) {
	if inherit, _ := args["inherit"].(bool); inherit {
		return nil, errors.New("managers: the fake OS2MO does not implement inherit on the top-level collection yet")
	}
	return topList(ex, args, "managers", ex.s.store.managers, prepareDetail(ObjectManager,
		func(v *ver[mgrData]) *uuid.UUID { return &v.d.orgUnit }, func(v *ver[mgrData]) *uuid.UUID { return v.d.person }, nil),
		"org_unit", "employee")
}

func resolveKLEs(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "kles", ex.s.store.kles, prepareDetail(ObjectKLE,
		func(v *ver[kleData]) *uuid.UUID { return &v.d.orgUnit }, nil, nil), "org_unit")
}

func resolveAssociations(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "associations", ex.s.store.associations, prepareDetail(ObjectAssociation,
		func(v *ver[assocData]) *uuid.UUID { return &v.d.orgUnit }, func(v *ver[assocData]) *uuid.UUID { return &v.d.person }, nil),
		"org_unit", "employee")
}

func resolveLeaves(ex *execution, _ any, args map[string]any) (any, error) {
	return topList(ex, args, "leaves", ex.s.store.leaves, prepareDetail(ObjectLeave,
		nil, func(v *ver[leaveData]) *uuid.UUID { return &v.d.person }, nil), "employee")
}

// prepareUnits handles the OrganisationUnitFilter keys names, parent (null: root units) and
// ancestor (a unit is its own ancestor, as in OS2MO).
func prepareUnits(ex *execution, filter map[string]any) (func(*ver[unitData]) bool, []uuid.UUID, error) {
	names, byName, err := stringList(filter["names"])
	if err != nil {
		return nil, nil, fmt.Errorf("names: %w", err)
	}
	parentRaw, byParent := filter["parent"]
	var parents, ancestors map[uuid.UUID]bool
	if byParent && parentRaw != nil {
		if parents, err = ex.unitSet(parentRaw); err != nil {
			return nil, nil, fmt.Errorf("parent: %w", err)
		}
	}
	if raw := filter["ancestor"]; raw != nil {
		if ancestors, err = ex.unitSet(raw); err != nil {
			return nil, nil, fmt.Errorf("ancestor: %w", err)
		}
	}
	st := ex.s.store
	pred := func(v *ver[unitData]) bool {
		if byName && !slices.Contains(names, v.d.name) {
			return false
		}
		if byParent && (parentRaw == nil) != (v.d.parent == nil) {
			return false
		}
		if parents != nil && (v.d.parent == nil || !parents[*v.d.parent]) {
			return false
		}
		if ancestors != nil && !ancestors[v.id] && !slices.ContainsFunc(st.ancestors(v.id, ex.now), func(a uuid.UUID) bool { return ancestors[a] }) {
			return false
		}
		return true
	}
	return pred, nil, nil
}

func preparePersons(_ *execution, filter map[string]any) (func(*ver[personData]) bool, []uuid.UUID, error) {
	cprs, byCPR, err := stringList(filter["cpr_numbers"])
	if err != nil {
		return nil, nil, fmt.Errorf("cpr_numbers: %w", err)
	}
	return func(v *ver[personData]) bool { return !byCPR || slices.Contains(cprs, v.d.cpr) }, nil, nil
}

// prepareDetail handles the nested org_unit and employee filters of a detail collection, using
// the owner links for candidates when the nested filter selects few owners.
func prepareDetail[T keyed](kind string, unitOf, personOf func(*ver[T]) *uuid.UUID, extra func(map[string]any) (func(*ver[T]) bool, error)) prepFunc[T] {
	return func(ex *execution, filter map[string]any) (func(*ver[T]) bool, []uuid.UUID, error) {
		var units, persons map[uuid.UUID]bool
		var err error
		if raw := filter["org_unit"]; raw != nil && unitOf != nil {
			if units, err = ex.unitSet(raw); err != nil {
				return nil, nil, fmt.Errorf("org_unit: %w", err)
			}
		}
		if raw := filter["employee"]; raw != nil && personOf != nil {
			if persons, err = ex.personSet(raw); err != nil {
				return nil, nil, fmt.Errorf("employee: %w", err)
			}
		}
		var keep func(*ver[T]) bool
		if extra != nil {
			if keep, err = extra(filter); err != nil {
				return nil, nil, err
			}
		}
		pred := func(v *ver[T]) bool {
			if units != nil {
				if u := unitOf(v); u == nil || !units[*u] {
					return false
				}
			}
			if persons != nil {
				if p := personOf(v); p == nil || !persons[*p] {
					return false
				}
			}
			return keep == nil || keep(v)
		}
		const fewOwners = 256
		var cands []uuid.UUID
		switch {
		case units != nil && len(units) <= fewOwners:
			cands = ex.s.store.linkedTo(kind, units)
		case persons != nil && len(persons) <= fewOwners:
			cands = ex.s.store.linkedTo(kind, persons)
		}
		return pred, cands, nil
	}
}

// linkedTo returns the sorted, distinct UUIDs of objects of kind linked to any of owners.
func (st *store) linkedTo(kind string, owners map[uuid.UUID]bool) []uuid.UUID {
	out := []uuid.UUID{}
	for o := range owners {
		out = append(out, st.linked(kind, o)...)
	}
	slices.SortFunc(out, compareUUID)
	return slices.Compact(out)
}

// unitSet resolves a nested OrganisationUnitFilter to the set of matching unit UUIDs.
func (ex *execution) unitSet(raw any) (map[uuid.UUID]bool, error) {
	filter, err := subFilter("OrganisationUnitFilter", raw, commonFilterKeys("names", "parent", "ancestor")...)
	if err != nil {
		return nil, err
	}
	return matchingSet(ex, filter, ex.s.store.units, prepareUnits)
}

// personSet resolves a nested EmployeeFilter to the set of matching person UUIDs.
func (ex *execution) personSet(raw any) (map[uuid.UUID]bool, error) {
	filter, err := subFilter("EmployeeFilter", raw, commonFilterKeys("cpr_numbers")...)
	if err != nil {
		return nil, err
	}
	return matchingSet(ex, filter, ex.s.store.persons, preparePersons)
}

func matchingSet[T keyed](ex *execution, filter map[string]any, t *table[T], prep prepFunc[T]) (map[uuid.UUID]bool, error) {
	match, cands, err := matcher(ex, filter, prep)
	if err != nil {
		return nil, err
	}
	if cands == nil {
		cands = t.sorted
	}
	out := map[uuid.UUID]bool{}
	for _, id := range cands {
		if h := t.get(id); h != nil && match(h) {
			out[id] = true
		}
	}
	return out, nil
}

// filterArg returns a nested collection's args["filter"] (nil-safe) after checking that only
// supported keys are set and that limit/cursor are not used (the fake does not paginate nested
// lists). Keys that are null are ignored.
func filterArg(where string, args map[string]any, supported ...string) (map[string]any, error) {
	if args["limit"] != nil || args["cursor"] != nil {
		return nil, fmt.Errorf("%s: the fake OS2MO does not implement limit/cursor here yet", where)
	}
	return subFilter(where+" filter", args["filter"], supported...)
}

func subFilter(where string, v any, supported ...string) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected an input object, got %T", where, v)
	}
	for k, val := range m {
		if val != nil && !slices.Contains(supported, k) {
			return nil, fmt.Errorf("%s: the fake OS2MO does not implement the %q filter yet", where, k)
		}
	}
	return m, nil
}

// noArgs refuses filter, limit and cursor on a reference field.
func noArgs(where string, args map[string]any) error {
	if args["filter"] != nil || args["limit"] != nil || args["cursor"] != nil {
		return fmt.Errorf("%s: the fake OS2MO does not implement filter/limit/cursor here yet", where)
	}
	return nil
}

// window resolves a filter's from_date/to_date: absent means now, explicit null means unbounded;
// an absent to_date with a given from_date is unbounded.
func (ex *execution) window(filter map[string]any) (from, to *time.Time, err error) {
	now := ex.now
	fromV, hasFrom := filter["from_date"]
	toV, hasTo := filter["to_date"]
	switch {
	case !hasFrom:
		from = &now
	case fromV != nil:
		t, err := ex.parseTime(fromV)
		if err != nil {
			return nil, nil, fmt.Errorf("from_date: %w", err)
		}
		from = &t
	}
	switch {
	case !hasTo && !hasFrom:
		to = &now
	case hasTo && toV != nil:
		t, err := ex.parseTime(toV)
		if err != nil {
			return nil, nil, fmt.Errorf("to_date: %w", err)
		}
		to = &t
	}
	return from, to, nil
}

func (ex *execution) parseTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("expected a DateTime string, got %T", v)
	}
	return moclient.ParseTime(s, ex.s.loc)
}

func uuidList(v any) ([]uuid.UUID, bool, error) {
	strs, set, err := stringList(v)
	if err != nil || !set {
		return nil, set, err
	}
	out := make([]uuid.UUID, len(strs))
	for i, s := range strs {
		if out[i], err = uuid.Parse(s); err != nil {
			return nil, false, fmt.Errorf("%q is not a UUID: %w", s, err)
		}
	}
	return out, true, nil
}

// stringList reads a [String!] or [UUID!] argument; a single value is coerced to a list as
// GraphQL input coercion does. set is false when the argument is null or absent.
func stringList(v any) (out []string, set bool, err error) {
	switch v := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		return []string{v}, true, nil
	case []any:
		out = make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false, fmt.Errorf("element %d: expected a string, got %T", i, e)
			}
			out[i] = s
		}
		return out, true, nil
	default:
		return nil, false, fmt.Errorf("expected a list of strings, got %T", v)
	}
}

func toInt(v any) (int, error) {
	switch v := v.(type) {
	case int64:
		return int(v), nil
	case int:
		return v, nil
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string:
		return strconv.Atoi(v)
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}
