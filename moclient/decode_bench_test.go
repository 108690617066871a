package moclient_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// cannedPersons returns a client whose GraphQL endpoint answers every request with the fake
// OS2MO's answer to one Person request for batch persons of a generated municipality (recorded
// once), and those persons' UUIDs: the client's own cost of a batched read, without the fake's.
func cannedPersons(tb testing.TB, batch int) (*moclient.Client, []uuid.UUID) {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	fake := motest.NewServer(motest.Options{ClientID: "sync", ClientSecret: "s3cret", Now: func() time.Time { return now }})
	if err := fake.Load(motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 40, Persons: batch, Today: now})); err != nil {
		tb.Fatal(err)
	}
	var canned []byte
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/graphql/") {
			fake.Handler().ServeHTTP(w, r)
			return
		}
		if canned != nil {
			_, _ = w.Write(canned)
			return
		}
		req, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(req))
		rec := httptest.NewRecorder()
		fake.Handler().ServeHTTP(rec, r)
		body, _ := io.ReadAll(rec.Result().Body)
		if bytes.Contains(req, []byte(`"operationName":"Person"`)) {
			canned = body
		}
		_, _ = w.Write(body)
	})
	ts := httptest.NewServer(record)
	tb.Cleanup(ts.Close)
	c, err := moclient.New(moclient.Config{URL: ts.URL, AuthServer: ts.URL + "/auth", ClientID: "sync", ClientSecret: "s3cret",
		Now: func() time.Time { return now }, HTTPClient: ts.Client()})
	if err != nil {
		tb.Fatal(err)
	}
	var ids []uuid.UUID
	if err := c.ListPersons(tb.Context(), func(page []uuid.UUID) error { ids = append(ids, page...); return nil }); err != nil {
		tb.Fatal(err)
	}
	ids = ids[:batch]
	got, err := c.Persons(tb.Context(), ids)
	if err != nil || len(got) != batch || canned == nil {
		tb.Fatalf("recording the Person answer: %d persons, %v", len(got), err)
	}
	tb.Logf("canned answer: %d bytes for %d persons", len(canned), batch)
	return c, ids
}

// BenchmarkPersonsBatch is the client's cost of one batched Person read of 1 and of 8 persons
// (the event path's 8 workers make batches of 1–2 in a no-op storm, 8 at most): request,
// response decoding, model conversion. The answer is canned, so the fake OS2MO's cost is not in
// it.
func BenchmarkPersonsBatch(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c, ids := cannedPersons(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Persons(b.Context(), ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/person")
		})
	}
}
