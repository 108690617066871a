package moclient_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// TestReadSeesChangeWithinTheSameSecond: a change that takes effect within the second in which
// the person is read is seen. With date-granular validities (the v25 API) the change takes effect
// from the start of the day; with exact intervals (OS2MO's from v29) it takes effect at its
// instant, and the reader must ask "as of" now to the fraction of a second: truncated to whole
// seconds it read the state from before the change.
func TestReadSeesChangeWithinTheSameSecond(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	for _, tt := range []struct {
		name  string
		exact bool
	}{{"date-granular (v25)", false}, {"exact intervals (v29+)", true}} {
		t.Run(tt.name, func(t *testing.T) {
			clk := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 300_000_000, loc))
			fake := motest.NewServer(motest.Options{ClientID: "sync", ClientSecret: "s3cret", Now: clk.Now, ExactIntervals: tt.exact})
			ts := httptest.NewServer(fake.Handler())
			t.Cleanup(ts.Close)
			since := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
			job := model.Class{UUID: uuid.New(), UserKey: "ing", Name: "Ingeniør"}
			typ := model.Class{UUID: uuid.New(), UserKey: "ansat", Name: "Ansat"}
			from, to := model.OrgUnit{UUID: uuid.New(), Name: "Fra", Validity: since}, model.OrgUnit{UUID: uuid.New(), Name: "Til", Validity: since}
			for _, u := range []model.OrgUnit{from, to} {
				if err := fake.AddOrgUnit(u); err != nil {
					t.Fatal(err)
				}
			}
			eng := uuid.New()
			p := model.Person{UUID: uuid.New(), Name: "Anna Jensen", Validity: since,
				Engagements: []model.Engagement{{UUID: eng, OrgUnit: from.UUID, JobFunction: job, EngagementType: typ, Validity: since}}}
			if err := fake.AddPerson(p); err != nil {
				t.Fatal(err)
			}
			// The move takes effect "now" (12:00:00.3); the event is handled 0.4 s later.
			if _, err := fake.ChangeEngagement(t.Context(), eng, motest.EngagementChange{OrgUnit: &to.UUID}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(400 * time.Millisecond)
			c, err := moclient.New(moclient.Config{URL: ts.URL, AuthServer: ts.URL + "/auth", ClientID: "sync", ClientSecret: "s3cret",
				Now: clk.Now, HTTPClient: ts.Client()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Person(t.Context(), p.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Engagements) != 1 || got.Engagements[0].OrgUnit != to.UUID {
				t.Errorf("engagements %+v, want the one engagement in %s (moved 0.4 s before the read)", got.Engagements, to.UUID)
			}
			if !tt.exact {
				if f := got.Engagements[0].Validity.From; !f.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, loc)) {
					t.Errorf("the move took effect %v, want the start of the day (v25 is date-granular)", f)
				}
			}
		})
	}
}
