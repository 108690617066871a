package stsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Import creates o with the client-chosen UUID (operation importer). A zero
// Registration.Tidspunkt is sent as Config.Now() and an empty Livscyklus as Importeret; o itself
// is not modified. An existing, active object yields a *StatusError matching ErrAlreadyExists.
func (c *Client) Import(ctx context.Context, o *oio.Object) error {
	id := callFor(o, oio.OpImporter)
	if o == nil {
		return fmt.Errorf("%s: %w", id, oio.ErrInvalid)
	}
	send := *o
	if send.Registration.Tidspunkt.IsZero() {
		send.Registration.Tidspunkt = c.cfg.Now()
	}
	if send.Registration.Livscyklus == "" {
		send.Registration.Livscyklus = oio.LivscyklusImporteret
	}
	payload, err := oio.MarshalImportInput(&send)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	_, err = c.roundTrip(ctx, id, payload)
	return err
}

// Update replaces the object's attribute, state and relation lists with those of o's
// registration (operation ret, all three lists sent). Registration metadata (Tidspunkt,
// Livscyklus, BrugerRef) is set by the service. An unknown object yields ErrNotFound, a
// passivated one ErrAlreadyExists.
func (c *Client) Update(ctx context.Context, o *oio.Object) error {
	id := callFor(o, oio.OpRet)
	if o == nil {
		return fmt.Errorf("%s: %w", id, oio.ErrInvalid)
	}
	payload, err := oio.MarshalRetInput(oio.NewRetInput(o, ""))
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	_, err = c.roundTrip(ctx, id, payload)
	return err
}

// Read returns the object's latest registration (operation laes without filters). An unknown
// object yields a *StatusError matching ErrNotFound.
func (c *Client) Read(ctx context.Context, kind oio.Kind, objectID uuid.UUID) (*oio.Object, error) {
	id := call{Kind: kind, Operation: oio.OpLaes, ObjectUUID: objectID}
	payload, err := oio.MarshalUUIDInput(oio.OpLaes, oio.UUIDInput{Kind: kind, UUID: objectID})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	out, err := c.roundTrip(ctx, id, payload)
	if err != nil {
		return nil, err
	}
	_, obj, err := oio.UnmarshalLaesOutput(kind, out)
	if err == nil && obj == nil {
		err = fmt.Errorf("%w: StatusKode 20 without a registration", oio.ErrInvalid)
	}
	if err == nil && obj.UUID != objectID {
		err = fmt.Errorf("%w: response is for object %s", oio.ErrInvalid, obj.UUID)
	}
	if err != nil {
		return nil, &TransportError{Kind: kind, Operation: oio.OpLaes, ObjectUUID: objectID,
			HTTPStatus: 200, Err: fmt.Errorf("response: %w", err)}
	}
	return obj, nil
}

// Passivate sets the object's LivscyklusKode to Passiveret (operation passiver), with an
// optional note. An unknown object yields ErrNotFound, an already passivated one
// ErrAlreadyExists.
func (c *Client) Passivate(ctx context.Context, kind oio.Kind, objectID uuid.UUID, note string) error {
	id := call{Kind: kind, Operation: oio.OpPassiver, ObjectUUID: objectID}
	payload, err := oio.MarshalUUIDInput(oio.OpPassiver, oio.UUIDInput{Kind: kind, UUID: objectID, Note: note})
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	_, err = c.roundTrip(ctx, id, payload)
	return err
}

func callFor(o *oio.Object, op oio.Operation) call {
	if o == nil {
		return call{Operation: op}
	}
	return call{Kind: o.Kind, Operation: op, ObjectUUID: o.UUID}
}

// DefaultSearchPageSize is the page size SearchAll uses when given 0 (lamotech's and OS2sync's
// choice for Organisation 6 searches).
const DefaultSearchPageSize = 500

// maxSearchPages bounds SearchAll against a service that never returns a short page.
const maxSearchPages = 10_000

// Search returns one page of the UUIDs of the objects matching the template in (operation
// soeg), in the service's order. A search without hits (StatusKode 44) returns an empty slice
// and no error.
func (c *Client) Search(ctx context.Context, in *oio.SoegInput) ([]uuid.UUID, error) {
	var kind oio.Kind
	if in != nil {
		kind = in.Kind
	}
	id := call{Kind: kind, Operation: oio.OpSoeg}
	if in == nil {
		return nil, fmt.Errorf("%s: %w: nil search", id, oio.ErrInvalid)
	}
	payload, err := oio.MarshalSoegInput(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	out, err := c.roundTrip(ctx, id, payload)
	var se *StatusError
	if errors.As(err, &se) && se.Code == oio.StatusNotFound {
		return []uuid.UUID{}, nil
	}
	if err != nil {
		return nil, err
	}
	_, ids, err := oio.UnmarshalSoegOutput(kind, out)
	if err != nil {
		return nil, &TransportError{Kind: kind, Operation: oio.OpSoeg, HTTPStatus: 200, Err: fmt.Errorf("response: %w", err)}
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}

// SearchAll returns the UUIDs of all objects matching the template, fetching pages of pageSize
// (0 = DefaultSearchPageSize) from in.First on until a page comes back short.
func (c *Client) SearchAll(ctx context.Context, in oio.SoegInput, pageSize int) ([]uuid.UUID, error) {
	if pageSize <= 0 {
		pageSize = DefaultSearchPageSize
	}
	in.Max = pageSize
	var all []uuid.UUID
	for range maxSearchPages {
		page, err := c.Search(ctx, &in)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all, nil
		}
		in.First += len(page)
	}
	return nil, fmt.Errorf("sts soeg %s: more than %d pages", in.Kind, maxSearchPages)
}
