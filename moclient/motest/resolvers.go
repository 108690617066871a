package motest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// Go values the resolvers pass between levels: *ver[T] for an object in one validity, resp[T]
// for an *Response object (a UUID and its history, nil if unknown), paged for *ResponsePaged.
type (
	resp[T keyed] struct {
		id uuid.UUID
		h  *hist[T]
	}
	paged struct {
		objects any // a slice
		next    *string
	}
	pageInfo    struct{ next *string }
	versionInfo struct{}
	// openValidity is a person's validity (GraphQL OpenValidity: "from" may be null).
	openValidity model.Validity
)

// newResolvers returns the field resolvers per GraphQL type. Add a type or field here to teach
// the fake a new query; anything missing is answered with a GraphQL error naming it.
func newResolvers() map[string]map[string]resolver {
	classFields := map[string]resolver{
		"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*model.Class).UUID, nil },
		"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*model.Class).UserKey, nil },
		"name":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*model.Class).Name, nil },
		"scope": func(_ *execution, p any, _ map[string]any) (any, error) {
			return nullIfEmpty(p.(*model.Class).Scope), nil
		},
	}
	r := map[string]map[string]resolver{
		"Query": {
			"org_units":    resolveOrgUnits,
			"persons":      resolvePersons,
			"employees":    resolvePersons,
			"engagements":  resolveEngagements,
			"addresses":    resolveAddresses,
			"itusers":      resolveITUsers,
			"managers":     resolveManagers,
			"kles":         resolveKLEs,
			"associations": resolveAssociations,
			"leaves":       resolveLeaves,
			"version":      func(*execution, any, map[string]any) (any, error) { return versionInfo{}, nil },
		},
		"Version": {
			"mo_version": func(*execution, any, map[string]any) (any, error) { return "fakemo (OS2MO GraphQL v25)", nil },
			"mo_hash":    func(*execution, any, map[string]any) (any, error) { return nil, nil },
		},
		"PageInfo": {
			"next_cursor": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(pageInfo).next, nil },
		},
		"OrganisationUnit": {
			"uuid":     unitField(func(v *ver[unitData]) any { return v.id }),
			"name":     unitField(func(v *ver[unitData]) any { return v.d.name }),
			"user_key": unitField(func(v *ver[unitData]) any { return v.d.userKey }),
			"validity": unitField(func(v *ver[unitData]) any { return v.val }),
			"parent": func(ex *execution, p any, args map[string]any) (any, error) {
				if err := noArgs("OrganisationUnit.parent", args); err != nil {
					return nil, err
				}
				if pid := p.(*ver[unitData]).d.parent; pid != nil {
					return ex.s.store.units.get(*pid).at(ex.now), nil
				}
				return nil, nil
			},
			"parent_response": func(ex *execution, p any, _ map[string]any) (any, error) {
				if pid := p.(*ver[unitData]).d.parent; pid != nil {
					return ex.unitResp(*pid), nil
				}
				return nil, nil
			},
			"ancestors": func(ex *execution, p any, _ map[string]any) (any, error) {
				var out []*ver[unitData]
				for _, a := range ex.s.store.ancestors(p.(*ver[unitData]).id, ex.now) {
					if v := ex.s.store.units.get(a).at(ex.now); v != nil {
						out = append(out, v)
					}
				}
				return out, nil
			},
			"unit_type":                unitClass(func(d unitData) *model.Class { return d.unitType }),
			"org_unit_level":           unitClass(func(d unitData) *model.Class { return d.level }),
			"org_unit_hierarchy_model": unitClass(func(d unitData) *model.Class { return d.hierarchy }),
			"addresses":                resolveUnitAddresses,
			"managers":                 resolveUnitManagers,
			"kles":                     resolveUnitKLEs,
			"itusers":                  resolveUnitITUsers,
		},
		"Employee": {
			"uuid":                func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[personData]).id, nil },
			"user_key":            personField(func(d personData) any { return d.userKey }),
			"name":                personField(func(d personData) any { return d.fullName() }),
			"given_name":          personField(func(d personData) any { return d.givenName }),
			"surname":             personField(func(d personData) any { return d.surname }),
			"nickname":            personField(func(d personData) any { return d.nickname() }),
			"nickname_given_name": personField(func(d personData) any { return nullIfEmpty(d.nickGiven) }),
			"nickname_surname":    personField(func(d personData) any { return nullIfEmpty(d.nickSurname) }),
			"cpr_number":          personField(func(d personData) any { return nullIfEmpty(d.cpr) }),
			"validity": func(_ *execution, p any, _ map[string]any) (any, error) {
				return openValidity(p.(*ver[personData]).val), nil
			},
			"itusers":              resolvePersonITUsers,
			"addresses":            resolvePersonAddresses,
			"engagements":          resolvePersonEngagements,
			"engagements_response": resolvePersonEngagementsResponse,
			"manager_roles":        resolvePersonManagerRoles,
		},
		"Engagement": {
			"uuid":            engField(func(v *ver[engData]) any { return v.id }),
			"user_key":        engField(func(v *ver[engData]) any { return v.d.userKey }),
			"is_primary":      engField(func(v *ver[engData]) any { return v.d.primary }),
			"fraction":        engField(func(v *ver[engData]) any { return derefOrNil(v.d.fraction) }),
			"validity":        engField(func(v *ver[engData]) any { return v.val }),
			"job_function":    boundClass(func(p any) *model.Class { return &p.(*ver[engData]).d.jobFunction }),
			"engagement_type": boundClass(func(p any) *model.Class { return &p.(*ver[engData]).d.engType }),
			"org_unit": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.unitList("Engagement.org_unit", args, &p.(*ver[engData]).d.orgUnit)
			},
			"org_unit_response": func(ex *execution, p any, _ map[string]any) (any, error) {
				return ex.unitResp(p.(*ver[engData]).d.orgUnit), nil
			},
			"person": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.personList("Engagement.person", args, &p.(*ver[engData]).d.person)
			},
			"person_response": func(ex *execution, p any, _ map[string]any) (any, error) {
				return ex.personResp(p.(*ver[engData]).d.person), nil
			},
		},
		"Address": {
			"uuid":         addrField(func(v *ver[addrData]) any { return v.id }),
			"user_key":     addrField(func(v *ver[addrData]) any { return v.d.userKey }),
			"value":        addrField(func(v *ver[addrData]) any { return v.d.value }),
			"name":         addrField(func(v *ver[addrData]) any { return v.d.name }),
			"validity":     addrField(func(v *ver[addrData]) any { return v.val }),
			"address_type": boundClass(func(p any) *model.Class { return &p.(*ver[addrData]).d.typ }),
			"visibility":   boundClass(func(p any) *model.Class { return p.(*ver[addrData]).d.visibility }),
			"person": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.personList("Address.person", args, p.(*ver[addrData]).d.person)
			},
			"org_unit": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.unitList("Address.org_unit", args, p.(*ver[addrData]).d.orgUnit)
			},
			"person_response":     refResp(func(ex *execution, p any) any { return ex.personRespPtr(p.(*ver[addrData]).d.person) }),
			"org_unit_response":   refResp(func(ex *execution, p any) any { return ex.unitRespPtr(p.(*ver[addrData]).d.orgUnit) }),
			"engagement_response": refResp(func(ex *execution, p any) any { return ex.engRespPtr(p.(*ver[addrData]).d.engagement) }),
			"ituser_response":     refResp(func(ex *execution, p any) any { return ex.itRespPtr(p.(*ver[addrData]).d.itUser) }),
		},
		"ITUser": {
			"uuid":     itField(func(v *ver[itData]) any { return v.id }),
			"user_key": itField(func(v *ver[itData]) any { return v.d.userKey }),
			"external_id": itField(func(v *ver[itData]) any {
				return nullIfEmpty(v.d.externalID)
			}),
			"validity": itField(func(v *ver[itData]) any { return v.val }),
			"itsystem": boundClass(func(p any) *model.Class { return &p.(*ver[itData]).d.system }),
			"person": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.personList("ITUser.person", args, p.(*ver[itData]).d.person)
			},
			"org_unit": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.unitList("ITUser.org_unit", args, p.(*ver[itData]).d.orgUnit)
			},
			"person_response":   refResp(func(ex *execution, p any) any { return ex.personRespPtr(p.(*ver[itData]).d.person) }),
			"org_unit_response": refResp(func(ex *execution, p any) any { return ex.unitRespPtr(p.(*ver[itData]).d.orgUnit) }),
			// OS2MO answers the singular reference with the first linked engagement only.
			"engagement_response": refResp(func(ex *execution, p any) any {
				if es := p.(*ver[itData]).d.engagements; len(es) > 0 {
					return ex.engRespPtr(&es[0])
				}
				return nil
			}),
			"engagements_responses": resolveITUserEngagements,
		},
		"Manager": {
			"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[mgrData]).id, nil },
			"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[mgrData]).d.userKey, nil },
			"validity": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[mgrData]).val, nil },
			"person": func(ex *execution, p any, args map[string]any) (any, error) {
				pid := p.(*ver[mgrData]).d.person
				if pid == nil {
					return nil, nil // vacant: null, as in OS2MO ≥ v24
				}
				return ex.personList("Manager.person", args, pid)
			},
			"org_unit": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.unitList("Manager.org_unit", args, &p.(*ver[mgrData]).d.orgUnit)
			},
			"person_response":   refResp(func(ex *execution, p any) any { return ex.personRespPtr(p.(*ver[mgrData]).d.person) }),
			"org_unit_response": refResp(func(ex *execution, p any) any { return ex.unitResp(p.(*ver[mgrData]).d.orgUnit) }),
		},
		"KLE": {
			"uuid":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[kleData]).id, nil },
			"user_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[kleData]).d.userKey, nil },
			"validity": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[kleData]).val, nil },
			"kle_number": func(_ *execution, p any, args map[string]any) (any, error) {
				if err := noArgs("KLE.kle_number", args); err != nil {
					return nil, err
				}
				return ptrs(p.(*ver[kleData]).d.numbers), nil
			},
			"kle_aspects": func(_ *execution, p any, args map[string]any) (any, error) {
				if err := noArgs("KLE.kle_aspects", args); err != nil {
					return nil, err
				}
				return ptrs(p.(*ver[kleData]).d.aspects), nil
			},
			"org_unit": func(ex *execution, p any, args map[string]any) (any, error) {
				return ex.unitList("KLE.org_unit", args, &p.(*ver[kleData]).d.orgUnit)
			},
			"org_unit_response": refResp(func(ex *execution, p any) any { return ex.unitResp(p.(*ver[kleData]).d.orgUnit) }),
		},
		"Association": {
			"uuid":              func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[assocData]).id, nil },
			"user_key":          func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[assocData]).d.userKey, nil },
			"validity":          func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[assocData]).val, nil },
			"association_type":  boundClass(func(p any) *model.Class { return &p.(*ver[assocData]).d.typ }),
			"person_response":   refResp(func(ex *execution, p any) any { return ex.personResp(p.(*ver[assocData]).d.person) }),
			"org_unit_response": refResp(func(ex *execution, p any) any { return ex.unitResp(p.(*ver[assocData]).d.orgUnit) }),
		},
		"Leave": {
			"uuid":                func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[leaveData]).id, nil },
			"user_key":            func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[leaveData]).d.userKey, nil },
			"validity":            func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*ver[leaveData]).val, nil },
			"leave_type":          boundClass(func(p any) *model.Class { return &p.(*ver[leaveData]).d.typ }),
			"person_response":     refResp(func(ex *execution, p any) any { return ex.personResp(p.(*ver[leaveData]).d.person) }),
			"engagement_response": refResp(func(ex *execution, p any) any { return ex.engRespPtr(p.(*ver[leaveData]).d.engagement) }),
		},
		"Class":    classFields,
		"ITSystem": {"uuid": classFields["uuid"], "user_key": classFields["user_key"], "name": classFields["name"]},
		"Validity": {
			"from": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(model.Validity).From, nil },
			"to": func(ex *execution, p any, _ map[string]any) (any, error) {
				return timeOrNil(v25To(p.(model.Validity).To, ex.s.loc)), nil
			},
		},
		"OpenValidity": {
			"from": func(_ *execution, p any, _ map[string]any) (any, error) { return timeOrNil(p.(openValidity).From), nil },
			"to": func(ex *execution, p any, _ map[string]any) (any, error) {
				return timeOrNil(v25To(p.(openValidity).To, ex.s.loc)), nil
			},
		},
	}
	for n := 1; n <= 10; n++ {
		r["Engagement"]["extension_"+strconv.Itoa(n)] = engField(func(v *ver[engData]) any { return nullIfEmpty(v.d.ext[n-1]) })
	}
	addResponseTypes[unitData](r, "OrganisationUnit")
	addResponseTypes[personData](r, "Employee")
	addResponseTypes[engData](r, "Engagement")
	addResponseTypes[addrData](r, "Address")
	addResponseTypes[itData](r, "ITUser")
	addResponseTypes[mgrData](r, "Manager")
	addResponseTypes[kleData](r, "KLE")
	addResponseTypes[assocData](r, "Association")
	addResponseTypes[leaveData](r, "Leave")
	addEventResolvers(r)
	return r
}

