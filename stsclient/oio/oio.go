// Package oio is the typed Go model of an STS Organisation 6 (OIO "sagdok" 3.0) registration:
// objects, registrations, attributes (Egenskab), states (Gyldighed) and relations, each with its
// Virkning (period of effect). It is pure data with no I/O, shared by translate (which builds the
// desired objects), stsclient (which serialises them to SOAP bodies) and stsclient/ststest (the
// fake service, which parses and stores them).
package oio

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Kind names an STS Organisation object type by its service name, as used in endpoints
// ({base}/organisation/{kind}/6/), SOAP actions and namespaces.
type Kind string

// The object kinds the sync reads or writes.
const (
	KindOrganisation         Kind = "organisation"
	KindOrganisationEnhed    Kind = "organisationenhed"
	KindOrganisationFunktion Kind = "organisationfunktion"
	KindBruger               Kind = "bruger"
	KindPerson               Kind = "person"
	KindAdresse              Kind = "adresse"
	KindItSystem             Kind = "itsystem"
)

// KindOrganisationSystem names the OrganisationSystem service ({base}/organisation/organisationsystem/6/),
// which offers OpFremsoegObjekthierarki over the object kinds. It is not an object kind: Valid
// reports false for it and it has no ElementName.
const KindOrganisationSystem Kind = "organisationsystem"

// Namespace returns the XML namespace of the kind's schema, e.g.
// "http://stoettesystemerne.dk/organisation/organisationenhed/6/".
func (k Kind) Namespace() string {
	return "http://stoettesystemerne.dk/organisation/" + string(k) + "/6/"
}

// ElementName returns the name of the kind's root element in the XSD (e.g. "OrganisationEnhed").
func (k Kind) ElementName() string {
	switch k {
	case KindOrganisation:
		return "Organisation"
	case KindOrganisationEnhed:
		return "OrganisationEnhed"
	case KindOrganisationFunktion:
		return "OrganisationFunktion"
	case KindBruger:
		return "Bruger"
	case KindPerson:
		return "Person"
	case KindAdresse:
		return "Adresse"
	case KindItSystem:
		return "ItSystem"
	}
	return ""
}

// Valid reports whether k is one of the known object kinds (KindOrganisationSystem is not).
func (k Kind) Valid() bool { return k.ElementName() != "" }

// Livscyklus is the LivscyklusKode of a registration.
type Livscyklus string

// Lifecycle codes defined by sagdok 3.0.
const (
	LivscyklusOpstaaet   Livscyklus = "Opstaaet"
	LivscyklusImporteret Livscyklus = "Importeret"
	LivscyklusPassiveret Livscyklus = "Passiveret"
	LivscyklusSlettet    Livscyklus = "Slettet"
)

// GyldighedStatus is the value of a Gyldighed state.
type GyldighedStatus string

// The two Gyldighed values.
const (
	Aktiv   GyldighedStatus = "Aktiv"
	Inaktiv GyldighedStatus = "Inaktiv"
)

// AktoerTypeOrganisation is the AktoerTypeKode the sync writes in every Virkning.
const AktoerTypeOrganisation = "Organisation"

// Virkning is the period in which a value is in effect. A zero From or To means the open
// boundary (GraenseIndikator true: from the beginning of time / until further notice).
type Virkning struct {
	From       time.Time
	To         time.Time
	Aktoer     uuid.UUID // AktoerRef: the municipality's Organisation
	AktoerType string    // AktoerTypeKode, normally AktoerTypeOrganisation
}

// Covers reports whether the Virkning is in effect at t (From inclusive, To exclusive).
func (v Virkning) Covers(t time.Time) bool {
	return (v.From.IsZero() || !t.Before(v.From)) && (v.To.IsZero() || t.Before(v.To))
}

// Egenskab is one attribute value set of a registration. Which fields apply depends on the kind:
// BrugervendtNoegle on all; Navn is EnhedNavn (organisationenhed), BrugerNavn (bruger), FunktionNavn
// (organisationfunktion), OrganisationNavn (organisation), NavnTekst (person) or ItSystemNavn
// (itsystem); BrugerTypeTekst only on bruger; AdresseTekst only on adresse; CPR only on person.
type Egenskab struct {
	Virkning          Virkning
	BrugervendtNoegle string
	Navn              string
	BrugerTypeTekst   string
	AdresseTekst      string
	CPR               string
}

// Gyldighed is one state period (Aktiv/Inaktiv).
type Gyldighed struct {
	Virkning Virkning
	Status   GyldighedStatus
}

// RelationName is the element name of a relation in the sagdok namespace (e.g. "Overordnet").
type RelationName string

