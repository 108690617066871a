package stsclient

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// List returns the latest registrations of the objects of kind with the given UUIDs (operation
// list), keyed by UUID. UUIDs the service does not know are absent from the map; a list call
// that finds none of its UUIDs (StatusKode 44) is no error. Duplicate UUIDs are asked for once,
// and more than Config.MaxListIDs UUIDs are read in several calls, one after the other; the
// first failing call fails List. Passivated objects are returned like any other (check their
// Registration.Livscyklus), as Read does.
func (c *Client) List(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	id := call{Kind: kind, Operation: oio.OpList}
	if !kind.Valid() {
		return nil, fmt.Errorf("%s: %w: unknown kind %q", id, oio.ErrInvalid, kind)
	}
	unique := make([]uuid.UUID, 0, len(ids))
	seen := make(map[uuid.UUID]bool, len(ids))
	for i, u := range ids {
		if u == uuid.Nil {
			return nil, fmt.Errorf("%s: %w: UUID %d is the nil UUID", id, oio.ErrInvalid, i)
		}
		if !seen[u] {
			seen[u] = true
			unique = append(unique, u)
		}
	}
	out := make(map[uuid.UUID]*oio.Object, len(unique))
	for chunk := range slices.Chunk(unique, c.cfg.MaxListIDs) {
		if err := c.list(ctx, kind, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// list reads one chunk into out.
func (c *Client) list(ctx context.Context, kind oio.Kind, ids []uuid.UUID, out map[uuid.UUID]*oio.Object) error {
	id := call{Kind: kind, Operation: oio.OpList}
	payload, err := oio.MarshalListInput(&oio.ListInput{Kind: kind, UUIDs: ids})
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	resp, err := c.roundTrip(ctx, id, payload)
	var se *StatusError
	if errors.As(err, &se) && se.Code == oio.StatusNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	_, objs, err := oio.UnmarshalListOutput(kind, resp)
	if err == nil {
		err = mergeListed(out, objs, ids)
	}
	if err != nil {
		return &TransportError{Kind: kind, Operation: oio.OpList, HTTPStatus: 200, Err: fmt.Errorf("response: %w", err)}
	}
	return nil
}

// mergeListed adds the listed objects to out, keeping the latest registration of an object
// listed twice; an object that was not asked for makes the response invalid.
func mergeListed(out map[uuid.UUID]*oio.Object, objs []*oio.Object, asked []uuid.UUID) error {
	for _, o := range objs {
		if !slices.Contains(asked, o.UUID) {
			return fmt.Errorf("%w: the response holds object %s, which was not asked for", oio.ErrInvalid, o.UUID)
		}
		if prev := out[o.UUID]; prev == nil || !o.Registration.Tidspunkt.Before(prev.Registration.Tidspunkt) {
			out[o.UUID] = o
		}
	}
	return nil
}

// DefaultHierarchyPageSize is the page size SearchHierarchyAll uses when given 0 (OS2sync's
// default for fremsoegobjekthierarki).
const DefaultHierarchyPageSize = 500

// SearchHierarchy returns one page of the objects of the organisation hierarchy the service
// attributes to the caller, i.e. the municipality of the token's CVR (OrganisationSystem
// operation fremsoegobjekthierarki): organisations, units, functions, users and IT systems with
// their latest registrations, and the UUIDs of interest groups. Persons and addresses are not
// part of a hierarchy; read them with List. A StatusKode 44 is returned as an empty hierarchy.
func (c *Client) SearchHierarchy(ctx context.Context, in *oio.HierarchyInput) (*oio.Hierarchy, error) {
	id := call{Kind: oio.KindOrganisationSystem, Operation: oio.OpFremsoegObjekthierarki}
	if in == nil {
		return nil, fmt.Errorf("%s: %w: nil input", id, oio.ErrInvalid)
	}
	payload, err := oio.MarshalHierarchyInput(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	resp, err := c.roundTrip(ctx, id, payload)
	var se *StatusError
	if errors.As(err, &se) && se.Code == oio.StatusNotFound {
		return &oio.Hierarchy{}, nil
	}
	if err != nil {
		return nil, err
	}
	_, h, err := oio.UnmarshalHierarchyOutput(resp)
	if err != nil {
		return nil, &TransportError{Kind: id.Kind, Operation: id.Operation, HTTPStatus: 200, Err: fmt.Errorf("response: %w", err)}
	}
	return h, nil
}

// SearchHierarchyAll returns the whole hierarchy: it fetches pages of pageSize (0 =
// DefaultHierarchyPageSize) from in.First on, advancing by pageSize, until a page comes back
// empty, and merges them, keeping the first occurrence of each object. Stopping only at an
// empty page costs one call more than necessary, but is right whether the service pages each
// list separately or all lists together (which public sources do not settle).
func (c *Client) SearchHierarchyAll(ctx context.Context, in oio.HierarchyInput, pageSize int) (*oio.Hierarchy, error) {
	if pageSize <= 0 {
		pageSize = DefaultHierarchyPageSize
	}
	in.Max = pageSize
	all := &oio.Hierarchy{}
	type key struct {
		kind oio.Kind
		id   uuid.UUID
	}
	seen := map[key]bool{}
	for range maxSearchPages {
		page, err := c.SearchHierarchy(ctx, &in)
		if err != nil {
			return nil, err
		}
		if page.Len() == 0 {
			return all, nil
		}
		for _, k := range oio.HierarchyKinds() {
			for _, o := range page.Objects(k) {
				if !seen[key{k, o.UUID}] {
					seen[key{k, o.UUID}] = true
					_ = all.Add(o) // o is of a hierarchy kind
				}
			}
		}
		for _, u := range page.Interessefaellesskaber {
			if !seen[key{"interessefaellesskab", u}] {
				seen[key{"interessefaellesskab", u}] = true
				all.Interessefaellesskaber = append(all.Interessefaellesskaber, u)
			}
		}
		in.First += pageSize
	}
	return nil, fmt.Errorf("sts fremsoegobjekthierarki: more than %d pages", maxSearchPages)
}
