package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// copenhagen is a municipality the size of Copenhagen.
var copenhagen = []string{"-units", "3000", "-persons", "45000", "-seed", "1"}

func listAll(ctx context.Context, c *moclient.Client) (units, persons int, err error) {
	if err := c.ListUnits(ctx, func(p []uuid.UUID) error { units += len(p); return nil }); err != nil {
		return 0, 0, err
	}
	if err := c.ListPersons(ctx, func(p []uuid.UUID) error { persons += len(p); return nil }); err != nil {
		return 0, 0, err
	}
	return units, persons, nil
}

func client(t testing.TB, base string) *moclient.Client {
	t.Helper()
	c, err := moclient.New(moclient.Config{URL: base, AuthServer: base + "/auth", ClientID: "dipex",
		ClientSecret: "603f1c82-d012-4d04-9382-dbe659c533fb", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCopenhagenSizeStartsFastAndListsEverything starts "fakemo -units 3000 -persons 45000",
// requires it to listen within 10 s, and pages through every unit and person over GraphQL.
func TestCopenhagenSizeStartsFastAndListsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 45,000 persons")
	}
	if raceEnabled {
		t.Skip("timing is meaningless under the race detector; run without -race (see BenchmarkListing)")
	}
	start := time.Now()
	base, logs, stop := startFakemo(t, copenhagen...)
	defer stop()
	started := time.Since(start)
	if started > 10*time.Second {
		t.Errorf("fakemo took %v to listen, want under 10 s; logs: %s", started, logs.String())
	}
	start = time.Now()
	units, persons, err := listAll(t.Context(), client(t, base))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fakemo %v: listening after %v; listed %d units and %d persons (page size %d) in %v",
		copenhagen, started.Round(time.Millisecond), units, persons, moclient.DefaultPageSize, time.Since(start).Round(time.Millisecond))
	if units != 3000 || persons != 45000 {
		t.Errorf("listed %d units and %d persons, want 3000 and 45000", units, persons)
	}
}

// BenchmarkListing measures one full paginated listing (3,000 units and 45,000 persons, page
// size 500) against a running Copenhagen-sized fakemo.
func BenchmarkListing(b *testing.B) {
	base, _, stop := startFakemo(b, copenhagen...)
	defer stop()
	c := client(b, base)
	for b.Loop() {
		if _, _, err := listAll(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
}