// The relation names that occur in the kinds the sync handles. Their order inside a RelationListe
// is fixed per kind by the XSD; see RelationOrder.
const (
	RelAdresser                          RelationName = "Adresser"
	RelAnsatte                           RelationName = "Ansatte"
	RelBranche                           RelationName = "Branche"
	RelBrugerTyper                       RelationName = "BrugerTyper"
	RelEnhedstype                        RelationName = "Enhedstype"
	RelFunktionstype                     RelationName = "Funktionstype"
	RelMyndighed                         RelationName = "Myndighed"
	RelMyndighedstype                    RelationName = "Myndighedstype"
	RelOpgaver                           RelationName = "Opgaver"
	RelOrganisationstype                 RelationName = "Organisationstype"
	RelOverordnet                        RelationName = "Overordnet"
	RelProduktionsenhed                  RelationName = "Produktionsenhed"
	RelSkatteenhed                       RelationName = "Skatteenhed"
	RelSystemTyper                       RelationName = "SystemTyper"
	RelTilhoerer                         RelationName = "Tilhoerer"
	RelTilknyttedeBrugere                RelationName = "TilknyttedeBrugere"
	RelTilknyttedeEnheder                RelationName = "TilknyttedeEnheder"
	RelTilknyttedeFunktioner             RelationName = "TilknyttedeFunktioner"
	RelTilknyttedeInteressefaellesskaber RelationName = "TilknyttedeInteressefaellesskaber"
	RelTilknyttedeItSystemer             RelationName = "TilknyttedeItSystemer"
	RelTilknyttedeOpgaver                RelationName = "TilknyttedeOpgaver"
	RelTilknyttedeOrganisationer         RelationName = "TilknyttedeOrganisationer"
	RelTilknyttedePersoner               RelationName = "TilknyttedePersoner"
	RelVirksomhed                        RelationName = "Virksomhed"
	RelVirksomhedstype                   RelationName = "Virksomhedstype"
)

// RelationOrder returns the relations a kind's RelationListe may hold, in the order of the XSD
// sequence (LokalUdvidelse excluded). Person and Adresse have no relations.
func RelationOrder(k Kind) []RelationName {
	switch k {
	case KindOrganisation:
		return []RelationName{RelAdresser, RelAnsatte, RelBranche, RelOrganisationstype, RelMyndighed,
			RelMyndighedstype, RelTilknyttedeOpgaver, RelOverordnet, RelProduktionsenhed, RelSkatteenhed,
			RelTilhoerer, RelTilknyttedeBrugere, RelTilknyttedeEnheder, RelTilknyttedeFunktioner,
			RelTilknyttedeInteressefaellesskaber, RelTilknyttedeOrganisationer, RelTilknyttedePersoner,
			RelTilknyttedeItSystemer, RelVirksomhed, RelVirksomhedstype}
	case KindOrganisationEnhed:
		return []RelationName{RelAdresser, RelAnsatte, RelBranche, RelEnhedstype, RelOpgaver, RelOverordnet,
			RelProduktionsenhed, RelSkatteenhed, RelTilhoerer, RelTilknyttedeBrugere, RelTilknyttedeEnheder,
			RelTilknyttedeFunktioner, RelTilknyttedeInteressefaellesskaber, RelTilknyttedeOrganisationer,
			RelTilknyttedePersoner, RelTilknyttedeItSystemer}
	case KindOrganisationFunktion:
		return []RelationName{RelAdresser, RelFunktionstype, RelTilknyttedeOpgaver, RelTilknyttedeBrugere,
			RelTilknyttedeEnheder, RelTilknyttedeInteressefaellesskaber, RelTilknyttedeOrganisationer,
			RelTilknyttedePersoner, RelTilknyttedeItSystemer}
	case KindBruger:
		return []RelationName{RelAdresser, RelBrugerTyper, RelTilknyttedeOpgaver, RelTilhoerer,
			RelTilknyttedeEnheder, RelTilknyttedeFunktioner, RelTilknyttedeInteressefaellesskaber,
			RelTilknyttedeOrganisationer, RelTilknyttedePersoner, RelTilknyttedeItSystemer}
	case KindItSystem:
		return []RelationName{RelAdresser, RelTilknyttedeOpgaver, RelSystemTyper, RelTilhoerer,
			RelTilknyttedeBrugere, RelTilknyttedeEnheder, RelTilknyttedeFunktioner,
			RelTilknyttedeInteressefaellesskaber, RelTilknyttedeOrganisationer, RelTilknyttedePersoner,
			RelTilknyttedeItSystemer}
	}
	return nil
}

// Relation is one relation of a registration: a reference to another object (by UUID) or, rarely,
// by URN, with a Virkning and, for list relations such as Adresser and Opgaver, a role, type and
// index.
type Relation struct {
	Name     RelationName
	Virkning Virkning
	Ref      uuid.UUID // ReferenceID/UUIDIdentifikator; uuid.Nil when URN is used
	URN      string    // ReferenceID/URNIdentifikator
	Rolle    uuid.UUID // optional (Adresser, Opgaver)
	Type     uuid.UUID // optional (Adresser, Opgaver)
	Indeks   string    // optional (Adresser)
}

