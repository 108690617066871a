// Package stsexport is the file format of `stsorgsync export`: what the municipality's STS
// Organisation holds of what stsorgsync manages, as JSON lines, so that the municipality can hand
// it to another tool or archive it, and so that the fake STS (stsclient/ststest, fakests -load)
// can be loaded from it.
//
// A file is UTF-8 JSON lines (one JSON object per line, "\n" after each). The first line is the
// Header ("kind": "header"); every further line is one STS object with its current (latest)
// registration:
//
//	{"kind":"organisationenhed","uuid":"…","registration":{"Tidspunkt":"…","LivscyklusKode":"Importeret",
//	 "BrugerRef":"…","AttributListe":[…],"TilstandListe":[…],"RelationListe":{"Overordnet":[…],…}}}
//
// The envelope (kind, uuid, registration) is this format's; inside the registration every name is
// the element name of KOMBIT's Organisation 6 schemas (Tidspunkt, LivscyklusKode, BrugerRef,
// AttributListe of Egenskab entries with BrugervendtNoegleTekst and the kind's name element —
// EnhedNavn, BrugerNavn, BrugerTypeTekst, FunktionNavn, OrganisationNavn, NavnTekst,
// CPR-NummerTekst, AdresseTekst —, TilstandListe of Gyldighed entries with GyldighedStatusKode,
// RelationListe keyed by relation element name). Every Egenskab, Gyldighed and relation has its
// Virkning: FraTidspunkt and TilTidspunkt (an xs:dateTime with offset, or null for the open
// boundary, the schema's GraenseIndikator), AktoerRef and AktoerTypeKode. A relation's ReferenceID
// is a UUID, or a URN (it then begins with "urn:"); Adresser relations also carry Rolle, Type and
// Indeks. Empty values are left out; TilstandListe and RelationListe are present (possibly empty)
// for the kinds whose schema has them and absent for person and adresse.
//
// Objects come in the order of Kinds, each kind sorted by UUID, so two exports of the same state
// are byte-identical but for the header's time. Version is raised for any change a reader must
// know about; readers refuse a version they do not know.
package stsexport

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Format is the header's "format" value; Version its "version".
const (
	Format  = "stsorgsync-sts-export"
	Version = 1
)

// HeaderKind is the "kind" of the header line.
const HeaderKind = "header"

// The values of Header.CPR.
const (
	CPRIncluded = "included"
	CPROmitted  = "omitted"
)

// Kinds returns the object kinds an export holds, in file order: referenced objects (the
// Organisation, addresses, persons) before the units, users and functions that name them.
func Kinds() []oio.Kind {
	return []oio.Kind{oio.KindOrganisation, oio.KindAdresse, oio.KindPerson, oio.KindOrganisationEnhed,
		oio.KindBruger, oio.KindOrganisationFunktion}
}

// exported reports whether k is one of Kinds.
func exported(k oio.Kind) bool { return slices.Contains(Kinds(), k) }

// Header is the first line of an export.
type Header struct {
	// Kind is always HeaderKind.
	Kind string `json:"kind"`
	// Format is always Format; Version the format version (Version when written).
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ExportedAt is when the read of STS began (UTC).
	ExportedAt time.Time `json:"exported_at"`
	// CVR is the municipality's CVR number; Organisation the UUID of its Organisation object.
	CVR          string    `json:"cvr"`
	Organisation uuid.UUID `json:"organisation"`
	// STS is the STS Organisation base URL that was read.
	STS string `json:"sts,omitempty"`
	// Generator names the program and version that wrote the file.
	Generator string `json:"generator,omitempty"`
	// CPR says whether Person objects carry their CPR number (CPRIncluded) or not (CPROmitted).
	CPR string `json:"cpr"`
	// Counts holds the number of object lines per kind (every kind of Kinds, zeros included);
	// Objects their sum. A reader checks them against the lines it read, so a truncated file is
	// recognised.
	Counts  map[oio.Kind]int `json:"counts"`
	Objects int              `json:"objects"`
}

// line is an object line.
type line struct {
	Kind         oio.Kind     `json:"kind"`
	UUID         uuid.UUID    `json:"uuid"`
	Registration registration `json:"registration"`
}

