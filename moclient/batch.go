package moclient

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// MaxBatch is the most UUIDs [Client.OrgUnits] and [Client.Persons] ask for in one request;
// longer lists are read in several requests, one after the other.
const MaxBatch = 100

// OrgUnits returns the current state of many organisation units, read in requests of at most
// [MaxBatch] UUIDs (the OrgUnit query, which takes a list of UUIDs). The
// result maps every UUID OS2MO knows to the unit's current state, or to nil when the unit exists
// but is not in effect now (terminated or future); UUIDs OS2MO does not know are absent. Errors
// are as for [Client.OrgUnit].
func (c *Client) OrgUnits(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*model.OrgUnit, error) {
	return collect(ctx, ids, c.orgUnits)
}

// Persons returns the current state of many persons, read in requests of at most [MaxBatch]
// UUIDs (the Person query, which takes a list of UUIDs), as
// [Client.OrgUnits] does: a UUID OS2MO knows maps to the person's current state, or to nil when
// the person is not in effect now; unknown UUIDs are absent.
func (c *Client) Persons(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*model.Person, error) {
	return collect(ctx, ids, c.persons)
}

// read is the outcome of reading one object in a batch: its current state (nil when it is not
// in effect now), or why OS2MO's answer for it could not be used.
type read[T any] struct {
	val *T
	err error
}

// collect reads ids in chunks of MaxBatch with one request per chunk, and fails on the first
// object that could not be used.
func collect[T any](ctx context.Context, ids []uuid.UUID, chunk func(context.Context, []uuid.UUID) (map[uuid.UUID]read[T], error)) (map[uuid.UUID]*T, error) {
	out := make(map[uuid.UUID]*T, len(ids))
	for start := 0; start < len(ids); start += MaxBatch {
		got, err := chunk(ctx, ids[start:min(len(ids), start+MaxBatch)])
		if err != nil {
			return nil, err
		}
		for id, r := range got {
			if r.err != nil {
				return nil, r.err
			}
			out[id] = r.val
		}
	}
	return out, nil
}

// orgUnits reads up to MaxBatch units in one request. The result has an entry for every unit
// OS2MO knows; an entry's error says why that unit's answer could not be used (the others are
// still good).
func (c *Client) orgUnits(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]read[model.OrgUnit], error) {
	var resp struct {
		OrgUnits struct {
			Objects []struct {
				UUID     uuid.UUID    `json:"uuid"`
				Lifetime []wireLife   `json:"lifetime"`
				Current  *wireOrgUnit `json:"current"`
			} `json:"objects"`
		} `json:"org_units"`
	}
	if err := c.do(ctx, "OrgUnit", map[string]any{"uuids": uuidStrings(ids)}, &resp); err != nil {
		return nil, fmt.Errorf("reading %s: %w", countOf(ids, "org unit"), err)
	}
	out := make(map[uuid.UUID]read[model.OrgUnit], len(ids))
	for _, obj := range resp.OrgUnits.Objects {
		var r read[model.OrgUnit]
		if obj.Current != nil {
			life, err := lifeOf(obj.Lifetime, c.loc)
			if err == nil {
				r.val, err = obj.Current.toModel(c.loc, life)
			}
			if err != nil {
				r.err = fmt.Errorf("org unit %s: %w", obj.UUID, err)
			}
		}
		out[obj.UUID] = r
	}
	return out, nil
}

// persons reads up to MaxBatch persons in one request, as orgUnits does.
func (c *Client) persons(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]read[model.Person], error) {
	var resp struct {
		Persons struct {
			Objects []struct {
				UUID     uuid.UUID   `json:"uuid"`
				Lifetime []wireLife  `json:"lifetime"`
				Current  *wirePerson `json:"current"`
			} `json:"objects"`
		} `json:"persons"`
	}
	now := c.cfg.Now().In(c.loc)
	vars := map[string]any{"uuids": uuidStrings(ids), "now": mutoTime(now),
		"unit_addresses": c.cfg.EngagementUnitAddresses}
	if err := c.do(ctx, "Person", vars, &resp); err != nil {
		return nil, fmt.Errorf("reading %s: %w", countOf(ids, "person"), err)
	}
	out := make(map[uuid.UUID]read[model.Person], len(ids))
	for _, obj := range resp.Persons.Objects {
		var r read[model.Person]
		if obj.Current != nil {
			life, err := lifeOf(obj.Lifetime, c.loc)
			if err == nil {
				r.val, err = obj.Current.toModel(c.loc, life)
			}
			if err != nil {
				r.err = fmt.Errorf("person %s: %w", obj.UUID, err)
			}
		}
		out[obj.UUID] = r
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

// wireLife is one validity of an object (the lifetime field of the OrgUnit and Person queries).
type wireLife struct {
	Validity wireValidity `json:"validity"`
}

// lifeOf converts an object's validities.
func lifeOf(in []wireLife, loc *time.Location) ([]model.Validity, error) {
	vs := make([]wireValidity, len(in))
	for i, l := range in {
		vs[i] = l.Validity
	}
	out, err := validities(vs, loc)
	if err != nil {
		return nil, fmt.Errorf("lifetime: %w", err)
	}
	return out, nil
}