// addResponseTypes registers <name>Response (uuid, current, validities, objects) and
// <name>ResponsePaged (objects, page_info).
func addResponseTypes[T keyed](r map[string]map[string]resolver, name string) {
	validities := func(ex *execution, p any, args map[string]any) (any, error) {
		var bounds [2]*time.Time
		for i, k := range []string{"start", "end"} {
			if v, ok := args[k]; ok && v != nil {
				t, err := ex.parseTime(v)
				if err != nil {
					return nil, fmt.Errorf("validities(%s): %w", k, err)
				}
				bounds[i] = &t
			}
		}
		return p.(resp[T]).h.within(bounds[0], bounds[1]), nil
	}
	r[name+"Response"] = map[string]resolver{
		"uuid": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(resp[T]).id, nil },
		"current": func(ex *execution, p any, args map[string]any) (any, error) {
			at := ex.now
			if v, ok := args["at"]; ok && v != nil {
				t, err := ex.parseTime(v)
				if err != nil {
					return nil, fmt.Errorf("current(at): %w", err)
				}
				at = t
			}
			return p.(resp[T]).h.at(at), nil
		},
		"validities": validities,
		"objects":    validities,
	}
	r[name+"ResponsePaged"] = map[string]resolver{
		"objects":   func(_ *execution, p any, _ map[string]any) (any, error) { return p.(paged).objects, nil },
		"page_info": func(_ *execution, p any, _ map[string]any) (any, error) { return pageInfo{next: p.(paged).next}, nil },
	}
}

