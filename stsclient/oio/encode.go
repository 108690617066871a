package oio

import (
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// TimeLayout is the xs:dateTime layout the codec writes: RFC 3339 with fractional seconds as
// needed and an explicit numeric offset (never "Z"), keeping the offset of the value given.
const TimeLayout = "2006-01-02T15:04:05.999999999-07:00"

// FormatTime formats t with TimeLayout.
func FormatTime(t time.Time) string { return t.Format(TimeLayout) }

// newRoot returns an operation element in the kind's namespace with the namespace declarations
// its content needs (default = kind namespace, sd, and of/sts where the kind uses them).
func newRoot(k Kind, local string) *etree.Element {
	el := etree.NewElement(local)
	el.CreateAttr("xmlns", k.Namespace())
	el.CreateAttr("xmlns:sd", NSSagDok)
	return el
}

func declareListNamespaces(el *etree.Element, k Kind) {
	if HasTilstande(k) {
		el.CreateAttr("xmlns:of", NSOrgFaelles)
	}
	if k == KindPerson || k == KindAdresse {
		el.CreateAttr("xmlns:sts", NSSTS)
	}
}

// prefixFor returns the prefix the encoder uses for a namespace of kind k.
func prefixFor(k Kind, ns string) string {
	switch ns {
	case NSSagDok:
		return "sd:"
	case NSOrgFaelles:
		return "of:"
	case NSSTS:
		return "sts:"
	case k.Namespace():
		return ""
	}
	panic("oio: no prefix for namespace " + ns) // programming error in the leaf tables
}

func addText(parent *etree.Element, tag, text string) *etree.Element {
	el := parent.CreateElement(tag)
	el.SetText(text)
	return el
}

func addUUID(parent *etree.Element, tag string, id uuid.UUID) {
	addText(parent.CreateElement(tag), "sd:UUIDIdentifikator", id.String())
}

// MarshalImportInput returns the ImportInput element for o (o.Validate must pass).
func MarshalImportInput(o *Object) (*etree.Element, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	root := newRoot(o.Kind, OpImporter.InputElement())
	declareListNamespaces(root, o.Kind)
	obj := root.CreateElement(o.Kind.ElementName())
	addText(obj, "sd:UUIDIdentifikator", o.UUID.String())
	writeRegistration(obj.CreateElement("Registrering"), o.Kind, &o.Registration)
	return root, nil
}

// MarshalRetInput returns the RetInput element for in (in.Validate must pass).
func MarshalRetInput(in *RetInput) (*etree.Element, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	root := newRoot(in.Kind, OpRet.InputElement())
	declareListNamespaces(root, in.Kind)
	addText(root, "sd:UUIDIdentifikator", in.UUID.String())
	if in.Note != "" {
		addText(root, "sd:NoteTekst", in.Note)
	}
	writeLists(root, in.Kind, in.Egenskaber, in.Gyldighed, in.Relationer, in.Lists)
	return root, nil
}

// MarshalUUIDInput returns the input element of op (laes, passiver or slet) for in. A note is
// only written for passiver and slet.
func MarshalUUIDInput(op Operation, in UUIDInput) (*etree.Element, error) {
	if op != OpLaes && op != OpPassiver && op != OpSlet {
		return nil, fmt.Errorf("oio: %s has no UUID input", op)
	}
	if !in.Kind.Valid() {
		return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalid, in.Kind)
	}
	if in.UUID == uuid.Nil {
		return nil, fmt.Errorf("%w: %s: nil UUID", ErrInvalid, in.Kind)
	}
	if err := validateNote(in.Note); err != nil {
		return nil, err
	}
	root := newRoot(in.Kind, op.InputElement())
	addText(root, "sd:UUIDIdentifikator", in.UUID.String())
	if in.Note != "" && op != OpLaes {
		addText(root, "sd:NoteTekst", in.Note)
	}
	return root, nil
}

// MarshalBasicOutput returns op's output element carrying only StandardRetur (importer, ret,
// passiver, slet, and error outcomes of any operation). For OpFremsoegObjekthierarki it also
// carries the six lists the schema requires, empty.
func MarshalBasicOutput(k Kind, op Operation, ret StandardRetur) *etree.Element {
	if op == OpFremsoegObjekthierarki {
		return marshalHierarchyOutput(ret, &Hierarchy{})
	}
	root := newRoot(k, op.OutputElement())
	writeStandardRetur(root, ret)
	return root
}

