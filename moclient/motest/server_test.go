package motest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

type recorder struct {
	mu     sync.Mutex
	events []string
	fail   error
}

func (r *recorder) Publish(_ context.Context, objectType string, id uuid.UUID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, objectType+" "+id.String())
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

type harness struct {
	srv *motest.Server
	ts  *httptest.Server
	rec *recorder
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := &recorder{}
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return now }, Events: rec})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	if err := srv.Load(motest.Generate(7, 12)); err != nil {
		t.Fatal(err)
	}
	return &harness{srv: srv, ts: ts, rec: rec, now: now}
}

func (h *harness) token(t *testing.T) string {
	t.Helper()
	resp, err := http.PostForm(h.ts.URL+"/auth/realms/mo/protocol/openid-connect/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {motest.DefaultClientID}, "client_secret": {motest.DefaultClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" || tr.ExpiresIn != 300 || tr.TokenType != "Bearer" {
		t.Fatalf("token response %d %+v %v", resp.StatusCode, tr, err)
	}
	return tr.AccessToken
}

type gqlResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
		Path    []any  `json:"path"`
	} `json:"errors"`
}

func (h *harness) query(t *testing.T, tok, query string, vars map[string]any) (int, gqlResult) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/graphql/v25", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out gqlResult
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out
}

func TestGraphQLExecutor(t *testing.T) {
	h := newHarness(t)
	tok := h.token(t)
	ids := h.srv.OrgUnitIDs()
	top, child := ids[0], ids[1]
	childUnit, _ := h.srv.OrgUnit(child)
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		wantData  string // exact JSON (field order matters)
		wantError string
	}{
		{
			name:     "aliases, variables and __typename",
			query:    `query Q($id: UUID!) { units: org_units(filter: {uuids: [$id]}) { objects { id: uuid current { __typename name } } } }`,
			vars:     map[string]any{"id": top.String()},
			wantData: `{"units":{"objects":[{"id":"` + top.String() + `","current":{"__typename":"OrganisationUnit","name":"` + mustUnit(t, h, top).Name + `"}}]}}`,
		},
		{
			name: "named and inline fragments, parent and ancestors",
			query: `query Q($id: UUID!) { org_units(filter: {uuids: [$id]}) { objects { current { ...F ... on OrganisationUnit { ancestors { uuid } } } } } }
			        fragment F on OrganisationUnit { uuid parent { uuid } }`,
			vars:     map[string]any{"id": child.String()},
			wantData: `{"org_units":{"objects":[{"current":{"uuid":"` + child.String() + `","parent":{"uuid":"` + top.String() + `"},"ancestors":[{"uuid":"` + top.String() + `"}]}}]}}`,
		},
		{
			name:     "skip and include",
			query:    `query Q($id: UUID!, $no: Boolean!) { org_units(filter: {uuids: [$id]}) { objects { uuid @skip(if: true) current { name @include(if: $no) user_key } } } }`,
			vars:     map[string]any{"id": child.String(), "no": false},
			wantData: `{"org_units":{"objects":[{"current":{"user_key":"` + childUnit.UserKey + `"}}]}}`,
		},
		{
			name:     "unknown UUID gives no objects",
			query:    `query Q($id: UUID!) { org_units(filter: {uuids: [$id]}) { objects { uuid } } }`,
			vars:     map[string]any{"id": uuid.NewString()},
			wantData: `{"org_units":{"objects":[]}}`,
		},
		{
			name:     "validity with Copenhagen offset",
			query:    `query Q($id: UUID!) { org_units(filter: {uuids: [$id]}) { objects { current { validity { from to } } } } }`,
			vars:     map[string]any{"id": top.String()},
			wantData: `{"org_units":{"objects":[{"current":{"validity":{"from":"` + mustUnit(t, h, top).Validity.From.Format(time.RFC3339) + `","to":null}}}]}}`,
		},
		{
			name:      "misspelt field fails validation",
			query:     `{ org_units { objects { current { nmae } } } }`,
			wantError: `Cannot query field "nmae" on type "OrganisationUnit"`,
		},
		{
			name:      "missing required variable",
			query:     `query Q($id: UUID!) { org_units(filter: {uuids: [$id]}) { objects { uuid } } }`,
			wantError: "must be defined",
		},
		{
			name:      "valid field the fake does not resolve",
			query:     `{ org_units { objects { current { child_count } } } }`,
			wantError: "does not implement OrganisationUnit.child_count",
		},
		{
			name:      "unsupported filter is an error, not silently ignored",
			query:     `{ org_units(filter: {query: "x"}) { objects { uuid } } }`,
			wantError: `does not implement the "query" filter`,
		},
		{
			name:      "a mutation the fake does not implement is an error naming it",
			query:     `mutation { org_unit_terminate(input: {uuid: "` + top.String() + `", to: "2026-01-01"}) { uuid } }`,
			wantError: "does not implement Mutation.org_unit_terminate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := h.query(t, tok, tt.query, tt.vars)
			if status != 200 {
				t.Fatalf("HTTP %d, want 200", status)
			}
			if tt.wantError != "" {
				if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Message, tt.wantError) {
					t.Fatalf("errors = %+v, want %q", res.Errors, tt.wantError)
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("unexpected errors %+v", res.Errors)
			}
			if string(res.Data) != tt.wantData {
				t.Fatalf("data\n got %s\nwant %s", res.Data, tt.wantData)
			}
		})
	}
}

