package reconcile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// packed is an STS object as the sync's model of STS keeps it: a compact binary form (about a
// third of the object's size in memory), unpacked each time the model is asked for the object.
// Objects are never modified in the model, only replaced, so each is packed once.
//
// The form is private to this process (never stored or sent): varints, UUIDs as 16 bytes
// (uuid.Nil and a Virkning's repeated actor as one byte), times as their instant and offset, the
// strings every object repeats as an index (common).
type packed string

// pack returns o's packed form.
func pack(o *oio.Object) packed {
	p := packer{buf: make([]byte, 0, 256), lastVirkning: -1}
	p.str(string(o.Kind))
	p.buf = append(p.buf, o.UUID[:]...)
	r := &o.Registration
	p.time(r.Tidspunkt)
	p.str(string(r.Livscyklus))
	p.id(r.BrugerRef)
	p.uint(len(r.Egenskaber))
	for _, e := range r.Egenskaber {
		p.virkning(e.Virkning)
		p.str(e.BrugervendtNoegle)
		p.str(e.Navn)
		p.str(e.BrugerTypeTekst)
		p.str(e.AdresseTekst)
		p.str(e.CPR)
	}
	p.uint(len(r.Gyldighed))
	for _, g := range r.Gyldighed {
		p.virkning(g.Virkning)
		p.str(string(g.Status))
	}
	p.uint(len(r.Relationer))
	for _, rel := range r.Relationer {
		p.str(string(rel.Name))
		p.virkning(rel.Virkning)
		p.id(rel.Ref)
		p.str(rel.URN)
		p.id(rel.Rolle)
		p.id(rel.Type)
		p.str(rel.Indeks)
	}
	return packed(p.buf)
}

// unpack returns the object p was packed from, its lists in slices of their own length and its
// strings sharing p's memory.
func (p packed) unpack() *oio.Object {
	u := unpacker{buf: string(p)}
	o, err := u.object()
	if err != nil {
		// Only pack makes a packed, so this is a defect, not bad input.
		panic(fmt.Sprintf("reconcile: unpack an STS object: %v", err))
	}
	return o
}

// common are the strings STS repeats in every object (relation names, kinds, codes): packed as
// their index here instead of their bytes.
var common = [...]string{
	"",
	string(oio.RelAdresser),
	string(oio.RelAnsatte),
	string(oio.RelBranche),
	string(oio.RelBrugerTyper),
	string(oio.RelEnhedstype),
	string(oio.RelFunktionstype),
	string(oio.RelMyndighed),
	string(oio.RelMyndighedstype),
	string(oio.RelOpgaver),
	string(oio.RelOrganisationstype),
	string(oio.RelOverordnet),
	string(oio.RelProduktionsenhed),
	string(oio.RelSkatteenhed),
	string(oio.RelSystemTyper),
	string(oio.RelTilhoerer),
	string(oio.RelTilknyttedeBrugere),
	string(oio.RelTilknyttedeEnheder),
	string(oio.RelTilknyttedeFunktioner),
	string(oio.RelTilknyttedeInteressefaellesskaber),
	string(oio.RelTilknyttedeItSystemer),
	string(oio.RelTilknyttedeOpgaver),
	string(oio.RelTilknyttedeOrganisationer),
	string(oio.RelTilknyttedePersoner),
	string(oio.RelVirksomhed),
	string(oio.RelVirksomhedstype),
	string(oio.KindOrganisation), string(oio.KindOrganisationEnhed), string(oio.KindOrganisationFunktion),
	string(oio.KindBruger), string(oio.KindPerson), string(oio.KindAdresse), string(oio.KindItSystem),
	string(oio.LivscyklusOpstaaet), string(oio.LivscyklusImporteret), string(oio.LivscyklusPassiveret), string(oio.LivscyklusSlettet),
	string(oio.Aktiv), string(oio.Inaktiv), oio.AktoerTypeOrganisation,
}

// commonIndex returns s's index in common, or -1.
func commonIndex(s string) int {
	if len(s) > 40 {
		return -1
	}
	for i, c := range common {
		if c == s {
			return i
		}
	}
	return -1
}

type packer struct {
	buf    []byte
	aktoer uuid.UUID
	// lastVirkning and lastVirkningEnd delimit the previous Virkning's form in buf (-1: none).
	lastVirkning, lastVirkningEnd int
}

func (p *packer) uint(n int) { p.buf = binary.AppendUvarint(p.buf, uint64(n)) }

// str packs s as 2 × its index in common + 1, or 2 × its length and its bytes.
func (p *packer) str(s string) {
	if i := commonIndex(s); i >= 0 {
		p.uint(2*i + 1)
		return
	}
	p.uint(2 * len(s))
	p.buf = append(p.buf, s...)
}

func (p *packer) id(id uuid.UUID) {
	if id == uuid.Nil {
		p.buf = append(p.buf, 0)
		return
	}
	p.buf = append(p.buf, 1)
	p.buf = append(p.buf, id[:]...)
}

func (p *packer) time(t time.Time) {
	if t.IsZero() {
		p.buf = append(p.buf, 0)
		return
	}
	_, offset := t.Zone()
	p.buf = append(p.buf, 1)
	p.buf = binary.AppendVarint(p.buf, t.Unix())
	p.buf = binary.AppendUvarint(p.buf, uint64(t.Nanosecond()))
	p.buf = binary.AppendVarint(p.buf, int64(offset))
}

