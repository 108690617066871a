package moclient

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// MaxBatch is the most UUIDs [Client.OrgUnits] and [Client.Persons] ask for in one request;
// longer lists are read in several requests, one after the other.
const MaxBatch = 100

// OrgUnits returns the current state of many organisation units, read in requests of at most
// [MaxBatch] UUIDs (the OrgUnit query, which takes a list of UUIDs). The
// result maps every UUID OS2MO knows to the unit's current state, or to nil when the unit exists
// but is not in effect now (terminated or future); UUIDs OS2MO does not know are absent. Errors
// are as for [Client.OrgUnit].
func (c *Client) OrgUnits(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*OrgUnit, error) {
	out := make(map[uuid.UUID]*OrgUnit, len(ids))
	for start := 0; start < len(ids); start += MaxBatch {
		chunk := ids[start:min(len(ids), start+MaxBatch)]
		var resp struct {
			OrgUnits struct {
				Objects []struct {
					UUID    uuid.UUID    `json:"uuid"`
					Current *wireOrgUnit `json:"current"`
				} `json:"objects"`
			} `json:"org_units"`
		}
		if err := c.do(ctx, "OrgUnit", map[string]any{"uuids": uuidStrings(chunk)}, &resp); err != nil {
			return nil, fmt.Errorf("reading %s: %w", countOf(chunk, "org unit"), err)
		}
		for _, obj := range resp.OrgUnits.Objects {
			if obj.Current == nil {
				out[obj.UUID] = nil
				continue
			}
			u, err := obj.Current.toModel(c.loc)
			if err != nil {
				return nil, fmt.Errorf("org unit %s: %w", obj.UUID, err)
			}
			out[obj.UUID] = u
		}
	}
	return out, nil
}

// Persons returns the current state of many persons, read in requests of at most [MaxBatch]
// UUIDs (the Person query, which takes a list of UUIDs), as
// [Client.OrgUnits] does: a UUID OS2MO knows maps to the person's current state, or to nil when
// the person is not in effect now; unknown UUIDs are absent.
func (c *Client) Persons(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*Person, error) {
	now := c.cfg.Now().In(c.loc)
	out := make(map[uuid.UUID]*Person, len(ids))
	for start := 0; start < len(ids); start += MaxBatch {
		chunk := ids[start:min(len(ids), start+MaxBatch)]
		var resp struct {
			Persons struct {
				Objects []struct {
					UUID    uuid.UUID   `json:"uuid"`
					Current *wirePerson `json:"current"`
				} `json:"objects"`
			} `json:"persons"`
		}
		vars := map[string]any{"uuids": uuidStrings(chunk), "now": now.Format(time.RFC3339)}
		if err := c.do(ctx, "Person", vars, &resp); err != nil {
			return nil, fmt.Errorf("reading %s: %w", countOf(chunk, "person"), err)
		}
		for _, obj := range resp.Persons.Objects {
			if obj.Current == nil {
				out[obj.UUID] = nil
				continue
			}
			p, err := obj.Current.toModel(c.loc)
			if err != nil {
				return nil, fmt.Errorf("person %s: %w", obj.UUID, err)
			}
			out[obj.UUID] = p
		}
	}
	return out, nil
}

// countOf names what a request read: "org unit <uuid>" for one, "3 org units" for more.
func countOf(ids []uuid.UUID, noun string) string {
	if len(ids) == 1 {
		return noun + " " + ids[0].String()
	}
	return fmt.Sprintf("%d %ss", len(ids), noun)
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
