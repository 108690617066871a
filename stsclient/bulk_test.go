package stsclient_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// numbered returns n copies of unit() with UUIDs 66666666-0000-4000-8000-{i}.
func numbered(n int) []*oio.Object {
	out := make([]*oio.Object, n)
	for i := range out {
		u := unit()
		u.UUID = uuid.MustParse(fmt.Sprintf("66666666-0000-4000-8000-%012d", i))
		u.Registration.Tidspunkt, u.Registration.Livscyklus = clockStart, oio.LivscyklusImporteret
		out[i] = u
	}
	return out
}

func uuids(objs []*oio.Object) []uuid.UUID {
	out := make([]uuid.UUID, len(objs))
	for i, o := range objs {
		out[i] = o.UUID
	}
	return out
}

func TestList(t *testing.T) {
	oe := oio.KindOrganisationEnhed
	t.Run("chunks, duplicates, unknown and passivated objects", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) { c.MaxListIDs = 3 })
		units := numbered(7)
		for _, u := range units {
			fake.Put(u)
		}
		passivated := *units[6]
		passivated.Registration.Livscyklus = oio.LivscyklusPassiveret
		fake.Put(&passivated)
		ids := append(uuids(units), unknownUUID, units[0].UUID)
		got, err := client.List(t.Context(), oe, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 7 {
			t.Fatalf("%d objects, want 7", len(got))
		}
		for _, u := range units[:6] {
			assertObject(t, got[u.UUID], u)
		}
		if got[units[6].UUID].Registration.Livscyklus != oio.LivscyklusPassiveret {
			t.Errorf("passivated object: %+v", got[units[6].UUID])
		}
		if n := fake.Calls()["organisationenhed/list"]; n != 3 { // 8 distinct UUIDs in chunks of 3
			t.Errorf("%d list calls, want 3", n)
		}
	})
	t.Run("invalid input makes no call", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, nil)
		got, err := client.List(t.Context(), oe, nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("List(nil) = %v, %v; want empty map", got, err)
		}
		for name, call := range map[string]func() error{
			"nil UUID":     func() error { _, err := client.List(t.Context(), oe, []uuid.UUID{unitUUID, uuid.Nil}); return err },
			"unknown kind": func() error { _, err := client.List(t.Context(), "enhed", []uuid.UUID{unitUUID}); return err },
			"organisationsystem": func() error {
				_, err := client.List(t.Context(), oio.KindOrganisationSystem, []uuid.UUID{unitUUID})
				return err
			},
		} {
			if err := call(); !errors.Is(err, oio.ErrInvalid) || stsclient.IsRetryable(err) {
				t.Errorf("%s: %v, want non-retryable oio.ErrInvalid", name, err)
			}
		}
		if n := fake.TotalCalls(); n != 0 {
			t.Errorf("%d calls", n)
		}
	})
	t.Run("a failing chunk fails the call", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) { c.MaxListIDs = 2 })
		fake.Put(unit())
		fake.FailNext(ststest.Failure{Operation: oio.OpList, HTTPStatus: 503})
		got, err := client.List(t.Context(), oe, []uuid.UUID{unitUUID, parentA, parentB})
		var te *stsclient.TransportError
		if got != nil || !errors.As(err, &te) || te.Operation != oio.OpList || !stsclient.IsRetryable(err) {
			t.Errorf("List = %v, %v; want nil and a retryable list TransportError", got, err)
		}
		fake.FailNext(ststest.Failure{Operation: oio.OpList, StatusKode: oio.StatusUnauthorized})
		if _, err := client.List(t.Context(), oe, []uuid.UUID{unitUUID}); !errors.Is(err, stsclient.ErrUnauthorized) {
			t.Errorf("List with status 41: %v", err)
		}
	})
	t.Run("an object that was not asked for", func(t *testing.T) {
		// The Security adds a UUID to the request, so the fake returns an object the client did
		// not ask for.
		fake, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) {
			c.Security = securityFunc(func(env *soap.Envelope) error {
				p, err := env.Payload()
				if err == nil {
					p.CreateElement("sd:UUIDIdentifikator").SetText(parentA.String())
				}
				return err
			})
		})
		fake.Put(unit())
		other := unit()
		other.UUID = parentA
		fake.Put(other)
		_, err := client.List(t.Context(), oe, []uuid.UUID{unitUUID})
		var te *stsclient.TransportError
		if !errors.As(err, &te) || !errors.Is(err, oio.ErrInvalid) || !strings.Contains(err.Error(), "not asked for") {
			t.Errorf("error %v, want a TransportError about an object not asked for", err)
		}
	})
}

