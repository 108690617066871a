package oio

import (
	"fmt"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// ListInput is the content of a list request: the UUIDs of several objects of one kind whose
// latest registrations to read in one call. The filters of ListInputType (VirkningFraFilter,
// …) are not supported; without them the service returns the latest registrations.
type ListInput struct {
	Kind  Kind
	UUIDs []uuid.UUID
}

// Validate checks the kind and that there is at least one UUID and no nil UUID.
func (in *ListInput) Validate() error {
	if !in.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, in.Kind)
	}
	if len(in.UUIDs) == 0 {
		return fmt.Errorf("%w: list %s: no UUIDs", ErrInvalid, in.Kind)
	}
	for i, id := range in.UUIDs {
		if id == uuid.Nil {
			return fmt.Errorf("%w: list %s: UUIDs[%d] is the nil UUID", ErrInvalid, in.Kind, i)
		}
	}
	return nil
}

// MarshalListInput returns the ListInput element for in (in.Validate must pass).
func MarshalListInput(in *ListInput) (*etree.Element, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	root := newRoot(in.Kind, OpList.InputElement())
	for _, id := range in.UUIDs {
		addText(root, "sd:UUIDIdentifikator", id.String())
	}
	return root, nil
}

// UnmarshalListInput reads a ListInput element of kind k. The filters (VirkningFraFilter, …)
// are rejected as not supported.
func UnmarshalListInput(k Kind, el *etree.Element) (*ListInput, error) {
	local := OpList.InputElement()
	if err := checkRoot(el, k, local); err != nil {
		return nil, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return nil, err
	}
	in := &ListInput{Kind: k}
	for _, e := range c.many(NSSagDok, "UUIDIdentifikator") {
		id, err := uuidText(e, local)
		if err != nil {
			return nil, err
		}
		in.UUIDs = append(in.UUIDs, id)
	}
	if len(in.UUIDs) == 0 {
		if _, err := c.req(NSSagDok, "UUIDIdentifikator"); err != nil {
			return nil, err
		}
	}
	return in, c.end()
}

// MarshalListOutput returns the ListOutput element: StandardRetur and one
// FiltreretOejebliksbillede per object, in the order given, each with the object's
// registration.
func MarshalListOutput(k Kind, ret StandardRetur, objs []*Object) (*etree.Element, error) {
	root := newRoot(k, OpList.OutputElement())
	writeStandardRetur(root, ret)
	if len(objs) == 0 {
		return root, nil
	}
	declareListNamespaces(root, k)
	for _, o := range objs {
		if o == nil || o.Kind != k {
			return nil, fmt.Errorf("%w: %v in a %s ListOutput", ErrInvalid, o, k)
		}
		if err := o.Validate(); err != nil {
			return nil, err
		}
		writeSnapshot(root.CreateElement("FiltreretOejebliksbillede"), k, o)
	}
	return root, nil
}

// UnmarshalListOutput reads a ListOutput element of kind k: its StandardRetur and one Object
// per FiltreretOejebliksbillede, in document order, each carrying its latest registration (as
// UnmarshalLaesOutput). A FiltreretOejebliksbillede without Registrering is skipped. The same
// UUID may occur more than once if the service repeats it.
func UnmarshalListOutput(k Kind, el *etree.Element) (StandardRetur, []*Object, error) {
	local := OpList.OutputElement()
	ret, err := UnmarshalOutput(k, OpList, el)
	if err != nil {
		return ret, nil, err
	}
	c, _ := newCursor(el, local) // text already checked by UnmarshalStandardRetur
	c.i = 1
	var out []*Object
	for i, fo := range c.many(k.Namespace(), "FiltreretOejebliksbillede") {
		o, err := readSnapshot(k, fo, fmt.Sprintf("%s/FiltreretOejebliksbillede[%d]", local, i))
		if err != nil {
			return ret, nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return ret, out, c.end()
}
