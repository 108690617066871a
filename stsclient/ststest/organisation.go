package ststest

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Organisation is a municipality's Organisation object, which STS Organisation holds before any
// integration writes to it: KOMBIT creates it when the municipality joins, and every unit, user
// and function of the municipality belongs to it (Tilhoerer, TilknyttedeOrganisationer).
// Options.Organisations makes NewServer create such objects.
type Organisation struct {
	UUID uuid.UUID
	// CVR is the municipality's CVR number (8 digits): the Organisation's Virksomhed
	// (urn:oio:cvr-nr:CVR) and its owner, as if Options.OrganisationCVR named it.
	CVR string
	// Name is the OrganisationNavn; default "Kommune CVR <CVR>".
	Name string
}

// Object returns the Organisation object NewServer stores for o at time at: imported, active
// from at, its BrugervendtNoegle the CVR number, with the Virksomhed relation to the CVR number.
// It is validated like the body of an importer call (the object is written as an ImportInput and
// read back), so a bad UUID, CVR or name is an error.
func (o Organisation) Object(at time.Time) (*oio.Object, error) {
	if len(o.CVR) != 8 || !digits(o.CVR) {
		return nil, fmt.Errorf("organisation %s: CVR must be 8 digits, got %q", o.UUID, o.CVR)
	}
	name := o.Name
	if name == "" {
		name = "Kommune CVR " + o.CVR
	}
	at = at.Truncate(time.Second)
	v := oio.Virkning{From: at, Aktoer: o.UUID, AktoerType: oio.AktoerTypeOrganisation}
	obj := &oio.Object{Kind: oio.KindOrganisation, UUID: o.UUID, Registration: oio.Registration{
		Tidspunkt:  at,
		Livscyklus: oio.LivscyklusImporteret,
		BrugerRef:  o.UUID,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: o.CVR, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelVirksomhed, Virkning: v, URN: "urn:oio:cvr-nr:" + o.CVR}},
	}}
	el, err := oio.MarshalImportInput(obj)
	if err != nil {
		return nil, fmt.Errorf("organisation %s: %w", o.UUID, err)
	}
	parsed, err := oio.UnmarshalImportInput(oio.KindOrganisation, el)
	if err != nil {
		return nil, fmt.Errorf("organisation %s: %w", o.UUID, err)
	}
	parsed.Registration.Livscyklus = oio.LivscyklusImporteret // as importer stores it
	return parsed, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