// Registration is one registration of an object: who registered it when, and the attribute,
// state and relation lists.
type Registration struct {
	Tidspunkt  time.Time  // registration time
	Livscyklus Livscyklus // LivscyklusKode
	BrugerRef  uuid.UUID  // the registering actor
	Egenskaber []Egenskab
	Gyldighed  []Gyldighed
	Relationer []Relation
}

// Object is an STS Organisation object with one registration: what translate desires, what a
// laes returns (the current registration), and what importer/ret send.
type Object struct {
	Kind         Kind
	UUID         uuid.UUID
	Registration Registration
}

// SingleValued reports whether the kind's XSD allows at most one entry of the relation in a
// RelationListe (e.g. Overordnet, Tilhoerer, Enhedstype on OrganisationEnhed). Such a relation is
// overwritten in place on change instead of gaining a second, ended entry.
func SingleValued(k Kind, name RelationName) bool {
	switch name {
	case RelBranche, RelOverordnet, RelProduktionsenhed, RelSkatteenhed:
		return k == KindOrganisation || k == KindOrganisationEnhed
	case RelTilhoerer:
		return k == KindOrganisation || k == KindOrganisationEnhed || k == KindBruger
	case RelEnhedstype:
		return k == KindOrganisationEnhed
	case RelFunktionstype:
		return k == KindOrganisationFunktion
	case RelOrganisationstype, RelMyndighed, RelMyndighedstype, RelVirksomhed, RelVirksomhedstype:
		return k == KindOrganisation
	}
	return false
}

// InUTC returns a copy of o whose times (registration time and every Virkning) are in UTC, with
// the lists copied so o is not changed. Parsed registrations carry fixed-offset zones; comparing
// InUTC copies compares instants.
func (o *Object) InUTC() *Object {
	c := *o
	r := &c.Registration
	r.Tidspunkt = r.Tidspunkt.UTC()
	utc := func(v Virkning) Virkning { v.From, v.To = v.From.UTC(), v.To.UTC(); return v }
	r.Egenskaber = append([]Egenskab(nil), r.Egenskaber...)
	for i := range r.Egenskaber {
		r.Egenskaber[i].Virkning = utc(r.Egenskaber[i].Virkning)
	}
	r.Gyldighed = append([]Gyldighed(nil), r.Gyldighed...)
	for i := range r.Gyldighed {
		r.Gyldighed[i].Virkning = utc(r.Gyldighed[i].Virkning)
	}
	r.Relationer = append([]Relation(nil), r.Relationer...)
	for i := range r.Relationer {
		r.Relationer[i].Virkning = utc(r.Relationer[i].Virkning)
	}
	return &c
}

// Exists reports whether STS holds o: it is not nil, passivated or deleted.
func (o *Object) Exists() bool {
	if o == nil {
		return false
	}
	l := o.Registration.Livscyklus
	return l != LivscyklusPassiveret && l != LivscyklusSlettet
}

// StatusOn returns o's Gyldighed status in effect at t, or "" when none is (also for a nil o).
func (o *Object) StatusOn(t time.Time) GyldighedStatus {
	if o == nil {
		return ""
	}
	for _, g := range o.Registration.Gyldighed {
		if g.Virkning.Covers(t) {
			return g.Status
		}
	}
	return ""
}

// ActiveOn reports whether o exists (not passivated) and is Aktiv at t.
func (o *Object) ActiveOn(t time.Time) bool { return o.Exists() && o.StatusOn(t) == Aktiv }

// RefOn returns the target of o's relation name in effect on day, else the last such target in
// any period, else uuid.Nil (also for a nil o); e.g. a function's Funktionstype.
func (o *Object) RefOn(name RelationName, day time.Time) uuid.UUID {
	if o == nil {
		return uuid.Nil
	}
	var found uuid.UUID
	for _, r := range o.Registration.Relationer {
		if r.Name != name {
			continue
		}
		if r.Virkning.Covers(day) {
			return r.Ref
		}
		found = r.Ref
	}
	return found
}

// LiveRefs returns the distinct targets of o's relations of the names that are in effect on day
// or later (their Virkning is open or ends after day), in order of appearance; none for a nil o.
func (o *Object) LiveRefs(day time.Time, names ...RelationName) []uuid.UUID {
	if o == nil {
		return nil
	}
	var out []uuid.UUID
	for _, r := range o.Registration.Relationer {
		if slices.Contains(names, r.Name) && r.Ref != uuid.Nil && (r.Virkning.To.IsZero() || r.Virkning.To.After(day)) &&
			!slices.Contains(out, r.Ref) {
			out = append(out, r.Ref)
		}
	}
	return out
}
