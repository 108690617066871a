package moclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// counter wraps a handler and counts requests per path, optionally failing the first
// failGraphQL GraphQL requests with 503.
type counter struct {
	next        http.Handler
	failGraphQL int64
	mu          sync.Mutex
	paths       map[string]int
	statuses    map[int]int
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.paths[r.URL.Path]++
	fail := strings.HasPrefix(r.URL.Path, "/graphql/") && c.failGraphQL > 0
	if fail {
		c.failGraphQL--
	}
	c.mu.Unlock()
	if fail {
		http.Error(w, "upstream database unavailable", http.StatusServiceUnavailable)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	if strings.HasPrefix(r.URL.Path, "/graphql/") {
		c.mu.Lock()
		c.statuses[rec.status]++
		c.mu.Unlock()
	}
}

func (c *counter) count(path string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.paths[path] }
func (c *counter) graphQLStatus(s int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses[s]
}

const tokenPath = "/auth/realms/mo/protocol/openid-connect/token"

type env struct {
	fake  *motest.Server
	ts    *httptest.Server
	count *counter
	clock *testclock.Clock
	loc   *time.Location
}

func newEnv(t *testing.T, failGraphQL int64) *env {
	t.Helper()
	return newEnvWrapped(t, failGraphQL, nil)
}

// newEnvWrapped is newEnv with the fake's handler wrapped by wrap (nil: not wrapped), e.g. to
// record the GraphQL exchanges.
func newEnvWrapped(t *testing.T, failGraphQL int64, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	clk := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, loc))
	fake := motest.NewServer(motest.Options{ClientID: "sync", ClientSecret: "s3cret", Now: clk.Now})
	h := fake.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	c := &counter{next: h, failGraphQL: failGraphQL, paths: map[string]int{}, statuses: map[int]int{}}
	ts := httptest.NewServer(c)
	t.Cleanup(ts.Close)
	return &env{fake: fake, ts: ts, count: c, clock: clk, loc: loc}
}

