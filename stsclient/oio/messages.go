package oio

import (
	"errors"

	"github.com/google/uuid"
)

// ErrInvalid is wrapped by every error the codec returns for a document or object that does not
// satisfy the Organisation 6 schema (wrong element, order, namespace, cardinality or value).
var ErrInvalid = errors.New("oio: invalid")

// Lists selects the lists of a registration (AttributListe, TilstandListe, RelationListe).
type Lists uint8

// The three registration lists.
const (
	ListAttributter Lists = 1 << iota // AttributListe (Egenskab)
	ListTilstande                     // TilstandListe (Gyldighed)
	ListRelationer                    // RelationListe

	AllLists = ListAttributter | ListTilstande | ListRelationer
)

// RetInput is the content of a ret (update) request. Lists says which lists are sent; a sent list
// replaces the stored one, an omitted list is left unchanged.
type RetInput struct {
	Kind       Kind
	UUID       uuid.UUID
	Note       string // sd:NoteTekst, optional
	Lists      Lists
	Egenskaber []Egenskab
	Gyldighed  []Gyldighed
	Relationer []Relation
}

// NewRetInput returns a RetInput that sends all three lists of o's registration, i.e. replaces
// the object's current state with o's.
func NewRetInput(o *Object, note string) *RetInput {
	return &RetInput{
		Kind:       o.Kind,
		UUID:       o.UUID,
		Note:       note,
		Lists:      AllLists,
		Egenskaber: o.Registration.Egenskaber,
		Gyldighed:  o.Registration.Gyldighed,
		Relationer: o.Registration.Relationer,
	}
}

// UUIDInput is the content of a laes, passiver or slet request: the object's UUID and, for
// passiver and slet, an optional note. Laes filters are not supported yet (without filters
// laes returns the latest registration).
type UUIDInput struct {
	Kind Kind
	UUID uuid.UUID
	Note string // sd:NoteTekst; passiver/slet only
}

// Status codes of StandardRetur.
const (
	StatusOK                 = 20 // success
	StatusInvalidInput       = 40 // input inconsistent or not schema-valid
	StatusUnauthorized       = 41 // authorisation / service agreement
	StatusNotFound           = 44 // unknown object, or empty search result
	StatusFutureRegistration = 45 // import Registrering/Tidspunkt later than the server's clock
	StatusInvalidVirkning    = 47 // invalid validity period (updates applied out of order)
	StatusAlreadyExists      = 49 // importer on an existing object; ret/passiver on a passivated one
)

// StandardRetur is the outcome every output element carries.
type StandardRetur struct {
	StatusKode      int
	FejlbeskedTekst string
}

// OK reports whether the outcome is StatusOK.
func (r StandardRetur) OK() bool { return r.StatusKode == StatusOK }
