package audit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var (
	t0   = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now  = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	unit = uuid.MustParse("9f2c0a3e-1b2d-4c5e-8f9a-0b1c2d3e4f5a")
)

func object(kind oio.Kind, name, cpr string, parent uuid.UUID) oio.Object {
	o := oio.Object{Kind: kind, UUID: unit, Registration: oio.Registration{
		Egenskaber: []oio.Egenskab{{Virkning: oio.Virkning{From: t0}, BrugervendtNoegle: "bvn", Navn: name, CPR: cpr}},
		Gyldighed:  []oio.Gyldighed{{Virkning: oio.Virkning{From: t0}, Status: oio.Aktiv}},
	}}
	if parent != uuid.Nil {
		o.Registration.Relationer = []oio.Relation{{Name: oio.RelOverordnet, Virkning: oio.Virkning{From: t0}, Ref: parent}}
	}
	return o
}

func TestDiff(t *testing.T) {
	p1, p2 := uuid.New(), uuid.New()
	renamed := object(oio.KindOrganisationEnhed, "Skoler", "", p1)
	renamed.Registration.Egenskaber = append([]oio.Egenskab{{Virkning: oio.Virkning{From: t0, To: now.Add(-time.Hour)}, BrugervendtNoegle: "bvn", Navn: "Old"}},
		oio.Egenskab{Virkning: oio.Virkning{From: now.Add(-time.Hour)}, BrugervendtNoegle: "bvn", Navn: "Skoler og dagtilbud"})
	person := object(oio.KindPerson, "Anna", "0101012345", uuid.Nil)
	personNewCPR := object(oio.KindPerson, "Anna", "0202024567", uuid.Nil)
	tests := []struct {
		name           string
		before         *oio.Object
		after          oio.Object
		want           string
		mustNotContain string
	}{
		{"nothing changes", ptr(object(oio.KindOrganisationEnhed, "Skoler", "", p1)), object(oio.KindOrganisationEnhed, "Skoler", "", p1), "", ""},
		{"a rename: the value in effect now", ptr(object(oio.KindOrganisationEnhed, "Skoler", "", p1)), renamed, "Navn: Skoler -> Skoler og dagtilbud", ""},
		{"a move: the relation's target", ptr(object(oio.KindOrganisationEnhed, "Skoler", "", p1)), object(oio.KindOrganisationEnhed, "Skoler", "", p2), "Overordnet: " + p1.String() + " -> " + p2.String(), ""},
		{"a new object lists what it sets", nil, object(oio.KindOrganisationEnhed, "Skoler", "", p1), "BrugervendtNoegle:  -> bvn; Gyldighed:  -> Aktiv; Navn:  -> Skoler; Overordnet:  -> " + p1.String(), ""},
		{"a CPR change is named, never shown", &person, personNewCPR, "CPR-NummerTekst: (redacted)", "0202024567"},
		{"a new person: CPR redacted", nil, person, "BrugervendtNoegle:  -> bvn; CPR-NummerTekst: (redacted); Gyldighed:  -> Aktiv; Navn:  -> Anna", "0101012345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, c := range audit.Diff(tt.before, tt.after, now) {
				if c.Redacted {
					parts = append(parts, c.Field+": (redacted)")
					continue
				}
				parts = append(parts, c.Field+": "+c.From+" -> "+c.To)
			}
			got := strings.Join(parts, "; ")
			if got != tt.want {
				t.Errorf("Diff =\n %s\nwant\n %s", got, tt.want)
			}
			rec := audit.Intent(now, audit.Source{Kind: audit.SourceEvent}, "org_unit:"+unit.String(), "ret", uuid.New(), tt.before, tt.after)
			if tt.mustNotContain != "" && strings.Contains(fmt.Sprintf("%+v", rec), tt.mustNotContain) {
				t.Errorf("the intent record holds the CPR number: %+v", rec)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDigest(t *testing.T) {
	a := object(oio.KindPerson, "Anna", "0101012345", uuid.Nil)
	b := object(oio.KindPerson, "Anna", "0202024567", uuid.Nil)
	c := object(oio.KindPerson, "Anne", "0101012345", uuid.Nil)
	if audit.Digest(&a) != audit.Digest(&b) {
		t.Error("the digest depends on the CPR number (it must be left out)")
	}
	if audit.Digest(&a) == audit.Digest(&c) || len(audit.Digest(&a)) != 64 {
		t.Errorf("digest %q does not tell a rename apart", audit.Digest(&a))
	}
}

func TestOutcomeRedactsCPR(t *testing.T) {
	intent := audit.Intent(now, audit.Source{Kind: audit.SourceSync}, "person:"+unit.String(), "ret", uuid.New(), nil, object(oio.KindPerson, "Anna", "0101012345", uuid.Nil))
	out := audit.Outcome(now, intent, 40, errors.New(`StatusKode 40, FejlbeskedTekst "CPR 010101-2345 ugyldig"`))
	if out.Result != "failed" || out.StatusKode != 40 || strings.Contains(out.Error, "2345") || !strings.Contains(out.Error, "[CPR]") || out.Changes != nil {
		t.Errorf("outcome %+v: want failed, StatusKode 40, the CPR number redacted, no changes", out)
	}
	if ok := audit.Outcome(now, intent, 0, nil); ok.Result != "ok" || ok.Phase != audit.PhaseOutcome || ok.TransactionUUID != intent.TransactionUUID {
		t.Errorf("outcome %+v: want ok with the intent's transaction", ok)
	}
}

func TestParseRetentionAndBytes(t *testing.T) {
	for in, want := range map[string]string{"5Y": "5Y", "5y": "5Y", "400D": "400D", "90d": "90D", "18M": "18M", "12h": "12h"} {
		if got, err := audit.ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "5", "five years", "0Y", "5w", "-1D"} {
		if _, err := audit.ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int64{"0": 0, "1000": 1000, "20GB": 20e9, "500MB": 500e6, "1tb": 1e12} {
		if got, err := audit.ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "big", "-5GB", "5PB"} {
		if _, err := audit.ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

// TestStreamAppendAndRead: records appended to a real RabbitMQ stream come back, filtered, from
// the beginning or from a timestamp; the stream carries the retention settings (read back from
// the management API).
func TestStreamAppendAndRead(t *testing.T) {
	broker := testenv.AMQP(t)
	var appended, failed int
	s, err := audit.NewStream(audit.StreamConfig{URL: broker.URL, Name: "stsorgsync.audit", MaxAge: "5Y", MaxBytes: 20e9,
		Observe: func(n int, err error) {
			if err != nil {
				failed++
			} else {
				appended += n
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	person := uuid.New()
	var recs []audit.Record
	for i := range 6 {
		bundle := "org_unit:" + unit.String()
		if i%2 == 1 {
			bundle = "person:" + person.String()
		}
		at := time.Now().UTC().Add(time.Duration(i-6) * time.Hour)
		in := audit.Intent(at, audit.Source{Kind: audit.SourceEvent, RoutingKey: "org_unit"}, bundle, "ret", uuid.New(), nil, object(oio.KindOrganisationEnhed, fmt.Sprint("unit ", i), "", uuid.Nil))
		recs = append(recs, in, audit.Outcome(at, in, 0, nil))
	}
	for i := 0; i < len(recs); i += 2 {
		if err := s.Append(ctx, recs[i], recs[i+1]); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if appended != len(recs) || failed != 0 {
		t.Errorf("observed %d appended, %d failed; want %d, 0", appended, failed, len(recs))
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	conn, err := amqp.Dial(broker.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func(f audit.Filter) []audit.Record {
		t.Helper()
		var got []audit.Record
		if err := audit.Read(ctx, conn, "stsorgsync.audit", f, audit.ReadOptions{Idle: 300 * time.Millisecond}, func(r audit.Record) error {
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatalf("Read: %v", err)
		}
		return got
	}
	if got := read(audit.Filter{}); len(got) != len(recs) || got[0].TransactionUUID != recs[0].TransactionUUID || got[0].Changes[0].Field != "BrugervendtNoegle" {
		t.Errorf("read %d records; want all %d in order, changes kept", len(got), len(recs))
	}
	if got := read(audit.Filter{Person: person}); len(got) != 6 {
		t.Errorf("--person: %d records; want 6", len(got))
	}
	if got := read(audit.Filter{Unit: unit, Since: recs[4].Time}); len(got) != 4 {
		t.Errorf("--unit --since: %d records; want the 4 of the unit's third and fifth writes", len(got))
	}
	if got := read(audit.Filter{Object: unit, Source: audit.SourceSync}); len(got) != 0 {
		t.Errorf("--source sync: %d records; want none", len(got))
	}

	// The retention, as RabbitMQ holds it.
	var q struct {
		Arguments map[string]any `json:"arguments"`
		Type      string         `json:"type"`
	}
	if _, err := testenv.Management(http.MethodGet, "/api/queues/"+url.PathEscape(broker.VHost)+"/stsorgsync.audit", "", &q); err != nil {
		t.Fatal(err)
	}
	if q.Type != "stream" || q.Arguments["x-max-age"] != "5Y" || q.Arguments["x-max-length-bytes"] != 20e9 {
		t.Errorf("stream %s arguments %v; want a stream with x-max-age 5Y and x-max-length-bytes 20e9", q.Type, q.Arguments)
	}

	// The stream removed under a running writer: Ping (readiness) and Append fail, so no STS write
	// would be made; the next append declares it again.
	if _, err := testenv.Management(http.MethodDelete, "/api/queues/"+url.PathEscape(broker.VHost)+"/stsorgsync.audit", "", nil); err != nil {
		t.Fatal(err)
	}
	var perr *audit.AppendError
	if err := s.Ping(ctx); !errors.As(err, &perr) {
		t.Errorf("Ping without the stream = %v; want an AppendError (readiness fails)", err)
	}
	if err := s.Append(ctx, recs[0]); err != nil {
		t.Errorf("Append after Ping reconnected: %v; want the stream declared again", err)
	}

	// Another retention than the stream was declared with: a clear error, nothing appended.
	other, err := audit.NewStream(audit.StreamConfig{URL: broker.URL, Name: "stsorgsync.audit", MaxAge: "1D"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = other.Append(ctx, recs[0])
	var aerr *audit.AppendError
	if !errors.As(err, &aerr) || !strings.Contains(err.Error(), "RabbitMQ policy") {
		t.Errorf("Append with another retention = %v; want an AppendError that says how to change the retention", err)
	}
}

// TestStreamAppendFailsWithoutBroker: no broker, no record: an AppendError the writer treats as
// retryable.
func TestStreamAppendFailsWithoutBroker(t *testing.T) {
	s, err := audit.NewStream(audit.StreamConfig{URL: "amqp://guest:guest@127.0.0.1:1/", Name: "stsorgsync.audit"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = s.Append(ctx, audit.Record{})
	var aerr *audit.AppendError
	if !errors.As(err, &aerr) || !aerr.Retryable() {
		t.Errorf("Append = %v; want a retryable AppendError", err)
	}
}

// BenchmarkStreamAppend measures one intent+outcome append (one round trip) from 8 writers at once,
// as the daemon's workers make them.
func BenchmarkStreamAppend(b *testing.B) {
	broker := testenv.AMQP(b)
	s, err := audit.NewStream(audit.StreamConfig{URL: broker.URL, Name: "stsorgsync.audit", MaxAge: "1D"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	in := audit.Intent(now, audit.Source{Kind: audit.SourceEvent, RoutingKey: "org_unit"}, "org_unit:"+unit.String(), "ret", uuid.New(), nil, object(oio.KindOrganisationEnhed, "unit", "", uuid.New()))
	out := audit.Outcome(now, in, 0, nil)
	b.SetParallelism(4) // × GOMAXPROCS (2) = 8 writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), out, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
