package consumer

// Integration tests of DLQ against the real RabbitMQ server, each in its own vhost. Messages reach
// the dead-letter queue through the consumer's real dead-letter path, through the broker's
// delivery limit, or (for exact ages and classes) by publishing to the dead-letter exchange with
// the headers the consumer sets.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// dlqFixture is a declared topology with no consumer running.
type dlqFixture struct {
	*harness
	dlq *DLQ
}

func newDLQFixture(t *testing.T, cfg Config) *dlqFixture {
	t.Helper()
	h := newHarness(t, cfg)
	if err := DeclareTopology(h.channel(), h.cfg); err != nil {
		t.Fatalf("DeclareTopology: %v", err)
	}
	q, err := NewDLQ(h.conn, h.cfg)
	if err != nil {
		t.Fatalf("NewDLQ: %v", err)
	}
	return &dlqFixture{harness: h, dlq: q}
}

// seed is a message as the consumer dead-letters it.
type seed struct {
	key   string
	id    uuid.UUID
	class string
	age   time.Duration // failed-at = testClock - age
	extra amqp.Table    // more headers
	body  []byte        // default: the UUID as a JSON string
}

// seed publishes s to the dead-letter exchange with the consumer's dead-letter headers and returns
// the message id.
func (f *dlqFixture) seed(s seed) string {
	f.t.Helper()
	headers := amqp.Table{
		HeaderError:              "STS status 40: " + s.class,
		HeaderErrorClass:         s.class,
		HeaderAttempts:           int64(1),
		HeaderFailedAt:           testClock.Add(-s.age).UTC().Format(time.RFC3339Nano),
		HeaderOriginalRoutingKey: s.key,
		HeaderOriginalExchange:   "os2mo",
	}
	for k, v := range s.extra {
		headers[k] = v
	}
	body := s.body
	if body == nil {
		body = []byte(`"` + s.id.String() + `"`)
	}
	id := uuid.NewString()
	f.publishRaw("stsorgsync.dlx", s.key, amqp.Publishing{
		Headers: headers, Body: body, MessageId: id, DeliveryMode: amqp.Persistent,
		ContentType: "application/json", AppId: "os2mo", Timestamp: testClock.Truncate(time.Second),
	})
	return id
}

