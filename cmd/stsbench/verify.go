package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// allKinds are the STS object kinds the fake stores.
var allKinds = []oio.Kind{oio.KindOrganisation, oio.KindOrganisationEnhed, oio.KindOrganisationFunktion,
	oio.KindBruger, oio.KindPerson, oio.KindAdresse, oio.KindItSystem}

// stsIndex is a snapshot of everything the fake STS holds, indexed as the consumer reads it
// (translate.Desired.Lookups): by UUID, the users of a person, the functions of a user and of a
// unit.
type stsIndex struct {
	byID          map[uuid.UUID]*oio.Object
	usersOfPerson map[uuid.UUID][]uuid.UUID
	funcsOfUser   map[uuid.UUID][]uuid.UUID
	funcsOfUnit   map[uuid.UUID][]uuid.UUID
}

func (s *stack) index() *stsIndex {
	ix := &stsIndex{byID: map[uuid.UUID]*oio.Object{}, usersOfPerson: map[uuid.UUID][]uuid.UUID{},
		funcsOfUser: map[uuid.UUID][]uuid.UUID{}, funcsOfUnit: map[uuid.UUID][]uuid.UUID{}}
	for _, k := range allKinds {
		for _, o := range s.sts.Objects(k) {
			ix.byID[o.UUID] = o
			for _, r := range o.Registration.Relationer {
				switch {
				case k == oio.KindBruger && r.Name == oio.RelTilknyttedePersoner:
					ix.usersOfPerson[r.Ref] = append(ix.usersOfPerson[r.Ref], o.UUID)
				case k == oio.KindOrganisationFunktion && r.Name == oio.RelTilknyttedeBrugere:
					ix.funcsOfUser[r.Ref] = append(ix.funcsOfUser[r.Ref], o.UUID)
				case k == oio.KindOrganisationFunktion && r.Name == oio.RelTilknyttedeEnheder:
					ix.funcsOfUnit[r.Ref] = append(ix.funcsOfUnit[r.Ref], o.UUID)
				}
			}
		}
	}
	return ix
}

// current returns what the consumer reads for d (translate.Desired.Lookups): the named objects,
// the users of the person, and the functions of those users and of the units (all types; PlanAll
// only acts on the ones that concern it).
func (ix *stsIndex) current(d translate.Desired) map[uuid.UUID]*oio.Object {
	l := d.Lookups()
	out := map[uuid.UUID]*oio.Object{}
	add := func(id uuid.UUID) {
		if o := ix.byID[id]; o != nil {
			out[id] = o
		}
	}
	for _, r := range l.Read {
		if o := ix.byID[r.UUID]; o != nil && o.Kind == r.Kind {
			out[r.UUID] = o
		}
	}
	users := slices.Clone(l.FunctionsOfUsers)
	if l.UsersOfPerson != uuid.Nil {
		for _, u := range ix.usersOfPerson[l.UsersOfPerson] {
			add(u)
			users = append(users, u)
		}
	}
	for _, u := range users {
		for _, f := range ix.funcsOfUser[u] {
			add(f)
		}
	}
	for _, uf := range l.FunctionsOfUnits {
		for _, f := range ix.funcsOfUnit[uf.Unit] {
			add(f)
		}
	}
	return out
}

// snapshot returns the latest registration of every object the fake holds.
func (s *stack) snapshot() map[objKey]*oio.Object {
	out := map[objKey]*oio.Object{}
	for _, k := range allKinds {
		for _, o := range s.sts.Objects(k) {
			out[objKey{k, o.UUID}] = o
		}
	}
	return out
}

// changedObjects counts objects created or changed between two snapshots, by kind: new objects,
// and objects with a new registration whose content (translate.Hash: attributes, states,
// relations; no registration metadata) differs. A write that changed nothing is not counted.
func changedObjects(before, after map[objKey]*oio.Object) (int, map[oio.Kind]int) {
	n, byKind := 0, map[oio.Kind]int{}
	for k, o := range after {
		b := before[k]
		if b != nil && (b.Registration.Tidspunkt.Equal(o.Registration.Tidspunkt) || translate.Hash(*b) == translate.Hash(*o)) {
			continue
		}
		n++
		byKind[k.kind]++
	}
	return n, byKind
}

