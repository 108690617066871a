package stsclient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestCycle runs the write patterns of the sync against the fake over HTTP, once without and
// once with the WS-Security profile (token from the fake STS, signed requests, verified
// responses): importer, laes, ret, soeg with paging, list in chunks, fremsoegobjekthierarki
// with paging (scoped to the token's municipality with security on), passiver, and every
// StatusKode the client maps to a sentinel (40, 41, 44, 45, 47, 49).
func TestCycle(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(modeName(secure), func(t *testing.T) { testCycle(t, secure) })
	}
}

func testCycle(t *testing.T, secure bool) {
	fake, client, clock := setupMode(t, secure, ststest.Options{OrganisationCVR: map[uuid.UUID]string{orgUUID: testCVR, otherOrg: "22222222"}},
		func(c *stsclient.Config) { c.MaxListIDs = 2 })
	ctx := t.Context()
	oe := oio.KindOrganisationEnhed

	// importer, then laes returns what was sent, registered at the client's clock.
	if err := client.Import(ctx, unit()); err != nil {
		t.Fatalf("Import: %v", err)
	}
	got, err := client.Read(ctx, oe, unitUUID)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := unit()
	want.Registration.Tidspunkt, want.Registration.Livscyklus = clockStart, oio.LivscyklusImporteret
	assertObject(t, got, want)

	// ret (rename + new parent), then laes returns the new lists, registered at server time.
	clock.Advance(time.Minute)
	if err := client.Update(ctx, renamed(unit())); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err = client.Read(ctx, oe, unitUUID)
	if err != nil {
		t.Fatalf("Read after Update: %v", err)
	}
	want = renamed(unit())
	want.Registration.Tidspunkt, want.Registration.Livscyklus = clockStart.Add(time.Minute), oio.LivscyklusImporteret
	assertObject(t, got, want)
	if h := fake.History(oe, unitUUID); len(h) != 2 {
		t.Errorf("fake holds %d registrations, want 2", len(h))
	}

	// soeg: five children of parentA, found in pages of two; no hits is an empty result.
	var children []uuid.UUID
	for i := range 5 {
		c := unit()
		c.UUID = uuid.MustParse(fmt.Sprintf("33333333-0000-4000-8000-%012d", i))
		children = append(children, c.UUID)
		if err := client.Import(ctx, c); err != nil {
			t.Fatalf("Import child %d: %v", i, err)
		}
	}
	template := oio.SoegInput{Kind: oe, Relationer: []oio.Relation{{Name: oio.RelOverordnet, Ref: parentA}},
		Gyldighed: []oio.Gyldighed{{Status: oio.Aktiv}}, Egenskaber: []oio.Egenskab{{BrugervendtNoegle: "OKO"}}}
	found, err := client.SearchAll(ctx, template, 2)
	if err != nil || !slices.Equal(found, children) {
		t.Errorf("SearchAll = %v, %v; want %v", found, err, children)
	}
	page, err := client.Search(ctx, &oio.SoegInput{Kind: oe, First: 4, Max: 2, Relationer: template.Relationer})
	if err != nil || !slices.Equal(page, children[4:]) {
		t.Errorf("Search page 3 = %v, %v", page, err)
	}
	none, err := client.Search(ctx, &oio.SoegInput{Kind: oe, Relationer: []oio.Relation{{Name: oio.RelOverordnet, Ref: unitUUID}}})
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("Search without hits = %#v, %v; want empty, nil", none, err)
	}

	// list: the unit and its five siblings in chunks of two; an unknown UUID is left out, a
	// duplicate asked for once; the objects are the fake's latest registrations.
	listed, err := client.List(ctx, oe, append([]uuid.UUID{unitUUID, unknownUUID, unitUUID}, children...))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != 6 {
		t.Errorf("List returned %d objects, want 6", len(listed))
	}
	for _, id := range append([]uuid.UUID{unitUUID}, children...) {
		if want, ok := fake.Object(oe, id); !ok || listed[id] == nil {
			t.Errorf("List lacks %s", id)
		} else {
			assertObject(t, listed[id], want)
		}
	}
	if none, err := client.List(ctx, oe, []uuid.UUID{unknownUUID}); err != nil || len(none) != 0 {
		t.Errorf("List of an unknown UUID = %v, %v; want empty, nil", none, err)
	}

	// fremsoegobjekthierarki in pages of two: the municipality's organisation, units, function
	// and user; never passivated objects; another municipality's unit only without security
	// (no CVR to scope by).
	for _, k := range []oio.Kind{oio.KindOrganisation, oio.KindBruger, oio.KindOrganisationFunktion} {
		fake.Put(fixture(k))
	}
	foreign, gone := unit(), unit()
	foreign.UUID, gone.UUID = uuid.MustParse("55555555-0000-4000-8000-000000000001"), uuid.MustParse("55555555-0000-4000-8000-000000000002")
	foreign.Registration.Relationer[3].Ref = otherOrg
	gone.Registration.Livscyklus = oio.LivscyklusPassiveret
	fake.Put(foreign)
	fake.Put(gone)
	h, err := client.SearchHierarchyAll(ctx, oio.HierarchyInput{}, 2)
	if err != nil {
		t.Fatalf("SearchHierarchyAll: %v", err)
	}
	wantUnits := append([]uuid.UUID{unitUUID}, children...)
	if !secure {
		wantUnits = append(wantUnits, foreign.UUID)
	}
	var gotUnits []uuid.UUID
	for _, o := range h.OrganisationEnheder {
		gotUnits = append(gotUnits, o.UUID)
		want, _ := fake.Object(oe, o.UUID)
		assertObject(t, o, want)
	}
	slices.SortFunc(gotUnits, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(wantUnits, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(gotUnits, wantUnits) {
		t.Errorf("hierarchy units %v, want %v", gotUnits, wantUnits)
	}
	if len(h.Organisationer) != 1 || h.Organisationer[0].UUID != orgUUID || len(h.Brugere) != 1 || h.Brugere[0].UUID != brugerUUID ||
		len(h.OrganisationFunktioner) != 1 || h.OrganisationFunktioner[0].UUID != funktionUUID || len(h.ItSystemer) != 0 {
		t.Errorf("hierarchy %d organisations, %d functions, %d users, %d IT systems", len(h.Organisationer),
			len(h.OrganisationFunktioner), len(h.Brugere), len(h.ItSystemer))
	}
	hierarchyPages := (len(wantUnits)+1)/2 + 1 // the units need the most pages; one empty page ends

	// importer again → 49.
	err = client.Import(ctx, unit())
	assertStatus(t, err, stsclient.ErrAlreadyExists, oio.StatusAlreadyExists, oio.OpImporter, unitUUID)

	// laes of an unknown object → 44.
	unknown := uuid.MustParse("11111111-2222-4333-8444-555555555555")
	_, err = client.Read(ctx, oe, unknown)
	assertStatus(t, err, stsclient.ErrNotFound, oio.StatusNotFound, oio.OpLaes, unknown)
	err = client.Update(ctx, &oio.Object{Kind: oe, UUID: unknown})
	assertStatus(t, err, stsclient.ErrNotFound, oio.StatusNotFound, oio.OpRet, unknown)

	// ret whose period ends before it starts (updates applied out of order) → 47.
	backwards := renamed(unit())
	backwards.Registration.Egenskaber[1].Virkning.To = validFrom
	assertStatus(t, client.Update(ctx, backwards), stsclient.ErrInvalidVirkning, oio.StatusInvalidVirkning, oio.OpRet, unitUUID)

	// passiver; then ret → 49, passiver again → 49, importer re-creates the object.
	if err := client.Passivate(ctx, oe, unitUUID, "nedlagt"); err != nil {
		t.Fatalf("Passivate: %v", err)
	}
	assertStatus(t, client.Update(ctx, unit()), stsclient.ErrAlreadyExists, oio.StatusAlreadyExists, oio.OpRet, unitUUID)
	assertStatus(t, client.Passivate(ctx, oe, unitUUID, ""), stsclient.ErrAlreadyExists, oio.StatusAlreadyExists, oio.OpPassiver, unitUUID)
	if err := client.Import(ctx, unit()); err != nil {
		t.Errorf("Import after Passivate: %v", err)
	}

	// importer with a registration time ahead of the server → 45.
	future := unit()
	future.UUID = uuid.MustParse("22222222-2222-4333-8444-555555555555")
	future.Registration.Tidspunkt = clock.Now().Add(time.Hour)
	assertStatus(t, client.Import(ctx, future), stsclient.ErrFutureRegistration, oio.StatusFutureRegistration, oio.OpImporter, future.UUID)

	wantCalls := map[string]int{"organisationenhed/importer": 9, "organisationenhed/laes": 3,
		"organisationenhed/ret": 4, "organisationenhed/passiver": 2, "organisationenhed/soeg": 5,
		"organisationenhed/list": 5, "organisationsystem/fremsoegobjekthierarki": hierarchyPages}
	if got := fake.Calls(); !mapsEqual(got, wantCalls) {
		t.Errorf("Calls() = %v, want %v", got, wantCalls)
	}
	if len(fake.Faults()) != 0 {
		t.Errorf("faults: %v", fake.Faults())
	}
	if secure && fake.TokensIssued() != 1 {
		t.Errorf("%d tokens issued, want 1 (cached)", fake.TokensIssued())
	}
}

// TestStatus40And41 checks the two status codes that need a special client: a body the
// client did not validate (40) and a token whose service agreement only allows reading (41).
func TestStatus40And41(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(modeName(secure), func(t *testing.T) {
			// 40: the body is broken before it is secured, so the signature is valid.
			dup := func(env *soap.Envelope) {
				p, _ := env.Payload()
				p.InsertChildAt(0, p.ChildElements()[0].Copy())
			}
			var client *stsclient.Client
			if secure {
				client = setupSecure(t, ststest.Options{}, secureMods{wrap: func(s *stsclient.TokenSecurity) stsclient.Security {
					return &wrapSecurity{inner: s, before: dup}
				}}).client
			} else {
				_, client, _ = setup(t, ststest.Options{}, func(c *stsclient.Config) {
					c.Security = &wrapSecurity{inner: stsclient.NoSecurity{}, before: dup}
				})
			}
			assertStatus(t, client.Import(t.Context(), unit()), stsclient.ErrInvalidInput, oio.StatusInvalidInput, oio.OpImporter, unitUUID)

			// 41: reading works, writing does not.
			var fake *ststest.Server
			if secure {
				e := setupSecure(t, ststest.Options{Agreements: map[string]ststest.Access{testCVR: ststest.AccessRead}}, secureMods{})
				fake, client = e.fake, e.client
			} else {
				fake, client, _ = setup(t, ststest.Options{}, nil)
				fake.FailNext(ststest.Failure{Operation: oio.OpImporter, StatusKode: oio.StatusUnauthorized})
			}
			fake.Put(unit())
			if _, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unitUUID); err != nil {
				t.Errorf("Read with a read-only agreement: %v", err)
			}
			other := unit()
			other.UUID = uuid.MustParse("44444444-0000-4000-8000-000000000000")
			err := client.Import(t.Context(), other)
			assertStatus(t, err, stsclient.ErrUnauthorized, oio.StatusUnauthorized, oio.OpImporter, other.UUID)
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func assertStatus(t *testing.T, err error, sentinel error, code int, op oio.Operation, id uuid.UUID) {
	t.Helper()
	var se *stsclient.StatusError
	if !errors.As(err, &se) || !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want *StatusError matching %v", err, sentinel)
	}
	if se.Code != code || se.Operation != op || se.ObjectUUID != id || se.Kind != oio.KindOrganisationEnhed {
		t.Errorf("StatusError %+v, want code %d op %s uuid %s", se, code, op, id)
	}
	for _, part := range []string{"organisationenhed", id.String(), string(op), "StatusKode " + strconv.Itoa(code), se.Text} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q lacks %q", err, part)
		}
	}
	if se.Text == "" {
		t.Error("empty FejlbeskedTekst")
	}
	if stsclient.IsRetryable(err) != (code == oio.StatusFutureRegistration) {
		t.Errorf("IsRetryable(%d) = %v", code, stsclient.IsRetryable(err))
	}
}

