package oio

import (
	"fmt"
	"slices"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// The Unmarshal functions read the operation elements written by the Marshal functions (or by
// the real service) from a parsed document; el must stay attached to its document so that
// namespace prefixes declared on ancestors (e.g. the SOAP envelope) resolve. They check element
// names, namespaces, order, cardinality, UUID patterns and enumerations as the v6 schemas
// define them (not yet: every length facet of every element) and return errors wrapping
// ErrInvalid naming the offending path.

func checkRoot(el *etree.Element, k Kind, local string) error {
	if !k.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, k)
	}
	return checkElement(el, k.Namespace(), local)
}

// checkElement checks that el is {ns}local.
func checkElement(el *etree.Element, ns, local string) error {
	if el == nil {
		return fmt.Errorf("%w: missing %s", ErrInvalid, local)
	}
	if !is(el, ns, local) {
		return fmt.Errorf("%w: expected {%s}%s, found %s", ErrInvalid, ns, local, qname(el))
	}
	return nil
}

// UnmarshalImportInput reads an ImportInput element of kind k.
func UnmarshalImportInput(k Kind, el *etree.Element) (*Object, error) {
	local := OpImporter.InputElement()
	if err := checkRoot(el, k, local); err != nil {
		return nil, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return nil, err
	}
	objEl, err := c.req(k.Namespace(), k.ElementName())
	if err != nil {
		return nil, err
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	o, err := readObject(k, objEl, local+"/"+k.ElementName(), "UUIDIdentifikator", NSSagDok)
	if err != nil {
		return nil, err
	}
	if len(o) != 1 {
		return nil, invalidf(local, "%d Registrering elements; importer takes exactly one", len(o))
	}
	return o[0], nil
}

// readObject reads {UUID-element, Registrering+|*} into one Object per registration.
func readObject(k Kind, el *etree.Element, path, idTag, idNS string) ([]*Object, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return nil, err
	}
	idEl, err := c.req(idNS, idTag)
	if err != nil {
		return nil, err
	}
	var id uuid.UUID
	if idTag == "UUIDIdentifikator" {
		id, err = uuidText(idEl, path)
	} else {
		id, err = unikUUID(idEl, path, false)
	}
	if err != nil {
		return nil, err
	}
	var out []*Object
	for i, re := range c.many(k.Namespace(), "Registrering") {
		r, err := readRegistration(k, re, fmt.Sprintf("%s/Registrering[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, &Object{Kind: k, UUID: id, Registration: *r})
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	if len(out) == 0 && idTag == "UUIDIdentifikator" {
		return nil, invalidf(path, "missing Registrering")
	}
	return out, nil
}

func readRegistration(k Kind, el *etree.Element, path string) (*Registration, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return nil, err
	}
	r := &Registration{}
	c.opt(NSSagDok, "NoteTekst") // not modelled
	if e := c.opt(NSSagDok, "Tidspunkt"); e != nil {
		if r.Tidspunkt, err = timeText(e, path); err != nil {
			return nil, err
		}
	}
	if e := c.opt(NSSagDok, "LivscyklusKode"); e != nil {
		s, err := text(e, path)
		if err != nil {
			return nil, err
		}
		if r.Livscyklus = Livscyklus(s); !validLivscyklus(r.Livscyklus) {
			return nil, invalidf(path, "LivscyklusKode %q", s)
		}
	}
	if e := c.opt(NSSagDok, "BrugerRef"); e != nil {
		if r.BrugerRef, err = unikUUID(e, path, false); err != nil {
			return nil, err
		}
	}
	lists := &RetInput{Kind: k}
	if err := readLists(c, k, lists, true); err != nil {
		return nil, err
	}
	r.Egenskaber, r.Gyldighed, r.Relationer = lists.Egenskaber, lists.Gyldighed, lists.Relationer
	return r, c.end()
}

// readLists reads AttributListe, TilstandListe and RelationListe from c into dst, recording in
// dst.Lists which were present. With required set, all three must be present.
func readLists(c *cursor, k Kind, dst *RetInput, required bool) error {
	ns := k.Namespace()
	steps := []struct {
		tag  string
		bit  Lists
		read func(*etree.Element, string) error
	}{
		{"AttributListe", ListAttributter, func(el *etree.Element, p string) (err error) {
			dst.Egenskaber, err = readAttributListe(k, el, p)
			return err
		}},
		{"TilstandListe", ListTilstande, func(el *etree.Element, p string) (err error) {
			dst.Gyldighed, err = readTilstandListe(k, el, p)
			return err
		}},
		{"RelationListe", ListRelationer, func(el *etree.Element, p string) (err error) {
			dst.Relationer, err = readRelationListe(k, el, p)
			return err
		}},
	}
	for _, s := range steps {
		var el *etree.Element
		if required {
			var err error
			if el, err = c.req(ns, s.tag); err != nil {
				return err
			}
		} else if el = c.opt(ns, s.tag); el == nil {
			continue
		}
		dst.Lists |= s.bit
		if err := s.read(el, c.path+"/"+s.tag); err != nil {
			return err
		}
	}
	return nil
}

func readAttributListe(k Kind, el *etree.Element, path string) ([]Egenskab, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return nil, err
	}
	var out []Egenskab
	for i, e := range c.many(k.Namespace(), "Egenskab") {
		eg, err := readEgenskab(k, e, fmt.Sprintf("%s/Egenskab[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, eg)
	}
	c.opt(NSSagDok, "LokalUdvidelse") // not modelled
	return out, c.end()
}

func readEgenskab(k Kind, el *etree.Element, path string) (Egenskab, error) {
	var e Egenskab
	c, err := newCursor(el, path)
	if err != nil {
		return e, err
	}
	if e.Virkning, err = readOptVirkning(c); err != nil {
		return e, err
	}
	for _, l := range egenskabLeaves(k) {
		els := []*etree.Element{c.opt(l.ns, l.tag)}
		if l.multi {
			els = append(els, c.many(l.ns, l.tag)...)
		}
		for _, le := range els {
			if le == nil {
				continue
			}
			v, err := boundedText(le, path, l.max)
			if err != nil {
				return e, err
			}
			if err := checkLeaf(l, v); err != nil {
				return e, fmt.Errorf("%s: %w", path, err)
			}
			if l.field != nil {
				*l.field(&e) = v
			}
		}
	}
	return e, c.end()
}

func readTilstandListe(k Kind, el *etree.Element, path string) ([]Gyldighed, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return nil, err
	}
	if !HasTilstande(k) {
		return nil, c.end()
	}
	var out []Gyldighed
	for i, ge := range c.many(NSOrgFaelles, "Gyldighed") {
		p := fmt.Sprintf("%s/Gyldighed[%d]", path, i)
		gc, err := newCursor(ge, p)
		if err != nil {
			return nil, err
		}
		var g Gyldighed
		if g.Virkning, err = readOptVirkning(gc); err != nil {
			return nil, err
		}
		se, err := gc.req(NSOrgFaelles, "GyldighedStatusKode")
		if err != nil {
			return nil, err
		}
		s, err := text(se, p)
		if err != nil {
			return nil, err
		}
		if g.Status = GyldighedStatus(s); g.Status != Aktiv && g.Status != Inaktiv {
			return nil, invalidf(p, "GyldighedStatusKode %q", s)
		}
		if err := gc.end(); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	c.opt(NSSagDok, "LokalUdvidelse")
	return out, c.end()
}

func readRelationListe(k Kind, el *etree.Element, path string) ([]Relation, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return nil, err
	}
	var out []Relation
	for _, name := range RelationOrder(k) {
		els := c.many(NSSagDok, string(name))
		if len(els) > 1 && SingleValued(k, name) {
			return nil, invalidf(path, "%d %s relations; at most one allowed", len(els), name)
		}
		for i, re := range els {
			r, err := readRelation(name, re, fmt.Sprintf("%s/%s[%d]", path, name, i))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	c.opt(NSSagDok, "LokalUdvidelse")
	if next := c.next(); next != nil {
		if relationIndex(k, RelationName(next.Tag)) >= 0 && next.NamespaceURI() == NSSagDok {
			return nil, invalidf(path, "relation %s out of schema order", next.Tag)
		}
	}
	return out, c.end()
}

func readRelation(name RelationName, el *etree.Element, path string) (Relation, error) {
	r := Relation{Name: name}
	c, err := newCursor(el, path)
	if err != nil {
		return r, err
	}
	if r.Virkning, err = readOptVirkning(c); err != nil {
		return r, err
	}
	if re := c.opt(NSSagDok, "ReferenceID"); re != nil {
		rc, err := newCursor(re, path+"/ReferenceID")
		if err != nil {
			return r, err
		}
		if u := rc.opt(NSSagDok, "UUIDIdentifikator"); u != nil {
			if r.Ref, err = uuidText(u, rc.path); err != nil {
				return r, err
			}
		} else if u, err := rc.req(NSSagDok, "URNIdentifikator"); err != nil {
			return r, err
		} else if r.URN, err = text(u, rc.path); err != nil {
			return r, err
		}
		if err := rc.end(); err != nil {
			return r, err
		}
	}
	if DynamicRelation(name) {
		for _, f := range []struct {
			tag string
			dst *uuid.UUID
		}{{"Rolle", &r.Rolle}, {"Type", &r.Type}} {
			e, err := c.req(NSSagDok, f.tag)
			if err != nil {
				return r, err
			}
			if *f.dst, err = unikUUID(e, path, true); err != nil {
				return r, err
			}
		}
		e, err := c.req(NSSagDok, "Indeks")
		if err != nil {
			return r, err
		}
		if r.Indeks, err = text(e, path); err != nil {
			return r, err
		}
	}
	return r, c.end()
}

// readOptVirkning reads an optional sd:Virkning from c.
func readOptVirkning(c *cursor) (Virkning, error) {
	var v Virkning
	el := c.opt(NSSagDok, "Virkning")
	if el == nil {
		return v, nil
	}
	path := c.path + "/Virkning"
	vc, err := newCursor(el, path)
	if err != nil {
		return v, err
	}
	for _, f := range []struct {
		tag string
		dst *time.Time
	}{{"FraTidspunkt", &v.From}, {"TilTidspunkt", &v.To}} {
		if te := vc.opt(NSSagDok, f.tag); te != nil {
			if *f.dst, err = readTidspunkt(te, path+"/"+f.tag); err != nil {
				return v, err
			}
		}
	}
	if ae := vc.opt(NSSagDok, "AktoerRef"); ae != nil {
		if v.Aktoer, err = unikUUID(ae, path, false); err != nil {
			return v, err
		}
	}
	if te := vc.opt(NSSagDok, "AktoerTypeKode"); te != nil {
		if v.AktoerType, err = text(te, path); err != nil {
			return v, err
		}
		if !validAktoerType(v.AktoerType) {
			return v, invalidf(path, "AktoerTypeKode %q", v.AktoerType)
		}
	}
	vc.opt(NSSagDok, "NoteTekst") // not modelled
	return v, vc.end()
}

// readTidspunkt reads a TidspunktType; GraenseIndikator true is the zero time.
func readTidspunkt(el *etree.Element, path string) (time.Time, error) {
	c, err := newCursor(el, path)
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	if e := c.opt(NSSagDok, "TidsstempelDatoTid"); e != nil {
		if t, err = timeText(e, path); err != nil {
			return t, err
		}
	} else if e, err := c.req(NSSagDok, "GraenseIndikator"); err != nil {
		return t, err
	} else if s, err := text(e, path); err != nil {
		return t, err
	} else if !slices.Contains([]string{"true", "1"}, trimXML(s)) {
		return t, invalidf(path, "GraenseIndikator must be true, is %q", s)
	}
	return t, c.end()
}

func trimXML(s string) string {
	for len(s) > 0 && isXMLSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isXMLSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isXMLSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// UnmarshalRetInput reads a RetInput element of kind k.
func UnmarshalRetInput(k Kind, el *etree.Element) (*RetInput, error) {
	local := OpRet.InputElement()
	if err := checkRoot(el, k, local); err != nil {
		return nil, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return nil, err
	}
	in := &RetInput{Kind: k}
	if in.UUID, in.Note, err = readUUIDNote(c, true); err != nil {
		return nil, err
	}
	if err := readLists(c, k, in, false); err != nil {
		return nil, err
	}
	return in, c.end()
}

func readUUIDNote(c *cursor, noteAllowed bool) (uuid.UUID, string, error) {
	idEl, err := c.req(NSSagDok, "UUIDIdentifikator")
	if err != nil {
		return uuid.Nil, "", err
	}
	id, err := uuidText(idEl, c.path)
	if err != nil {
		return uuid.Nil, "", err
	}
	var note string
	if noteAllowed {
		if ne := c.opt(NSSagDok, "NoteTekst"); ne != nil {
			if note, err = boundedText(ne, c.path, 1024); err != nil {
				return uuid.Nil, "", err
			}
		}
	}
	return id, note, nil
}

// UnmarshalUUIDInput reads the input element of op (laes, passiver or slet) of kind k. Laes
// filters are rejected as not supported.
func UnmarshalUUIDInput(k Kind, op Operation, el *etree.Element) (UUIDInput, error) {
	in := UUIDInput{Kind: k}
	if op != OpLaes && op != OpPassiver && op != OpSlet {
		return in, fmt.Errorf("oio: %s has no UUID input", op)
	}
	local := op.InputElement()
	if err := checkRoot(el, k, local); err != nil {
		return in, err
	}
	c, err := newCursor(el, local)
	if err != nil {
		return in, err
	}
	if in.UUID, in.Note, err = readUUIDNote(c, op != OpLaes); err != nil {
		return in, err
	}
	return in, c.end()
}

// UnmarshalStandardRetur reads the sd:StandardRetur child of any output element (the first
// child, as in every v6 output type).
func UnmarshalStandardRetur(el *etree.Element) (StandardRetur, error) {
	var ret StandardRetur
	if el == nil {
		return ret, fmt.Errorf("%w: missing output element", ErrInvalid)
	}
	path := el.Tag
	c, err := newCursor(el, path)
	if err != nil {
		return ret, err
	}
	sr, err := c.req(NSSagDok, "StandardRetur")
	if err != nil {
		return ret, err
	}
	path += "/StandardRetur"
	sc, err := newCursor(sr, path)
	if err != nil {
		return ret, err
	}
	ke, err := sc.req(NSSagDok, "StatusKode")
	if err != nil {
		return ret, err
	}
	if ret.StatusKode, err = intText(ke, path); err != nil {
		return ret, err
	}
	if fe := sc.opt(NSSagDok, "FejlbeskedTekst"); fe != nil {
		if ret.FejlbeskedTekst, err = text(fe, path); err != nil {
			return ret, err
		}
	}
	return ret, sc.end()
}

// UnmarshalOutput checks that el is op's output element of kind k's service and returns its
// StandardRetur.
func UnmarshalOutput(k Kind, op Operation, el *etree.Element) (StandardRetur, error) {
	if !k.Valid() && k != KindOrganisationSystem {
		return StandardRetur{}, fmt.Errorf("%w: unknown kind %q", ErrInvalid, k)
	}
	if !k.Offers(op) {
		return StandardRetur{}, fmt.Errorf("%w: the %s service has no operation %q", ErrInvalid, k, op)
	}
	if err := checkElement(el, k.Namespace(), op.OutputElement()); err != nil {
		return StandardRetur{}, err
	}
	return UnmarshalStandardRetur(el)
}

// UnmarshalLaesOutput reads a LaesOutput element of kind k: its StandardRetur and, when present,
// the object in FiltreretOejebliksbillede. If several registrations are returned, the object
// carries the latest (by Tidspunkt; on a tie, the last in the document). The object is nil
// when FiltreretOejebliksbillede is absent or has no Registrering.
func UnmarshalLaesOutput(k Kind, el *etree.Element) (StandardRetur, *Object, error) {
	local := OpLaes.OutputElement()
	ret, err := UnmarshalOutput(k, OpLaes, el)
	if err != nil {
		return ret, nil, err
	}
	c, _ := newCursor(el, local) // text already checked by UnmarshalStandardRetur
	c.i = 1
	fo := c.opt(k.Namespace(), "FiltreretOejebliksbillede")
	if err := c.end(); err != nil || fo == nil {
		return ret, nil, err
	}
	o, err := readSnapshot(k, fo, local+"/FiltreretOejebliksbillede")
	return ret, o, err
}

// readSnapshot reads a FiltreretOejebliksbillede of kind k ({ObjektType, Registrering*} in the
// kind's namespace) into an Object carrying the latest registration (by Tidspunkt; on a tie,
// the last in the document), or nil if it has no Registrering.
func readSnapshot(k Kind, fo *etree.Element, path string) (*Object, error) {
	objs, err := readObject(k, fo, path, "ObjektType", k.Namespace())
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	latest := objs[0]
	for _, o := range objs[1:] {
		if !o.Registration.Tidspunkt.Before(latest.Registration.Tidspunkt) {
			latest = o
		}
	}
	return latest, nil
}
