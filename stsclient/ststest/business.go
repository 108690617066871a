package ststest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var ok = oio.StandardRetur{StatusKode: oio.StatusOK, FejlbeskedTekst: "OK"}

func invalid(k oio.Kind, op oio.Operation, err error) *etree.Element {
	return status(k, op, oio.StatusInvalidInput, err.Error())
}

func status(k oio.Kind, op oio.Operation, code int, text string) *etree.Element {
	return oio.MarshalBasicOutput(k, op, oio.StandardRetur{StatusKode: code, FejlbeskedTekst: text})
}

// dispatch runs op on the payload and returns the output element. An error means the fake
// cannot answer (unsupported operation, corrupt stored state) and becomes a Receiver fault.
func (s *Server) dispatch(k oio.Kind, op oio.Operation, payload *etree.Element) (*etree.Element, error) {
	switch op {
	case oio.OpImporter:
		return s.importer(k, payload), nil
	case oio.OpRet:
		return s.ret(k, payload), nil
	case oio.OpLaes:
		return s.laes(k, payload)
	case oio.OpPassiver:
		return s.passiver(k, payload), nil
	case oio.OpSoeg:
		return s.soeg(k, payload), nil
	}
	return nil, fmt.Errorf("operation %s is not implemented by the fake", op)
}

// active reports whether a registration's object counts as existing for importer/ret/passiver.
func active(r *oio.Registration) bool {
	return r.Livscyklus != oio.LivscyklusPassiveret && r.Livscyklus != oio.LivscyklusSlettet
}

