package motest_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// TestITUserEngagementLinks: an IT user links to several engagements of its person, through
// AddPerson, the mutation functions and the HTTP API; the GraphQL API answers them as OS2MO does
// (engagements_responses in the filter's window, default now, by UUID; engagement_response the
// first link).
func TestITUserEngagementLinks(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	rec := &recorder{}
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return now }, Events: rec})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h := &harness{srv: srv, ts: ts, rec: rec, now: now}
	top := model.OrgUnit{UUID: uuid.New(), Name: "Top", Validity: model.Validity{From: now.AddDate(-10, 0, 0)}}
	fk := model.ITUser{UUID: uuid.New(), UserKey: "FK-ORG-UUID", ITSystem: model.Class{UUID: uuid.New(), UserKey: "FK-ORG", Name: "FK-ORG"}}
	top.ITUsers = []model.ITUser{fk}
	if err := srv.AddOrgUnit(top); err != nil {
		t.Fatal(err)
	}
	eng := func(v model.Validity) model.Engagement {
		return model.Engagement{UUID: uuid.New(), OrgUnit: top.UUID, Validity: v}
	}
	a := eng(model.Validity{From: now.AddDate(-2, 0, 0)})
	b := eng(model.Validity{From: now.AddDate(-1, 0, 0)})
	later := eng(model.Validity{From: now.AddDate(0, 3, 0)})
	ended := eng(model.Validity{From: now.AddDate(-5, 0, 0), To: now.AddDate(-3, 0, 0)})
	ad := model.Class{UUID: uuid.New(), UserKey: "Active Directory", Name: "Active Directory"}
	linked := model.ITUser{UUID: uuid.New(), UserKey: "anje", ITSystem: ad, Engagements: []uuid.UUID{b.UUID, a.UUID, later.UUID, ended.UUID, a.UUID}}
	unlinked := model.ITUser{UUID: uuid.New(), UserKey: "anje2", ITSystem: ad}
	p := model.Person{UUID: uuid.New(), Name: "Anne Jensen", Validity: model.Validity{From: now.AddDate(-10, 0, 0)},
		Engagements: []model.Engagement{a, b, later, ended}, ITUsers: []model.ITUser{linked, unlinked}}
	other := eng(model.Validity{From: now.AddDate(-1, 0, 0)})
	q := model.Person{UUID: uuid.New(), Name: "Ole Hansen", Validity: model.Validity{From: now.AddDate(-10, 0, 0)},
		Engagements: []model.Engagement{other}}
	for _, x := range []model.Person{p, q} {
		if err := srv.AddPerson(x); err != nil {
			t.Fatal(err)
		}
	}
	byUUID := func(ids ...uuid.UUID) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		slices.Sort(out)
		return out
	}
	tok := h.token(t)
	links := func(t *testing.T, it uuid.UUID, filter string) (first *string, all []string) {
		t.Helper()
		vars, decl := map[string]any{"it": it.String()}, "$it: UUID!"
		if strings.Contains(filter, "$now") {
			vars["now"], decl = now.Format(time.RFC3339), decl+", $now: DateTime!"
		}
		status, res := h.query(t, tok, `query Q(`+decl+`) { itusers(filter: {uuids: [$it]}) { objects { current {
			engagement_response { uuid }
			engagements_responses`+filter+` { objects { uuid } } } } } }`, vars)
		if status != 200 || len(res.Errors) > 0 {
			t.Fatalf("HTTP %d, errors %+v", status, res.Errors)
		}
		var data struct {
			ITUsers struct {
				Objects []struct {
					Current struct {
						First *struct {
							UUID string `json:"uuid"`
						} `json:"engagement_response"`
						All struct {
							Objects []struct {
								UUID string `json:"uuid"`
							} `json:"objects"`
						} `json:"engagements_responses"`
					} `json:"current"`
				} `json:"objects"`
			} `json:"itusers"`
		}
		if err := json.Unmarshal(res.Data, &data); err != nil || len(data.ITUsers.Objects) != 1 {
			t.Fatalf("data %s: %v", res.Data, err)
		}
		cur := data.ITUsers.Objects[0].Current
		if cur.First != nil {
			first = &cur.First.UUID
		}
		all = []string{} // the list is never null
		for _, o := range cur.All.Objects {
			all = append(all, o.UUID)
		}
		return first, all
	}

	tests := []struct {
		name      string
		it        uuid.UUID
		filter    string
		wantFirst *uuid.UUID
		want      []string
	}{
		{"default window: in effect now", linked.UUID, "", &b.UUID, byUUID(a.UUID, b.UUID)},
		{"all time, repeats dropped", linked.UUID, "(filter: {from_date: null, to_date: null})", &b.UUID, byUUID(a.UUID, b.UUID, later.UUID, ended.UUID)},
		{"now and later", linked.UUID, "(filter: {from_date: $now, to_date: null})", &b.UUID, byUUID(a.UUID, b.UUID, later.UUID)},
		{"not linked", unlinked.UUID, "(filter: {from_date: null, to_date: null})", nil, []string{}},
		{"a unit's IT user", fk.UUID, "", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, all := links(t, tt.it, tt.filter)
			if (first == nil) != (tt.wantFirst == nil) || (first != nil && *first != tt.wantFirst.String()) {
				t.Errorf("engagement_response = %v, want %v", first, tt.wantFirst)
			}
			if !slices.Equal(all, tt.want) {
				t.Errorf("engagements_responses = %v, want %v (by UUID)", all, tt.want)
			}
		})
	}
	if view, _ := srv.Person(p.UUID); !slices.Equal(byUUID(view.ITUsers[0].Engagements...), byUUID(a.UUID, b.UUID, later.UUID, ended.UUID)) {
		t.Errorf("Person view: Engagements = %v, want all four linked engagements", view.ITUsers[0].Engagements)
	}

	// The HTTP API: the list form, the single-link form, both, and edits.
	base := ts.URL + "/api/person/" + p.UUID.String() + "/ituser"
	steps := []struct {
		name, url, body string
		status          int
		want            []string // links over all time after the step, for a 2xx answer
	}{
		{"list form", base, `{"user_key":"l","engagements":["` + a.UUID.String() + `","` + later.UUID.String() + `"]}`, 201, byUUID(a.UUID, later.UUID)},
		{"single-link form", base, `{"user_key":"s","engagement":"` + b.UUID.String() + `"}`, 201, byUUID(b.UUID)},
		{"both forms", base, `{"user_key":"bf","engagement":"` + b.UUID.String() + `","engagements":["` + a.UUID.String() + `"]}`, 201, byUUID(a.UUID, b.UUID)},
		{"unknown engagement", base, `{"user_key":"u","engagements":["` + uuid.NewString() + `"]}`, 404, nil},
		{"another person's engagement", base, `{"user_key":"o","engagement":"` + other.UUID.String() + `"}`, 400, nil},
		{"relink", ts.URL + "/api/ituser/" + unlinked.UUID.String(), `{"engagements":["` + later.UUID.String() + `","` + b.UUID.String() + `"]}`, 200, byUUID(b.UUID, later.UUID)},
		{"single-link edit", ts.URL + "/api/ituser/" + unlinked.UUID.String(), `{"engagement":"` + a.UUID.String() + `"}`, 200, byUUID(a.UUID)},
		{"edit without links keeps them", ts.URL + "/api/ituser/" + unlinked.UUID.String(), `{"user_key":"anje3"}`, 200, byUUID(a.UUID)},
		{"unlink all", ts.URL + "/api/ituser/" + unlinked.UUID.String(), `{"engagements":[]}`, 200, []string{}},
		{"IT system cannot change", ts.URL + "/api/ituser/" + unlinked.UUID.String(), `{"itsystem":"FK-ORG"}`, 400, nil},
		{"unknown IT user", ts.URL + "/api/ituser/" + uuid.NewString(), `{"engagements":[]}`, 404, nil},
		{"a unit's IT user has no engagements", ts.URL + "/api/ituser/" + fk.UUID.String(), `{"engagement":"` + a.UUID.String() + `"}`, 400, nil},
	}
	for _, s := range steps {
		t.Run("HTTP "+s.name, func(t *testing.T) {
			status, cr := post(t, s.url, s.body)
			if status != s.status {
				t.Fatalf("POST %s %s: HTTP %d %+v, want %d", s.url, s.body, status, cr, s.status)
			}
			if status >= 300 {
				return
			}
			if len(cr.Events) != 1 || cr.Events[0].ObjectType != motest.ObjectITUser || cr.Events[0].UUID != cr.UUID {
				t.Errorf("events %+v, want one ituser event for %s", cr.Events, cr.UUID)
			}
			if _, all := links(t, cr.UUID, "(filter: {from_date: null, to_date: null})"); !slices.Equal(all, s.want) {
				t.Errorf("links = %v, want %v", all, s.want)
			}
		})
	}
	if got := rec.got(); len(got) != 7 || !strings.HasPrefix(got[0], "ituser ") {
		t.Errorf("published %v, want 7 ituser events", got)
	}
}
