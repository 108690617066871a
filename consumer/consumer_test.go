package consumer

// Integration tests of the consumer against the real RabbitMQ server: every test gets its own
// throwaway vhost (internal/testenv), publishes events exactly as OS2MO does (durable topic
// exchange "os2mo", routing key = object type, body = the UUID as a JSON string, no properties),
// and observes the outcome through a recording Observer, the queues and the management API.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

// testClock is the fixed clock injected as Config.Now, so the failed-at header is predictable.
var testClock = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.FixedZone("CET", 3600))

// waitTimeout bounds every wait for something the broker or the consumer does asynchronously.
const waitTimeout = 10 * time.Second

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, ev Event) error

// Handle implements Handler.
func (f handlerFunc) Handle(ctx context.Context, ev Event) error { return f(ctx, ev) }

// observed is one call of Observer.Delivery.
type observed struct {
	ev      Event
	outcome Outcome
	class   string
}

// recorder is an Observer that records every delivery outcome.
type recorder struct {
	mu  sync.Mutex
	got []observed
}

// Delivery implements Observer.
func (r *recorder) Delivery(ev Event, outcome Outcome, class string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, observed{ev: ev, outcome: outcome, class: class})
}

// all returns a copy of the outcomes recorded so far.
func (r *recorder) all() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.got...)
}

// waitN waits until at least n outcomes were recorded and returns them all.
func (r *recorder) waitN(t *testing.T, n int) []observed {
	t.Helper()
	var got []observed
	eventually(t, fmt.Sprintf("%d delivery outcomes", n), func() bool {
		got = r.all()
		return len(got) >= n
	})
	return got
}

// eventually polls ok until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testWriter passes log output to the test until the test ends, and drops it afterwards, so a
// goroutine that logs late cannot make the test binary panic.
type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

// Write implements io.Writer.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

// testLogger logs at debug level to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (a logger shared by goroutines).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one consumer running against its own vhost, plus a connection of the test's own
// for publishing (on a confirm-mode channel) and inspecting queues.
type harness struct {
	t      *testing.T
	broker *testenv.Broker
	cfg    Config
	obs    *recorder
	conn   *amqp.Connection
	pubCh  *amqp.Channel
}

// newHarness creates a vhost and a publisher connection; start runs consumers in it.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	broker := testenv.AMQP(t)
	cfg.URL = broker.URL
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	cfg.Now = func() time.Time { return testClock }
	conn, err := amqp.Dial(broker.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", broker.VHost, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open publisher channel: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	return &harness{t: t, broker: broker, cfg: cfg, obs: &recorder{}, conn: conn, pubCh: ch}
}

// running is one Run of a consumer.
type running struct {
	c      *Consumer
	cancel context.CancelFunc
	done   chan error
}

// start runs a consumer with handler and waits until it is ready. It is stopped at cleanup if
// the test has not stopped it.
func (h *harness) start(handler Handler) *running {
	h.t.Helper()
	c, err := New(h.cfg, handler, h.obs)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitTimeout):
			h.t.Error("consumer did not stop at cleanup")
		}
	})
	eventually(h.t, "consumer ready", c.Ready)
	return r
}

// stop cancels the run and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancellation")
		return nil
	}
}

// publishRaw publishes body to exchange with key and waits for the broker's confirm.
func (h *harness) publishRaw(exchange, key string, msg amqp.Publishing) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	dc, err := h.pubCh.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		h.t.Fatalf("publish to %q with key %q: %v", exchange, key, err)
	}
	if ok, err := dc.WaitContext(ctx); err != nil || !ok {
		h.t.Fatalf("publish to %q with key %q: confirmed %v, %v", exchange, key, ok, err)
	}
}

// publish sends an event exactly as OS2MO does.
func (h *harness) publish(key string, id uuid.UUID) {
	h.t.Helper()
	h.publishRaw("os2mo", key, amqp.Publishing{Body: []byte(`"` + id.String() + `"`)})
}

// channel opens a channel on the test's connection; it is closed with the connection.
func (h *harness) channel() *amqp.Channel {
	h.t.Helper()
	ch, err := h.conn.Channel()
	if err != nil {
		h.t.Fatalf("channel: %v", err)
	}
	return ch
}

// depth returns the number of ready messages in queue (a passive declare).
func (h *harness) depth(queue string) int {
	h.t.Helper()
	ch := h.channel()
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		h.t.Fatalf("passive declare %q: %v", queue, err)
	}
	return q.Messages
}

// waitDepth waits until queue holds exactly want ready messages.
func (h *harness) waitDepth(queue string, want int) {
	h.t.Helper()
	got := -1
	eventually(h.t, fmt.Sprintf("%d messages in %q", want, queue), func() bool {
		got = h.depth(queue)
		return got == want
	})
}