// MarshalLaesOutput returns the LaesOutput element: StandardRetur and, when o is not nil,
// FiltreretOejebliksbillede with o's UUID and its registration.
func MarshalLaesOutput(k Kind, ret StandardRetur, o *Object) (*etree.Element, error) {
	root := newRoot(k, OpLaes.OutputElement())
	writeStandardRetur(root, ret)
	if o == nil {
		return root, nil
	}
	if o.Kind != k {
		return nil, fmt.Errorf("%w: %s object in a %s LaesOutput", ErrInvalid, o.Kind, k)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	declareListNamespaces(root, k)
	writeSnapshot(root.CreateElement("FiltreretOejebliksbillede"), k, o)
	return root, nil
}

// writeSnapshot fills a FiltreretOejebliksbillede element with o's ObjektType and registration;
// the default namespace in scope must be the kind's.
func writeSnapshot(fo *etree.Element, k Kind, o *Object) {
	addText(fo.CreateElement("ObjektType"), "sd:UUIDIdentifikator", o.UUID.String())
	writeRegistration(fo.CreateElement("Registrering"), k, &o.Registration)
}

func writeStandardRetur(parent *etree.Element, ret StandardRetur) {
	sr := parent.CreateElement("sd:StandardRetur")
	addText(sr, "sd:StatusKode", strconv.Itoa(ret.StatusKode))
	if ret.FejlbeskedTekst != "" {
		addText(sr, "sd:FejlbeskedTekst", ret.FejlbeskedTekst)
	}
}

func writeRegistration(el *etree.Element, k Kind, r *Registration) {
	if !r.Tidspunkt.IsZero() {
		addText(el, "sd:Tidspunkt", FormatTime(r.Tidspunkt))
	}
	if r.Livscyklus != "" {
		addText(el, "sd:LivscyklusKode", string(r.Livscyklus))
	}
	if r.BrugerRef != uuid.Nil {
		addUUID(el, "sd:BrugerRef", r.BrugerRef)
	}
	writeLists(el, k, r.Egenskaber, r.Gyldighed, r.Relationer, AllLists)
}

func writeLists(parent *etree.Element, k Kind, eg []Egenskab, gy []Gyldighed, rel []Relation, lists Lists) {
	if lists&ListAttributter != 0 {
		al := parent.CreateElement("AttributListe")
		for i := range eg {
			writeEgenskab(al.CreateElement("Egenskab"), k, &eg[i])
		}
	}
	if lists&ListTilstande != 0 {
		tl := parent.CreateElement("TilstandListe")
		for _, g := range gy {
			ge := tl.CreateElement("of:Gyldighed")
			writeVirkning(ge, g.Virkning)
			addText(ge, "of:GyldighedStatusKode", string(g.Status))
		}
	}
	if lists&ListRelationer != 0 {
		rl := parent.CreateElement("RelationListe")
		for _, name := range RelationOrder(k) {
			for _, r := range rel {
				if r.Name == name {
					writeRelation(rl.CreateElement("sd:"+string(name)), r)
				}
			}
		}
	}
}

func writeEgenskab(el *etree.Element, k Kind, e *Egenskab) {
	writeVirkning(el, e.Virkning)
	writeEgenskabLeaves(el, k, e)
}

// writeEgenskabLeaves writes the non-empty attribute leaves of e in schema order.
func writeEgenskabLeaves(el *etree.Element, k Kind, e *Egenskab) {
	for _, l := range egenskabLeaves(k) {
		if l.field == nil {
			continue
		}
		if v := *l.field(e); v != "" {
			addText(el, prefixFor(k, l.ns)+l.tag, v)
		}
	}
}

func writeVirkning(parent *etree.Element, v Virkning) {
	el := parent.CreateElement("sd:Virkning")
	writeTidspunkt(el.CreateElement("sd:FraTidspunkt"), v.From)
	writeTidspunkt(el.CreateElement("sd:TilTidspunkt"), v.To)
	if v.Aktoer != uuid.Nil {
		addUUID(el, "sd:AktoerRef", v.Aktoer)
	}
	if v.AktoerType != "" {
		addText(el, "sd:AktoerTypeKode", v.AktoerType)
	}
}

func writeTidspunkt(el *etree.Element, t time.Time) {
	if t.IsZero() {
		addText(el, "sd:GraenseIndikator", "true")
		return
	}
	addText(el, "sd:TidsstempelDatoTid", FormatTime(t))
}

func writeRelation(el *etree.Element, r Relation) {
	writeVirkning(el, r.Virkning)
	writeReference(el, r)
	if DynamicRelation(r.Name) {
		addUUID(el, "sd:Rolle", r.Rolle)
		addUUID(el, "sd:Type", r.Type)
		addText(el, "sd:Indeks", r.Indeks)
	}
}

// writeReference writes the relation's sd:ReferenceID (UUID or URN), if it has one.
func writeReference(el *etree.Element, r Relation) {
	switch {
	case r.Ref != uuid.Nil:
		addUUID(el, "sd:ReferenceID", r.Ref)
	case r.URN != "":
		addText(el.CreateElement("sd:ReferenceID"), "sd:URNIdentifikator", r.URN)
	}
}
