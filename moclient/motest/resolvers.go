package motest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// Go values the resolvers pass between levels, besides the moclient model types.
type (
	pagedUnits struct {
		objects []unitResponse
		next    *string
	}
	pageInfo     struct{ next *string }
	unitResponse struct{ u *moclient.OrgUnit }
	personRef    struct{ id uuid.UUID }
	versionInfo  struct{}
)

// newResolvers returns the field resolvers per GraphQL type. Add a type or field here to teach
// the fake a new query; anything missing is answered with a GraphQL error naming it.
func newResolvers() map[string]map[string]resolver {
	classFields := map[string]resolver{
		"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Class).UUID, nil },
		"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Class).UserKey, nil },
		"name":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Class).Name, nil },
		"scope": func(_ *execution, p any, _ map[string]any) (any, error) {
			if s := p.(*moclient.Class).Scope; s != "" {
				return s, nil
			}
			return nil, nil
		},
	}
	return map[string]map[string]resolver{
		"Query": {
			"org_units": resolveOrgUnits,
			"version":   func(*execution, any, map[string]any) (any, error) { return versionInfo{}, nil },
		},
		"Version": {
			"mo_version": func(*execution, any, map[string]any) (any, error) { return "fakemo (OS2MO GraphQL v25)", nil },
			"mo_hash":    func(*execution, any, map[string]any) (any, error) { return nil, nil },
		},
		"PageInfo": {
			"next_cursor": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(pageInfo).next, nil },
		},
		"OrganisationUnitResponsePaged": {
			"objects": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(pagedUnits).objects, nil },
			"page_info": func(_ *execution, p any, _ map[string]any) (any, error) {
				return pageInfo{next: p.(pagedUnits).next}, nil
			},
		},
		"OrganisationUnitResponse": {
			"uuid":       func(_ *execution, p any, _ map[string]any) (any, error) { return p.(unitResponse).u.UUID, nil },
			"current":    resolveUnitCurrent,
			"validities": resolveUnitValidities,
			"objects":    resolveUnitValidities,
		},
		"OrganisationUnit": {
			"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.OrgUnit).UUID, nil },
			"name":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.OrgUnit).Name, nil },
			"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.OrgUnit).UserKey, nil },
			"parent": func(ex *execution, p any, args map[string]any) (any, error) {
				if err := noPaging("OrganisationUnit.parent", args); err != nil {
					return nil, err
				}
				return ex.s.store.parentOf(p.(*moclient.OrgUnit)), nil
			},
			"ancestors": func(ex *execution, p any, _ map[string]any) (any, error) {
				var out []*moclient.OrgUnit
				for a := ex.s.store.parentOf(p.(*moclient.OrgUnit)); a != nil; a = ex.s.store.parentOf(a) {
					out = append(out, a)
				}
				return out, nil
			},
			"unit_type":                classRef(func(u *moclient.OrgUnit) *moclient.Class { return u.UnitType }),
			"org_unit_level":           classRef(func(u *moclient.OrgUnit) *moclient.Class { return u.Level }),
			"org_unit_hierarchy_model": classRef(func(u *moclient.OrgUnit) *moclient.Class { return u.Hierarchy }),
			"addresses":                resolveUnitAddresses,
			"managers":                 resolveUnitManagers,
			"kles":                     resolveUnitKLEs,
			"itusers":                  resolveUnitITUsers,
			"validity":                 func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.OrgUnit).Validity, nil },
		},
		"Class":    classFields,
		"ITSystem": {"uuid": classFields["uuid"], "user_key": classFields["user_key"], "name": classFields["name"]},
		"Address": {
			"uuid":         func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).UUID, nil },
			"user_key":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).Value, nil },
			"value":        func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).Value, nil },
			"name":         func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).Name, nil },
			"address_type": func(_ *execution, p any, _ map[string]any) (any, error) { return &p.(*moclient.Address).Type, nil },
			"visibility":   func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).Visibility, nil },
			"validity":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Address).Validity, nil },
		},
		"Manager": {
			"uuid": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Manager).UUID, nil },
			"user_key": func(_ *execution, p any, _ map[string]any) (any, error) {
				return p.(*moclient.Manager).UUID.String(), nil
			},
			"person": func(_ *execution, p any, _ map[string]any) (any, error) {
				if m := p.(*moclient.Manager); m.Person != nil {
					return []personRef{{id: *m.Person}}, nil
				}
				return nil, nil // vacant: null, as in OS2MO ≥ v24
			},
			"validity": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.Manager).Validity, nil },
		},
		"Employee": {
			"uuid": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(personRef).id, nil },
		},
		"KLE": {
			"uuid":        func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.KLE).UUID, nil },
			"user_key":    func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.KLE).UUID.String(), nil },
			"kle_number":  func(_ *execution, p any, _ map[string]any) (any, error) { return ptrs(p.(*moclient.KLE).Numbers), nil },
			"kle_aspects": func(_ *execution, p any, _ map[string]any) (any, error) { return ptrs(p.(*moclient.KLE).Aspects), nil },
			"validity":    func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.KLE).Validity, nil },
		},
		"ITUser": {
			"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.ITUser).UUID, nil },
			"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.ITUser).UserKey, nil },
			"external_id": func(_ *execution, p any, _ map[string]any) (any, error) {
				if id := p.(*moclient.ITUser).ExternalID; id != "" {
					return id, nil
				}
				return nil, nil
			},
			"itsystem": func(_ *execution, p any, _ map[string]any) (any, error) { return &p.(*moclient.ITUser).ITSystem, nil },
			"validity": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*moclient.ITUser).Validity, nil },
		},
		"Validity": {
			"from": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(moclient.Validity).From, nil },
			"to": func(_ *execution, p any, _ map[string]any) (any, error) {
				if v := p.(moclient.Validity); !v.To.IsZero() {
					return v.To, nil
				}
				return nil, nil
			},
		},
	}
}