func unitField(get func(*ver[unitData]) any) resolver {
	return func(_ *execution, p any, _ map[string]any) (any, error) { return get(p.(*ver[unitData])), nil }
}

func personField(get func(personData) any) resolver {
	return func(_ *execution, p any, _ map[string]any) (any, error) { return get(p.(*ver[personData]).d), nil }
}

func engField(get func(*ver[engData]) any) resolver {
	return func(_ *execution, p any, _ map[string]any) (any, error) { return get(p.(*ver[engData])), nil }
}

func addrField(get func(*ver[addrData]) any) resolver {
	return func(_ *execution, p any, _ map[string]any) (any, error) { return get(p.(*ver[addrData])), nil }
}

func itField(get func(*ver[itData]) any) resolver {
	return func(_ *execution, p any, _ map[string]any) (any, error) { return get(p.(*ver[itData])), nil }
}

func unitClass(get func(unitData) *model.Class) resolver {
	return boundClass(func(p any) *model.Class { return get(p.(*ver[unitData]).d) })
}

// boundClass resolves a class-valued field that takes the (unsupported) filter/limit/cursor args.
func boundClass(get func(any) *model.Class) resolver {
	return func(_ *execution, p any, args map[string]any) (any, error) {
		if err := noArgs("class reference", args); err != nil {
			return nil, err
		}
		return get(p), nil
	}
}

