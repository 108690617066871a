package translate

import (
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Settings are the municipality-wide facts every translation needs.
type Settings struct {
	// Organisation is the UUID of the municipality's Organisation object in STS Organisation. Every
	// unit and user belongs to it (Tilhoerer) and it is the actor (AktoerRef) of every Virkning.
	Organisation uuid.UUID
	// TopUnit is the OS2MO unit written as the root of the municipality's tree: it gets no
	// Overordnet relation even if it has a parent in OS2MO. uuid.Nil means "MO's root units".
	TopUnit uuid.UUID
}

// managedUnitRelations are the OrganisationEnhed relations the sync owns. Relations of other names
// (set by hand or by other tools) are left as they are by Plan.
var managedUnitRelations = map[oio.RelationName]bool{
	oio.RelOverordnet: true,
	oio.RelTilhoerer:  true,
}

// virkning returns the Virkning for a period given in MO validity, made date-granular.
func (s Settings) virkning(v moclient.Validity) oio.Virkning {
	return oio.Virkning{From: Day(v.From), To: Day(v.To), Aktoer: s.Organisation, AktoerType: oio.AktoerTypeOrganisation}
}

// OrgUnit returns the OrganisationEnhed the municipality's STS Organisation should hold for an
// OS2MO unit that is valid now: its name and user key, Gyldighed Aktiv, the parent unit
// (Overordnet; none for the top unit) and the municipality (Tilhoerer), all in effect from the
// start of the unit's current validity. The STS object has the MO unit's UUID.
func OrgUnit(s Settings, u *moclient.OrgUnit) oio.Object {
	v := s.virkning(u.Validity)
	obj := oio.Object{
		Kind: oio.KindOrganisationEnhed,
		UUID: u.UUID,
		Registration: oio.Registration{
			Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: u.UserKey, Navn: u.Name}},
			Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		},
	}
	rels := &obj.Registration.Relationer
	if u.Parent != nil && u.UUID != s.TopUnit {
		*rels = append(*rels, oio.Relation{Name: oio.RelOverordnet, Virkning: v, Ref: *u.Parent})
	}
	*rels = append(*rels, oio.Relation{Name: oio.RelTilhoerer, Virkning: v, Ref: s.Organisation})
	return obj
}