// tamper is a Security that breaks the request body after it was built (so the fake sees an
// invalid document), and checks that responses pass through VerifyResponse.
type tamper struct{ verified int }

func (*tamper) SecureRequest(_ context.Context, env *soap.Envelope) error {
	p, err := env.Payload()
	if err != nil {
		return err
	}
	p.InsertChildAt(0, p.ChildElements()[0].Copy()) // duplicate the first child
	return nil
}

func (s *tamper) VerifyResponse(context.Context, *soap.Envelope) error { s.verified++; return nil }

// securityFunc is a Security that runs f on requests and accepts all responses.
type securityFunc func(*soap.Envelope) error

func (f securityFunc) SecureRequest(_ context.Context, env *soap.Envelope) error { return f(env) }
func (securityFunc) VerifyResponse(context.Context, *soap.Envelope) error        { return nil }

func TestInvalidBodyIsInvalidInput(t *testing.T) {
	sec := &tamper{}
	_, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) { c.Security = sec })
	err := client.Import(t.Context(), unit())
	assertStatus(t, err, stsclient.ErrInvalidInput, oio.StatusInvalidInput, oio.OpImporter, unitUUID)
	if sec.verified != 1 {
		t.Errorf("VerifyResponse ran %d times, want 1", sec.verified)
	}
}