func (e *env) client(t *testing.T, mutate func(*moclient.Config)) *moclient.Client {
	t.Helper()
	cfg := moclient.Config{
		URL: e.ts.URL, AuthServer: e.ts.URL + "/auth", ClientID: "sync", ClientSecret: "s3cret",
		RetryDelay: time.Millisecond, Now: e.clock.Now, HTTPClient: e.ts.Client(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := moclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func class(key, name, scope string) model.Class {
	return model.Class{UUID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(key)), UserKey: key, Name: name, Scope: scope}
}

// fixture adds a top unit and a child with addresses, a manager, KLE and an IT user, and returns
// what reading the child should give.
func (e *env) fixture(t *testing.T) (top, child model.OrgUnit) {
	t.Helper()
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, e.loc)
	afd, n2, linje := class("Afdeling", "Afdeling", ""), class("N2", "N2", ""), class("linjeorg", "Linjeorganisation", "")
	public, secret := class("Ekstern", "Må vises eksternt", "PUBLIC"), class("Hemmelig", "Hemmelig", "SECRET")
	top = model.OrgUnit{UUID: uuid.New(), Name: "Kolding Kommune", UserKey: "KOLDING", UnitType: &afd, Validity: model.Validity{From: from}}
	parent := top.UUID
	person := uuid.New()
	child = model.OrgUnit{
		UUID: uuid.New(), Name: "Teknik og Miljø", UserKey: "TOM", Parent: &parent, Ancestors: []uuid.UUID{top.UUID},
		UnitType: &afd, Level: &n2, Hierarchy: &linje,
		Addresses: []model.Address{
			{UUID: uuid.New(), Type: class("EmailUnit", "Email", "EMAIL"), Visibility: &public, Value: "tom@kolding.dk", Name: "tom@kolding.dk", Validity: model.Validity{From: from}},
			{UUID: uuid.New(), Type: class("PhoneUnit", "Telefon", "PHONE"), Visibility: &secret, Value: "76792000", Name: "76792000", Validity: model.Validity{From: from}},
			{UUID: uuid.New(), Type: class("EAN", "EAN-nummer", "EAN"), Value: "5798000000003", Name: "5798000000003", Validity: model.Validity{From: from, To: time.Date(2030, 12, 31, 0, 0, 0, 0, e.loc)}},
		},
		Managers: []model.Manager{{UUID: uuid.New(), Person: &person, Validity: model.Validity{From: from}}, {UUID: uuid.New(), Validity: model.Validity{From: from}}},
		KLE: []model.KLE{{UUID: uuid.New(), Numbers: []model.Class{class("02.00.00", "Byggeri", "")},
			Aspects: []model.Class{class("Udførende", "Udførende", "")}, Validity: model.Validity{From: from}}},
		ITUsers: []model.ITUser{{UUID: uuid.New(), UserKey: "FK-ORG-UUID", ExternalID: uuid.NewString(),
			ITSystem: class("FK-ORG", "FK-ORG", ""), Validity: model.Validity{From: from}}},
		Validity: model.Validity{From: from},
	}
	if err := e.fake.AddOrgUnit(top); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.AddOrgUnit(child); err != nil {
		t.Fatal(err)
	}
	child.Addresses = slices.Clone(child.Addresses)
	for i := range child.Addresses {
		child.Addresses[i].Started = child.Addresses[i].Validity.From // never edited
	}
	// The first manager role names a person OS2MO does not have in effect (never added here).
	child.Managers = slices.Clone(child.Managers)
	child.Managers[0].PersonGone = true
	return top, child
}

// utc normalises every time in u to UTC so values from different *time.Location compare equal.
func utc(u *model.OrgUnit) {
	v := func(x *model.Validity) {
		x.From = x.From.UTC()
		if !x.To.IsZero() {
			x.To = x.To.UTC()
		}
	}
	v(&u.Validity)
	for i := range u.Addresses {
		v(&u.Addresses[i].Validity)
		u.Addresses[i].Started = u.Addresses[i].Started.UTC()
	}
	for i := range u.Managers {
		v(&u.Managers[i].Validity)
	}
	for i := range u.KLE {
		v(&u.KLE[i].Validity)
	}
	for i := range u.ITUsers {
		v(&u.ITUsers[i].Validity)
	}
}

func TestOrgUnitReadsUnitWithParentAndAddresses(t *testing.T) {
	e := newEnv(t, 0)
	top, want := e.fixture(t)
	c := e.client(t, nil)

	got, err := c.OrgUnit(t.Context(), want.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Validity.From.Location().String() != "Europe/Copenhagen" {
		t.Errorf("validity location = %v, want Europe/Copenhagen", got.Validity.From.Location())
	}
	if !got.Validity.From.Equal(want.Validity.From) {
		t.Errorf("validity from = %v, want %v", got.Validity.From, want.Validity.From)
	}
	utc(got)
	utc(&want)
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("OrgUnit mismatch\n got: %+v\nwant: %+v", *got, want)
	}

	gotTop, err := c.OrgUnit(t.Context(), top.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if gotTop.Parent != nil || len(gotTop.Ancestors) != 0 || gotTop.Level != nil || gotTop.Addresses != nil {
		t.Errorf("top unit: parent %v ancestors %v level %v addresses %v, want all empty", gotTop.Parent, gotTop.Ancestors, gotTop.Level, gotTop.Addresses)
	}
}

func TestOrgUnitOutcomes(t *testing.T) {
	e := newEnv(t, 0)
	_, child := e.fixture(t)
	terminated := model.OrgUnit{UUID: uuid.New(), Name: "Nedlagt", Validity: model.Validity{From: e.clock.Now().AddDate(-2, 0, 0)}}
	future := model.OrgUnit{UUID: uuid.New(), Name: "Kommende", Validity: model.Validity{From: e.clock.Now().AddDate(0, 1, 0)}}
	for _, u := range []model.OrgUnit{terminated, future} {
		if err := e.fake.AddOrgUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.fake.TerminateOrgUnit(terminated.UUID, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, nil)
	tests := []struct {
		name    string
		id      uuid.UUID
		wantErr error
	}{
		{"current unit", child.UUID, nil},
		{"unknown UUID", uuid.New(), moclient.ErrNotFound},
		{"terminated unit", terminated.UUID, moclient.ErrNotCurrent},
		{"future unit", future.UUID, moclient.ErrNotCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.OrgUnit(t.Context(), tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && u.UUID != tt.id {
				t.Fatalf("got unit %s, want %s", u.UUID, tt.id)
			}
			if err != nil && !strings.Contains(err.Error(), tt.id.String()) {
				t.Errorf("error %q does not name the UUID", err)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	e := newEnv(t, 0)
	tests := []struct {
		name       string
		mutate     func(*moclient.Config)
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", func(c *moclient.Config) { c.ClientSecret = "wrong" }, 401, "unauthorized_client"},
		{"wrong client", func(c *moclient.Config) { c.ClientID = "someone" }, 401, "unauthorized_client"},
		{"unknown realm", func(c *moclient.Config) { c.Realm = "nope" }, 404, "Realm does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(t, tt.mutate)
			err := c.Ping(t.Context())
			var ae *moclient.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *AuthError", err, err)
			}
			if ae.StatusCode != tt.wantStatus || ae.Code != tt.wantCode {
				t.Errorf("AuthError = %+v, want status %d code %q", ae, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(err.Error(), "ClientSecret") {
				t.Errorf("error %q should tell the operator what to check", err)
			}
		})
	}
	// The same error through OrgUnit is wrapped but still matchable, and not retried.
	before := e.count.count(tokenPath)
	_, err := e.client(t, func(c *moclient.Config) { c.ClientSecret = "wrong" }).OrgUnit(t.Context(), uuid.New())
	var ae *moclient.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("OrgUnit err = %v, want *AuthError", err)
	}
	if n := e.count.count(tokenPath) - before; n != 1 {
		t.Errorf("rejected token request was sent %d times, want 1 (no retry)", n)
	}
}

func TestTokenCachedAndRefreshed(t *testing.T) {
	e := newEnv(t, 0)
	_, child := e.fixture(t)
	c := e.client(t, nil)
	read := func() {
		t.Helper()
		if _, err := c.OrgUnit(t.Context(), child.UUID); err != nil {
			t.Fatal(err)
		}
	}
	read()
	read()
	if n := e.count.count(tokenPath); n != 1 {
		t.Fatalf("token requests after two reads = %d, want 1 (cached)", n)
	}

	// The server forgets its tokens (e.g. Keycloak restart): the client gets 401, fetches a new
	// token once and succeeds.
	e.fake.ExpireTokens()
	read()
	if n := e.count.count(tokenPath); n != 2 {
		t.Errorf("token requests after server-side expiry = %d, want 2", n)
	}
	if n := e.count.graphQLStatus(http.StatusUnauthorized); n != 1 {
		t.Errorf("GraphQL 401 answers = %d, want 1", n)
	}

	// Shortly before expires_in runs out (300 s) the client refreshes without a 401.
	e.clock.Advance(290 * time.Second)
	read()
	if n := e.count.count(tokenPath); n != 3 {
		t.Errorf("token requests after client-side expiry = %d, want 3", n)
	}
	if n := e.count.graphQLStatus(http.StatusUnauthorized); n != 1 {
		t.Errorf("GraphQL 401 answers = %d, want still 1", n)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	tests := []struct {
		name         string
		failures     int64
		maxAttempts  int
		wantErr      bool
		wantAttempts int
	}{
		{"recovers after two 503s", 2, 3, false, 3},
		{"gives up after max attempts", 5, 3, true, 3},
		{"no retry when MaxAttempts is 1", 1, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.failures)
			_, child := e.fixture(t)
			c := e.client(t, func(c *moclient.Config) { c.MaxAttempts = tt.maxAttempts })
			_, err := c.OrgUnit(t.Context(), child.UUID)
			if got := e.count.count("/graphql/v25"); got != tt.wantAttempts {
				t.Errorf("GraphQL requests = %d, want %d", got, tt.wantAttempts)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("err = %v, want success after retries", err)
				}
				return
			}
			var te *moclient.TransientError
			if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("err = %v, want *TransientError with HTTP 503", err)
			}
		})
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, func(c *moclient.Config) { c.MaxAttempts = 2 })
	e.ts.Close()
	err := c.Ping(t.Context())
	var te *moclient.TransientError
	if !errors.As(err, &te) || te.StatusCode != 0 {
		t.Fatalf("err = %v, want *TransientError without status", err)
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	e := newEnv(t, 1000)
	c := e.client(t, func(c *moclient.Config) { c.MaxAttempts = 10; c.RetryDelay = time.Hour })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Ping = %v after %v, want a prompt error", err, time.Since(start))
	}
}

func TestGraphQLValidationErrorFromFake(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, nil)
	var out map[string]any
	err := c.RunRaw(t.Context(), "Bad", `query Bad { org_units { objects { current { nmae } } } }`, nil, &out)
	var ge *moclient.GraphQLError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v (%T), want *GraphQLError", err, err)
	}
	if len(ge.Errors) != 1 || !strings.Contains(ge.Errors[0].Message, `Cannot query field "nmae" on type "OrganisationUnit"`) {
		t.Fatalf("errors = %+v, want one 'Cannot query field' error", ge.Errors)
	}
	if n := e.count.count("/graphql/v25"); n != 1 {
		t.Errorf("GraphQL errors were retried: %d requests", n)
	}
}

func TestGraphQLFieldErrorHasPath(t *testing.T) {
	e := newEnv(t, 0)
	e.fixture(t)
	c := e.client(t, nil)
	var out map[string]any
	// A valid v25 field the fake does not resolve yet yields an error with a path, not data.
	err := c.RunRaw(t.Context(), "Q", `query Q { org_units { objects { current { child_count } } } }`, nil, &out)
	var ge *moclient.GraphQLError
	if !errors.As(err, &ge) || len(ge.Errors[0].Path) == 0 {
		t.Fatalf("err = %v, want *GraphQLError with a path", err)
	}
	if !strings.Contains(err.Error(), "org_units.objects[0].current.child_count") {
		t.Errorf("error %q does not show the path", err)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, 0)
	if err := e.client(t, nil).Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.count.count("/graphql/v25") != 1 || e.count.count(tokenPath) != 1 {
		t.Errorf("Ping made %d GraphQL and %d token requests, want 1 and 1", e.count.count("/graphql/v25"), e.count.count(tokenPath))
	}
}

func TestConcurrentReadsShareOneToken(t *testing.T) {
	e := newEnv(t, 0)
	_, child := e.fixture(t)
	c := e.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := c.OrgUnit(t.Context(), child.UUID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.count.count(tokenPath); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

// TestValidityEndIsExclusive checks the v25 off-by-one handling end to end: the fake reports a
// unit ending at the start of 1 March (exclusive) as OS2MO v25 does, "to" = 28 February, and the
// client turns that back into the exclusive end.
func TestValidityEndIsExclusive(t *testing.T) {
	e := newEnv(t, 0)
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().In(loc)
	end := time.Date(now.Year()+1, time.March, 1, 0, 0, 0, 0, loc)
	unit := model.OrgUnit{UUID: uuid.New(), Name: "Midlertidig", Validity: model.Validity{From: now.AddDate(-1, 0, 0), To: end}}
	if err := e.fake.AddOrgUnit(unit); err != nil {
		t.Fatal(err)
	}
	got, err := e.client(t, nil).OrgUnit(t.Context(), unit.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Validity.To.Equal(end) {
		t.Errorf("validity ends %v, want %v (exclusive)", got.Validity.To, end)
	}
}

// TestAddressStartedSurvivesAnEdit: an address edited from a date has a current validity that
// starts there, while Started keeps the start of its first validity (from its history).
func TestAddressStartedSurvivesAnEdit(t *testing.T) {
	e := newEnv(t, 0)
	_, child := e.fixture(t)
	email := child.Addresses[0]
	edited := time.Date(2024, 3, 1, 0, 0, 0, 0, e.loc)
	value := "teknik@kolding.dk"
	if _, err := e.fake.ChangeAddress(t.Context(), email.UUID, motest.AddressChange{Value: &value, Name: &value}, edited); err != nil {
		t.Fatal(err)
	}
	got, err := e.client(t, nil).OrgUnit(t.Context(), child.UUID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(got.Addresses, func(a model.Address) bool { return a.UUID == email.UUID })
	if i < 0 {
		t.Fatalf("the edited address is missing: %+v", got.Addresses)
	}
	a := got.Addresses[i]
	if a.Value != value || !a.Validity.From.Equal(edited) || !a.Started.Equal(email.Validity.From) {
		t.Errorf("edited address: value %q from %v started %v; want %q from %v started %v",
			a.Value, a.Validity.From, a.Started, value, edited, email.Validity.From)
	}
}
