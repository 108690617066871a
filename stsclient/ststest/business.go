package ststest

import (
	"bytes"
	"fmt"
	"maps"
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

// dispatch runs op on the payload for the caller and returns the output element. An error
// means the fake cannot answer (unsupported operation, corrupt stored state) and becomes a
// Receiver fault.
func (s *Server) dispatch(k oio.Kind, op oio.Operation, payload *etree.Element, who *caller) (*etree.Element, error) {
	switch op {
	case oio.OpImporter:
		return s.importer(k, payload, who), nil
	case oio.OpRet:
		return s.ret(k, payload, who), nil
	case oio.OpLaes:
		return s.laes(k, payload)
	case oio.OpPassiver:
		return s.passiver(k, payload, who), nil
	case oio.OpSoeg:
		return s.soeg(k, payload), nil
	case oio.OpList:
		return s.list(k, payload)
	case oio.OpFremsoegObjekthierarki:
		return s.fremsoeg(payload, who)
	}
	return nil, fmt.Errorf("operation %s is not implemented by the fake", op)
}

// owners returns the Organisations an object of kind k with the relations rels belongs to: an
// Organisation itself, the targets of Tilhoerer, and for an OrganisationFunktion those of
// TilknyttedeOrganisationer. Person and Adresse have no such relations and no owner.
func owners(k oio.Kind, id uuid.UUID, rels []oio.Relation) []uuid.UUID {
	var out []uuid.UUID
	if k == oio.KindOrganisation {
		out = append(out, id)
	}
	for _, r := range rels {
		if r.Ref != uuid.Nil && (r.Name == oio.RelTilhoerer ||
			(k == oio.KindOrganisationFunktion && r.Name == oio.RelTilknyttedeOrganisationer)) {
			out = append(out, r.Ref)
		}
	}
	return out
}

// foreign returns the refusal text for a write by who to an object of kind k owned by
// Organisations of another CVR (Options.OrganisationCVR), or "" if the write is allowed.
func (s *Server) foreign(who *caller, k oio.Kind, id uuid.UUID, rels []oio.Relation) string {
	if who == nil || who.cvr == "" {
		return ""
	}
	for _, org := range owners(k, id, rels) {
		if cvr, ok := s.opts.OrganisationCVR[org]; ok && cvr != who.cvr {
			return fmt.Sprintf("Anvendersystemet har ikke adgang til %s %s: organisationen %s tilhører ikke CVR %s", k, id, org, who.cvr)
		}
	}
	return ""
}

// inScope reports whether an object of kind k with registration r belongs to one of the
// Organisations orgs (see owners); a nil orgs means no scope (everything is in).
func inScope(orgs map[uuid.UUID]bool, k oio.Kind, id uuid.UUID, r *oio.Registration) bool {
	if orgs == nil {
		return true
	}
	for _, o := range owners(k, id, r.Relationer) {
		if orgs[o] {
			return true
		}
	}
	return false
}

// active reports whether a registration's object counts as existing for importer/ret/passiver.
func active(r *oio.Registration) bool {
	return r.Livscyklus != oio.LivscyklusPassiveret && r.Livscyklus != oio.LivscyklusSlettet
}

func (s *Server) importer(k oio.Kind, payload *etree.Element, who *caller) *etree.Element {
	op := oio.OpImporter
	o, err := oio.UnmarshalImportInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	if text := s.foreign(who, k, o.UUID, o.Registration.Relationer); text != "" {
		return status(k, op, oio.StatusUnauthorized, text)
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
	r := s.objects[objectKey{k, o.UUID}]
	if r != nil {
		if text := s.foreign(who, k, o.UUID, r.latest().Relationer); text != "" {
			return status(k, op, oio.StatusUnauthorized, text)
		}
	}
	if r != nil && active(r.latest()) {
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s already exists", k, o.UUID))
	}
	reg.Livscyklus = oio.LivscyklusImporteret
	s.appendRegistration(k, o.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

func (s *Server) ret(k oio.Kind, payload *etree.Element, who *caller) *etree.Element {
	op := oio.OpRet
	in, err := oio.UnmarshalRetInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	if text := s.foreign(who, k, in.UUID, in.Relationer); text != "" {
		return status(k, op, oio.StatusUnauthorized, text)
	}
	if err := checkPeriods(in.Egenskaber, in.Gyldighed, in.Relationer); err != nil {
		return status(k, op, oio.StatusInvalidVirkning, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	if r == nil {
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	}
	if text := s.foreign(who, k, in.UUID, r.latest().Relationer); text != "" {
		return status(k, op, oio.StatusUnauthorized, text)
	}
	if !active(r.latest()) {
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

func (s *Server) passiver(k oio.Kind, payload *etree.Element, who *caller) *etree.Element {
	op := oio.OpPassiver
	in, err := oio.UnmarshalUUIDInput(k, op, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	if r == nil {
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	}
	if text := s.foreign(who, k, in.UUID, r.latest().Relationer); text != "" {
		return status(k, op, oio.StatusUnauthorized, text)
	}
	if !active(r.latest()) {
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
	slices.SortFunc(hits, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) // = the order of the strings
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

// list returns the latest registrations of the requested objects the fake knows, in the order
// asked (each UUID once), passivated ones included; 44 when it knows none of them.
func (s *Server) list(k oio.Kind, payload *etree.Element) (*etree.Element, error) {
	op := oio.OpList
	in, err := oio.UnmarshalListInput(k, payload)
	if err != nil {
		return invalid(k, op, err), nil
	}
	var objs []*oio.Object
	seen := map[uuid.UUID]bool{}
	s.mu.Lock()
	for _, id := range in.UUIDs {
		if r := s.objects[objectKey{k, id}]; r != nil && !seen[id] {
			seen[id] = true
			objs = append(objs, &oio.Object{Kind: k, UUID: id, Registration: cloneRegistration(*r.latest())})
		}
	}
	s.mu.Unlock()
	if len(objs) == 0 {
		return status(k, op, oio.StatusNotFound, "Ingen af de forespurgte objekter findes"), nil
	}
	out, err := oio.MarshalListOutput(k, ok, objs)
	if err != nil {
		return nil, fmt.Errorf("stored %s objects cannot be written: %w", k, err)
	}
	return out, nil
}

// fremsoeg answers fremsoegobjekthierarki: per kind of oio.HierarchyKinds, the objects that are
// not passivated (Gyldighed Inaktiv included) in the caller's scope whose latest registration matches the kind's Egenskab template, ordered
// by UUID, paged with First/Max separately in each list. The scope is the Organisations that
// Options.OrganisationCVR assigns to the token's CVR (an Organisation belongs to itself; units,
// users and IT systems by Tilhoerer; functions by TilknyttedeOrganisationer); without a CVR or
// without Options.OrganisationCVR every object is in scope. A page past the end has empty
// lists and StatusKode 20. Interessefaellesskaber is always empty (not modelled).
// hierarchyHits returns, per hierarchy kind, the UUIDs (sorted) of the active objects in scope
// that match in's filter, from the cache while no registration was stored since it was made for
// the same scope and filter. It requires s.mu.
func (s *Server) hierarchyHits(in *oio.HierarchyInput, scope map[uuid.UUID]bool) map[oio.Kind][]uuid.UUID {
	var key strings.Builder
	if scope == nil {
		key.WriteString("all") // nil: every organisation; empty: none
	}
	for _, org := range slices.SortedFunc(maps.Keys(scope), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) {
		key.WriteString(org.String())
	}
	for _, kind := range oio.HierarchyKinds() {
		if tmpl, ok := in.Egenskaber[kind]; ok {
			fmt.Fprintf(&key, "|%s:%#v", kind, tmpl)
		}
	}
	if c := s.hierarchy; c.hits != nil && c.gen == s.gen && c.key == key.String() {
		return c.hits
	}
	hits := map[oio.Kind][]uuid.UUID{}
	for objKey, r := range s.objects {
		kind := objKey.kind
		if !slices.Contains(oio.HierarchyKinds(), kind) {
			continue
		}
		reg := r.latest()
		if !active(reg) || !inScope(scope, kind, objKey.id, reg) {
			continue
		}
		if tmpl, filtered := in.Egenskaber[kind]; filtered && !slices.ContainsFunc(reg.Egenskaber, func(e oio.Egenskab) bool { return egenskabMatches(e, tmpl) }) {
			continue
		}
		hits[kind] = append(hits[kind], objKey.id)
	}
	for _, ids := range hits {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) // = by UUID string
	}
	s.hierarchy = hierarchyCache{gen: s.gen, key: key.String(), hits: hits}
	return hits
}

func (s *Server) fremsoeg(payload *etree.Element, who *caller) (*etree.Element, error) {
	k, op := oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki
	in, err := oio.UnmarshalHierarchyInput(payload)
	if err != nil {
		return invalid(k, op, err), nil
	}
	var scope map[uuid.UUID]bool
	if who != nil && who.cvr != "" && s.opts.OrganisationCVR != nil {
		scope = map[uuid.UUID]bool{}
		for org, cvr := range s.opts.OrganisationCVR {
			if cvr == who.cvr {
				scope[org] = true
			}
		}
	}
	limit := in.Max
	if limit == 0 {
		limit = DefaultSearchPage
	}
	h := &oio.Hierarchy{}
	s.mu.Lock()
	hits := s.hierarchyHits(in, scope)
	for _, kind := range oio.HierarchyKinds() {
		ids := hits[kind]
		if in.First >= len(ids) {
			continue
		}
		for _, id := range ids[in.First:min(len(ids), in.First+limit)] {
			reg := s.objects[objectKey{kind, id}].latest()
			_ = h.Add(&oio.Object{Kind: kind, UUID: id, Registration: cloneRegistration(*reg)}) // kind is a hierarchy kind
		}
	}
	s.mu.Unlock()
	out, err := oio.MarshalHierarchyOutput(ok, h)
	if err != nil {
		return nil, fmt.Errorf("stored objects cannot be written: %w", err)
	}
	return out, nil
}