type registration struct {
	Tidspunkt      *string                `json:"Tidspunkt,omitempty"`
	LivscyklusKode oio.Livscyklus         `json:"LivscyklusKode,omitempty"`
	BrugerRef      *uuid.UUID             `json:"BrugerRef,omitempty"`
	AttributListe  []egenskab             `json:"AttributListe"`
	TilstandListe  *[]gyldighed           `json:"TilstandListe,omitempty"`
	RelationListe  *map[string][]relation `json:"RelationListe,omitempty"`
}

type virkning struct {
	FraTidspunkt   *string    `json:"FraTidspunkt"`
	TilTidspunkt   *string    `json:"TilTidspunkt"`
	AktoerRef      *uuid.UUID `json:"AktoerRef,omitempty"`
	AktoerTypeKode string     `json:"AktoerTypeKode,omitempty"`
}

// egenskab holds every attribute element of the exported kinds; each kind uses its own (nameKey).
type egenskab struct {
	Virkning               virkning `json:"Virkning"`
	BrugervendtNoegleTekst string   `json:"BrugervendtNoegleTekst,omitempty"`
	OrganisationNavn       string   `json:"OrganisationNavn,omitempty"`
	EnhedNavn              string   `json:"EnhedNavn,omitempty"`
	FunktionNavn           string   `json:"FunktionNavn,omitempty"`
	BrugerNavn             string   `json:"BrugerNavn,omitempty"`
	BrugerTypeTekst        string   `json:"BrugerTypeTekst,omitempty"`
	CPRNummerTekst         string   `json:"CPR-NummerTekst,omitempty"`
	NavnTekst              string   `json:"NavnTekst,omitempty"`
	AdresseTekst           string   `json:"AdresseTekst,omitempty"`
}

type gyldighed struct {
	Virkning            virkning            `json:"Virkning"`
	GyldighedStatusKode oio.GyldighedStatus `json:"GyldighedStatusKode"`
}

type relation struct {
	Virkning    virkning   `json:"Virkning"`
	ReferenceID string     `json:"ReferenceID,omitempty"`
	Rolle       *uuid.UUID `json:"Rolle,omitempty"`
	Type        *uuid.UUID `json:"Type,omitempty"`
	Indeks      string     `json:"Indeks,omitempty"`
}

// nameField returns the field of e that holds kind k's name element (Egenskab.Navn).
func nameField(k oio.Kind, e *egenskab) *string {
	switch k {
	case oio.KindOrganisation:
		return &e.OrganisationNavn
	case oio.KindOrganisationEnhed:
		return &e.EnhedNavn
	case oio.KindOrganisationFunktion:
		return &e.FunktionNavn
	case oio.KindBruger:
		return &e.BrugerNavn
	case oio.KindPerson:
		return &e.NavnTekst
	}
	return nil // adresse has no name element
}

// Options change what MarshalObject writes.
type Options struct {
	// WithoutCPR leaves out a Person's CPR-NummerTekst.
	WithoutCPR bool
}

