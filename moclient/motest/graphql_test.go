package motest_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// TestGraphQLFilters checks the filters and references the fake resolves against the Go view
// of the same organisation.
func TestGraphQLFilters(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return now }})
	d := motest.GenerateOrg(motest.GenOptions{Seed: 9, Units: 60, Persons: 80, Today: now})
	if err := srv.Load(d); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	h := &harness{srv: srv, ts: ts, now: now}
	tok := h.token(t)

	top := d.Units[0]
	var person model.Person // a person with an AD account and a current engagement
	for _, p := range d.Persons {
		cur, _ := srv.Person(p.UUID)
		if len(cur.ITUsers) > 0 && len(cur.Engagements) > 0 && cur.Engagements[0].Validity.To.IsZero() && !cur.Engagements[0].Validity.From.After(now) {
			person = cur
			break
		}
	}
	var children []string
	for _, u := range d.Units {
		if u.Parent != nil && *u.Parent == top.UUID {
			children = append(children, u.UUID.String())
		}
	}
	slices.Sort(children)
	var managed model.OrgUnit
	for _, u := range d.Units {
		if len(u.Managers) > 0 {
			managed = u
			break
		}
	}

	uuids := func(raw json.RawMessage, path ...string) []string {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		var out []string
		for _, o := range v.([]any) {
			out = append(out, o.(map[string]any)["uuid"].(string))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		path      []string
		want      []string
		wantError string
	}{
		{"root units", `{ org_units(filter: {parent: null}) { objects { uuid } } }`, nil, []string{"org_units", "objects"}, []string{top.UUID.String()}, ""},
		{"children by parent filter", `query Q($p: UUID!) { org_units(filter: {parent: {uuids: [$p]}}) { objects { uuid } } }`,
			map[string]any{"p": top.UUID.String()}, []string{"org_units", "objects"}, children, ""},
		{"by name", `query Q($n: String!) { org_units(filter: {names: [$n]}) { objects { uuid } } }`,
			map[string]any{"n": top.Name}, []string{"org_units", "objects"}, []string{top.UUID.String()}, ""},
		{"person by CPR", `query Q($c: CPR!) { persons(filter: {cpr_numbers: [$c]}) { objects { uuid } } }`,
			map[string]any{"c": person.CPR}, []string{"persons", "objects"}, []string{person.UUID.String()}, ""},
		{"AD accounts of a person", `query Q($p: UUID!) { itusers(filter: {employee: {uuids: [$p]}, itsystem: {user_keys: ["Active Directory"]}}) { objects { uuid } } }`,
			map[string]any{"p": person.UUID.String()}, []string{"itusers", "objects"}, adAccounts(person), ""},
		{"managers of a unit", `query Q($u: UUID!) { managers(filter: {org_unit: {uuids: [$u]}}) { objects { uuid } } }`,
			map[string]any{"u": managed.UUID.String()}, []string{"managers", "objects"}, []string{managed.Managers[0].UUID.String()}, ""},
		{"empty uuids list selects nothing", `{ org_units(filter: {uuids: []}) { objects { uuid } } }`, nil, []string{"org_units", "objects"}, nil, ""},
		{"limit must be positive", `{ org_units(limit: 0) { objects { uuid } } }`, nil, nil, nil, "invalid limit"},
		{"cursor must be ours", `{ org_units(limit: 1, cursor: "bm9wZQ==") { objects { uuid } } }`, nil, nil, nil, "invalid cursor"},
		{"inherited managers on the collection are not faked", `{ managers(inherit: true) { objects { uuid } } }`, nil, nil, nil, "inherit"},
		{"unknown nested filter", `{ engagements(filter: {org_unit: {query: "x"}}) { objects { uuid } } }`, nil, nil, nil, `"query" filter`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := h.query(t, tok, tt.query, tt.vars)
			if status != 200 {
				t.Fatalf("HTTP %d", status)
			}
			if tt.wantError != "" {
				if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Message, tt.wantError) {
					t.Fatalf("errors %+v, want %q", res.Errors, tt.wantError)
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors %+v", res.Errors)
			}
			if got := uuids(res.Data, tt.path...); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	// A person's engagement as the Person query reads it: version, history and unit reference.
	q := `query Q($p: UUID!) { persons(filter: {uuids: [$p]}) { objects { current {
	        name cpr_number validity { from to }
	        engagements_response(filter: {from_date: null, to_date: null}) { objects { uuid
	          validities(start: null, end: null) { is_primary job_function { name } org_unit_response { uuid } person_response { uuid } } } }
	      } } } }`
	_, res := h.query(t, tok, q, map[string]any{"p": person.UUID.String()})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	for _, want := range []string{`"cpr_number":"` + person.CPR + `"`, `"validity":{"from":null,"to":null}`,
		`"org_unit_response":{"uuid":"` + person.Engagements[0].OrgUnit.String() + `"}`, `"person_response":{"uuid":"` + person.UUID.String() + `"}`} {
		if !strings.Contains(string(res.Data), want) {
			t.Errorf("person data lacks %s: %s", want, res.Data)
		}
	}
}

func adAccounts(p model.Person) []string {
	var out []string
	for _, it := range p.ITUsers {
		if it.ITSystem.UserKey == "Active Directory" {
			out = append(out, it.UUID.String())
		}
	}
	slices.Sort(out)
	return out
}
