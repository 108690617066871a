package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// unavailableErr is what the STS adapter returns when STS does not answer.
type unavailableErr struct{}

func (unavailableErr) Error() string     { return "STS: HTTP 503" }
func (unavailableErr) Retryable() bool   { return true }
func (unavailableErr) Unavailable() bool { return true }

func TestResultOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		cancelled bool
		want      attemptResult
	}{
		{"success", nil, false, resultAnswered},
		{"unavailable", unavailableErr{}, false, resultUnavailable},
		{"wrapped unavailable", errors.Join(errors.New("apply"), unavailableErr{}), false, resultUnavailable},
		{"other transient error", retryableErr{}, false, resultNeutral},
		{"permanent error", notRetryable{"StatusKode 40"}, false, resultNeutral},
		{"cancelled", unavailableErr{}, true, resultNeutral},
	}
	for _, tt := range tests {
		if got := resultOf(tt.err, tt.cancelled); got != tt.want {
			t.Errorf("%s: resultOf = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestBreakerStateMachine drives the breaker directly: it opens after threshold consecutive
// unavailable results, lets one probe through per interval, and closes on success.
func TestBreakerStateMachine(t *testing.T) {
	t.Parallel()
	b := newBreaker(3, 20*time.Millisecond, time.Now, testLogger(t))
	ctx := context.Background()
	for range 2 {
		b.record(resultUnavailable, false)
	}
	b.record(resultNeutral, false) // says nothing about STS: the streak goes on
	if b.isOpen() {
		t.Fatal("open after 2 failures; threshold 3")
	}
	b.record(resultAnswered, false)
	for range 2 {
		b.record(resultUnavailable, false)
	}
	if b.isOpen() {
		t.Fatal("a success must reset the streak")
	}
	b.record(resultUnavailable, false)
	if !b.isOpen() {
		t.Fatal("not open after 3 consecutive failures")
	}

	// Two waiters: exactly one becomes the probe; the other waits until the breaker closes.
	type got struct {
		probe, waited bool
		err           error
	}
	results := make(chan got, 2)
	for range 2 {
		go func() {
			p, w, err := b.acquire(ctx, nil)
			results <- got{p, w, err}
		}()
	}
	first := <-results
	if !first.probe || first.err != nil {
		t.Fatalf("first acquire = %+v; want a probe", first)
	}
	select {
	case r := <-results:
		t.Fatalf("second acquire returned %+v while a probe runs", r)
	case <-time.After(50 * time.Millisecond):
	}
	b.record(resultUnavailable, true) // the probe failed: still open, next probe later
	second := <-results
	if !second.probe || !second.waited {
		t.Fatalf("second acquire = %+v; want the next probe, after waiting", second)
	}
	b.record(resultAnswered, true)
	if b.isOpen() {
		t.Fatal("still open after a successful probe")
	}
	if p, w, err := b.acquire(ctx, nil); p || w || err != nil {
		t.Fatalf("acquire on a closed breaker = %v, %v, %v", p, w, err)
	}

	// Waiting ends with the context or with shutdown.
	b.record(resultUnavailable, false)
	b.record(resultUnavailable, false)
	b.record(resultUnavailable, false)
	if p, _, _ := b.acquire(ctx, nil); !p {
		t.Fatal("want a probe")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, _, err := b.acquire(cctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire with an expiring context = %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if _, _, err := b.acquire(ctx, stop); !errors.Is(err, errInterrupted) {
		t.Fatalf("acquire after shutdown = %v", err)
	}

	disabled := newBreaker(-1, time.Millisecond, time.Now, testLogger(t))
	for range 100 {
		disabled.record(resultUnavailable, false)
	}
	if disabled.isOpen() {
		t.Fatal("a disabled breaker opened")
	}
}

// TestCircuitBreakerHoldsEventsDuringOutage: with STS down for much longer than the retry budget,
// the breaker opens, events wait (no dead-lettering, few handler calls), and all are handled once
// STS is back.
func TestCircuitBreakerHoldsEventsDuringOutage(t *testing.T) {
	t.Parallel()
	cfg := fastRetry(Config{Workers: 4, BreakerThreshold: 3, BreakerProbeInterval: 50 * time.Millisecond})
	h := newHarness(t, cfg)
	var down atomic.Bool
	down.Store(true)
	var calls counter
	r := h.start(calls.wrap(func(context.Context, Event) error {
		if down.Load() {
			return unavailableErr{}
		}
		return nil
	}))
	const n = 12
	for range n {
		h.publish("org_unit", uuid.New())
	}
	eventually(t, "circuit open", r.c.CircuitOpen)
	// Hold the outage for 20 retry budgets (4 attempts of ≤20ms each).
	time.Sleep(800 * time.Millisecond)
	if got := h.obs.all(); len(got) != 0 {
		t.Fatalf("events settled during the outage: %+v", got)
	}
	if c := calls.n.Load(); c > 60 {
		t.Errorf("%d handler calls during an 800ms outage; the breaker should allow ~1 probe per 50ms", c)
	}
	if r.c.InFlight() == 0 {
		t.Error("InFlight() = 0 while events wait for the breaker")
	}
	down.Store(false)
	for _, o := range h.obs.waitN(t, n) {
		if o.outcome != OutcomeDone {
			t.Errorf("observed %+v; want done", o)
		}
	}
	if r.c.CircuitOpen() {
		t.Error("circuit still open after recovery")
	}
	if h.depth(h.cfg.withDefaults().DeadLetterQueue) != 0 {
		t.Error("events were dead-lettered")
	}
	if r.c.Retries() == 0 {
		t.Error("Retries() = 0 after an outage")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestWaitingForTheBreakerDoesNotUseUpTheRetryBudget: an event that waited out an outage longer
// than RETRY_MAX_ELAPSED still gets its retries for an ordinary transient failure afterwards
// (before, its retry clock ran while it waited and the first failure dead-lettered it).
func TestWaitingForTheBreakerDoesNotUseUpTheRetryBudget(t *testing.T) {
	t.Parallel()
	cfg := fastRetry(Config{Workers: 1, BreakerThreshold: 1, BreakerProbeInterval: 300 * time.Millisecond})
	cfg.RetryMaxElapsed = 100 * time.Millisecond
	cfg.RetryMaxAttempts = 0
	h := newHarness(t, cfg)
	var calls counter
	r := h.start(calls.wrap(func(context.Context, Event) error {
		if calls.n.Load() == 1 {
			return retryableErr{} // e.g. OS2MO timed out on the first read after the outage
		}
		return nil
	}))
	r.c.breaker.record(resultUnavailable, false) // STS went down: the breaker is open
	h.publish("org_unit", uuid.New())
	for _, o := range h.obs.waitN(t, 1) {
		if o.outcome != OutcomeDone {
			t.Errorf("observed %+v; want done (the wait for the breaker is not the event's retry time)", o)
		}
	}
	if c := calls.n.Load(); c != 2 {
		t.Errorf("%d handler calls; want 2 (one transient failure, one success)", c)
	}
	if n := h.depth(h.cfg.withDefaults().DeadLetterQueue); n != 0 {
		t.Errorf("%d events dead-lettered", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestShutdownRequeuesEventsWaitingForTheBreaker: shutdown does not wait for an open breaker.
func TestShutdownRequeuesEventsWaitingForTheBreaker(t *testing.T) {
	t.Parallel()
	cfg := fastRetry(Config{Workers: 2, BreakerThreshold: 1, BreakerProbeInterval: time.Hour, ShutdownTimeout: 20 * time.Second})
	h := newHarness(t, cfg)
	r := h.start(handlerFunc(func(context.Context, Event) error { return unavailableErr{} }))
	for range 4 {
		h.publish("org_unit", uuid.New())
	}
	eventually(t, "circuit open", r.c.CircuitOpen)
	// Random UUIDs may all hash to one worker: at least one event waits.
	eventually(t, "events waiting", func() bool { return r.c.InFlight() >= 1 })
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v; want a clean stop", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s; events waiting for the breaker should be requeued at once", took)
	}
	h.waitDepth(h.cfg.withDefaults().Queue, 4)
	for _, o := range h.obs.all() {
		if o.outcome != OutcomeRequeued {
			t.Errorf("observed %+v; want requeued", o)
		}
	}
}