// drain takes every message from queue.
func (f *dlqFixture) drain(queue string) []amqp.Delivery {
	f.t.Helper()
	ch := f.channel()
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			f.t.Fatalf("get from %q: %v", queue, err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// objects returns the object UUIDs of deliveries (bodies are JSON strings), sorted.
func objects(t *testing.T, ds []amqp.Delivery) []string {
	t.Helper()
	var ids []string
	for _, d := range ds {
		ev, err := ParseEvent(d.RoutingKey, d.Body)
		if err != nil {
			t.Fatalf("message %q %q: %v", d.RoutingKey, d.Body, err)
		}
		ids = append(ids, ev.UUID.String())
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs(ids ...uuid.UUID) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

// TestDLQRealDeadLetterPath: events dead-lettered by a running consumer are listed by class,
// replayed by class to the work queue, and consumed again with Event.Force set by --force.
func TestDLQRealDeadLetterPath(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t, Config{})
	bad1, bad2 := uuid.New(), uuid.New()
	r := f.start(handlerFunc(func(context.Context, Event) error {
		return fmt.Errorf("STS status 40: invalid input: %w", ErrPermanent)
	}))
	f.publish("org_unit", bad1)
	f.publish("org_unit", bad2)
	f.publishRaw("os2mo", "org_unit", amqp.Publishing{Body: []byte("not-a-uuid")})
	f.waitDepth("stsorgsync.dlq", 3)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}

	stats, err := f.dlq.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []DLQGroup{
		{Class: "malformed", RoutingKey: "org_unit", Count: 1, Oldest: testClock, Newest: testClock},
		{Class: "permanent", RoutingKey: "org_unit", Count: 2, Oldest: testClock, Newest: testClock},
	}
	if stats.Total != 3 || len(stats.Groups) != len(want) {
		t.Fatalf("List = %+v; want 3 messages in %+v", stats, want)
	}
	for i, g := range stats.Groups {
		if g.Class != want[i].Class || g.RoutingKey != want[i].RoutingKey || g.Count != want[i].Count ||
			!g.Oldest.Equal(want[i].Oldest) || !g.Newest.Equal(want[i].Newest) {
			t.Errorf("group %d = %+v; want %+v", i, g, want[i])
		}
	}
	if n := f.depth("stsorgsync.dlq"); n != 3 {
		t.Fatalf("DLQ holds %d messages after List; want 3", n)
	}

	sum, err := f.dlq.Replay(t.Context(), ReplayOptions{Filter: Filter{Class: "permanent"}, Force: true})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if sum != (ReplaySummary{Scanned: 3, Matched: 2, Replayed: 2, Skipped: 1}) {
		t.Errorf("Replay = %+v; want 3 scanned, 2 replayed, 1 skipped", sum)
	}
	f.waitDepth("stsorgsync", 2)
	if n := f.depth("stsorgsync.dlq"); n != 1 {
		t.Errorf("DLQ holds %d messages after replay; want the malformed one", n)
	}

	var mu sync.Mutex
	var got []Event
	f.start(handlerFunc(func(_ context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
		return nil
	}))
	f.obs.waitN(t, 3+2) // the first run's three dead-letterings, then the two replayed events
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range got {
		if !ev.Force || ev.RoutingKey != "org_unit" || (ev.UUID != bad1 && ev.UUID != bad2) {
			t.Errorf("consumed %+v; want a forced org_unit event for %s or %s", ev, bad1, bad2)
		}
	}
}

// TestDLQList: groups, counts and failed-at ranges, including a message the broker dead-lettered
// past the delivery limit; listing twice leaves every message in the queue.
func TestDLQList(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t, Config{DeliveryLimit: 1})
	f.seed(seed{key: "org_unit", id: uuid.New(), class: "permanent", age: 2 * time.Hour})
	f.seed(seed{key: "org_unit", id: uuid.New(), class: "permanent", age: 10 * time.Minute})
	f.seed(seed{key: "org_unit", id: uuid.New(), class: "retries-exhausted", age: time.Minute})
	f.seed(seed{key: "person", id: uuid.New(), class: "permanent", age: 3 * time.Hour})

	// The broker dead-letters an event returned more often than the delivery limit.
	f.publish("org_unit", uuid.New())
	get := f.channel()
	deadline := time.Now().Add(waitTimeout)
	for f.depth("stsorgsync.dlq") < 5 {
		if time.Now().After(deadline) {
			t.Fatal("the broker did not dead-letter the event past its delivery limit")
		}
		d, ok, err := get.Get("stsorgsync", false)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if ok {
			if err := d.Nack(false, true); err != nil {
				t.Fatalf("nack: %v", err)
			}
		}
	}

	for range 2 {
		stats, err := f.dlq.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !stats.At.Equal(testClock) || stats.Total != 5 {
			t.Errorf("List at %s counted %d; want 5 at %s", stats.At, stats.Total, testClock)
		}
		var got []string
		for _, g := range stats.Groups {
			line := fmt.Sprintf("%s %s %d", g.Class, g.RoutingKey, g.Count)
			if g.Class != "delivery-limit" {
				line += fmt.Sprintf(" %s..%s", stats.At.Sub(g.Oldest), stats.At.Sub(g.Newest))
			}
			got = append(got, line)
		}
		want := []string{
			"delivery-limit org_unit 1", // the broker's time is real, not the test clock's
			"permanent org_unit 2 2h0m0s..10m0s",
			"permanent person 1 3h0m0s..3h0m0s",
			"retries-exhausted org_unit 1 1m0s..1m0s",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if stats.Groups[0].Oldest.IsZero() {
			t.Error("the broker's dead-letter has no failed-at (x-death time)")
		}
		// List waits until the queue shows the messages it returned.
		if n := f.depth("stsorgsync.dlq"); n != 5 {
			t.Fatalf("DLQ holds %d messages after List; want 5", n)
		}
	}
}

// TestDLQExport: one JSON object per message with body, routing key, headers and properties; the
// queue is unchanged.
func TestDLQExport(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t, Config{})
	id := uuid.New()
	textID := f.seed(seed{key: "org_unit", id: id, class: "permanent"})
	binary := []byte{0xff, 0xfe, 0x00, 'x'}
	binID := f.seed(seed{key: "org_unit", class: "malformed", body: binary})

	var out bytes.Buffer
	n, err := f.dlq.Export(t.Context(), &out)
	if err != nil || n != 2 {
		t.Fatalf("Export = %d, %v; want 2, nil", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("export has %d lines; want 2:\n%s", len(lines), out.String())
	}
	got := map[string]ExportedMessage{}
	for _, line := range lines {
		var m ExportedMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		got[m.MessageID] = m
	}
	text := got[textID]
	if text.Body != `"`+id.String()+`"` || text.BodyEncoding != "utf8" || text.RoutingKey != "org_unit" ||
		text.Exchange != "os2mo" || text.Object != id.String() {
		t.Errorf("text message exported as %+v", text)
	}
	if text.Headers[HeaderErrorClass] != "permanent" || text.Headers[HeaderFailedAt] != testClock.UTC().Format(time.RFC3339Nano) {
		t.Errorf("headers exported as %v", text.Headers)
	}
	wantProps := ExportedProperties{ContentType: "application/json", DeliveryMode: amqp.Persistent, AppID: "os2mo"}
	if text.Properties != wantProps {
		t.Errorf("properties exported as %+v; want %+v", text.Properties, wantProps)
	}
	if text.Timestamp == nil || !text.Timestamp.Equal(testClock.Truncate(time.Second)) {
		t.Errorf("timestamp exported as %v; want %s", text.Timestamp, testClock.Truncate(time.Second))
	}
	bin := got[binID]
	if raw, err := base64.StdEncoding.DecodeString(bin.Body); err != nil || bin.BodyEncoding != "base64" || !bytes.Equal(raw, binary) {
		t.Errorf("binary body exported as %q (%s); want base64 of %v", bin.Body, bin.BodyEncoding, binary)
	}
	if n := f.depth("stsorgsync.dlq"); n != 2 {
		t.Errorf("DLQ holds %d messages after Export; want 2", n)
	}
}

// TestDLQReplay: filters, limit, dry run, force, unroutable messages and the replayed headers.
func TestDLQReplay(t *testing.T) {
	t.Parallel()
	// Every case starts from the same four dead-lettered events (test clock ages).
	a, b, c, p := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	seeds := []seed{
		{key: "org_unit", id: a, class: "permanent", age: 3 * time.Hour},
		{key: "org_unit", id: b, class: "permanent", age: 30 * time.Minute, extra: amqp.Table{HeaderReplayed: int64(2), "custom": "kept", "x-first-death-reason": "rejected"}},
		{key: "org_unit", id: c, class: "retries-exhausted", age: 5 * time.Minute},
		{key: "facet", id: p, class: "permanent", age: time.Hour}, // no queue is bound for facet
	}
	tests := []struct {
		name     string
		opts     ReplayOptions
		want     ReplaySummary
		replayed []uuid.UUID // now in the work queue
	}{
		{"everything", ReplayOptions{}, ReplaySummary{Scanned: 4, Matched: 4, Replayed: 3, Failed: 1}, []uuid.UUID{a, b, c}},
		{"dry run changes nothing", ReplayOptions{DryRun: true}, ReplaySummary{DryRun: true, Scanned: 4, Matched: 4}, nil},
		{"by routing key", ReplayOptions{Filter: Filter{RoutingKey: "org_unit"}}, ReplaySummary{Scanned: 4, Matched: 3, Replayed: 3, Skipped: 1}, []uuid.UUID{a, b, c}},
		{"by object", ReplayOptions{Filter: Filter{Object: b}}, ReplaySummary{Scanned: 4, Matched: 1, Replayed: 1, Skipped: 3}, []uuid.UUID{b}},
		{"by class", ReplayOptions{Filter: Filter{Class: "retries-exhausted"}}, ReplaySummary{Scanned: 4, Matched: 1, Replayed: 1, Skipped: 3}, []uuid.UUID{c}},
		{"older than", ReplayOptions{Filter: Filter{OlderThan: 20 * time.Minute, RoutingKey: "org_unit"}}, ReplaySummary{Scanned: 4, Matched: 2, Replayed: 2, Skipped: 2}, []uuid.UUID{a, b}},
		{"newer than", ReplayOptions{Filter: Filter{NewerThan: 2 * time.Hour, Class: "permanent"}}, ReplaySummary{Scanned: 4, Matched: 2, Replayed: 1, Failed: 1, Skipped: 2}, []uuid.UUID{b}},
		{"window", ReplayOptions{Filter: Filter{OlderThan: 10 * time.Minute, NewerThan: time.Hour}}, ReplaySummary{Scanned: 4, Matched: 2, Replayed: 1, Failed: 1, Skipped: 2}, []uuid.UUID{b}},
		{"unroutable only", ReplayOptions{Filter: Filter{RoutingKey: "facet"}}, ReplaySummary{Scanned: 4, Matched: 1, Failed: 1, Skipped: 3}, nil},
		{"force", ReplayOptions{Filter: Filter{Object: a}, Force: true}, ReplaySummary{Scanned: 4, Matched: 1, Replayed: 1, Skipped: 3}, []uuid.UUID{a}},
		{"rate", ReplayOptions{Filter: Filter{RoutingKey: "org_unit"}, Rate: 50}, ReplaySummary{Scanned: 4, Matched: 3, Replayed: 3, Skipped: 1}, []uuid.UUID{a, b, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDLQFixture(t, Config{})
			for _, s := range seeds {
				f.seed(s)
			}
			var reported []string
			tt.opts.Report = func(m DeadLetter, err error) {
				reported = append(reported, fmt.Sprintf("%s %v", m.Object, err != nil))
			}
			start := time.Now()
			sum, err := f.dlq.Replay(t.Context(), tt.opts)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			if sum != tt.want {
				t.Errorf("Replay = %+v; want %+v", sum, tt.want)
			}
			if len(reported) != tt.want.Matched {
				t.Errorf("Report called for %v; want once per matching message (%d)", reported, tt.want.Matched)
			}
			if tt.opts.Rate > 0 {
				if min := time.Duration(float64(tt.want.Replayed-1) / tt.opts.Rate * float64(time.Second)); took < min {
					t.Errorf("replayed %d at %g/s in %s; want at least %s", tt.want.Replayed, tt.opts.Rate, took, min)
				}
			}

			work := f.drain("stsorgsync")
			if got, want := objects(t, work), sortedIDs(tt.replayed...); !slices.Equal(got, want) {
				t.Errorf("work queue holds %v; want %v", got, want)
			}
			for _, d := range work {
				checkReplayed(t, d, tt.opts.Force)
			}
			left := f.drain("stsorgsync.dlq")
			if len(left)+len(work) != len(seeds) {
				t.Errorf("DLQ holds %d and the work queue %d messages; want the %d seeded between them", len(left), len(work), len(seeds))
			}
			for _, d := range left {
				if d.Headers[HeaderErrorClass] == nil || d.Headers[HeaderReplayed] != nil && d.Headers[HeaderReplayed] != int64(2) {
					t.Errorf("message left in the DLQ was changed: headers %v", d.Headers)
				}
			}
		})
	}
}

// checkReplayed checks a replayed message in the work queue: original routing key and body, the
// dead-letter headers gone, the replay count incremented, other headers and properties kept.
func checkReplayed(t *testing.T, d amqp.Delivery, force bool) {
	t.Helper()
	if d.RoutingKey != "org_unit" || d.Exchange != "stsorgsync" {
		t.Errorf("replayed via %q with key %q; want the integration's exchange with the original key", d.Exchange, d.RoutingKey)
	}
	for _, h := range []string{HeaderError, HeaderErrorClass, HeaderAttempts, HeaderFailedAt, HeaderOriginalRoutingKey, HeaderOriginalExchange} {
		if v, ok := d.Headers[h]; ok {
			t.Errorf("replayed message keeps dead-letter header %s=%v", h, v)
		}
	}
	wantReplayed := int64(1)
	if d.Headers["custom"] == "kept" {
		wantReplayed = 3
	}
	if d.Headers[HeaderReplayed] != wantReplayed {
		t.Errorf("header %s = %#v; want %d", HeaderReplayed, d.Headers[HeaderReplayed], wantReplayed)
	}
	if d.Headers[HeaderReplayedAt] != testClock.UTC().Format(time.RFC3339Nano) {
		t.Errorf("header %s = %v; want the test clock's time", HeaderReplayedAt, d.Headers[HeaderReplayedAt])
	}
	for k := range d.Headers {
		// The work queue (a quorum queue) adds its own x-delivery-count when the test reads it.
		if strings.HasPrefix(k, "x-") && k != "x-delivery-count" {
			t.Errorf("replayed message carries the broker's header %s", k)
		}
	}
	if got := forced(d.Headers); got != force {
		t.Errorf("header %s = %v; want %v", HeaderForce, d.Headers[HeaderForce], force)
	}
	if d.MessageId == "" || d.ContentType != "application/json" || d.AppId != "os2mo" || d.DeliveryMode != amqp.Persistent {
		t.Errorf("properties not kept: id %q, content type %q, app id %q, mode %d", d.MessageId, d.ContentType, d.AppId, d.DeliveryMode)
	}
}

// TestDLQLimit: --limit stops after that many matching messages and leaves the rest unread.
func TestDLQLimit(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t, Config{})
	for range 5 {
		f.seed(seed{key: "org_unit", id: uuid.New(), class: "permanent"})
	}
	sum, err := f.dlq.Replay(t.Context(), ReplayOptions{Limit: 2})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if sum != (ReplaySummary{Scanned: 2, Matched: 2, Replayed: 2}) {
		t.Errorf("Replay = %+v; want 2 replayed of 2 read", sum)
	}
	if n := len(f.drain("stsorgsync")); n != 2 {
		t.Errorf("work queue holds %d; want 2", n)
	}
	if n := f.depth("stsorgsync.dlq"); n != 3 {
		t.Errorf("DLQ holds %d; want 3", n)
	}
}

// TestDLQErrors: a missing queue or exchange is reported and nothing is touched; a cancelled
// context stops a replay with every message still in the queue.
func TestDLQErrors(t *testing.T) {
	t.Parallel()
	t.Run("no queue", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		q, err := NewDLQ(h.conn, h.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.List(t.Context()); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("List without a dead-letter queue = %v; want it to say the queue does not exist", err)
		}
	})
	t.Run("no exchange", func(t *testing.T) {
		t.Parallel()
		f := newDLQFixture(t, Config{})
		f.seed(seed{key: "org_unit", id: uuid.New(), class: "permanent"})
		cfg := f.cfg
		cfg.Exchange = "nowhere"
		q, err := NewDLQ(f.conn, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var aerr *amqp.Error
		if _, err := q.Replay(t.Context(), ReplayOptions{}); !errors.As(err, &aerr) || aerr.Code != amqp.NotFound {
			t.Errorf("Replay to a missing exchange = %v; want a wrapped NOT_FOUND", err)
		}
		if n := f.depth("stsorgsync.dlq"); n != 1 {
			t.Errorf("DLQ holds %d; want 1", n)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		f := newDLQFixture(t, Config{})
		for range 3 {
			f.seed(seed{key: "org_unit", id: uuid.New(), class: "permanent"})
		}
		ctx, cancel := context.WithCancel(t.Context())
		sum, err := f.dlq.Replay(ctx, ReplayOptions{DryRun: true, Report: func(DeadLetter, error) { cancel() }})
		if !errors.Is(err, context.Canceled) || sum.Scanned != 1 {
			t.Errorf("Replay cancelled after the first message = %+v, %v; want 1 scanned and context.Canceled", sum, err)
		}
		if n := f.depth("stsorgsync.dlq"); n != 3 {
			t.Errorf("DLQ holds %d; want 3", n)
		}
	})
}

// TestFilterMatch covers the filter without a broker, including messages without failed-at.
func TestFilterMatch(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	m := DeadLetter{RoutingKey: "org_unit", Object: id, Class: "permanent", FailedAt: testClock.Add(-time.Hour)}
	undated := m
	undated.FailedAt = time.Time{}
	tests := []struct {
		f    Filter
		m    DeadLetter
		want bool
	}{
		{Filter{}, m, true},
		{Filter{}, undated, true},
		{Filter{RoutingKey: "person"}, m, false},
		{Filter{Object: uuid.New()}, m, false},
		{Filter{Object: id, Class: "permanent", RoutingKey: "org_unit"}, m, true},
		{Filter{OlderThan: time.Hour}, m, true},
		{Filter{OlderThan: time.Hour + time.Second}, m, false},
		{Filter{NewerThan: time.Hour}, m, true},
		{Filter{NewerThan: time.Hour - time.Second}, m, false},
		{Filter{OlderThan: time.Minute}, undated, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(tt.m, testClock); got != tt.want {
			t.Errorf("%+v.Match(%+v) = %v; want %v", tt.f, tt.m, got, tt.want)
		}
	}
}