func (s *Server) importer(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpImporter
	o, err := oio.UnmarshalImportInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	now := s.opts.Now()
	reg := o.Registration
	switch {
	case reg.Tidspunkt.IsZero():
		return status(k, op, oio.StatusInvalidInput, "importer requires Registrering/Tidspunkt")
	case reg.Tidspunkt.After(now):
		return status(k, op, oio.StatusFutureRegistration, fmt.Sprintf(
			"Registrering/Tidspunkt %s is later than the server time %s", oio.FormatTime(reg.Tidspunkt), oio.FormatTime(now)))
	}
	if err := checkPeriods(reg.Egenskaber, reg.Gyldighed, reg.Relationer); err != nil {
		return status(k, op, oio.StatusInvalidVirkning, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.objects[objectKey{k, o.UUID}]; r != nil && active(r.latest()) {
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s already exists", k, o.UUID))
	}
	reg.Livscyklus = oio.LivscyklusImporteret
	s.appendRegistration(k, o.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

func (s *Server) ret(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpRet
	in, err := oio.UnmarshalRetInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	if err := checkPeriods(in.Egenskaber, in.Gyldighed, in.Relationer); err != nil {
		return status(k, op, oio.StatusInvalidVirkning, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	switch {
	case r == nil:
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	case !active(r.latest()):
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s is %s", k, in.UUID, r.latest().Livscyklus))
	}
	reg := cloneRegistration(*r.latest())
	reg.Tidspunkt = s.opts.Now()
	if in.Lists&oio.ListAttributter != 0 {
		reg.Egenskaber = in.Egenskaber
	}
	if in.Lists&oio.ListTilstande != 0 {
		reg.Gyldighed = in.Gyldighed
	}
	if in.Lists&oio.ListRelationer != 0 {
		reg.Relationer = in.Relationer
	}
	s.appendRegistration(k, in.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

func (s *Server) laes(k oio.Kind, payload *etree.Element) (*etree.Element, error) {
	op := oio.OpLaes
	in, err := oio.UnmarshalUUIDInput(k, op, payload)
	if err != nil {
		return invalid(k, op, err), nil
	}
	s.mu.Lock()
	r := s.objects[objectKey{k, in.UUID}]
	var obj *oio.Object
	if r != nil {
		obj = &oio.Object{Kind: k, UUID: in.UUID, Registration: cloneRegistration(*r.latest())}
	}
	s.mu.Unlock()
	if obj == nil {
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID)), nil
	}
	out, err := oio.MarshalLaesOutput(k, ok, obj)
	if err != nil {
		return nil, fmt.Errorf("stored %s %s cannot be written: %w", k, in.UUID, err)
	}
	return out, nil
}

func (s *Server) passiver(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpPassiver
	in, err := oio.UnmarshalUUIDInput(k, op, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	switch {
	case r == nil:
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	case !active(r.latest()):
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s is already %s", k, in.UUID, r.latest().Livscyklus))
	}
	reg := cloneRegistration(*r.latest())
	reg.Tidspunkt = s.opts.Now()
	reg.Livscyklus = oio.LivscyklusPassiveret
	s.appendRegistration(k, in.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

// checkPeriods rejects a Virkning that ends before (or when) it starts: the service answers
// such periods, typically the result of updates applied out of order, with 47.
func checkPeriods(eg []oio.Egenskab, gy []oio.Gyldighed, rel []oio.Relation) error {
	check := func(what string, v oio.Virkning) error {
		if !v.From.IsZero() && !v.To.IsZero() && !v.To.After(v.From) {
			return fmt.Errorf("ugyldig virkningsperiode: %s slutter %s, før den starter %s",
				what, oio.FormatTime(v.To), oio.FormatTime(v.From))
		}
		return nil
	}
	for i, e := range eg {
		if err := check(fmt.Sprintf("Egenskab[%d]", i), e.Virkning); err != nil {
			return err
		}
	}
	for i, g := range gy {
		if err := check(fmt.Sprintf("Gyldighed[%d]", i), g.Virkning); err != nil {
			return err
		}
	}
	for i, r := range rel {
		if err := check(fmt.Sprintf("%s[%d]", r.Name, i), r.Virkning); err != nil {
			return err
		}
	}
	return nil
}

// soeg returns the page of active objects of kind k whose latest registration matches the
// template, ordered by UUID; 44 when the page is empty.
func (s *Server) soeg(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpSoeg
	in, err := oio.UnmarshalSoegInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	s.mu.Lock()
	var hits []uuid.UUID
	for key, r := range s.objects {
		if key.kind == k && active(r.latest()) && matches(r.latest(), in) {
			hits = append(hits, key.id)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(hits, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	limit := in.Max
	if limit == 0 {
		limit = DefaultSearchPage
	}
	if in.First >= len(hits) {
		return oio.MarshalSoegOutput(k, oio.StandardRetur{StatusKode: oio.StatusNotFound, FejlbeskedTekst: "Ingen resultater fundet"}, nil)
	}
	page := hits[in.First:min(len(hits), in.First+limit)]
	return oio.MarshalSoegOutput(k, ok, page)
}

// matches reports whether every template entry of in has a matching entry in r.
func matches(r *oio.Registration, in *oio.SoegInput) bool {
	for _, t := range in.Egenskaber {
		if !slices.ContainsFunc(r.Egenskaber, func(e oio.Egenskab) bool { return egenskabMatches(e, t) }) {
			return false
		}
	}
	for _, t := range in.Gyldighed {
		if !slices.ContainsFunc(r.Gyldighed, func(g oio.Gyldighed) bool { return g.Status == t.Status }) {
			return false
		}
	}
	for _, t := range in.Relationer {
		if !slices.ContainsFunc(r.Relationer, func(rel oio.Relation) bool {
			return rel.Name == t.Name && rel.Ref == t.Ref && rel.URN == t.URN
		}) {
			return false
		}
	}
	return true
}

func egenskabMatches(e, t oio.Egenskab) bool {
	for _, f := range [][2]string{{t.BrugervendtNoegle, e.BrugervendtNoegle}, {t.Navn, e.Navn},
		{t.BrugerTypeTekst, e.BrugerTypeTekst}, {t.AdresseTekst, e.AdresseTekst}, {t.CPR, e.CPR}} {
		if f[0] != "" && f[0] != f[1] {
			return false
		}
	}
	return true
}