// MarshalObject returns o's line (without the newline). o must be of one of Kinds with a UUID;
// it is written as it is, without oio's validation (an export holds what STS holds; a reader
// validates).
func MarshalObject(o *oio.Object, opts Options) ([]byte, error) {
	if o == nil {
		return nil, errors.New("stsexport: nil object")
	}
	if !exported(o.Kind) || o.UUID == uuid.Nil {
		return nil, fmt.Errorf("stsexport: cannot export %s %s", o.Kind, o.UUID)
	}
	r := &o.Registration
	l := line{Kind: o.Kind, UUID: o.UUID, Registration: registration{
		Tidspunkt:      timeOf(r.Tidspunkt),
		LivscyklusKode: r.Livscyklus,
		BrugerRef:      uuidOf(r.BrugerRef),
		AttributListe:  make([]egenskab, 0, len(r.Egenskaber)),
	}}
	for _, e := range r.Egenskaber {
		x := egenskab{Virkning: virkningOf(e.Virkning), BrugervendtNoegleTekst: e.BrugervendtNoegle,
			BrugerTypeTekst: e.BrugerTypeTekst, AdresseTekst: e.AdresseTekst}
		if p := nameField(o.Kind, &x); p != nil {
			*p = e.Navn
		}
		if !opts.WithoutCPR {
			x.CPRNummerTekst = e.CPR
		}
		l.Registration.AttributListe = append(l.Registration.AttributListe, x)
	}
	if oio.HasTilstande(o.Kind) {
		gs := make([]gyldighed, 0, len(r.Gyldighed))
		for _, g := range r.Gyldighed {
			gs = append(gs, gyldighed{Virkning: virkningOf(g.Virkning), GyldighedStatusKode: g.Status})
		}
		l.Registration.TilstandListe = &gs
	}
	if len(oio.RelationOrder(o.Kind)) > 0 {
		rels := map[string][]relation{}
		for _, name := range oio.RelationOrder(o.Kind) {
			for _, rel := range r.Relationer {
				if rel.Name != name {
					continue
				}
				x := relation{Virkning: virkningOf(rel.Virkning), Rolle: uuidOf(rel.Rolle), Type: uuidOf(rel.Type), Indeks: rel.Indeks}
				switch {
				case rel.Ref != uuid.Nil:
					x.ReferenceID = rel.Ref.String()
				case rel.URN != "":
					x.ReferenceID = rel.URN
				}
				rels[string(name)] = append(rels[string(name)], x)
			}
		}
		l.Registration.RelationListe = &rels
	}
	return marshal(l)
}

// marshal is json.Marshal without escaping <, > and & (names hold "&" often).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func timeOf(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := oio.FormatTime(t)
	return &s
}