// virkning packs v, or one byte (2, which no time starts with) when its form is the same as the
// previous Virkning's in this object: an object's attributes and relations mostly share one.
func (p *packer) virkning(v oio.Virkning) {
	start := len(p.buf)
	p.virkningForm(v)
	if form := p.buf[start:]; p.lastVirkning >= 0 && string(form) == string(p.buf[p.lastVirkning:p.lastVirkningEnd]) {
		p.buf = append(p.buf[:start], 2)
		return
	}
	p.lastVirkning, p.lastVirkningEnd = start, len(p.buf)
}

func (p *packer) virkningForm(v oio.Virkning) {
	p.time(v.From)
	p.time(v.To)
	switch {
	case v.Aktoer == uuid.Nil:
		p.buf = append(p.buf, 0)
	case v.Aktoer == p.aktoer:
		p.buf = append(p.buf, 2)
	default:
		p.buf = append(p.buf, 1)
		p.buf = append(p.buf, v.Aktoer[:]...)
		p.aktoer = v.Aktoer
	}
	p.str(v.AktoerType)
}

type unpacker struct {
	buf          string
	aktoer       uuid.UUID
	lastVirkning oio.Virkning
	err          error
}

var errShort = errors.New("truncated")

func (u *unpacker) uint() int { return int(varint(u, binary.Uvarint)) }

func (u *unpacker) int() int64 { return varint(u, binary.Varint) }

// varint reads a varint with read (binary.Uvarint or binary.Varint).
func varint[T int64 | uint64](u *unpacker, read func([]byte) (T, int)) T {
	if u.err != nil {
		return 0
	}
	n, size := read([]byte(u.buf[:min(len(u.buf), binary.MaxVarintLen64)]))
	if size <= 0 {
		u.err = errShort
		return 0
	}
	u.buf = u.buf[size:]
	return n
}

func (u *unpacker) byte() byte {
	if u.err != nil || len(u.buf) == 0 {
		u.err = errShort
		return 0
	}
	b := u.buf[0]
	u.buf = u.buf[1:]
	return b
}

func (u *unpacker) raw(n int) string {
	if u.err != nil || len(u.buf) < n {
		u.err = errShort
		return ""
	}
	s := u.buf[:n]
	u.buf = u.buf[n:]
	return s
}

// str returns a string of the packed form (sharing its memory) or of common.
func (u *unpacker) str() string {
	n := u.uint()
	if n%2 == 1 {
		if n/2 >= len(common) {
			u.err = fmt.Errorf("no common string %d", n/2)
			return ""
		}
		return common[n/2]
	}
	return u.raw(n / 2)
}

func (u *unpacker) uuid16() uuid.UUID {
	var id uuid.UUID
	copy(id[:], u.raw(16))
	return id
}

func (u *unpacker) id() uuid.UUID {
	if u.byte() == 0 {
		return uuid.Nil
	}
	return u.uuid16()
}

func (u *unpacker) time() time.Time {
	if u.byte() == 0 {
		return time.Time{}
	}
	sec := u.int()
	nsec := u.uint()
	offset := int(u.int())
	t := time.Unix(sec, int64(nsec))
	if offset == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", offset))
}

func (u *unpacker) virkning() oio.Virkning {
	if len(u.buf) > 0 && u.buf[0] == 2 {
		u.buf = u.buf[1:]
		return u.lastVirkning
	}
	v := oio.Virkning{From: u.time(), To: u.time()}
	switch u.byte() {
	case 1:
		v.Aktoer = u.uuid16()
		u.aktoer = v.Aktoer
	case 2:
		v.Aktoer = u.aktoer
	}
	v.AktoerType = u.str()
	u.lastVirkning = v
	return v
}

func (u *unpacker) object() (*oio.Object, error) {
	o := &oio.Object{Kind: oio.Kind(u.str()), UUID: u.uuid16()}
	r := &o.Registration
	r.Tidspunkt = u.time()
	r.Livscyklus = oio.Livscyklus(u.str())
	r.BrugerRef = u.id()
	if n := u.uint(); n > 0 && u.err == nil {
		r.Egenskaber = make([]oio.Egenskab, n)
		for i := range r.Egenskaber {
			r.Egenskaber[i] = oio.Egenskab{Virkning: u.virkning(), BrugervendtNoegle: u.str(), Navn: u.str(),
				BrugerTypeTekst: u.str(), AdresseTekst: u.str(), CPR: u.str()}
		}
	}
	if n := u.uint(); n > 0 && u.err == nil {
		r.Gyldighed = make([]oio.Gyldighed, n)
		for i := range r.Gyldighed {
			r.Gyldighed[i] = oio.Gyldighed{Virkning: u.virkning(), Status: oio.GyldighedStatus(u.str())}
		}
	}
	if n := u.uint(); n > 0 && u.err == nil {
		r.Relationer = make([]oio.Relation, n)
		for i := range r.Relationer {
			rel := &r.Relationer[i]
			rel.Name = oio.RelationName(u.str())
			rel.Virkning = u.virkning()
			rel.Ref = u.id()
			rel.URN = u.str()
			rel.Rolle = u.id()
			rel.Type = u.id()
			rel.Indeks = u.str()
		}
	}
	if u.err == nil && len(u.buf) > 0 {
		u.err = fmt.Errorf("%d bytes left over", len(u.buf))
	}
	return o, u.err
}
