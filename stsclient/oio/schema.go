package oio

import "strings"

// XML namespaces of the Organisation 6 schemas besides the per-kind namespace (Kind.Namespace).
const (
	// NSSagDok is the generic sagdok 3.0 namespace (prefix "sd"): UUIDIdentifikator, Virkning,
	// StandardRetur, the relation elements and most attribute leaves.
	NSSagDok = "urn:oio:sagdok:3.0.0"
	// NSOrgFaelles is the Organisation-wide namespace (prefix "of") of Gyldighed and
	// GyldighedStatusKode.
	NSOrgFaelles = "http://stoettesystemerne.dk/organisation/6/"
	// NSSTS is the STS general-definitions namespace (prefix "sts") of CPR-NummerTekst and
	// AdresseTekst.
	NSSTS = "urn:oio:sts:6"
)

// Operation is an operation of an Organisation 6 object service, named by its SOAP action
// suffix (http://kombit.dk/sts/organisation/{kind}/{op}).
type Operation string

// The operations every object service offers.
const (
	OpImporter Operation = "importer"
	OpOpret    Operation = "opret"
	OpRet      Operation = "ret"
	OpLaes     Operation = "laes"
	OpPassiver Operation = "passiver"
	OpSlet     Operation = "slet"
	OpSoeg     Operation = "soeg"
	OpList     Operation = "list"
)

// OpFremsoegObjekthierarki is the operation of the OrganisationSystem service
// (KindOrganisationSystem) that returns the objects of an organisation hierarchy.
const OpFremsoegObjekthierarki Operation = "fremsoegobjekthierarki"

// elementStem returns the stem of the operation's Input/Output element names.
func (op Operation) elementStem() string {
	switch op {
	case OpImporter:
		return "Import"
	case OpOpret, OpRet, OpLaes, OpPassiver, OpSlet, OpSoeg, OpList:
		return strings.ToUpper(string(op[:1])) + string(op[1:])
	case OpFremsoegObjekthierarki:
		return "FremsoegObjekthierarki"
	}
	return ""
}

// Offers reports whether the service of kind k offers op: every object kind (Valid) the eight
// object operations, KindOrganisationSystem only OpFremsoegObjekthierarki (its import and
// anonymiser operations are not modelled).
func (k Kind) Offers(op Operation) bool {
	if k == KindOrganisationSystem {
		return op == OpFremsoegObjekthierarki
	}
	return k.Valid() && op.Valid() && op != OpFremsoegObjekthierarki
}

// Valid reports whether op is one of the known operations.
func (op Operation) Valid() bool { return op.elementStem() != "" }

// InputElement returns the local name of the operation's request element, e.g. "ImportInput".
func (op Operation) InputElement() string { return op.elementStem() + "Input" }

// OutputElement returns the local name of the operation's response element, e.g. "ImportOutput".
func (op Operation) OutputElement() string { return op.elementStem() + "Output" }

// HasTilstande reports whether the kind's TilstandListe can hold Gyldighed entries (Person and
// Adresse have an empty TilstandListe by schema).
func HasTilstande(k Kind) bool {
	return k.Valid() && k != KindPerson && k != KindAdresse
}

// DynamicRelation reports whether the relation is a DynamicFlerRelation (Adresser, Opgaver),
// which requires Rolle, Type and Indeks.
func DynamicRelation(name RelationName) bool {
	return name == RelAdresser || name == RelOpgaver
}

// leaf describes one attribute leaf of an Egenskab after Virkning, in schema order.
type leaf struct {
	ns, tag string
	max     int                     // maxLength in characters; 0 = unlimited
	multi   bool                    // maxOccurs unbounded
	pattern func(string) bool       // optional value check
	field   func(*Egenskab) *string // nil: a known leaf the model does not hold (skipped on read)
}

func bvnField(e *Egenskab) *string          { return &e.BrugervendtNoegle }
func navnField(e *Egenskab) *string         { return &e.Navn }
func brugerTypeField(e *Egenskab) *string   { return &e.BrugerTypeTekst }
func adresseTekstField(e *Egenskab) *string { return &e.AdresseTekst }
func cprField(e *Egenskab) *string          { return &e.CPR }

func isCPR(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// egenskabLeaves returns the kind's Egenskab leaves (after sd:Virkning) in schema order.
func egenskabLeaves(k Kind) []leaf {
	bvn := leaf{ns: NSSagDok, tag: "BrugervendtNoegleTekst", max: 50, field: bvnField}
	switch k {
	case KindOrganisationEnhed:
		return []leaf{bvn, {ns: NSSagDok, tag: "EnhedNavn", max: 200, field: navnField}}
	case KindOrganisation:
		return []leaf{bvn, {ns: NSSagDok, tag: "OrganisationNavn", max: 200, field: navnField}}
	case KindOrganisationFunktion:
		return []leaf{bvn, {ns: NSSagDok, tag: "FunktionNavn", max: 200, field: navnField}}
	case KindBruger:
		return []leaf{bvn, {ns: NSSagDok, tag: "BrugerNavn", max: 200, field: navnField},
			{ns: NSSagDok, tag: "BrugerTypeTekst", max: 50, field: brugerTypeField}}
	case KindPerson:
		return []leaf{bvn, {ns: NSSTS, tag: "CPR-NummerTekst", pattern: isCPR, field: cprField},
			{ns: k.Namespace(), tag: "NavnTekst", max: 100, field: navnField}}
	case KindAdresse:
		return []leaf{bvn, {ns: NSSTS, tag: "AdresseTekst", max: 200, field: adresseTekstField}}
	case KindItSystem:
		return []leaf{bvn, {ns: NSSagDok, tag: "ItSystemNavn", max: 200, field: navnField},
			{ns: NSSagDok, tag: "ItSystemTypeTekst", max: 50},
			{ns: NSSagDok, tag: "KonfigurationReference", max: 1024, multi: true}}
	}
	return nil
}

// validLivscyklus reports whether l may appear in a v6 document (the v6 LivscyklusKode
// enumeration has no "Rettet").
func validLivscyklus(l Livscyklus) bool {
	switch l {
	case LivscyklusOpstaaet, LivscyklusImporteret, LivscyklusPassiveret, LivscyklusSlettet:
		return true
	}
	return false
}

// validAktoerType reports whether s is in the AktoerTypeKode enumeration.
func validAktoerType(s string) bool {
	switch s {
	case "Organisation", "OrganisationEnhed", "OrganisationFunktion", "Bruger", "ItSystem", "Interessefaellesskab":
		return true
	}
	return false
}

// relationIndex returns the position of name in the kind's RelationListe sequence, or -1.
func relationIndex(k Kind, name RelationName) int {
	for i, n := range RelationOrder(k) {
		if n == name {
			return i
		}
	}
	return -1
}