func TestTransportFailures(t *testing.T) {
	oe := oio.KindOrganisationEnhed
	t.Run("HTTP 503 is retryable", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, nil)
		fake.FailNext(ststest.Failure{HTTPStatus: 503})
		_, err := client.Read(t.Context(), oe, unitUUID)
		var te *stsclient.TransportError
		if !errors.As(err, &te) || te.HTTPStatus != 503 || !stsclient.IsRetryable(err) {
			t.Fatalf("error %v, want retryable *TransportError with HTTP 503", err)
		}
		if !strings.Contains(err.Error(), unitUUID.String()) || !strings.Contains(err.Error(), "laes") {
			t.Errorf("message %q lacks UUID or operation", err)
		}
		// The failure was used up; the next call reaches the business logic.
		if _, err := client.Read(t.Context(), oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Errorf("second call: %v, want ErrNotFound", err)
		}
	})
	t.Run("Receiver fault is a retryable FaultError", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, nil)
		fake.FailNext(ststest.Failure{Operation: oio.OpImporter, FaultReason: "database unavailable"})
		err := client.Import(t.Context(), unit())
		var fe *stsclient.FaultError
		if !errors.As(err, &fe) || fe.Fault.Code != soap.CodeReceiver || fe.Fault.Reason != "database unavailable" || !stsclient.IsRetryable(err) {
			t.Fatalf("error %v, want retryable Receiver *FaultError", err)
		}
	})
	t.Run("Sender fault is not retryable", func(t *testing.T) {
		_, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) {
			c.Security = securityFunc(func(env *soap.Envelope) error {
				for _, h := range env.Header.ChildElements() {
					if h.Tag == "To" {
						h.SetText("https://elsewhere.example/organisation/bruger/6/")
					}
				}
				return nil
			})
		})
		err := client.Import(t.Context(), unit())
		var fe *stsclient.FaultError
		if !errors.As(err, &fe) || fe.Fault.Code != soap.CodeSender || stsclient.IsRetryable(err) {
			t.Fatalf("error %v, want non-retryable Sender *FaultError", err)
		}
	})
	t.Run("timeout is retryable", func(t *testing.T) {
		_, client, _ := setup(t, ststest.Options{Latency: 300 * time.Millisecond}, func(c *stsclient.Config) { c.Timeout = 50 * time.Millisecond })
		_, err := client.Read(t.Context(), oe, unitUUID)
		var te *stsclient.TransportError
		if !errors.As(err, &te) || !stsclient.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want retryable *TransportError wrapping DeadlineExceeded", err)
		}
	})
	t.Run("caller cancellation is not retryable", func(t *testing.T) {
		_, client, _ := setup(t, ststest.Options{Latency: 300 * time.Millisecond}, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := client.Read(ctx, oe, unitUUID)
		if err == nil || stsclient.IsRetryable(err) {
			t.Fatalf("error %v, want non-retryable", err)
		}
	})
	t.Run("oversized response", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) { c.MaxResponseBytes = 512 })
		fake.Put(unit())
		_, err := client.Read(t.Context(), oe, unitUUID)
		var te *stsclient.TransportError
		if !errors.As(err, &te) || stsclient.IsRetryable(err) || !strings.Contains(err.Error(), "exceeds 512 bytes") {
			t.Fatalf("error %v, want non-retryable size error", err)
		}
	})
	t.Run("injected status codes map to sentinels", func(t *testing.T) {
		fake, client, _ := setup(t, ststest.Options{}, nil)
		for code, sentinel := range map[int]error{41: stsclient.ErrUnauthorized, 47: stsclient.ErrInvalidVirkning} {
			fake.FailNext(ststest.Failure{StatusKode: code})
			err := client.Update(t.Context(), unit())
			if !errors.Is(err, sentinel) || stsclient.IsRetryable(err) {
				t.Errorf("StatusKode %d: %v, want non-retryable %v", code, err, sentinel)
			}
		}
		fake.FailNext(ststest.Failure{StatusKode: 50})
		if err := client.Update(t.Context(), unit()); !stsclient.IsRetryable(err) {
			t.Errorf("StatusKode 50 (technical): %v, want retryable", err)
		}
	})
}