func uuidOf(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func virkningOf(v oio.Virkning) virkning {
	return virkning{FraTidspunkt: timeOf(v.From), TilTidspunkt: timeOf(v.To), AktoerRef: uuidOf(v.Aktoer), AktoerTypeKode: v.AktoerType}
}

// UnmarshalObject reads an object line. It refuses unknown fields, an attribute element of
// another kind, a relation the kind's schema does not have, and an object oio's validation
// refuses (the XSD's lengths and patterns). Its errors never quote a value (a CPR number might
// be one).
func UnmarshalObject(data []byte) (*oio.Object, error) {
	var l line
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	if !exported(l.Kind) {
		return nil, fmt.Errorf("kind %q is not one of %v", l.Kind, Kinds())
	}
	if l.UUID == uuid.Nil {
		return nil, fmt.Errorf("%s without uuid", l.Kind)
	}
	o := &oio.Object{Kind: l.Kind, UUID: l.UUID}
	r := &o.Registration
	src := &l.Registration
	var err error
	if r.Tidspunkt, err = parseTime(src.Tidspunkt, "Tidspunkt"); err != nil {
		return nil, err
	}
	r.Livscyklus = src.LivscyklusKode
	if src.BrugerRef != nil {
		r.BrugerRef = *src.BrugerRef
	}
	for i, x := range src.AttributListe {
		v, err := parseVirkning(x.Virkning, fmt.Sprintf("AttributListe[%d]", i))
		if err != nil {
			return nil, err
		}
		e := oio.Egenskab{Virkning: v, BrugervendtNoegle: x.BrugervendtNoegleTekst, BrugerTypeTekst: x.BrugerTypeTekst,
			AdresseTekst: x.AdresseTekst, CPR: x.CPRNummerTekst}
		own := nameField(l.Kind, &x)
		for key, p := range map[string]*string{"OrganisationNavn": &x.OrganisationNavn, "EnhedNavn": &x.EnhedNavn,
			"FunktionNavn": &x.FunktionNavn, "BrugerNavn": &x.BrugerNavn, "NavnTekst": &x.NavnTekst} {
			if *p != "" && p != own {
				return nil, fmt.Errorf("AttributListe[%d]: %s has no %s", i, l.Kind, key)
			}
		}
		if own != nil {
			e.Navn = *own
		}
		r.Egenskaber = append(r.Egenskaber, e)
	}
	if src.TilstandListe != nil {
		if !oio.HasTilstande(l.Kind) {
			return nil, fmt.Errorf("%s has no TilstandListe", l.Kind)
		}
		for i, g := range *src.TilstandListe {
			v, err := parseVirkning(g.Virkning, fmt.Sprintf("TilstandListe[%d]", i))
			if err != nil {
				return nil, err
			}
			r.Gyldighed = append(r.Gyldighed, oio.Gyldighed{Virkning: v, Status: g.GyldighedStatusKode})
		}
	}
	if src.RelationListe != nil {
		rels := *src.RelationListe
		order := oio.RelationOrder(l.Kind)
		for _, name := range slices.Sorted(maps.Keys(rels)) {
			if !slices.Contains(order, oio.RelationName(name)) {
				return nil, fmt.Errorf("%s has no relation %q", l.Kind, name)
			}
		}
		for _, name := range order {
			for i, x := range rels[string(name)] {
				where := fmt.Sprintf("RelationListe.%s[%d]", name, i)
				v, err := parseVirkning(x.Virkning, where)
				if err != nil {
					return nil, err
				}
				rel := oio.Relation{Name: name, Virkning: v, Indeks: x.Indeks}
				if x.Rolle != nil {
					rel.Rolle = *x.Rolle
				}
				if x.Type != nil {
					rel.Type = *x.Type
				}
				switch {
				case strings.HasPrefix(x.ReferenceID, "urn:"):
					rel.URN = x.ReferenceID
				case x.ReferenceID != "":
					if rel.Ref, err = uuid.Parse(x.ReferenceID); err != nil || len(x.ReferenceID) != 36 {
						return nil, fmt.Errorf("%s: ReferenceID is neither a UUID nor a URN", where)
					}
				}
				r.Relationer = append(r.Relationer, rel)
			}
		}
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func parseTime(s *string, where string) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time with offset", where)
	}
	return t, nil
}

func parseVirkning(x virkning, where string) (oio.Virkning, error) {
	from, err := parseTime(x.FraTidspunkt, where+".Virkning.FraTidspunkt")
	if err != nil {
		return oio.Virkning{}, err
	}
	to, err := parseTime(x.TilTidspunkt, where+".Virkning.TilTidspunkt")
	if err != nil {
		return oio.Virkning{}, err
	}
	v := oio.Virkning{From: from, To: to, AktoerType: x.AktoerTypeKode}
	if x.AktoerRef != nil {
		v.Aktoer = *x.AktoerRef
	}
	return v, nil
}

// Write writes an export of objs to w: the header h (its Kind, Format, Version, CPR, Counts and
// Objects filled in here; CPR from opts) and one line per object in the order of Kinds, each kind
// by UUID. It returns the bytes written.
func Write(w io.Writer, h Header, objs []*oio.Object, opts Options) (int64, error) {
	if slices.Contains(objs, nil) {
		return 0, errors.New("stsexport: nil object")
	}
	sorted := slices.Clone(objs)
	rank := map[oio.Kind]int{}
	for i, k := range Kinds() {
		rank[k] = i
	}
	slices.SortFunc(sorted, func(a, b *oio.Object) int {
		if c := cmp.Compare(rank[a.Kind], rank[b.Kind]); c != 0 {
			return c
		}
		return bytes.Compare(a.UUID[:], b.UUID[:]) // the order of the UUIDs' strings
	})
	h.Kind, h.Format, h.Version = HeaderKind, Format, Version
	h.CPR = CPRIncluded
	if opts.WithoutCPR {
		h.CPR = CPROmitted
	}
	h.Counts = map[oio.Kind]int{}
	for _, k := range Kinds() {
		h.Counts[k] = 0
	}
	for _, o := range sorted {
		h.Counts[o.Kind]++
	}
	h.Objects = len(sorted)
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	head, err := marshal(h)
	if err != nil {
		return 0, err
	}
	bw.Write(append(head, '\n')) // a bufio.Writer's error is kept for Flush
	for i, o := range sorted {
		if i > 0 && o.Kind == sorted[i-1].Kind && o.UUID == sorted[i-1].UUID {
			return cw.n, fmt.Errorf("stsexport: %s %s twice", o.Kind, o.UUID)
		}
		b, err := MarshalObject(o, opts)
		if err != nil {
			return cw.n, err
		}
		bw.Write(append(b, '\n'))
	}
	err = bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Reader reads an export line by line.
type Reader struct {
	r      *bufio.Reader
	header Header
	line   int
	counts map[oio.Kind]int
	seen   map[oio.Kind]map[uuid.UUID]bool
	done   bool
}

// NewReader reads and checks the header (format, a version this package knows, counts).
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10), counts: map[oio.Kind]int{}, seen: map[oio.Kind]map[uuid.UUID]bool{}}
	b, err := rd.next()
	if err == io.EOF {
		return nil, errors.New("stsexport: empty file, no header")
	}
	if err != nil {
		return nil, err
	}
	var kind struct {
		Kind   string `json:"kind"`
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &kind); err != nil || kind.Kind != HeaderKind || kind.Format != Format {
		return nil, fmt.Errorf("stsexport: line 1 is no %s header", Format)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	h := &rd.header
	if err := dec.Decode(h); err != nil {
		return nil, fmt.Errorf("stsexport: header: %w", err)
	}
	switch {
	case h.Version < 1 || h.Version > Version:
		return nil, fmt.Errorf("stsexport: format version %d; this program reads versions 1 to %d", h.Version, Version)
	case h.CPR != CPRIncluded && h.CPR != CPROmitted:
		return nil, fmt.Errorf("stsexport: header: cpr is %q, want %q or %q", h.CPR, CPRIncluded, CPROmitted)
	}
	sum := 0
	for k, n := range h.Counts {
		if !exported(k) || n < 0 {
			return nil, fmt.Errorf("stsexport: header: bad count %d of %q", n, k)
		}
		sum += n
	}
	if sum != h.Objects {
		return nil, fmt.Errorf("stsexport: header: the counts per kind add up to %d, not objects %d", sum, h.Objects)
	}
	return rd, nil
}

