package stsclient

import (
	"context"
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