// refResp resolves a *_response reference; get returns a resp value or nil.
func refResp(get func(*execution, any) any) resolver {
	return func(ex *execution, p any, _ map[string]any) (any, error) { return get(ex, p), nil }
}

func (ex *execution) unitResp(id uuid.UUID) any {
	return resp[unitData]{id: id, h: ex.s.store.units.get(id)}
}

func (ex *execution) personResp(id uuid.UUID) any {
	return resp[personData]{id: id, h: ex.s.store.persons.get(id)}
}

func (ex *execution) unitRespPtr(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return ex.unitResp(*id)
}

func (ex *execution) personRespPtr(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return ex.personResp(*id)
}

func (ex *execution) engRespPtr(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return resp[engData]{id: *id, h: ex.s.store.engagements.get(*id)}
}

func (ex *execution) itRespPtr(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return resp[itData]{id: *id, h: ex.s.store.itusers.get(*id)}
}

// unitList resolves a deprecated [OrganisationUnit] reference: the unit in its state now, or an
// empty list when it is not in effect now; null when there is no reference.
func (ex *execution) unitList(where string, args map[string]any, id *uuid.UUID) (any, error) {
	if err := noArgs(where, args); err != nil {
		return nil, err
	}
	if id == nil {
		return nil, nil
	}
	out := []*ver[unitData]{}
	if v := ex.s.store.units.get(*id).at(ex.now); v != nil {
		out = append(out, v)
	}
	return out, nil
}