func TestClientRejectsInvalidObjectsWithoutCalling(t *testing.T) {
	fake, client, _ := setup(t, ststest.Options{}, nil)
	bad := unit()
	bad.Registration.Relationer = append(bad.Registration.Relationer, oio.Relation{Name: oio.RelOverordnet, Ref: parentB})
	for name, err := range map[string]error{
		"Import":     client.Import(t.Context(), bad),
		"Update":     client.Update(t.Context(), bad),
		"Import nil": client.Import(t.Context(), nil),
	} {
		if !errors.Is(err, oio.ErrInvalid) || stsclient.IsRetryable(err) {
			t.Errorf("%s: %v, want non-retryable oio.ErrInvalid", name, err)
		}
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("fake saw %d calls", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     stsclient.Config
		wantErr string
	}{
		{"ok", stsclient.Config{BaseURL: "https://organisation.stoettesystemerne.dk"}, ""},
		{"missing URL", stsclient.Config{}, "BaseURL is required"},
		{"relative URL", stsclient.Config{BaseURL: "organisation.stoettesystemerne.dk"}, "absolute http(s) URL"},
		{"ftp", stsclient.Config{BaseURL: "ftp://x"}, "absolute http(s) URL"},
		{"query", stsclient.Config{BaseURL: "https://x/?a=b"}, "query"},
		{"negative timeout", stsclient.Config{BaseURL: "https://x", Timeout: -1}, "negative Timeout"},
		{"negative size", stsclient.Config{BaseURL: "https://x", MaxResponseBytes: -1}, "negative MaxResponseBytes"},
		{"negative list size", stsclient.Config{BaseURL: "https://x", MaxListIDs: -1}, "negative MaxListIDs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := stsclient.New(tt.cfg); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if _, err := stsclient.New(tt.cfg); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
	c, _ := stsclient.New(stsclient.Config{BaseURL: "https://organisation.stoettesystemerne.dk/"})
	if got, want := c.Endpoint(oio.KindBruger), "https://organisation.stoettesystemerne.dk/organisation/bruger/6/"; got != want {
		t.Errorf("Endpoint = %s, want %s", got, want)
	}
}