// bundleKind says whether a verified object is an OS2MO unit or person.
type bundleKind int

const (
	unitBundle bundleKind = iota
	personBundle
)

// desired fetches the object from the fake OS2MO through the same client as the daemon and
// translates it as the pipeline does (default settings; gone objects as UnitGone/PersonGone).
func (s *stack) desired(ctx context.Context, kind bundleKind, id uuid.UUID) (translate.Desired, bool, error) {
	settings := translate.Settings{Organisation: benchOrg}
	now := time.Now()
	switch kind {
	case unitBundle:
		u, err := s.mc.OrgUnit(ctx, id)
		switch {
		case errors.Is(err, moclient.ErrNotFound):
			return translate.Desired{}, false, nil
		case errors.Is(err, moclient.ErrNotCurrent):
			return translate.UnitGone(settings, id), true, nil
		case err != nil:
			return translate.Desired{}, false, err
		}
		return translate.UnitDesired(settings, u, now), true, nil
	default:
		p, err := s.mc.Person(ctx, id)
		switch {
		case errors.Is(err, moclient.ErrNotFound):
			return translate.Desired{}, false, nil
		case errors.Is(err, moclient.ErrNotCurrent):
			return translate.PersonGone(settings, id), true, nil
		case err != nil:
			return translate.Desired{}, false, err
		}
		return translate.PersonDesired(settings, p, now), true, nil
	}
}

// verify checks that STS converged for the given OS2MO objects: for each, the bundle translated
// from OS2MO's current state, planned against what the fake STS holds, needs no operation (the
// daemon's own plan would write nothing). It reports the first few bundles that still need
// writes.
func (s *stack) verify(ctx context.Context, kind bundleKind, ids []uuid.UUID) error {
	ix := s.index()
	settings := translate.Settings{Organisation: benchOrg}
	var (
		mu       sync.Mutex
		failures []string
		nFail    int
		firstErr error
	)
	work := make(chan uuid.UUID)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				d, ok, err := s.desired(ctx, kind, id)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				if !ok {
					continue
				}
				ops := translate.PlanAll(settings, d, ix.current(d), time.Now())
				if len(ops) == 0 {
					continue
				}
				var desc []string
				for _, op := range ops {
					desc = append(desc, fmt.Sprintf("%s %s%s", op.Op, op.Ref(), diff(ix.byID[op.Object.UUID], op.Object)))
				}
				mu.Lock()
				nFail++
				if len(failures) < 5 {
					failures = append(failures, fmt.Sprintf("%s: still needs %s", id, strings.Join(desc, ", ")))
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("reading OS2MO to verify STS: %w", firstErr)
	}
	if nFail > 0 {
		what := map[bundleKind]string{unitBundle: "unit", personBundle: "person"}[kind]
		return fmt.Errorf("STS did not converge: %d of %d %s bundles differ from OS2MO, e.g.\n  %s", nFail, len(ids), what, strings.Join(failures, "\n  "))
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// diff describes how a planned ret differs from the current object: the entries it would add
// (+) and drop (-).
func diff(cur *oio.Object, want oio.Object) string {
	if cur == nil {
		return ""
	}
	a, b := entries(cur.Registration), entries(want.Registration)
	var out []string
	for _, e := range b {
		if !slices.Contains(a, e) {
			out = append(out, "+"+e)
		}
	}
	for _, e := range a {
		if !slices.Contains(b, e) {
			out = append(out, "-"+e)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " [" + strings.Join(out, "; ") + "]"
}

func entries(r oio.Registration) []string {
	v := func(x oio.Virkning) string { return "[" + day(x.From) + "," + day(x.To) + ")" }
	var out []string
	for _, e := range r.Egenskaber {
		out = append(out, fmt.Sprintf("E %q %q %q %s", e.BrugervendtNoegle, e.Navn, e.AdresseTekst, v(e.Virkning)))
	}
	for _, g := range r.Gyldighed {
		out = append(out, fmt.Sprintf("G %s %s", g.Status, v(g.Virkning)))
	}
	for _, rel := range r.Relationer {
		out = append(out, fmt.Sprintf("R %s %s %s", rel.Name, rel.Ref, v(rel.Virkning)))
	}
	return out
}

func day(t time.Time) string {
	if t.IsZero() {
		return "∞"
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}