func classRef(get func(*moclient.OrgUnit) *moclient.Class) resolver {
	return func(_ *execution, p any, args map[string]any) (any, error) {
		if err := noPaging("class reference", args); err != nil {
			return nil, err
		}
		return get(p.(*moclient.OrgUnit)), nil
	}
}

func ptrs[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// resolveOrgUnits answers Query.org_units with the filters uuids, user_keys, from_date and
// to_date, ordered by UUID and paginated with an opaque offset cursor.
func resolveOrgUnits(ex *execution, _ any, args map[string]any) (any, error) {
	filter, err := filterArg("org_units", args, "uuids", "user_keys", "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	uuids, byUUID, err := uuidList(filter["uuids"])
	if err != nil {
		return nil, fmt.Errorf("org_units filter uuids: %w", err)
	}
	keys, byKey, err := stringList(filter["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("org_units filter user_keys: %w", err)
	}
	from, to, err := ex.window(filter)
	if err != nil {
		return nil, fmt.Errorf("org_units filter: %w", err)
	}
	var units []*moclient.OrgUnit
	for _, u := range ex.s.store.units {
		if (byUUID && !slices.Contains(uuids, u.UUID)) || (byKey && !slices.Contains(keys, u.UserKey)) || !overlaps(u.Validity, from, to) {
			continue
		}
		units = append(units, u)
	}
	slices.SortFunc(units, func(a, b *moclient.OrgUnit) int { return slices.Compare(a.UUID[:], b.UUID[:]) })
	start, end, next, err := page(args, len(units))
	if err != nil {
		return nil, fmt.Errorf("org_units: %w", err)
	}
	out := pagedUnits{next: next}
	for _, u := range units[start:end] {
		out.objects = append(out.objects, unitResponse{u: u})
	}
	return out, nil
}

func resolveUnitCurrent(ex *execution, p any, args map[string]any) (any, error) {
	at := ex.now
	if v, ok := args["at"]; ok && v != nil {
		t, err := ex.parseTime(v)
		if err != nil {
			return nil, fmt.Errorf("current(at): %w", err)
		}
		at = t
	}
	u := p.(unitResponse).u
	if !validAt(u.Validity, at) {
		return nil, nil
	}
	return u, nil
}

func resolveUnitValidities(ex *execution, p any, args map[string]any) (any, error) {
	var bounds [2]*time.Time
	for i, name := range []string{"start", "end"} {
		if v, ok := args[name]; ok && v != nil {
			t, err := ex.parseTime(v)
			if err != nil {
				return nil, fmt.Errorf("validities(%s): %w", name, err)
			}
			bounds[i] = &t
		}
	}
	u := p.(unitResponse).u
	if !overlaps(u.Validity, bounds[0], bounds[1]) {
		return []*moclient.OrgUnit{}, nil
	}
	return []*moclient.OrgUnit{u}, nil
}

func resolveUnitAddresses(ex *execution, p any, args map[string]any) (any, error) {
	filter, err := filterArg("OrganisationUnit.addresses", args, "address_type")
	if err != nil {
		return nil, err
	}
	typeFilter, err := subFilter("OrganisationUnit.addresses filter address_type", filter["address_type"], "uuids", "user_keys")
	if err != nil {
		return nil, err
	}
	typeUUIDs, byUUID, err := uuidList(typeFilter["uuids"])
	if err != nil {
		return nil, fmt.Errorf("address_type uuids: %w", err)
	}
	typeKeys, byKey, err := stringList(typeFilter["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("address_type user_keys: %w", err)
	}
	var out []*moclient.Address
	for _, a := range ptrs(p.(*moclient.OrgUnit).Addresses) {
		if validAt(a.Validity, ex.now) && (!byUUID || slices.Contains(typeUUIDs, a.Type.UUID)) && (!byKey || slices.Contains(typeKeys, a.Type.UserKey)) {
			out = append(out, a)
		}
	}
	return out, nil
}

// resolveUnitManagers answers OrganisationUnit.managers; with inherit: true a unit without
// managers of its own gets its nearest ancestor's.
func resolveUnitManagers(ex *execution, p any, args map[string]any) (any, error) {
	if _, err := filterArg("OrganisationUnit.managers", args); err != nil {
		return nil, err
	}
	inherit, _ := args["inherit"].(bool)
	for u := p.(*moclient.OrgUnit); u != nil; u = ex.s.store.parentOf(u) {
		var out []*moclient.Manager
		for _, m := range ptrs(u.Managers) {
			if validAt(m.Validity, ex.now) {
				out = append(out, m)
			}
		}
		if len(out) > 0 || !inherit {
			return out, nil
		}
	}
	return []*moclient.Manager{}, nil
}

func resolveUnitKLEs(ex *execution, p any, args map[string]any) (any, error) {
	if _, err := filterArg("OrganisationUnit.kles", args); err != nil {
		return nil, err
	}
	var out []*moclient.KLE
	for _, k := range ptrs(p.(*moclient.OrgUnit).KLE) {
		if validAt(k.Validity, ex.now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// resolveUnitITUsers answers OrganisationUnit.itusers with the filters user_keys and
// itsystem.user_keys (the two forms os2sync-export uses).
func resolveUnitITUsers(ex *execution, p any, args map[string]any) (any, error) {
	filter, err := filterArg("OrganisationUnit.itusers", args, "user_keys", "itsystem")
	if err != nil {
		return nil, err
	}
	keys, byKey, err := stringList(filter["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("itusers filter user_keys: %w", err)
	}
	sys, err := subFilter("OrganisationUnit.itusers filter itsystem", filter["itsystem"], "user_keys")
	if err != nil {
		return nil, err
	}
	sysKeys, bySys, err := stringList(sys["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("itusers filter itsystem user_keys: %w", err)
	}
	var out []*moclient.ITUser
	for _, it := range ptrs(p.(*moclient.OrgUnit).ITUsers) {
		if validAt(it.Validity, ex.now) && (!byKey || slices.Contains(keys, it.UserKey)) && (!bySys || slices.Contains(sysKeys, it.ITSystem.UserKey)) {
			out = append(out, it)
		}
	}
	return out, nil
}

// filterArg returns args["filter"] (nil-safe) after checking that only supported keys are set
// and that limit/cursor are not used where the fake does not paginate. Keys that the schema
// defaults to null are ignored when null.
func filterArg(where string, args map[string]any, supported ...string) (map[string]any, error) {
	if where != "org_units" {
		if err := noPaging(where, args); err != nil {
			return nil, err
		}
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

func noPaging(where string, args map[string]any) error {
	if args["limit"] != nil || args["cursor"] != nil {
		return fmt.Errorf("%s: the fake OS2MO does not implement limit/cursor here yet", where)
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

// page applies limit and cursor (an opaque base64 offset) to n ordered items.
func page(args map[string]any, n int) (start, end int, next *string, err error) {
	if c, ok := args["cursor"].(string); ok {
		b, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("invalid cursor %q", c)
		}
		if start, err = strconv.Atoi(string(b)); err != nil || start < 0 {
			return 0, 0, nil, fmt.Errorf("invalid cursor %q", c)
		}
	} else if args["cursor"] != nil {
		return 0, 0, nil, fmt.Errorf("invalid cursor %v", args["cursor"])
	}
	start = min(start, n)
	end = n
	if l := args["limit"]; l != nil {
		limit, err := toInt(l)
		if err != nil || limit < 0 {
			return 0, 0, nil, fmt.Errorf("invalid limit %v", l)
		}
		if start+limit < n {
			end = start + limit
			c := base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
			next = &c
		}
	}
	return start, end, next, nil
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