// personList is unitList for [Employee] references.
func (ex *execution) personList(where string, args map[string]any, id *uuid.UUID) (any, error) {
	if err := noArgs(where, args); err != nil {
		return nil, err
	}
	if id == nil {
		return nil, nil
	}
	out := []*ver[personData]{}
	if v := ex.s.store.persons.get(*id).at(ex.now); v != nil {
		out = append(out, v)
	}
	return out, nil
}

// detailsOf returns the validities, within the filter's window (default now), of the objects in
// t linked to owner that belong to it in that validity and pass keep.
func detailsOf[T keyed](ex *execution, t *table[T], ids []uuid.UUID, filter map[string]any, owns, keep func(*ver[T]) bool) ([]*ver[T], error) {
	from, to, err := ex.window(filter)
	if err != nil {
		return nil, err
	}
	var out []*ver[T]
	for _, id := range ids {
		for _, v := range t.get(id).within(from, to) {
			if owns(v) && (keep == nil || keep(v)) {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

func isID(p *uuid.UUID, id uuid.UUID) bool { return p != nil && *p == id }

func resolveUnitAddresses(ex *execution, p any, args map[string]any) (any, error) {
	u := p.(*ver[unitData])
	filter, err := filterArg("OrganisationUnit.addresses", args, "address_type", "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	keep, err := classFilter("address_type", filter["address_type"], func(v *ver[addrData]) *model.Class { return &v.d.typ })
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.addresses, ex.s.store.linked(ObjectAddress, u.id), filter,
		func(v *ver[addrData]) bool { return isID(v.d.orgUnit, u.id) }, keep)
}

// resolveUnitManagers answers OrganisationUnit.managers; with inherit: true a unit without
// managers of its own gets its nearest ancestor's.
func resolveUnitManagers(ex *execution, p any, args map[string]any) (any, error) {
	filter, err := filterArg("OrganisationUnit.managers", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	inherit, _ := args["inherit"].(bool)
	st := ex.s.store
	id := p.(*ver[unitData]).id
	for hops := 0; hops <= len(st.units.m); hops++ {
		out, err := detailsOf(ex, st.managers, st.linked(ObjectManager, id), filter,
			func(v *ver[mgrData]) bool { return v.d.orgUnit == id }, nil)
		if err != nil || len(out) > 0 || !inherit {
			return out, err
		}
		parent := st.parentOf(id, ex.now)
		if parent == nil {
			break
		}
		id = *parent
	}
	return []*ver[mgrData]{}, nil
}

func resolveUnitKLEs(ex *execution, p any, args map[string]any) (any, error) {
	u := p.(*ver[unitData])
	filter, err := filterArg("OrganisationUnit.kles", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.kles, ex.s.store.linked(ObjectKLE, u.id), filter,
		func(v *ver[kleData]) bool { return v.d.orgUnit == u.id }, nil)
}

// resolveUnitITUsers answers OrganisationUnit.itusers with the filters user_keys and
// itsystem.user_keys (the two forms os2sync-export uses).
func resolveUnitITUsers(ex *execution, p any, args map[string]any) (any, error) {
	u := p.(*ver[unitData])
	filter, err := filterArg("OrganisationUnit.itusers", args, "user_keys", "itsystem", "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	keep, err := itUserFilter(filter)
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.itusers, ex.s.store.linked(ObjectITUser, u.id), filter,
		func(v *ver[itData]) bool { return isID(v.d.orgUnit, u.id) }, keep)
}

func resolvePersonITUsers(ex *execution, p any, args map[string]any) (any, error) {
	id := p.(*ver[personData]).id
	filter, err := filterArg("Employee.itusers", args, "user_keys", "itsystem", "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	keep, err := itUserFilter(filter)
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.itusers, ex.s.store.linked(ObjectITUser, id), filter,
		func(v *ver[itData]) bool { return isID(v.d.person, id) }, keep)
}

func resolvePersonAddresses(ex *execution, p any, args map[string]any) (any, error) {
	id := p.(*ver[personData]).id
	filter, err := filterArg("Employee.addresses", args, "address_type", "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	keep, err := classFilter("address_type", filter["address_type"], func(v *ver[addrData]) *model.Class { return &v.d.typ })
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.addresses, ex.s.store.linked(ObjectAddress, id), filter,
		func(v *ver[addrData]) bool { return isID(v.d.person, id) }, keep)
}

func resolvePersonEngagements(ex *execution, p any, args map[string]any) (any, error) {
	id := p.(*ver[personData]).id
	filter, err := filterArg("Employee.engagements", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.engagements, ex.s.store.linked(ObjectEngagement, id), filter,
		func(v *ver[engData]) bool { return v.d.person == id }, nil)
}

// resolvePersonManagerRoles answers Employee.manager_roles: the person's own manager roles in
// the filter's window (default now); inherit is not meaningful for a person and refused.
func resolvePersonManagerRoles(ex *execution, p any, args map[string]any) (any, error) {
	id := p.(*ver[personData]).id
	if inherit, _ := args["inherit"].(bool); inherit {
		return nil, errors.New("the fake OS2MO does not implement inherit on Employee.manager_roles")
	}
	filter, err := filterArg("Employee.manager_roles", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	return detailsOf(ex, ex.s.store.managers, ex.s.store.linked(ObjectManager, id), filter,
		func(v *ver[mgrData]) bool { return isID(v.d.person, id) }, nil)
}

// resolvePersonEngagementsResponse answers Employee.engagements_response: one response per
// engagement that has a validity in the filter's window.
func resolvePersonEngagementsResponse(ex *execution, p any, args map[string]any) (any, error) {
	id := p.(*ver[personData]).id
	filter, err := filterArg("Employee.engagements_response", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	vs, err := detailsOf(ex, ex.s.store.engagements, ex.s.store.linked(ObjectEngagement, id), filter,
		func(v *ver[engData]) bool { return v.d.person == id }, nil)
	if err != nil {
		return nil, err
	}
	var objs []resp[engData]
	for _, v := range vs {
		if len(objs) == 0 || objs[len(objs)-1].id != v.id {
			objs = append(objs, resp[engData]{id: v.id, h: ex.s.store.engagements.get(v.id)})
		}
	}
	return paged{objects: objs}, nil
}

// resolveITUserEngagements answers ITUser.engagements_responses: one response per linked
// engagement with a validity in the filter's window (default now, as for every OS2MO filter
// without dates), ordered by UUID.
func resolveITUserEngagements(ex *execution, p any, args map[string]any) (any, error) {
	filter, err := filterArg("ITUser.engagements_responses", args, "from_date", "to_date")
	if err != nil {
		return nil, err
	}
	from, to, err := ex.window(filter)
	if err != nil {
		return nil, fmt.Errorf("ITUser.engagements_responses filter: %w", err)
	}
	objs := []resp[engData]{}
	for _, id := range ex.s.store.linkedEngagements(p.(*ver[itData]).d, from, to) {
		objs = append(objs, resp[engData]{id: id, h: ex.s.store.engagements.get(id)})
	}
	return paged{objects: objs}, nil
}

// itUserFilter builds the user_keys / itsystem{uuids,user_keys} / external_ids predicate.
func itUserFilter(filter map[string]any) (func(*ver[itData]) bool, error) {
	keys, byKey, err := stringList(filter["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("itusers filter user_keys: %w", err)
	}
	ext, byExt, err := stringList(filter["external_ids"])
	if err != nil {
		return nil, fmt.Errorf("itusers filter external_ids: %w", err)
	}
	sys, err := classFilter("itsystem", filter["itsystem"], func(v *ver[itData]) *model.Class { return &v.d.system })
	if err != nil {
		return nil, err
	}
	return func(v *ver[itData]) bool {
		return (!byKey || slices.Contains(keys, v.d.userKey)) && (!byExt || slices.Contains(ext, v.d.externalID)) && (sys == nil || sys(v))
	}, nil
}

// classFilter builds a predicate from a ClassFilter/ITSystemFilter input (uuids, user_keys,
// scope); nil when the filter is absent.
func classFilter[T any](where string, raw any, get func(*ver[T]) *model.Class) (func(*ver[T]) bool, error) {
	f, err := subFilter(where+" filter", raw, "uuids", "user_keys", "scope")
	if err != nil || raw == nil {
		return nil, err
	}
	ids, byID, err := uuidList(f["uuids"])
	if err != nil {
		return nil, fmt.Errorf("%s uuids: %w", where, err)
	}
	keys, byKey, err := stringList(f["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("%s user_keys: %w", where, err)
	}
	scopes, byScope, err := stringList(f["scope"])
	if err != nil {
		return nil, fmt.Errorf("%s scope: %w", where, err)
	}
	return func(v *ver[T]) bool {
		c := get(v)
		if c == nil {
			return false
		}
		return (!byID || slices.Contains(ids, c.UUID)) && (!byKey || slices.Contains(keys, c.UserKey)) && (!byScope || slices.Contains(scopes, c.Scope))
	}, nil
}

func ptrs[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func derefOrNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// v25To renders an exclusive end as OS2MO's GraphQL v25 does: the start of the last valid day
// (off by one; fixed in v29), in loc (Copenhagen). A zero end (open) stays zero.
func v25To(end time.Time, loc *time.Location) time.Time {
	if end.IsZero() {
		return end
	}
	last := end.In(loc).Add(-time.Nanosecond)
	return time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, loc)
}
