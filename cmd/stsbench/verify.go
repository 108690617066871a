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

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// allKinds are the STS object kinds the fake stores.
var allKinds = []oio.Kind{oio.KindOrganisation, oio.KindOrganisationEnhed, oio.KindOrganisationFunktion,
	oio.KindBruger, oio.KindPerson, oio.KindAdresse, oio.KindItSystem}

// stsIndex is a snapshot of everything the fake STS holds, read from its memory (not over HTTP)
// and indexed as converge.Index: by UUID, the users of a person, the functions of a user and of a
// unit. converge.Read over it reads a bundle exactly as the daemon's event path reads STS.
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

// current returns what the daemon reads for d (converge.Read of d's lookups).
func (ix *stsIndex) current(ctx context.Context, d translate.Desired) (map[uuid.UUID]*oio.Object, error) {
	return converge.Read(ctx, ix, d.Lookups())
}

// UsersOfPerson implements converge.Index.
func (ix *stsIndex) UsersOfPerson(_ context.Context, person uuid.UUID) ([]uuid.UUID, error) {
	return ix.usersOfPerson[person], nil
}

// FunctionsOfUser implements converge.Index.
func (ix *stsIndex) FunctionsOfUser(_ context.Context, user uuid.UUID) ([]uuid.UUID, error) {
	return ix.funcsOfUser[user], nil
}

// FunctionsOfUnit implements converge.Index.
func (ix *stsIndex) FunctionsOfUnit(_ context.Context, unit, typ uuid.UUID) ([]uuid.UUID, error) {
	if typ == uuid.Nil {
		return ix.funcsOfUnit[unit], nil
	}
	var out []uuid.UUID
	for _, id := range ix.funcsOfUnit[unit] {
		if o := ix.byID[id]; o != nil && slices.ContainsFunc(o.Registration.Relationer, func(r oio.Relation) bool {
			return r.Name == oio.RelFunktionstype && r.Ref == typ
		}) {
			out = append(out, id)
		}
	}
	return out, nil
}

// Objects implements converge.Index: the objects that exist (not passivated), as list returns them.
func (ix *stsIndex) Objects(_ context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	out := map[uuid.UUID]*oio.Object{}
	for _, id := range ids {
		if o := ix.byID[id]; o != nil && o.Kind == kind && o.Exists() {
			out[id] = o
		}
	}
	return out, nil
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
				cur, err := ix.current(ctx, d)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				ops := translate.PlanAll(settings, d, cur, time.Now())
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