func mustUnit(t *testing.T, h *harness, id uuid.UUID) model.OrgUnit {
	t.Helper()
	u, ok := h.srv.OrgUnit(id)
	if !ok {
		t.Fatalf("unit %s missing", id)
	}
	return u
}

func TestOrgUnitsPagination(t *testing.T) {
	h := newHarness(t)
	tok := h.token(t)
	seen := map[string]bool{}
	var cursor any
	pages := 0
	for {
		_, res := h.query(t, tok, `query P($c: Cursor) { org_units(limit: 5, cursor: $c) { objects { uuid } page_info { next_cursor } } }`, map[string]any{"c": cursor})
		if len(res.Errors) > 0 {
			t.Fatal(res.Errors)
		}
		var d struct {
			OrgUnits struct {
				Objects  []struct{ UUID string }
				PageInfo struct {
					NextCursor *string `json:"next_cursor"`
				} `json:"page_info"`
			} `json:"org_units"`
		}
		if err := json.Unmarshal(res.Data, &d); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range d.OrgUnits.Objects {
			if seen[o.UUID] {
				t.Fatalf("unit %s on two pages", o.UUID)
			}
			seen[o.UUID] = true
		}
		if d.OrgUnits.PageInfo.NextCursor == nil {
			break
		}
		cursor = *d.OrgUnits.PageInfo.NextCursor
	}
	if len(seen) != 12 || pages != 3 {
		t.Fatalf("got %d units in %d pages, want 12 in 3", len(seen), pages)
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t)
	tokenURL := h.ts.URL + "/auth/realms/mo/protocol/openid-connect/token"
	tests := []struct {
		name       string
		url        string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"bad secret", tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"dipex"}, "client_secret": {"nope"}}, 401, "unauthorized_client"},
		{"bad grant", tokenURL, url.Values{"grant_type": {"password"}, "client_id": {"dipex"}, "client_secret": {motest.DefaultClientSecret}}, 400, "unsupported_grant_type"},
		{"bad realm", strings.Replace(tokenURL, "/mo/", "/other/", 1), url.Values{"grant_type": {"client_credentials"}}, 404, "Realm does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(tt.url, tt.form)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var body map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Fatalf("HTTP %d %v, want %d error %q", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
		})
	}
	q := `{ version { mo_version } }`
	for name, tok := range map[string]string{"no token": "", "unknown token": "abc"} {
		if status, _ := h.query(t, tok, q, nil); status != 401 {
			t.Errorf("%s: HTTP %d, want 401", name, status)
		}
	}
	tok := h.token(t)
	if status, res := h.query(t, tok, q, nil); status != 200 || len(res.Errors) > 0 {
		t.Fatalf("valid token: HTTP %d %+v", status, res.Errors)
	}
	h.srv.ExpireTokens()
	if status, _ := h.query(t, tok, q, nil); status != 401 {
		t.Errorf("expired token: HTTP %d, want 401", status)
	}
}

func TestTokenExpiresWithClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := motest.NewServer(motest.Options{TokenTTL: time.Minute, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	h := &harness{srv: srv, ts: ts}
	resp, err := http.PostForm(ts.URL+"/auth/realms/mo/protocol/openid-connect/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {motest.DefaultClientID}, "client_secret": {motest.DefaultClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	_ = resp.Body.Close()
	if tr.ExpiresIn != 60 {
		t.Fatalf("expires_in = %d, want 60", tr.ExpiresIn)
	}
	if status, _ := h.query(t, tr.AccessToken, `{ version { mo_version } }`, nil); status != 200 {
		t.Fatalf("fresh token: HTTP %d", status)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if status, _ := h.query(t, tr.AccessToken, `{ version { mo_version } }`, nil); status != 401 {
		t.Fatalf("token past expires_in: HTTP %d, want 401", status)
	}
}

func TestStoreRules(t *testing.T) {
	srv := motest.NewServer(motest.Options{})
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	a := model.OrgUnit{UUID: uuid.New(), Name: "A", Validity: model.Validity{From: from}}
	pa := a.UUID
	b := model.OrgUnit{UUID: uuid.New(), Name: "B", Parent: &pa, Validity: model.Validity{From: from}}
	if err := srv.AddOrgUnit(a); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddOrgUnit(b); err != nil {
		t.Fatal(err)
	}
	pb := b.UUID
	unknown := uuid.New()
	typ := model.Class{UUID: uuid.New(), UserKey: "Team", Name: "Team"}
	clash := typ
	clash.Name = "Other"
	tests := []struct {
		name string
		op   func() error
		want string
	}{
		{"duplicate", func() error { return srv.AddOrgUnit(a) }, "already exists"},
		{"unknown parent", func() error {
			return srv.AddOrgUnit(model.OrgUnit{UUID: uuid.New(), Name: "C", Parent: &unknown, Validity: a.Validity})
		}, "unknown object"},
		{"no start", func() error { return srv.AddOrgUnit(model.OrgUnit{UUID: uuid.New(), Name: "D"}) }, "Validity.From"},
		{"cycle", func() error { a2 := a; a2.Parent = &pb; return srv.UpdateOrgUnit(a2) }, "below it"},
		{"update unknown", func() error {
			return srv.UpdateOrgUnit(model.OrgUnit{UUID: unknown, Name: "X", Validity: a.Validity})
		}, "unknown object"},
		{"terminate before start", func() error { return srv.TerminateOrgUnit(a.UUID, from.AddDate(0, 0, -1)) }, "before its start"},
		{"class clash", func() error {
			if err := srv.AddOrgUnit(model.OrgUnit{UUID: uuid.New(), Name: "E", UnitType: &typ, Validity: a.Validity}); err != nil {
				return err
			}
			return srv.AddOrgUnit(model.OrgUnit{UUID: uuid.New(), Name: "F", UnitType: &clash, Validity: a.Validity})
		}, "elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// Stored state is not aliased by the caller's value.
	got, _ := srv.OrgUnit(b.UUID)
	got.Name = "changed"
	if again, _ := srv.OrgUnit(b.UUID); again.Name != "B" || len(again.Ancestors) != 1 || again.Ancestors[0] != a.UUID {
		t.Fatalf("stored unit = %+v", again)
	}
}

func TestMutationAPI(t *testing.T) {
	h := newHarness(t)
	ids := h.srv.OrgUnitIDs()
	top, dept := ids[0], ids[1]
	post := func(path, body string) (int, motest.ChangeResponse) {
		t.Helper()
		resp, err := http.Post(h.ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		var cr motest.ChangeResponse
		_ = json.Unmarshal(b, &cr)
		return resp.StatusCode, cr
	}

	status, cr := post("/api/org_unit", `{"name":"Ny Afdeling","parent":"`+top.String()+`"}`)
	if status != 201 || !cr.Created || !cr.EventPublished {
		t.Fatalf("create: %d %+v", status, cr)
	}
	created := mustUnit(t, h, cr.UUID)
	if created.Name != "Ny Afdeling" || *created.Parent != top {
		t.Fatalf("created unit %+v", created)
	}
	if status, cr = post("/api/org_unit", `{"uuid":"`+cr.UUID.String()+`","name":"Omdøbt","parent":"`+dept.String()+`"}`); status != 200 || cr.Created {
		t.Fatalf("rename+move: %d %+v", status, cr)
	}
	if u := mustUnit(t, h, cr.UUID); u.Name != "Omdøbt" || *u.Parent != dept || len(u.Ancestors) != 2 {
		t.Fatalf("after rename+move: %+v", u)
	}
	if status, _ = post("/api/org_unit/"+cr.UUID.String()+"/terminate", ""); status != 200 {
		t.Fatalf("terminate: %d", status)
	}
	// Terminated now: current is null over GraphQL.
	_, res := h.query(t, h.token(t), `query Q($id: UUID!) { org_units(filter: {uuids: [$id], from_date: null, to_date: null}) { objects { current { uuid } } } }`, map[string]any{"id": cr.UUID.String()})
	if string(res.Data) != `{"org_units":{"objects":[{"current":null}]}}` {
		t.Fatalf("terminated unit data = %s %+v", res.Data, res.Errors)
	}
	want := []string{"org_unit " + cr.UUID.String(), "org_unit " + cr.UUID.String(), "org_unit " + cr.UUID.String()}
	if got := h.rec.got(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", got, want)
	}

	for _, tt := range []struct {
		path, body string
		want       int
	}{
		{"/api/org_unit", `{"parent":"` + top.String() + `"}`, 400},
		{"/api/org_unit", `{"name":"x","parent":"` + uuid.NewString() + `"}`, 404},
		{"/api/org_unit", `not json`, 400},
		{"/api/org_unit/" + uuid.NewString() + "/terminate", "", 404},
		{"/api/org_unit/not-a-uuid/terminate", "", 400},
	} {
		if status, _ := post(tt.path, tt.body); status != tt.want {
			t.Errorf("POST %s %s: %d, want %d", tt.path, tt.body, status, tt.want)
		}
	}

	h.rec.fail = errors.New("broker down")
	if status, cr = post("/api/org_unit", `{"name":"Uden event"}`); status != 502 || cr.EventPublished || cr.Error == "" {
		t.Fatalf("publish failure: %d %+v", status, cr)
	}

	resp, err := http.Get(h.ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	_ = resp.Body.Close()
}