// getDLQ takes the next message from the dead-letter queue, waiting for it.
func (h *harness) getDLQ() amqp.Delivery {
	h.t.Helper()
	ch := h.channel()
	defer ch.Close()
	var d amqp.Delivery
	eventually(h.t, "a dead-lettered message", func() bool {
		got, ok, err := ch.Get(h.cfg.withDefaults().DeadLetterQueue, true)
		if err != nil {
			h.t.Fatalf("get from DLQ: %v", err)
		}
		d = got
		return ok
	})
	return d
}

// counter counts handler calls.
type counter struct{ n atomic.Int32 }

// wrap returns f counting its calls.
func (c *counter) wrap(f handlerFunc) handlerFunc {
	return func(ctx context.Context, ev Event) error {
		c.n.Add(1)
		return f(ctx, ev)
	}
}

// fastRetry is the retry configuration of the tests: small backoff, four attempts at most.
func fastRetry(cfg Config) Config {
	cfg.RetryInitial = 5 * time.Millisecond
	cfg.RetryMax = 20 * time.Millisecond
	cfg.RetryMaxElapsed = 10 * time.Second
	cfg.RetryMaxAttempts = 4
	return cfg
}

// TestHappyPath: an OS2MO event is handled once, acked and observed as done.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		exchange string // MO's exchange, or the integration's own one (re-sending to us alone)
	}{
		{"published by OS2MO", "os2mo"},
		{"re-sent on the integration's exchange", "stsorgsync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{})
			id := uuid.New()
			var calls counter
			var got atomic.Value
			r := h.start(calls.wrap(func(_ context.Context, ev Event) error {
				got.Store(ev)
				return nil
			}))
			h.publishRaw(tt.exchange, "org_unit", amqp.Publishing{Body: []byte(`"` + id.String() + `"`)})

			obs := h.obs.waitN(t, 1)
			want := Event{RoutingKey: "org_unit", Type: TypeOrgUnit, UUID: id}
			if obs[0] != (observed{ev: want, outcome: OutcomeDone}) {
				t.Errorf("observed %+v; want %+v done", obs[0], want)
			}
			if ev, _ := got.Load().(Event); ev != want {
				t.Errorf("handler got %+v; want %+v", ev, want)
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}
			// Had the delivery not been acked, closing the channel would have requeued it.
			if n := h.depth("stsorgsync"); n != 0 {
				t.Errorf("queue holds %d messages after the event was handled; want 0", n)
			}
			if n := calls.n.Load(); n != 1 {
				t.Errorf("handler called %d times; want 1", n)
			}
			if n := h.depth("stsorgsync.dlq"); n != 0 {
				t.Errorf("dead-letter queue holds %d messages; want 0", n)
			}
		})
	}
}

// dlqWant is what a dead-lettered message must carry.
type dlqWant struct {
	class    string
	attempts int64
	errText  string // substring of the error header
}

// checkDeadLettered checks the dead-lettered copy of msg (published with key to "os2mo").
func checkDeadLettered(t *testing.T, d amqp.Delivery, msg amqp.Publishing, key string, want dlqWant) {
	t.Helper()
	if string(d.Body) != string(msg.Body) {
		t.Errorf("body = %q; want the original %q", d.Body, msg.Body)
	}
	wantHeaders := map[string]any{
		HeaderErrorClass:         want.class,
		HeaderAttempts:           want.attempts,
		HeaderFailedAt:           testClock.UTC().Format(time.RFC3339Nano),
		HeaderOriginalRoutingKey: key,
		HeaderOriginalExchange:   "os2mo",
	}
	for k, v := range msg.Headers {
		wantHeaders[k] = v
	}
	for k, v := range wantHeaders {
		if d.Headers[k] != v {
			t.Errorf("header %q = %#v; want %#v", k, d.Headers[k], v)
		}
	}
	if e, _ := d.Headers[HeaderError].(string); !strings.Contains(e, want.errText) {
		t.Errorf("header %q = %q; want it to contain %q", HeaderError, e, want.errText)
	}
	if d.RoutingKey != key {
		t.Errorf("routing key = %q; want %q", d.RoutingKey, key)
	}
	props := []struct{ name, got, want string }{
		{"content type", d.ContentType, msg.ContentType},
		{"content encoding", d.ContentEncoding, msg.ContentEncoding},
		{"correlation id", d.CorrelationId, msg.CorrelationId},
		{"type", d.Type, msg.Type},
		{"app id", d.AppId, msg.AppId},
	}
	for _, p := range props {
		if p.got != p.want {
			t.Errorf("%s = %q; want the original %q", p.name, p.got, p.want)
		}
	}
	if msg.MessageId != "" && d.MessageId != msg.MessageId {
		t.Errorf("message id = %q; want the original %q", d.MessageId, msg.MessageId)
	}
	if d.MessageId == "" {
		t.Error("dead-lettered message has no message id")
	}
	if d.DeliveryMode != amqp.Persistent {
		t.Errorf("delivery mode = %d; want persistent", d.DeliveryMode)
	}
}

