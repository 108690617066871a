package moclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// ListUnits calls fn with the UUIDs of all organisation units in effect now, one page (at most
// Config.PageSize) at a time, following OS2MO's cursor to the end. A page may be empty. An error
// from fn stops the listing and is returned wrapped (errors.Is finds it).
func (c *Client) ListUnits(ctx context.Context, fn func(page []uuid.UUID) error) error {
	if err := c.listUUIDs(ctx, "ListOrgUnits", "org_units", nil, fn); err != nil {
		return fmt.Errorf("listing org units: %w", err)
	}
	return nil
}

// ListPersons calls fn with the UUIDs of all persons in effect now, one page at a time, as
// [Client.ListUnits] does.
func (c *Client) ListPersons(ctx context.Context, fn func(page []uuid.UUID) error) error {
	if err := c.listUUIDs(ctx, "ListPersons", "persons", nil, fn); err != nil {
		return fmt.Errorf("listing persons: %w", err)
	}
	return nil
}

// Subtree returns the UUIDs of the units in effect now below unit id (at any depth, not id
// itself), for re-evaluating descendants when a unit moves. An unknown or terminated id gives an
// empty result.
func (c *Client) Subtree(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := c.listUUIDs(ctx, "Subtree", "org_units", map[string]any{"uuid": id.String()}, func(page []uuid.UUID) error {
		for _, u := range page {
			if u != id {
				out = append(out, u)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading subtree of %s: %w", id, err)
	}
	return out, nil
}

// UnitPersons returns the persons to re-evaluate when the unit id changes (starts or stops being
// exported): those with an engagement in it, and its managers (a manager role of an exported unit
// keeps the manager's user in STS), in effect now or later, each once in first-seen order.
func (c *Client) UnitPersons(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	seen := map[uuid.UUID]bool{}
	vars := map[string]any{"uuid": id.String(), "now": mutoTime(c.cfg.Now().In(c.loc))}
	for _, q := range []struct{ operation, field, what string }{
		{"UnitPersons", "engagements", "engagement"},
		{"UnitManagers", "managers", "manager role"},
	} {
		err := c.paginate(ctx, q.operation, q.field, vars, func(objs []json.RawMessage) error {
			for _, raw := range objs {
				var obj struct {
					Validities []struct {
						Person *wireRef `json:"person_response"`
					} `json:"validities"`
				}
				if err := json.Unmarshal(raw, &obj); err != nil {
					return fmt.Errorf("decoding %s: %w", q.what, err)
				}
				for _, v := range obj.Validities {
					if v.Person != nil && !seen[v.Person.UUID] {
						seen[v.Person.UUID] = true
						out = append(out, v.Person.UUID)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the persons of %s (%ss): %w", id, q.what, err)
		}
	}
	return out, nil
}

// listUUIDs paginates an operation whose objects are {uuid}.
func (c *Client) listUUIDs(ctx context.Context, operation, field string, vars map[string]any, fn func([]uuid.UUID) error) error {
	return c.paginate(ctx, operation, field, vars, func(objs []json.RawMessage) error {
		ids := make([]uuid.UUID, 0, len(objs))
		for _, raw := range objs {
			var obj wireRef
			if err := json.Unmarshal(raw, &obj); err != nil {
				return fmt.Errorf("decoding %s object: %w", field, err)
			}
			ids = append(ids, obj.UUID)
		}
		return fn(ids)
	})
}