func TestSearchHierarchy(t *testing.T) {
	fake, client, _ := setup(t, ststest.Options{}, nil)
	for _, u := range numbered(3) {
		fake.Put(u)
	}
	other := unit()
	other.UUID = parentB
	other.Registration.Egenskaber[0].BrugervendtNoegle = "HR"
	fake.Put(other)
	fake.Put(fixture(oio.KindBruger))
	fake.Put(fixture(oio.KindPerson)) // not part of a hierarchy

	t.Run("template", func(t *testing.T) {
		h, err := client.SearchHierarchy(t.Context(), &oio.HierarchyInput{
			Egenskaber: map[oio.Kind]oio.Egenskab{oio.KindOrganisationEnhed: {BrugervendtNoegle: "HR"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.OrganisationEnheder) != 1 || h.OrganisationEnheder[0].UUID != parentB || len(h.Brugere) != 1 || h.Len() != 2 {
			t.Errorf("hierarchy %+v", h)
		}
	})
	t.Run("paging", func(t *testing.T) {
		page, err := client.SearchHierarchy(t.Context(), &oio.HierarchyInput{First: 1, Max: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Each list is paged on its own, in UUID order: units 1 and 2 of four (parentB sorts
		// first), no user (the only one is number 0).
		if len(page.OrganisationEnheder) != 2 || len(page.Brugere) != 0 || page.OrganisationEnheder[0].UUID != numbered(1)[0].UUID {
			t.Errorf("page %+v", page)
		}
		all, err := client.SearchHierarchyAll(t.Context(), oio.HierarchyInput{}, 3)
		if err != nil || len(all.OrganisationEnheder) != 4 || len(all.Brugere) != 1 || all.Len() != 5 {
			t.Errorf("SearchHierarchyAll = %+v, %v", all, err)
		}
	})
	t.Run("a write between pages is seen", func(t *testing.T) {
		// The fake keeps a query's sorted hits between pages; a stored registration must end that.
		count := func() int {
			t.Helper()
			all, err := client.SearchHierarchyAll(t.Context(), oio.HierarchyInput{}, 2)
			if err != nil {
				t.Fatal(err)
			}
			return len(all.OrganisationEnheder)
		}
		before := count()
		added := numbered(5)[4]
		fake.Put(added)
		if n := count(); n != before+1 {
			t.Errorf("after a new unit: %d units; want %d", n, before+1)
		}
		gone := *added
		gone.Registration.Livscyklus = oio.LivscyklusPassiveret
		fake.Put(&gone)
		if n := count(); n != before {
			t.Errorf("after passivating it: %d units; want %d", n, before)
		}
	})
	t.Run("status 44 is an empty hierarchy, others are errors", func(t *testing.T) {
		fake.FailNext(ststest.Failure{Operation: oio.OpFremsoegObjekthierarki, StatusKode: oio.StatusNotFound})
		h, err := client.SearchHierarchy(t.Context(), &oio.HierarchyInput{})
		if err != nil || h == nil || h.Len() != 0 {
			t.Errorf("with 44: %+v, %v; want empty, nil", h, err)
		}
		fake.FailNext(ststest.Failure{Operation: oio.OpFremsoegObjekthierarki, StatusKode: oio.StatusUnauthorized})
		_, err = client.SearchHierarchyAll(t.Context(), oio.HierarchyInput{}, 0)
		var se *stsclient.StatusError
		if !errors.As(err, &se) || !errors.Is(err, stsclient.ErrUnauthorized) || se.Kind != oio.KindOrganisationSystem ||
			se.Operation != oio.OpFremsoegObjekthierarki || !strings.Contains(err.Error(), "fremsoegobjekthierarki organisationsystem") {
			t.Errorf("with 41: %v", err)
		}
		if _, err := client.SearchHierarchy(t.Context(), &oio.HierarchyInput{First: -1}); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("negative First: %v", err)
		}
		if _, err := client.SearchHierarchy(t.Context(), nil); !errors.Is(err, oio.ErrInvalid) {
			t.Errorf("nil input: %v", err)
		}
	})
}

// TestForeignOrganisationWrites checks StatusKode 41 for writes to objects of another
// municipality's Organisation (security on, so the fake knows the caller's CVR), and that
// reads and own writes are unaffected.
func TestForeignOrganisationWrites(t *testing.T) {
	e := setupSecure(t, ststest.Options{OrganisationCVR: map[uuid.UUID]string{orgUUID: testCVR, otherOrg: "22222222"}}, secureMods{})
	ctx := t.Context()
	oe := oio.KindOrganisationEnhed
	foreign := func(o *oio.Object) *oio.Object {
		for i := range o.Registration.Relationer {
			if r := &o.Registration.Relationer[i]; r.Name == oio.RelTilhoerer || r.Name == oio.RelTilknyttedeOrganisationer {
				r.Ref = otherOrg
			}
		}
		return o
	}
	theirs := foreign(unit())
	theirs.UUID = parentB
	e.fake.Put(theirs)
	if err := e.client.Import(ctx, unit()); err != nil {
		t.Fatalf("own import: %v", err)
	}

	assertStatus(t, e.client.Import(ctx, func() *oio.Object { u := foreign(unit()); u.UUID = parentA; return u }()),
		stsclient.ErrUnauthorized, oio.StatusUnauthorized, oio.OpImporter, parentA)
	assertStatus(t, e.client.Update(ctx, foreign(unit())), stsclient.ErrUnauthorized, oio.StatusUnauthorized, oio.OpRet, unitUUID)
	mine := unit()
	mine.UUID = parentB
	assertStatus(t, e.client.Update(ctx, mine), stsclient.ErrUnauthorized, oio.StatusUnauthorized, oio.OpRet, parentB)
	assertStatus(t, e.client.Passivate(ctx, oe, parentB, ""), stsclient.ErrUnauthorized, oio.StatusUnauthorized, oio.OpPassiver, parentB)
	err := e.client.Import(ctx, foreign(fixture(oio.KindOrganisationFunktion)))
	if !errors.Is(err, stsclient.ErrUnauthorized) {
		t.Errorf("import of a function of another municipality: %v", err)
	}
	org := fixture(oio.KindOrganisation)
	org.UUID = otherOrg
	e.fake.Put(org)
	if err := e.client.Update(ctx, org); !errors.Is(err, stsclient.ErrUnauthorized) {
		t.Errorf("ret of another municipality's Organisation: %v", err)
	}

	// Unaffected: reads of foreign objects, writes to own objects and to unlisted
	// Organisations' objects, objects without an owner (Person).
	if _, err := e.client.Read(ctx, oe, parentB); err != nil {
		t.Errorf("read of a foreign unit: %v", err)
	}
	if err := e.client.Update(ctx, renamed(unit())); err != nil {
		t.Errorf("own ret: %v", err)
	}
	unlisted := unit()
	unlisted.UUID = parentA
	unlisted.Registration.Relationer[3].Ref = uuid.MustParse("77777777-0000-4000-8000-000000000000")
	if err := e.client.Import(ctx, unlisted); err != nil {
		t.Errorf("import for an unlisted Organisation: %v", err)
	}
	if err := e.client.Import(ctx, fixture(oio.KindPerson)); err != nil {
		t.Errorf("import of a person: %v", err)
	}
	if got, _ := e.fake.Object(oe, parentB); got.Registration.Livscyklus == oio.LivscyklusPassiveret {
		t.Error("the foreign unit was passivated")
	}

	// Without security the fake knows no CVR and checks nothing.
	fake, client, _ := setup(t, ststest.Options{OrganisationCVR: map[uuid.UUID]string{orgUUID: testCVR, otherOrg: "22222222"}}, nil)
	fake.Put(theirs)
	if err := client.Passivate(ctx, oe, parentB, ""); err != nil {
		t.Errorf("passiver without security: %v", err)
	}
}

// Responses with many objects (here over 10,000 elements) are signed and verified, and List
// splits its UUIDs into calls of DefaultMaxListIDs.
func TestSearchHierarchyLargeSecured(t *testing.T) {
	e := setupSecure(t, ststest.Options{}, secureMods{})
	for _, u := range numbered(150) {
		e.fake.Put(u)
	}
	h, err := e.client.SearchHierarchyAll(t.Context(), oio.HierarchyInput{}, 0)
	if err != nil || len(h.OrganisationEnheder) != 150 {
		t.Fatalf("SearchHierarchyAll: %d units, %v", len(h.OrganisationEnheder), err)
	}
	got, err := e.client.List(t.Context(), oio.KindOrganisationEnhed, uuids(numbered(150)))
	if err != nil || len(got) != 150 {
		t.Fatalf("List: %d, %v", len(got), err)
	}
	if n := e.fake.Calls()["organisationenhed/list"]; n != 2 {
		t.Errorf("%d list calls, want 2 (DefaultMaxListIDs 100)", n)
	}
}

// BenchmarkSearchHierarchyPage reads one page of 500 from a fake holding 50,000 units, as a full
// sync pages through a municipality's hierarchy.
func BenchmarkSearchHierarchyPage(b *testing.B) {
	fake, client, _ := setup(b, ststest.Options{}, nil)
	for i := range 50000 {
		u := unit()
		u.UUID = uuid.MustParse(fmt.Sprintf("77777777-0000-4000-8000-%012d", i))
		u.Registration.Livscyklus = oio.LivscyklusImporteret
		fake.Put(u)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := client.SearchHierarchy(b.Context(), &oio.HierarchyInput{First: (i * 500) % 50000, Max: 500}); err != nil {
			b.Fatal(err)
		}
	}
}