// TestMalformedEventsAreDeadLetteredAtOnce: a body that is not a UUID goes to the dead-letter
// queue with the reason in headers and the original body and properties, without the handler.
func TestMalformedEventsAreDeadLetteredAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  amqp.Publishing
	}{
		{"bare word", amqp.Publishing{Body: []byte("not-a-uuid")}},
		{"JSON object", amqp.Publishing{Body: []byte("{}")}},
		{"JSON string that is no UUID", amqp.Publishing{Body: []byte(`"not-a-uuid"`)}},
		{"empty body", amqp.Publishing{}},
		{"properties and headers are kept", amqp.Publishing{
			Headers:     amqp.Table{"x-trace": "abc", "source": "replay"},
			ContentType: "application/json", ContentEncoding: "utf-8", CorrelationId: "corr-1",
			MessageId: "msg-1", Type: "org_unit", AppId: "os2mo",
			Body: []byte(`{"uuid": 17}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			h := newHarness(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			var calls counter
			r := h.start(calls.wrap(func(context.Context, Event) error { return nil }))
			h.publishRaw("os2mo", "org_unit", tt.msg)

			obs := h.obs.waitN(t, 1)
			if obs[0].outcome != OutcomeDeadLettered || obs[0].class != "malformed" {
				t.Errorf("observed %+v; want deadlettered, class malformed", obs[0])
			}
			checkDeadLettered(t, h.getDLQ(), tt.msg, "org_unit", dlqWant{class: "malformed", attempts: 1, errText: "malformed event"})
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}
			if n := calls.n.Load(); n != 0 {
				t.Errorf("handler called %d times for a malformed event; want 0", n)
			}
			// The log says what arrived, without a made-up object.
			if l := logs.String(); !strings.Contains(l, `"msg":"malformed event; dead-lettering"`) || strings.Contains(l, uuid.Nil.String()) {
				t.Errorf("log should report the malformed event without the zero UUID:\n%s", l)
			}
			if n := h.depth("stsorgsync"); n != 0 {
				t.Errorf("queue holds %d messages; want 0 (the malformed event acked)", n)
			}
		})
	}
}

// notRetryable is an error that says it must not be retried, like stsclient's validation errors.
type notRetryable struct{ msg string }

// Error implements error.
func (e notRetryable) Error() string { return e.msg }

// Retryable says no.
func (e notRetryable) Retryable() bool { return false }

// retryableErr is an error that says it may be retried, like a 503 from STS.
type retryableErr struct{}

// Error implements error.
func (retryableErr) Error() string { return "STS answered 503" }

// Retryable says yes.
func (retryableErr) Retryable() bool { return true }

// TestHandlerErrors: transient errors are retried, permanent ones dead-lettered at once, and an
// event that keeps failing is dead-lettered after RetryMaxAttempts attempts.
func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      func(call int32) error // the handler's result on its call-th call (from 1)
		wantCalls int32
		outcome   Outcome
		dlq       *dlqWant // nil: nothing dead-lettered
	}{
		{
			name: "transient twice, then success",
			fail: func(call int32) error {
				if call <= 2 {
					return errors.New("connection reset by peer")
				}
				return nil
			},
			wantCalls: 3, outcome: OutcomeDone,
		},
		{
			name: "error that says it is retryable, then success",
			fail: func(call int32) error {
				if call == 1 {
					return fmt.Errorf("write: %w", retryableErr{})
				}
				return nil
			},
			wantCalls: 2, outcome: OutcomeDone,
		},
		{
			name:      "wrapped ErrPermanent",
			fail:      func(int32) error { return fmt.Errorf("STS rejected the unit: %w", ErrPermanent) },
			wantCalls: 1, outcome: OutcomeDeadLettered,
			dlq: &dlqWant{class: "permanent", attempts: 1, errText: "STS rejected the unit: permanent failure"},
		},
		{
			name:      "error whose Retryable() is false",
			fail:      func(int32) error { return fmt.Errorf("import: %w", notRetryable{"schema validation failed"}) },
			wantCalls: 1, outcome: OutcomeDeadLettered,
			dlq: &dlqWant{class: "permanent", attempts: 1, errText: "import: schema validation failed"},
		},
		{
			name:      "retries exhausted",
			fail:      func(int32) error { return errors.New("STS is down") },
			wantCalls: 4, outcome: OutcomeDeadLettered,
			dlq: &dlqWant{class: "retries-exhausted", attempts: 4, errText: "STS is down"},
		},
		{
			name:      "handler does not handle the type",
			fail:      func(int32) error { return fmt.Errorf("%w: org_unit", ErrUnhandled) },
			wantCalls: 1, outcome: OutcomeUnhandled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, fastRetry(Config{}))
			var calls counter
			r := h.start(handlerFunc(func(context.Context, Event) error { return tt.fail(calls.n.Add(1)) }))
			id := uuid.New()
			h.publish("org_unit", id)

			obs := h.obs.waitN(t, 1)
			wantClass := ""
			if tt.dlq != nil {
				wantClass = tt.dlq.class
			}
			want := observed{ev: Event{RoutingKey: "org_unit", Type: TypeOrgUnit, UUID: id}, outcome: tt.outcome, class: wantClass}
			if obs[0] != want {
				t.Errorf("observed %+v; want %+v", obs[0], want)
			}
			if tt.dlq != nil {
				checkDeadLettered(t, h.getDLQ(), amqp.Publishing{Body: []byte(`"` + id.String() + `"`)}, "org_unit", *tt.dlq)
			} else if n := h.depth("stsorgsync.dlq"); n != 0 {
				// Dead-lettering is confirmed before the outcome is reported, so this is final.
				t.Errorf("dead-letter queue holds %d messages; want 0", n)
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}
			if n := calls.n.Load(); n != tt.wantCalls {
				t.Errorf("handler called %d times; want %d", n, tt.wantCalls)
			}
			if n := h.depth("stsorgsync"); n != 0 {
				t.Errorf("queue holds %d messages; want 0", n)
			}
			if got := h.obs.all(); len(got) != 1 {
				t.Errorf("observed %d outcomes %+v; want exactly 1", len(got), got)
			}
		})
	}
}

// TestUnhandledTypesAreAcked: an event of a type the sync does not handle is acked and observed as
// unhandled, never retried or dead-lettered.
func TestUnhandledTypesAreAcked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// routingKeys configures the consumer; bindExtra binds the queue to "kle" behind its back
		// (a binding left over from an earlier configuration).
		routingKeys []string
		bindExtra   bool
		handler     Handler
	}{
		{"bound outside the configuration", []string{"org_unit"}, true, handlerFunc(func(context.Context, Event) error {
			return errors.New("handler must not be called")
		})},
		{"configured but not handled by the handler", []string{"org_unit", "kle"}, false, handlerFunc(func(_ context.Context, ev Event) error {
			return fmt.Errorf("%w: %s", ErrUnhandled, ev.Type)
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, fastRetry(Config{RoutingKeys: tt.routingKeys}))
			var calls counter
			r := h.start(calls.wrap(tt.handler.Handle))
			if tt.bindExtra {
				if err := h.channel().QueueBind("stsorgsync", "kle", "stsorgsync", false, nil); err != nil {
					t.Fatalf("bind kle: %v", err)
				}
			}
			id := uuid.New()
			h.publish("kle", id)

			obs := h.obs.waitN(t, 1)
			want := observed{ev: Event{RoutingKey: "kle", Type: TypeKLE, UUID: id}, outcome: OutcomeUnhandled}
			if obs[0] != want {
				t.Errorf("observed %+v; want %+v", obs[0], want)
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}
			wantCalls := int32(1)
			if tt.bindExtra {
				wantCalls = 0
			}
			if n := calls.n.Load(); n != wantCalls {
				t.Errorf("handler called %d times; want %d", n, wantCalls)
			}
			if n := h.depth("stsorgsync.dlq"); n != 0 {
				t.Errorf("dead-letter queue holds %d messages; want 0", n)
			}
			if n := h.depth("stsorgsync"); n != 0 {
				t.Errorf("queue holds %d messages; want 0", n)
			}
			if got := h.obs.all(); len(got) != 1 {
				t.Errorf("observed %d outcomes %+v; want exactly 1", len(got), got)
			}
		})
	}
}

// idsOnDistinctWorkers returns n UUIDs that c dispatches to n different workers.
func idsOnDistinctWorkers(t *testing.T, c *Consumer, n int) []uuid.UUID {
	t.Helper()
	seen := map[int]bool{}
	var ids []uuid.UUID
	for i := 0; len(ids) < n; i++ {
		if i > 10000 {
			t.Fatalf("found only %d UUIDs on distinct workers", len(ids))
		}
		id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(i)))
		if w := c.workerFor(Event{UUID: id}, amqp.Delivery{}); !seen[w] {
			seen[w] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// TestOneObjectIsNeverProcessedConcurrently: with several workers, the events of one object never
// overlap in the handler.
func TestOneObjectIsNeverProcessedConcurrently(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Workers: 4, Prefetch: 64})
	probe, err := New(h.cfg, handlerFunc(func(context.Context, Event) error { return nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := idsOnDistinctWorkers(t, probe, 3)
	const perID = 12

	var (
		mu          sync.Mutex
		inFlight    = map[uuid.UUID]int{}
		maxPerID    = map[uuid.UUID]int{}
		total       int
		maxTotal    int
		handledByID = map[uuid.UUID]int{}
	)
	r := h.start(handlerFunc(func(_ context.Context, ev Event) error {
		mu.Lock()
		inFlight[ev.UUID]++
		total++
		maxPerID[ev.UUID] = max(maxPerID[ev.UUID], inFlight[ev.UUID])
		maxTotal = max(maxTotal, total)
		mu.Unlock()
		time.Sleep(3 * time.Millisecond) // simulated work, so overlapping calls would be seen
		mu.Lock()
		inFlight[ev.UUID]--
		total--
		handledByID[ev.UUID]++
		mu.Unlock()
		return nil
	}))
	for range perID {
		for _, id := range ids {
			h.publish("org_unit", id)
		}
	}
	obs := h.obs.waitN(t, perID*len(ids))
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	coalesced := map[uuid.UUID]int{}
	for _, o := range obs {
		switch o.outcome {
		case OutcomeDone:
		case OutcomeCoalesced:
			coalesced[o.ev.UUID]++
		default:
			t.Errorf("observed %+v; want done or coalesced", o)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if maxPerID[id] != 1 {
			t.Errorf("object %s was processed %d times at once; want 1", id, maxPerID[id])
		}
		if handledByID[id]+coalesced[id] != perID {
			t.Errorf("object %s handled %d times and coalesced %d; want %d in all", id, handledByID[id], coalesced[id], perID)
		}
	}
	if maxTotal < 2 {
		t.Logf("different objects did not overlap by chance (at most %d at once); see TestDifferentObjectsRunConcurrently", maxTotal)
	}
}

// TestQueuedDuplicatesCoalesce: events for an object already waiting in its worker's queue join
// it: the handler runs once for them, and they are acknowledged only when it is done.
func TestQueuedDuplicatesCoalesce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Workers: 1, Prefetch: 16})
	blocker, dup, other := uuid.New(), uuid.New(), uuid.New()
	gate := make(chan struct{})
	var mu sync.Mutex
	calls := map[uuid.UUID]int{}
	r := h.start(handlerFunc(func(_ context.Context, ev Event) error {
		if ev.UUID == blocker {
			<-gate
		}
		mu.Lock()
		calls[ev.UUID]++
		mu.Unlock()
		return nil
	}))
	h.publish("org_unit", blocker)
	for range 5 {
		h.publish("org_unit", dup)
	}
	h.publish("person", dup) // another type: not the same work
	h.publish("org_unit", other)
	h.waitDepth("stsorgsync", 0) // all delivered; the one worker is still blocked
	time.Sleep(100 * time.Millisecond)
	close(gate)
	obs := h.obs.waitN(t, 8)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	outcomes := map[Outcome]int{}
	for _, o := range obs {
		outcomes[o.outcome]++
	}
	if outcomes[OutcomeDone] != 4 || outcomes[OutcomeCoalesced] != 4 || len(obs) != 8 {
		t.Errorf("outcomes %v; want 4 done (blocker, dup, dup as person, other) and 4 coalesced", outcomes)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[dup] != 2 || calls[blocker] != 1 || calls[other] != 1 {
		t.Errorf("handler calls %v; want dup twice (org_unit and person), the others once", calls)
	}
	if n := h.depth("stsorgsync"); n != 0 {
		t.Errorf("queue holds %d messages; want every coalesced delivery acknowledged", n)
	}
}

// TestDifferentObjectsRunConcurrently: events of objects on different workers are handled at the
// same time.
func TestDifferentObjectsRunConcurrently(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Workers: 4})
	probe, err := New(h.cfg, handlerFunc(func(context.Context, Event) error { return nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := idsOnDistinctWorkers(t, probe, 2)
	// Each handler waits until both objects are in flight: that can only happen if they run at
	// the same time, and otherwise the handlers give up and the outcome is not "done".
	var both sync.WaitGroup
	both.Add(2)
	allIn := make(chan struct{})
	go func() { both.Wait(); close(allIn) }()
	r := h.start(handlerFunc(func(_ context.Context, ev Event) error {
		both.Done()
		select {
		case <-allIn:
			return nil
		case <-time.After(waitTimeout / 2):
			return fmt.Errorf("object %s waited alone: %w", ev.UUID, ErrPermanent)
		}
	}))
	for _, id := range ids {
		h.publish("org_unit", id)
	}
	for _, o := range h.obs.waitN(t, 2) {
		if o.outcome != OutcomeDone {
			t.Errorf("observed %+v; want done (the two objects were not processed concurrently)", o)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
}

// TestGracefulShutdownLetsInFlightEventsFinish: on cancellation the event in flight finishes and is
// acked, the ones waiting behind it are requeued, and Run returns nil.
func TestGracefulShutdownLetsInFlightEventsFinish(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Workers: 2, ShutdownTimeout: 5 * time.Second})
	started := make(chan struct{})
	var once sync.Once
	release := make(chan struct{})
	var calls counter
	var ctxErr atomic.Value
	r := h.start(calls.wrap(func(ctx context.Context, _ Event) error {
		once.Do(func() { close(started) })
		<-release
		ctxErr.Store(fmt.Sprint(ctx.Err()))
		return nil
	}))
	id := uuid.New()
	for range 3 { // one in flight, two waiting behind it for the same object
		h.publish("org_unit", id)
	}
	<-started
	h.waitDepth("stsorgsync", 0) // all three are with the consumer

	r.cancel()
	eventually(t, "consumer no longer ready after shutdown started", func() bool { return !r.c.Ready() })
	close(release)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	if got := ctxErr.Load(); got != "<nil>" {
		t.Errorf("in-flight handler's context: %v; want it not cancelled within the shutdown timeout", got)
	}
	counts := map[Outcome]int{}
	for _, o := range h.obs.waitN(t, 3) {
		counts[o.outcome]++
	}
	if want := map[Outcome]int{OutcomeDone: 1, OutcomeRequeued: 2}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("outcomes %v; want %v", counts, want)
	}
	h.waitDepth("stsorgsync", 2)
	if n := calls.n.Load(); n != 1 {
		t.Errorf("handler called %d times; want 1", n)
	}
}

// TestShutdownDeadline: an event still running after ShutdownTimeout is cancelled and requeued and
// Run returns ErrShutdownDeadline, even if the handler ignores the cancellation.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		// handler blocks until it is cancelled, or (ignoresCtx) until the test releases it.
		ignoresCtx bool
	}{
		{"handler returns when cancelled", false},
		{"handler ignores cancellation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{ShutdownTimeout: timeout})
			started := make(chan struct{})
			release := make(chan struct{})
			r := h.start(handlerFunc(func(ctx context.Context, _ Event) error {
				close(started)
				if tt.ignoresCtx {
					<-release
					return nil
				}
				<-ctx.Done()
				return fmt.Errorf("write to STS: %w", ctx.Err())
			}))
			id := uuid.New()
			h.publish("org_unit", id)
			<-started

			begin := time.Now()
			err := r.stop(t)
			if !errors.Is(err, ErrShutdownDeadline) {
				t.Fatalf("Run = %v; want ErrShutdownDeadline", err)
			}
			// ShutdownTimeout, and as long again for a handler that ignores cancellation.
			if took := time.Since(begin); took > 2*timeout+2*time.Second {
				t.Errorf("Run took %s to return; want about %s", took, 2*timeout)
			}
			h.waitDepth("stsorgsync", 1) // requeued
			close(release)
			obs := h.obs.waitN(t, 1)
			if want := (observed{ev: Event{RoutingKey: "org_unit", Type: TypeOrgUnit, UUID: id}, outcome: OutcomeRequeued}); obs[0] != want {
				t.Errorf("observed %+v; want %+v", obs[0], want)
			}

			// A new consumer gets the requeued event.
			var redelivered atomic.Value
			h2 := &harness{t: t, broker: h.broker, cfg: h.cfg, obs: &recorder{}, conn: h.conn, pubCh: h.pubCh}
			r2 := h2.start(handlerFunc(func(_ context.Context, ev Event) error {
				redelivered.Store(ev.UUID)
				return nil
			}))
			if o := h2.obs.waitN(t, 1)[0]; o.outcome != OutcomeDone || o.ev.UUID != id {
				t.Errorf("new consumer observed %+v; want %s done", o, id)
			}
			if err := r2.stop(t); err != nil {
				t.Fatalf("second Run = %v; want nil", err)
			}
			if got := redelivered.Load(); got != id {
				t.Errorf("new consumer handled %v; want %s", got, id)
			}
			if n := h.depth("stsorgsync"); n != 0 {
				t.Errorf("queue holds %d messages; want 0", n)
			}
		})
	}
}

// mgmt calls the management API and decodes a JSON answer into out (if not nil).
func mgmt(t *testing.T, method, path string, out any) {
	t.Helper()
	if _, err := testenv.Management(method, path, "", out); err != nil {
		t.Fatal(err)
	}
}

// connection is one AMQP connection as the management API lists it.
type connection struct {
	Name             string `json:"name"`
	ClientProperties struct {
		ConnectionName string `json:"connection_name"`
	} `json:"client_properties"`
}

// connections lists the vhost's connections with the given client-provided name.
func connections(t *testing.T, vhost, name string) []connection {
	t.Helper()
	var all []connection
	mgmt(t, http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/connections", &all)
	var out []connection
	for _, c := range all {
		if c.ClientProperties.ConnectionName == name {
			out = append(out, c)
		}
	}
	return out
}

// TestReconnectsAfterConnectionLoss: when the broker closes one of the consumer's connections, it
// becomes unready, reconnects, and handles what was published meanwhile.
func TestReconnectsAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		connection string // client-provided name of the connection the broker closes
	}{
		{"consumer connection closed", "stsorgsync consumer"},
		{"dead-letter publisher connection closed", "stsorgsync dead-letter publisher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{ReconnectMax: time.Second})
			handled := make(chan uuid.UUID, 10)
			r := h.start(handlerFunc(func(_ context.Context, ev Event) error {
				handled <- ev.UUID
				return nil
			}))
			first, second := uuid.New(), uuid.New()
			h.publish("org_unit", first)
			select {
			case got := <-handled:
				if got != first {
					t.Fatalf("handled %s; want %s", got, first)
				}
			case <-time.After(waitTimeout):
				t.Fatal("first event was not handled")
			}

			var old []connection
			eventually(t, "the management API to list "+tt.connection, func() bool {
				old = connections(t, h.broker.VHost, tt.connection)
				return len(old) == 1
			})
			mgmt(t, http.MethodDelete, "/api/connections/"+url.PathEscape(old[0].Name), nil)
			eventually(t, "Ready() false after the connection was closed", func() bool { return !r.c.Ready() })

			// Published during the outage: it waits in the durable queue.
			h.publish("org_unit", second)
			eventually(t, "Ready() true after reconnecting", r.c.Ready)
			select {
			case got := <-handled:
				if got != second {
					t.Fatalf("handled %s after reconnecting; want %s", got, second)
				}
			case <-time.After(waitTimeout):
				t.Fatal("event published during the outage was not handled after reconnecting")
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}
			for _, o := range h.obs.waitN(t, 2) {
				if o.outcome != OutcomeDone {
					t.Errorf("observed %+v; want done", o)
				}
			}
		})
	}
}

// mgmtQueue is a queue as the management API describes it.
type mgmtQueue struct {
	Type      string         `json:"type"`
	Durable   bool           `json:"durable"`
	Arguments map[string]any `json:"arguments"`
}

// TestTopology checks what DeclareTopology declares through the management API, that it is
// idempotent, that a changed queue argument is refused, and that the broker's delivery limit
// dead-letters a message that is redelivered too often.
func TestTopology(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{DeliveryLimit: 2})
	ch := h.channel()
	if err := DeclareTopology(ch, h.cfg); err != nil {
		t.Fatalf("DeclareTopology: %v", err)
	}
	if err := DeclareTopology(ch, h.cfg); err != nil {
		t.Fatalf("DeclareTopology is not idempotent: %v", err)
	}
	vhost := url.PathEscape(h.broker.VHost)

	queues := []struct {
		name string
		args map[string]any
	}{
		{"stsorgsync", map[string]any{
			"x-queue-type":           "quorum",
			"x-delivery-limit":       float64(2),
			"x-dead-letter-exchange": "stsorgsync.dlx",
			"x-dead-letter-strategy": "at-least-once",
			"x-overflow":             "reject-publish",
		}},
		{"stsorgsync.dlq", map[string]any{"x-queue-type": "quorum", "x-delivery-limit": float64(DeadLetterQueueDeliveryLimit)}},
	}
	for _, q := range queues {
		var got mgmtQueue
		mgmt(t, http.MethodGet, "/api/queues/"+vhost+"/"+url.PathEscape(q.name), &got)
		if got.Type != "quorum" || !got.Durable {
			t.Errorf("queue %s: type %q, durable %v; want a durable quorum queue", q.name, got.Type, got.Durable)
		}
		if fmt.Sprint(got.Arguments) != fmt.Sprint(q.args) {
			t.Errorf("queue %s arguments = %v; want %v", q.name, got.Arguments, q.args)
		}
	}

	exchanges := []struct{ name, kind string }{
		{"os2mo", "topic"}, {"stsorgsync", "topic"}, {"stsorgsync.dlx", "fanout"},
	}
	for _, ex := range exchanges {
		var got struct {
			Type    string `json:"type"`
			Durable bool   `json:"durable"`
		}
		mgmt(t, http.MethodGet, "/api/exchanges/"+vhost+"/"+url.PathEscape(ex.name), &got)
		if got.Type != ex.kind || !got.Durable {
			t.Errorf("exchange %s: type %q, durable %v; want durable %s", ex.name, got.Type, got.Durable, ex.kind)
		}
	}

	var bindings []struct {
		Source          string `json:"source"`
		Destination     string `json:"destination"`
		DestinationType string `json:"destination_type"`
		RoutingKey      string `json:"routing_key"`
	}
	mgmt(t, http.MethodGet, "/api/bindings/"+vhost, &bindings)
	var gotBindings []string
	for _, b := range bindings {
		if b.Source != "" { // the default exchange's implicit bindings
			gotBindings = append(gotBindings, fmt.Sprintf("%s -[%s]-> %s %s", b.Source, b.RoutingKey, b.DestinationType, b.Destination))
		}
	}
	wantBindings := []string{
		"os2mo -[#]-> exchange stsorgsync",
		"stsorgsync.dlx -[]-> queue stsorgsync.dlq",
	}
	for _, key := range DefaultRoutingKeys() {
		wantBindings = append(wantBindings, "stsorgsync -["+key+"]-> queue stsorgsync")
	}
	for _, w := range wantBindings {
		found := false
		for _, g := range gotBindings {
			found = found || g == w
		}
		if !found {
			t.Errorf("binding %q missing; have %v", w, gotBindings)
		}
	}
	if len(gotBindings) != len(wantBindings) {
		t.Errorf("bindings %v; want exactly %v", gotBindings, wantBindings)
	}

	t.Run("changed delivery limit is refused", func(t *testing.T) {
		changed := h.cfg
		changed.DeliveryLimit = 3
		err := DeclareTopology(h.channel(), changed)
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.PreconditionFailed {
			t.Fatalf("DeclareTopology with another delivery limit = %v; want a wrapped PRECONDITION_FAILED", err)
		}
	})

	t.Run("broker dead-letters a message redelivered past the limit", func(t *testing.T) {
		id := uuid.New()
		h.publish("org_unit", id)
		get := h.channel()
		// Delivered, then returned (as by a crashing consumer) until the limit is passed.
		for i := 0; ; i++ {
			var d amqp.Delivery
			var ok bool
			eventually(t, "the message back in the queue", func() bool {
				var err error
				d, ok, err = get.Get("stsorgsync", false)
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				return ok || h.depth("stsorgsync.dlq") == 1
			})
			if !ok {
				if i != 3 {
					t.Errorf("dead-lettered after %d deliveries; want 3 (delivery limit 2)", i)
				}
				break
			}
			if err := d.Nack(false, true); err != nil {
				t.Fatalf("nack: %v", err)
			}
		}
		d := h.getDLQ()
		if string(d.Body) != `"`+id.String()+`"` {
			t.Errorf("dead-lettered body %q; want the event", d.Body)
		}
		if reason, _ := d.Headers["x-first-death-reason"].(string); reason != "delivery_limit" {
			t.Errorf("x-first-death-reason = %q; want delivery_limit", reason)
		}
	})
}

// TestConfigValidate: Validate and New reject each invalid configuration.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty for valid
	}{
		{"defaults", Config{URL: "amqp://localhost/"}, ""},
		{"no URL", Config{}, "AMQP URL is required"},
		{"negative workers", Config{URL: "amqp://x/", Workers: -1, Prefetch: 1}, "workers must be at least 1"},
		{"prefetch below workers", Config{URL: "amqp://x/", Workers: 4, Prefetch: 2}, "prefetch (2)"},
		{"negative delivery limit", Config{URL: "amqp://x/", DeliveryLimit: -1}, "delivery limit"},
		{"negative max attempts", Config{URL: "amqp://x/", RetryMaxAttempts: -1}, "retry max attempts"},
		{"retrying past the consumer timeout", Config{URL: "amqp://x/", RetryMaxElapsed: 30 * time.Minute}, "consumer timeout"},
		{"queue is the DLQ", Config{URL: "amqp://x/", Queue: "q", DeadLetterQueue: "q"}, "must differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v; want an error containing %q", err, tt.wantErr)
			}
			if _, err := New(tt.cfg, handlerFunc(func(context.Context, Event) error { return nil }), nil); err == nil {
				t.Fatal("New accepted an invalid configuration")
			}
		})
	}
	if _, err := New(Config{URL: "amqp://x/"}, nil, nil); err == nil {
		t.Error("New accepted a nil handler")
	}
}

// TestWaitingForALeaseUsesNoRetryBudget: an event whose object is locked by another worker (a
// busy lease, as after a crash until the dead process's lease expires) waits and succeeds, even
// when the wait outlasts the retry budget; a real failure still uses it up.
func TestWaitingForALeaseUsesNoRetryBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, fastRetry(Config{}))
	var calls atomic.Int32
	r := h.start(handlerFunc(func(context.Context, Event) error {
		if calls.Add(1) <= 10 { // more than RetryMaxAttempts (4)
			return &converge.BusyError{Key: "org_unit:x"}
		}
		return nil
	}))
	h.publish("org_unit", uuid.New())
	obs := h.obs.waitN(t, 1)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if obs[0].outcome != OutcomeDone || calls.Load() != 11 {
		t.Errorf("outcome %s after %d calls; want done after 11 (10 busy, then success)", obs[0].outcome, calls.Load())
	}
	if n := h.depth("stsorgsync.dlq"); n != 0 {
		t.Errorf("DLQ holds %d; want 0", n)
	}
}