// Header returns the header read.
func (r *Reader) Header() Header { return r.header }

// next returns the next line without its newline (io.EOF at the end).
func (r *Reader) next() ([]byte, error) {
	b, err := r.r.ReadBytes('\n')
	if err == io.EOF && len(b) > 0 {
		return nil, fmt.Errorf("stsexport: line %d does not end with a newline (file cut short?)", r.line+1)
	}
	if err != nil {
		return nil, err
	}
	r.line++
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

// Next returns the next object. At the end of the file it checks the lines against the header's
// counts and returns io.EOF if they agree, an error naming the difference otherwise.
func (r *Reader) Next() (*oio.Object, error) {
	if r.done {
		return nil, io.EOF
	}
	b, err := r.next()
	if err == io.EOF {
		r.done = true
		for _, k := range Kinds() {
			if r.counts[k] != r.header.Counts[k] {
				return nil, fmt.Errorf("stsexport: %d %s lines, the header says %d (file incomplete or edited)", r.counts[k], k, r.header.Counts[k])
			}
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	o, err := UnmarshalObject(b)
	if err != nil {
		return nil, fmt.Errorf("stsexport: line %d: %w", r.line, err)
	}
	if r.seen[o.Kind] == nil {
		r.seen[o.Kind] = map[uuid.UUID]bool{}
	}
	if r.seen[o.Kind][o.UUID] {
		return nil, fmt.Errorf("stsexport: line %d: %s %s a second time", r.line, o.Kind, o.UUID)
	}
	r.seen[o.Kind][o.UUID] = true
	r.counts[o.Kind]++
	if r.header.CPR == CPROmitted && o.Kind == oio.KindPerson && slices.ContainsFunc(o.Registration.Egenskaber, func(e oio.Egenskab) bool { return e.CPR != "" }) {
		return nil, fmt.Errorf("stsexport: line %d: person %s has a CPR number, but the header says cpr %q", r.line, o.UUID, CPROmitted)
	}
	return o, nil
}

// ReadAll reads a whole export: its header and objects, checked as Reader checks them.
func ReadAll(r io.Reader) (Header, []*oio.Object, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	var objs []*oio.Object
	for {
		o, err := rd.Next()
		if err == io.EOF {
			return rd.Header(), objs, nil
		}
		if err != nil {
			return Header{}, nil, err
		}
		objs = append(objs, o)
	}
}
