package oio

import (
	"fmt"
	"strconv"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// nsInteressefaellesskab is the namespace of the Interessefaellesskab schema, whose objects a
// hierarchy may list but the model does not hold.
const nsInteressefaellesskab = "http://stoettesystemerne.dk/organisation/interessefaellesskab/6/"

// HierarchyKinds returns the object kinds a hierarchy (OrganisationSystem
// fremsoegobjekthierarki) holds, in the order of the schema's output lists. Interessefaellesskab,
// which the schema lists between Bruger and ItSystem, is not a modelled kind (see
// Hierarchy.Interessefaellesskaber).
func HierarchyKinds() []Kind {
	return []Kind{KindOrganisation, KindOrganisationEnhed, KindOrganisationFunktion, KindBruger, KindItSystem}
}

// inHierarchy reports whether k is one of HierarchyKinds.
func inHierarchy(k Kind) bool {
	switch k {
	case KindOrganisation, KindOrganisationEnhed, KindOrganisationFunktion, KindBruger, KindItSystem:
		return true
	}
	return false
}

// hierarchyListName returns the element name of the output list of kind k.
func hierarchyListName(k Kind) string {
	switch k {
	case KindOrganisation:
		return "Organisationer"
	case KindOrganisationEnhed:
		return "OrganisationEnheder"
	case KindOrganisationFunktion:
		return "OrganisationFunktioner"
	case KindBruger:
		return "Brugere"
	case KindItSystem:
		return "ItSystemer"
	}
	return ""
}

// HierarchyInput is the content of a fremsoegobjekthierarki request (the OrganisationSystem
// service): one page of the objects of the organisation hierarchy the service attributes to the
// caller (the municipality of the token's CVR). Each output list is paged with First and Max.
// SoegRegistrering and SoegVirkning are not supported.
type HierarchyInput struct {
	// First is the index of the first result to return (sd:FoersteResultatReference), from 0.
	First int
	// Max is the page size (sd:MaksimalAntalKvantitet); 0 leaves it to the service.
	Max int
	// Egenskaber optionally narrows the objects of a kind (key: one of HierarchyKinds) to those
	// with an Egenskab matching the template's non-empty leaves (OrganisationEnhedSoegEgenskab,
	// …). A non-zero Virkning is sent too (the fake ignores it).
	Egenskaber map[Kind]Egenskab
}

// Validate checks the paging values and that every template is for a kind of HierarchyKinds and
// valid like an Object's Egenskab.
func (in *HierarchyInput) Validate() error {
	if in.First < 0 || in.Max < 0 {
		return fmt.Errorf("%w: negative paging value", ErrInvalid)
	}
	for k, e := range in.Egenskaber {
		if !inHierarchy(k) {
			return fmt.Errorf("%w: fremsoegobjekthierarki has no Egenskab template for %q", ErrInvalid, k)
		}
		if err := validateEgenskab(k, &e); err != nil {
			return fmt.Errorf("fremsoegobjekthierarki %s template: %w", k, err)
		}
	}
	return nil
}

// Hierarchy is the content of a fremsoegobjekthierarki response: the objects of each kind with
// their latest registrations.
type Hierarchy struct {
	Organisationer         []*Object
	OrganisationEnheder    []*Object
	OrganisationFunktioner []*Object
	Brugere                []*Object
	// Interessefaellesskaber holds the UUIDs of the interest groups listed; their registrations
	// are not modelled.
	Interessefaellesskaber []uuid.UUID
	ItSystemer             []*Object
}

// Objects returns the list of kind k (nil for a kind not in HierarchyKinds).
func (h *Hierarchy) Objects(k Kind) []*Object {
	if p := h.list(k); p != nil {
		return *p
	}
	return nil
}

// Len returns the number of entries of all lists, Interessefaellesskaber included.
func (h *Hierarchy) Len() int {
	n := len(h.Interessefaellesskaber)
	for _, k := range HierarchyKinds() {
		n += len(h.Objects(k))
	}
	return n
}

// Add appends o to the list of its kind; it fails for nil or a kind not in HierarchyKinds.
func (h *Hierarchy) Add(o *Object) error {
	if o == nil {
		return fmt.Errorf("%w: nil object", ErrInvalid)
	}
	p := h.list(o.Kind)
	if p == nil {
		return fmt.Errorf("%w: a hierarchy holds no %q objects", ErrInvalid, o.Kind)
	}
	*p = append(*p, o)
	return nil
}

func (h *Hierarchy) list(k Kind) *[]*Object {
	switch k {
	case KindOrganisation:
		return &h.Organisationer
	case KindOrganisationEnhed:
		return &h.OrganisationEnheder
	case KindOrganisationFunktion:
		return &h.OrganisationFunktioner
	case KindBruger:
		return &h.Brugere
	case KindItSystem:
		return &h.ItSystemer
	}
	return nil
}

// MarshalHierarchyInput returns the FremsoegObjekthierarkiInput element for in (in.Validate
// must pass).
func MarshalHierarchyInput(in *HierarchyInput) (*etree.Element, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	root := newRoot(KindOrganisationSystem, OpFremsoegObjekthierarki.InputElement())
	addText(root, "sd:FoersteResultatReference", strconv.Itoa(in.First))
	if in.Max > 0 {
		addText(root, "sd:MaksimalAntalKvantitet", strconv.Itoa(in.Max))
	}
	for _, k := range HierarchyKinds() {
		e, ok := in.Egenskaber[k]
		if !ok {
			continue
		}
		el := root.CreateElement(k.ElementName() + "SoegEgenskab")
		if e.Virkning != (Virkning{}) {
			writeVirkning(el, e.Virkning)
		}
		writeEgenskabLeaves(el, k, &e) // all leaves of the hierarchy kinds are in sd
	}
	return root, nil
}

// UnmarshalHierarchyInput reads a FremsoegObjekthierarkiInput element. SoegRegistrering,
// SoegVirkning and InteressefaellesskabSoegEgenskab are rejected as not supported.
func UnmarshalHierarchyInput(el *etree.Element) (*HierarchyInput, error) {
	ns, local := KindOrganisationSystem.Namespace(), OpFremsoegObjekthierarki.InputElement()
	if err := checkElement(el, ns, local); err != nil {
		return nil, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return nil, err
	}
	in := &HierarchyInput{}
	if e := c.opt(NSSagDok, "FoersteResultatReference"); e != nil {
		if in.First, err = intText(e, local); err != nil {
			return nil, err
		}
	}
	if e := c.opt(NSSagDok, "MaksimalAntalKvantitet"); e != nil {
		if in.Max, err = intText(e, local); err != nil {
			return nil, err
		}
	}
	if in.First < 0 || in.Max < 0 {
		return nil, invalidf(local, "negative paging value")
	}
	for _, k := range HierarchyKinds() {
		tag := k.ElementName() + "SoegEgenskab"
		if k == KindItSystem && c.opt(ns, "InteressefaellesskabSoegEgenskab") != nil {
			return nil, invalidf(local, "InteressefaellesskabSoegEgenskab is not supported")
		}
		te := c.opt(ns, tag)
		if te == nil {
			continue
		}
		e, err := readEgenskab(k, te, local+"/"+tag)
		if err != nil {
			return nil, err
		}
		if in.Egenskaber == nil {
			in.Egenskaber = map[Kind]Egenskab{}
		}
		in.Egenskaber[k] = e
	}
	return in, c.end()
}

// MarshalHierarchyOutput returns the FremsoegObjekthierarkiOutput element: StandardRetur and
// the six lists (all present, as the schema requires) with h's objects. Objects must be valid
// and in the list of their kind.
func MarshalHierarchyOutput(ret StandardRetur, h *Hierarchy) (*etree.Element, error) {
	if h == nil {
		h = &Hierarchy{}
	}
	for _, k := range HierarchyKinds() {
		for _, o := range h.Objects(k) {
			if o == nil || o.Kind != k {
				return nil, fmt.Errorf("%w: %v in the %s list", ErrInvalid, o, hierarchyListName(k))
			}
			if err := o.Validate(); err != nil {
				return nil, err
			}
		}
	}
	for i, id := range h.Interessefaellesskaber {
		if id == uuid.Nil {
			return nil, fmt.Errorf("%w: Interessefaellesskaber[%d] is the nil UUID", ErrInvalid, i)
		}
	}
	return marshalHierarchyOutput(ret, h), nil
}

// marshalHierarchyOutput writes a checked hierarchy. The OrganisationSystem elements carry
// the prefix "os"; each list declares its kind's namespace as the default for the objects in
// it.
func marshalHierarchyOutput(ret StandardRetur, h *Hierarchy) *etree.Element {
	root := etree.NewElement("os:" + OpFremsoegObjekthierarki.OutputElement())
	root.CreateAttr("xmlns:os", KindOrganisationSystem.Namespace())
	root.CreateAttr("xmlns:sd", NSSagDok)
	root.CreateAttr("xmlns:of", NSOrgFaelles)
	writeStandardRetur(root, ret)
	for _, k := range HierarchyKinds() {
		if k == KindItSystem {
			list := root.CreateElement("os:Interessefaellesskaber")
			if len(h.Interessefaellesskaber) > 0 {
				list.CreateAttr("xmlns", nsInteressefaellesskab)
			}
			for _, id := range h.Interessefaellesskaber {
				addText(list.CreateElement("os:FiltreretOejebliksbillede").CreateElement("ObjektType"), "sd:UUIDIdentifikator", id.String())
			}
		}
		list := root.CreateElement("os:" + hierarchyListName(k))
		objs := h.Objects(k)
		if len(objs) > 0 {
			list.CreateAttr("xmlns", k.Namespace())
		}
		for _, o := range objs {
			writeSnapshot(list.CreateElement("os:FiltreretOejebliksbillede"), k, o)
		}
	}
	return root
}

// UnmarshalHierarchyOutput reads a FremsoegObjekthierarkiOutput element: its StandardRetur
// and, in each list, one Object per FiltreretOejebliksbillede with its latest registration (as
// UnmarshalLaesOutput; entries without Registrering are skipped). Of the interest groups only
// the UUIDs are read. All six lists must be present.
func UnmarshalHierarchyOutput(el *etree.Element) (StandardRetur, *Hierarchy, error) {
	ns, local := KindOrganisationSystem.Namespace(), OpFremsoegObjekthierarki.OutputElement()
	ret, err := UnmarshalOutput(KindOrganisationSystem, OpFremsoegObjekthierarki, el)
	if err != nil {
		return ret, nil, err
	}
	c, _ := newCursor(el, local) // text already checked by UnmarshalStandardRetur
	c.i = 1
	h := &Hierarchy{}
	for _, k := range HierarchyKinds() {
		if k == KindItSystem {
			if h.Interessefaellesskaber, err = readInteressefaellesskaber(c, ns, local); err != nil {
				return ret, nil, err
			}
		}
		name := hierarchyListName(k)
		list, err := c.req(ns, name)
		if err != nil {
			return ret, nil, err
		}
		path := local + "/" + name
		lc, err := newCursor(list, path)
		if err != nil {
			return ret, nil, err
		}
		for i, fo := range lc.many(ns, "FiltreretOejebliksbillede") {
			o, err := readSnapshot(k, fo, fmt.Sprintf("%s/FiltreretOejebliksbillede[%d]", path, i))
			if err != nil {
				return ret, nil, err
			}
			if o != nil {
				*h.list(k) = append(*h.list(k), o)
			}
		}
		if err := lc.end(); err != nil {
			return ret, nil, err
		}
	}
	return ret, h, c.end()
}

// readInteressefaellesskaber reads the required Interessefaellesskaber list: the UUID of each
// entry's ObjektType (registrations are skipped unread).
func readInteressefaellesskaber(c *cursor, ns, local string) ([]uuid.UUID, error) {
	list, err := c.req(ns, "Interessefaellesskaber")
	if err != nil {
		return nil, err
	}
	path := local + "/Interessefaellesskaber"
	lc, err := newCursor(list, path)
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for i, fo := range lc.many(ns, "FiltreretOejebliksbillede") {
		p := fmt.Sprintf("%s/FiltreretOejebliksbillede[%d]", path, i)
		fc, err := newCursor(fo, p)
		if err != nil {
			return nil, err
		}
		ot, err := fc.req(nsInteressefaellesskab, "ObjektType")
		if err != nil {
			return nil, err
		}
		id, err := unikUUID(ot, p, false)
		if err != nil {
			return nil, err
		}
		fc.many(nsInteressefaellesskab, "Registrering") // not modelled
		if err := fc.end(); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, lc.end()
}
