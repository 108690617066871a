package moclient_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

// TestPlannedChangeIsNotAnEnd: a change OS2MO has planned for later ends the current validity of
// the object where the next begins, but the object lives on; the reader reports its end only
// when it really ends (terminated, or a gap), for units, persons, engagements, addresses, IT
// users, managers and KLE. (It used to report the planned change as the end: a unit renamed from
// next month was written to STS as ending then.)
func TestPlannedChangeIsNotAnEnd(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	later := time.Date(2026, 4, 1, 0, 0, 0, 0, loc)
	ctx := context.Background()
	since := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
	cls := func(k, scope string) model.Class {
		return model.Class{UUID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(k)), UserKey: k, Name: k, Scope: scope}
	}
	for _, tt := range []struct {
		name    string
		change  func(fake *motest.Server, f fixtureIDs) error
		check   func(u *model.OrgUnit, p *model.Person) time.Time // the To to expect
		wantEnd time.Time                                         // zero: lives on
	}{
		{"unit renamed later", func(fake *motest.Server, f fixtureIDs) error {
			_, err := fake.RenameUnit(ctx, f.unit, "Nyt navn", later)
			return err
		}, func(u *model.OrgUnit, _ *model.Person) time.Time { return u.Validity.To }, time.Time{}},
		{"unit terminated later", func(fake *motest.Server, f fixtureIDs) error {
			if _, err := fake.EndEngagement(ctx, f.engagement, later); err != nil {
				return err
			}
			_, err := fake.TerminateUnit(ctx, f.unit, later)
			return err
		}, func(u *model.OrgUnit, _ *model.Person) time.Time { return u.Validity.To }, later},
		{"engagement moved later", func(fake *motest.Server, f fixtureIDs) error {
			_, err := fake.ChangeEngagement(ctx, f.engagement, motest.EngagementChange{OrgUnit: &f.top}, later)
			return err
		}, func(_ *model.OrgUnit, p *model.Person) time.Time { return p.Engagements[0].Validity.To }, time.Time{}},
		{"engagement ended later", func(fake *motest.Server, f fixtureIDs) error {
			_, err := fake.EndEngagement(ctx, f.engagement, later)
			return err
		}, func(_ *model.OrgUnit, p *model.Person) time.Time { return p.Engagements[0].Validity.To }, later},
		{"unit address edited later", func(fake *motest.Server, f fixtureIDs) error {
			v := "ny@kolding.dk"
			_, err := fake.ChangeAddress(ctx, f.address, motest.AddressChange{Value: &v, Name: &v}, later)
			return err
		}, func(u *model.OrgUnit, _ *model.Person) time.Time { return u.Addresses[0].Validity.To }, time.Time{}},
		{"AD account relinked later", func(fake *motest.Server, f fixtureIDs) error {
			_, err := fake.ChangeITUser(ctx, f.ituser, motest.ITUserChange{Engagements: []uuid.UUID{}}, later)
			return err
		}, func(_ *model.OrgUnit, p *model.Person) time.Time { return p.ITUsers[0].Validity.To }, time.Time{}},
		{"manager changed later", func(fake *motest.Server, f fixtureIDs) error {
			_, err := fake.SetManager(ctx, f.unit, nil, later)
			return err
		}, func(u *model.OrgUnit, _ *model.Person) time.Time { return u.Managers[0].Validity.To }, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := testclock.New(now)
			fake := motest.NewServer(motest.Options{ClientID: "sync", ClientSecret: "s3cret", Now: clk.Now})
			ts := httptest.NewServer(fake.Handler())
			t.Cleanup(ts.Close)
			f := fixtureIDs{top: uuid.New(), unit: uuid.New(), engagement: uuid.New(), address: uuid.New(), ituser: uuid.New(), person: uuid.New()}
			top := model.OrgUnit{UUID: f.top, Name: "Top", Validity: since}
			unit := model.OrgUnit{UUID: f.unit, Name: "Enhed", Parent: &f.top, Validity: since,
				Addresses: []model.Address{{UUID: f.address, Type: cls("EmailUnit", "EMAIL"), Value: "e@kolding.dk", Name: "e@kolding.dk", Validity: since}},
				Managers:  []model.Manager{{UUID: uuid.New(), Person: &f.person, Validity: since}}}
			for _, u := range []model.OrgUnit{top, unit} {
				if err := fake.AddOrgUnit(u); err != nil {
					t.Fatal(err)
				}
			}
			p := model.Person{UUID: f.person, Name: "Anna Jensen", Validity: since,
				Engagements: []model.Engagement{{UUID: f.engagement, OrgUnit: f.unit, JobFunction: cls("ing", ""), EngagementType: cls("ansat", ""), Validity: since}},
				ITUsers: []model.ITUser{{UUID: f.ituser, UserKey: "anje", ExternalID: uuid.NewString(), ITSystem: cls("Active Directory", ""),
					Validity: since, Engagements: []uuid.UUID{f.engagement}}}}
			if err := fake.AddPerson(p); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(fake, f); err != nil {
				t.Fatal(err)
			}
			c, err := moclient.New(moclient.Config{URL: ts.URL, AuthServer: ts.URL + "/auth", ClientID: "sync", ClientSecret: "s3cret",
				Now: clk.Now, HTTPClient: ts.Client()})
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.OrgUnit(ctx, f.unit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Person(ctx, f.person)
			if err != nil {
				t.Fatal(err)
			}
			if end := tt.check(u, got); !end.Equal(tt.wantEnd) {
				t.Errorf("end = %v, want %v", end, tt.wantEnd)
			}
		})
	}
}

type fixtureIDs struct{ top, unit, engagement, address, ituser, person uuid.UUID }
