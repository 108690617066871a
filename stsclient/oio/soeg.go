package oio

import (
	"fmt"
	"strconv"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// SoegInput is the content of a soeg (search) request: one page of the objects whose latest
// registration matches a template. Template entries carry no Virkning (a zero Virkning is not
// written); an Egenskab matches on its non-empty leaves, a Gyldighed on its status and a
// Relation on its name and reference. The three lists are always sent (the schema requires
// them), empty when not used.
type SoegInput struct {
	Kind Kind
	// First is the index of the first result to return (sd:FoersteResultatReference), from 0.
	First int
	// Max is the page size (sd:MaksimalAntalKvantitet); 0 leaves it to the service.
	Max        int
	Egenskaber []Egenskab
	Gyldighed  []Gyldighed
	// Relationer may not hold Adresser or Opgaver (their Rolle/Type/Indeks are mandatory in the
	// schema, so they cannot serve as a template).
	Relationer []Relation
}

// Validate checks the kind, the paging values and the template like Object.Validate, and that
// relations are plain (not Adresser/Opgaver) and carry a reference.
func (in *SoegInput) Validate() error {
	if !in.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, in.Kind)
	}
	if in.First < 0 || in.Max < 0 {
		return fmt.Errorf("%w: negative paging value", ErrInvalid)
	}
	for i, r := range in.Relationer {
		if DynamicRelation(r.Name) {
			return fmt.Errorf("%w: soeg template relation %s cannot be searched for", ErrInvalid, r.Name)
		}
		if r.Ref == uuid.Nil && r.URN == "" {
			return fmt.Errorf("%w: soeg template Relation[%d] %s has no reference", ErrInvalid, i, r.Name)
		}
	}
	if err := validateLists(in.Kind, in.Egenskaber, in.Gyldighed, in.Relationer, AllLists); err != nil {
		return fmt.Errorf("soeg %s: %w", in.Kind, err)
	}
	return nil
}

// MarshalSoegInput returns the SoegInput element for in (in.Validate must pass).
func MarshalSoegInput(in *SoegInput) (*etree.Element, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	k := in.Kind
	root := newRoot(k, OpSoeg.InputElement())
	declareListNamespaces(root, k)
	addText(root, "sd:FoersteResultatReference", strconv.Itoa(in.First))
	if in.Max > 0 {
		addText(root, "sd:MaksimalAntalKvantitet", strconv.Itoa(in.Max))
	}
	al := root.CreateElement("AttributListe")
	for i := range in.Egenskaber {
		e := &in.Egenskaber[i]
		el := al.CreateElement("Egenskab")
		if e.Virkning != (Virkning{}) {
			writeVirkning(el, e.Virkning)
		}
		writeEgenskabLeaves(el, k, e)
	}
	tl := root.CreateElement("TilstandListe")
	for _, g := range in.Gyldighed {
		ge := tl.CreateElement("of:Gyldighed")
		if g.Virkning != (Virkning{}) {
			writeVirkning(ge, g.Virkning)
		}
		addText(ge, "of:GyldighedStatusKode", string(g.Status))
	}
	rl := root.CreateElement("RelationListe")
	for _, name := range RelationOrder(k) {
		for _, r := range in.Relationer {
			if r.Name != name {
				continue
			}
			re := rl.CreateElement("sd:" + string(name))
			if r.Virkning != (Virkning{}) {
				writeVirkning(re, r.Virkning)
			}
			writeReference(re, r)
		}
	}
	return root, nil
}

// UnmarshalSoegInput reads a SoegInput element of kind k (SoegRegistrering and SoegVirkning are
// rejected as not supported).
func UnmarshalSoegInput(k Kind, el *etree.Element) (*SoegInput, error) {
	local := OpSoeg.InputElement()
	if err := checkRoot(el, k, local); err != nil {
		return nil, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return nil, err
	}
	in := &SoegInput{Kind: k}
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
	lists := &RetInput{Kind: k}
	if err := readLists(c, k, lists, true); err != nil {
		return nil, err
	}
	in.Egenskaber, in.Gyldighed, in.Relationer = lists.Egenskaber, lists.Gyldighed, lists.Relationer
	return in, c.end()
}

// MarshalSoegOutput returns the SoegOutput element: StandardRetur and, when ids is not nil, an
// sd:IdListe with the UUIDs.
func MarshalSoegOutput(k Kind, ret StandardRetur, ids []uuid.UUID) *etree.Element {
	root := newRoot(k, OpSoeg.OutputElement())
	writeStandardRetur(root, ret)
	if ids != nil {
		list := root.CreateElement("sd:IdListe")
		for _, id := range ids {
			addText(list, "sd:UUIDIdentifikator", id.String())
		}
	}
	return root
}

// UnmarshalSoegOutput reads a SoegOutput element of kind k: its StandardRetur and the UUIDs of
// its IdListe (nil when absent).
func UnmarshalSoegOutput(k Kind, el *etree.Element) (StandardRetur, []uuid.UUID, error) {
	local := OpSoeg.OutputElement()
	ret, err := UnmarshalOutput(k, OpSoeg, el)
	if err != nil {
		return ret, nil, err
	}
	c, _ := newCursor(el, local) // text already checked by UnmarshalStandardRetur
	c.i = 1
	list := c.opt(NSSagDok, "IdListe")
	if err := c.end(); err != nil || list == nil {
		return ret, nil, err
	}
	path := local + "/IdListe"
	lc, err := newCursor(list, path)
	if err != nil {
		return ret, nil, err
	}
	ids := []uuid.UUID{}
	for _, e := range lc.many(NSSagDok, "UUIDIdentifikator") {
		id, err := uuidText(e, path)
		if err != nil {
			return ret, nil, err
		}
		ids = append(ids, id)
	}
	return ret, ids, lc.end()
}
