package moclient

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// ownerLookup returns the owner query of an object type and the response field holding its
// objects.
func ownerLookup(objectType string) (operation, field string, ok bool) {
	switch objectType {
	case ObjectAddress:
		return "AddressOwners", "addresses", true
	case ObjectEngagement:
		return "EngagementOwners", "engagements", true
	case ObjectITUser:
		return "ITUserOwners", "itusers", true
	case ObjectManager:
		return "ManagerOwners", "managers", true
	case ObjectKLE:
		return "KLEOwners", "kles", true
	case ObjectAssociation:
		return "AssociationOwners", "associations", true
	case ObjectLeave:
		return "LeaveOwners", "leaves", true
	}
	return "", "", false
}

// OwnerObjectTypes returns the object types [Client.Owners] resolves, sorted.
func OwnerObjectTypes() []string {
	out := []string{ObjectOrgUnit, ObjectPerson, ObjectAddress, ObjectEngagement, ObjectITUser, ObjectManager, ObjectKLE,
		ObjectAssociation, ObjectLeave}
	slices.Sort(out)
	return out
}

// Owners returns the persons and units that the OS2MO object id of type objectType (a
// new-style routing key) belongs to, over all its validities, so an event for a terminated object
// still reaches its owner. Per type:
//
//	address          the person and/or unit it is attached to
//	ituser           the person and/or unit it is attached to, and the units the person manages
//	                 now (a manager's IT users decide the user the unit's manager function names)
//	engagement       the person (the unit's own STS object does not depend on its engagements)
//	manager          the unit and the manager (whose user the role keeps exported)
//	kle              the unit
//	association      the person and the unit
//	leave            the person
//	person, org_unit the object itself, without asking OS2MO
//
// The UUIDs are distinct, in first-seen order. The error matches [ErrNotFound] when OS2MO does not
// know id (deleted bitemporally or never existed) and [ErrUnsupportedObjectType] for other types.
func (c *Client) Owners(ctx context.Context, objectType string, id uuid.UUID) (Owners, error) {
	switch objectType {
	case ObjectPerson:
		return Owners{Persons: []uuid.UUID{id}}, nil
	case ObjectOrgUnit:
		return Owners{OrgUnits: []uuid.UUID{id}}, nil
	}
	operation, field, ok := ownerLookup(objectType)
	if !ok {
		return Owners{}, fmt.Errorf("owners of %s %s: %w", objectType, id, ErrUnsupportedObjectType)
	}
	var out map[string]struct {
		Objects []struct {
			Validities []struct {
				Person *struct {
					UUID    uuid.UUID `json:"uuid"`
					Current *struct {
						ManagerRoles []struct {
							OrgUnit *wireRef `json:"org_unit_response"`
						} `json:"manager_roles"`
					} `json:"current"` // only ITUserOwners asks for it
				} `json:"person_response"`
				OrgUnit *wireRef `json:"org_unit_response"`
			} `json:"validities"`
		} `json:"objects"`
	}
	if err := c.do(ctx, operation, map[string]any{"uuid": id.String()}, &out); err != nil {
		return Owners{}, fmt.Errorf("looking up owners of %s %s: %w", objectType, id, err)
	}
	objs := out[field].Objects
	if len(objs) == 0 {
		return Owners{}, fmt.Errorf("%s %s: %w", objectType, id, ErrNotFound)
	}
	var o Owners
	for _, obj := range objs {
		for _, v := range obj.Validities {
			if v.Person != nil && !slices.Contains(o.Persons, v.Person.UUID) {
				o.Persons = append(o.Persons, v.Person.UUID)
			}
			if v.Person != nil && v.Person.Current != nil {
				for _, r := range v.Person.Current.ManagerRoles {
					if r.OrgUnit != nil && !slices.Contains(o.OrgUnits, r.OrgUnit.UUID) {
						o.OrgUnits = append(o.OrgUnits, r.OrgUnit.UUID)
					}
				}
			}
			if v.OrgUnit != nil && !slices.Contains(o.OrgUnits, v.OrgUnit.UUID) {
				o.OrgUnits = append(o.OrgUnits, v.OrgUnit.UUID)
			}
		}
	}
	return o, nil
}

// pageOf is the part of a paginated answer the client reads: the raw objects and the cursor.
type pageOf struct {
	Objects  []json.RawMessage `json:"objects"`
	PageInfo struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"page_info"`
}

// paginate runs operation page by page (variables vars plus limit and cursor), passing the
// objects of the collection field to fn, until next_cursor is null.
func (c *Client) paginate(ctx context.Context, operation, field string, vars map[string]any, fn func([]json.RawMessage) error) error {
	var cursor *string
	seen := map[string]bool{}
	for page := 1; ; page++ {
		v := map[string]any{"limit": c.cfg.PageSize, "cursor": nil}
		for k, x := range vars {
			v[k] = x
		}
		if cursor != nil {
			v["cursor"] = *cursor
		}
		var out map[string]pageOf
		if err := c.do(ctx, operation, v, &out); err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		p := out[field]
		if err := fn(p.Objects); err != nil {
			return err
		}
		if p.PageInfo.NextCursor == nil {
			return nil
		}
		if seen[*p.PageInfo.NextCursor] {
			return fmt.Errorf("page %d: OS2MO returned cursor %q a second time", page, *p.PageInfo.NextCursor)
		}
		seen[*p.PageInfo.NextCursor] = true
		cursor = p.PageInfo.NextCursor
	}
}

// Owners are the persons and units an OS2MO object belongs to, over all its validities; see
// [Client.Owners] for which are filled per object type.
type Owners struct {
	Persons  []uuid.UUID // owning persons (employees)
	OrgUnits []uuid.UUID // owning organisation units
}

// The OS2MO object types (new-style AMQP routing keys) that [Client.Owners] understands.
const (
	ObjectOrgUnit     = "org_unit"
	ObjectPerson      = "person"
	ObjectAddress     = "address"
	ObjectEngagement  = "engagement"
	ObjectITUser      = "ituser"
	ObjectManager     = "manager"
	ObjectKLE         = "kle"
	ObjectAssociation = "association"
	ObjectLeave       = "leave"
)
