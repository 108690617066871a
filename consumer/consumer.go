package consumer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/internal/amqppub"
)

// Handler processes one event. It must be idempotent: events are delivered at least once.
// Returning an error whose chain says it is not retryable (see ErrPermanent) dead-letters the
// event at once; one wrapping ErrUnhandled acknowledges it as OutcomeUnhandled; other errors are
// retried with backoff, then dead-lettered.
type Handler interface {
	Handle(ctx context.Context, ev Event) error
}

// Outcome is what happened to one delivery.
type Outcome string

// The outcomes of a delivery.
const (
	OutcomeDone         Outcome = "done"         // handled (written or nothing to write); acked
	OutcomeUnhandled    Outcome = "unhandled"    // routing key the sync does not act on; acked
	OutcomeDeadLettered Outcome = "deadlettered" // published to the dead-letter exchange; acked
	OutcomeRequeued     Outcome = "requeued"     // shutdown or lost session; returned to the queue
	OutcomeCoalesced    Outcome = "coalesced"    // same event already queued; settled with it
)

// Observer is told the outcome of every delivery (for metrics). It must be fast and safe for
// concurrent use.
type Observer interface {
	Delivery(ev Event, outcome Outcome, class string, took time.Duration)
}

// ErrShutdownDeadline is returned by Run when in-flight events had to be cancelled because they
// did not finish within Config.ShutdownTimeout; they were requeued.
var ErrShutdownDeadline = errors.New("shutdown deadline exceeded: in-flight events were cancelled and requeued")

// Consumer consumes OS2MO events and hands them to a Handler. Run holds one broker session (the
// session type: connections, channel, workers) at a time and starts a new one when it is lost; the
// Consumer keeps what outlives a session: the configuration, the circuit breaker, Ready, the
// metrics and the current session's publisher.
type Consumer struct {
	cfg      Config
	handler  Handler
	observer Observer
	log      *slog.Logger
	ready    atomic.Bool
	deadline atomic.Bool
	breaker  *breaker
	dialer   *amqpdial.Dialer // Config.URL's nodes; remembers which was lost last

	// pub is the current session's confirm-mode publisher (nil between sessions), for Publish and
	// Enqueue: set by session.open, cleared by session.close.
	pubMu sync.Mutex
	pub   *amqppub.Publisher

	inFlight   atomic.Int64
	retries    atomic.Uint64
	reconnects atomic.Uint64
	sessions   atomic.Uint64 // sessions that got as far as consuming
	cascaded   atomic.Uint64
}

// New returns a consumer; call Run to start it. observer may be nil.
func New(cfg Config, handler Handler, observer Observer) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	if handler == nil {
		return nil, errors.New("consumer: handler is nil")
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "consumer")
	// The breaker times its probes with the monotonic clock; Config.Now stamps headers.
	br := newBreaker(cfg.BreakerThreshold, cfg.BreakerProbeInterval, time.Now, log)
	dialer, err := amqpdial.New(amqpdial.Config{URLs: cfg.URL, TLS: cfg.TLS, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("consumer config: AMQP URL: %w", err)
	}
	return &Consumer{cfg: cfg, handler: handler, observer: observer, log: log, breaker: br, dialer: dialer}, nil
}

// Ready reports whether the consumer currently has a live session with the broker.
func (c *Consumer) Ready() bool { return c.ready.Load() }

// CircuitOpen reports whether the circuit breaker is open (STS unavailable; consumption paused).
func (c *Consumer) CircuitOpen() bool { return c.breaker.isOpen() }

// InFlight returns the number of events being handled (retries and breaker waits included).
func (c *Consumer) InFlight() int64 { return c.inFlight.Load() }

// Retries returns the number of handler attempts that were retries of a failed attempt.
func (c *Consumer) Retries() uint64 { return c.retries.Load() }

// Reconnects returns the number of broker sessions that ended and were re-established (or are
// being re-established).
func (c *Consumer) Reconnects() uint64 { return c.reconnects.Load() }

// Cascaded returns the number of events Enqueue published (confirmed by the broker).
func (c *Consumer) Cascaded() uint64 { return c.cascaded.Load() }

// Run consumes until ctx is cancelled, reconnecting whenever the connection or channel is lost:
// the first attempt after a lost session waits 125–250 ms, each failed attempt doubles the wait up
// to Config.ReconnectMax (see reconnectDelay), so the consumer resumes within about ReconnectMax of
// the broker's return. On cancellation it stops consuming, requeues deliveries not yet started,
// lets in-flight events finish within Config.ShutdownTimeout, and returns nil, or
// ErrShutdownDeadline if it had to cancel them.
func (c *Consumer) Run(ctx context.Context) error {
	attempt := 0
	for {
		before := c.sessions.Load()
		err := c.session(ctx)
		c.ready.Store(false)
		if ctx.Err() != nil {
			if c.deadline.Load() {
				return ErrShutdownDeadline
			}
			return nil
		}
		if c.sessions.Load() != before {
			attempt = 0 // the session consumed: the broker was back; start again from the shortest wait
		}
		attempt++
		c.reconnects.Add(1)
		wait := reconnectDelay(attempt, reconnectInitial, c.cfg.ReconnectMax, rand.Int64N)
		c.log.Warn("amqp session ended; reconnecting", "error", err, "attempt", attempt, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// reconnectInitial is the nominal wait before the first reconnect attempt after a lost session.
const reconnectInitial = 250 * time.Millisecond

// reconnectDelay returns the wait before reconnect attempt n (1 for the first after a lost
// session): the nominal wait initial·2^(n-1), capped at maxWait (and initial itself at maxWait),
// with equal jitter: half of the nominal wait is always waited, the other half is drawn by
// jitter(k), which returns a number in [0, k) (rand.Int64N). Replicas that lost the same broker so
// spread their attempts, yet none retries in a tight loop.
func reconnectDelay(n int, initial, maxWait time.Duration, jitter func(int64) int64) time.Duration {
	nominal := min(initial, maxWait)
	for i := 1; i < n && nominal < maxWait; i++ {
		nominal = min(2*nominal, maxWait)
	}
	half := nominal / 2
	return nominal - half + time.Duration(jitter(int64(half)+1))
}

// workerFor keys a delivery to a worker by object UUID, so one object's events are processed in
// order and never concurrently in this process.
func (c *Consumer) workerFor(ev Event, d amqp.Delivery) int {
	h := fnv.New32a()
	if ev.UUID != [16]byte{} {
		_, _ = h.Write(ev.UUID[:])
	} else {
		_, _ = h.Write(d.Body)
	}
	return int(h.Sum32() % uint32(c.cfg.Workers))
}

// attempt runs the handler with retries until it succeeds, fails permanently, exhausts the retry
// budget or ctx ends. While the circuit breaker is open it waits instead of attempting; neither
// that wait nor an attempt that failed because STS is unavailable while the breaker is open uses
// up the budget (it is reset): events wait out an STS outage rather than being dead-lettered,
// and after it each has its whole budget for whatever else goes wrong.
func (c *Consumer) attempt(ctx context.Context, stopping <-chan struct{}, ev Event, log *eventLog) (attempts int, lastErr, err error) {
	c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.RetryInitial
	b.MaxInterval = c.cfg.RetryMax
	b.MaxElapsedTime = c.cfg.RetryMaxElapsed
	var policy backoff.BackOff = b
	if c.cfg.RetryMaxAttempts > 0 {
		policy = backoff.WithMaxRetries(b, uint64(c.cfg.RetryMaxAttempts-1))
	}
	policy.Reset()
	for {
		probe, waited, werr := c.breaker.acquire(ctx, stopping)
		if werr != nil {
			return attempts, lastErr, werr
		}
		if waited {
			policy.Reset()
		}
		if attempts > 0 {
			c.retries.Add(1)
		}
		attempts++
		lastErr = c.handler.Handle(ctx, ev)
		c.breaker.record(resultOf(lastErr, ctx.Err() != nil), probe)
		switch {
		case lastErr == nil:
			return attempts, nil, nil
		case ctx.Err() != nil:
			return attempts, lastErr, ctx.Err()
		case !retryable(lastErr):
			return attempts, lastErr, lastErr
		case isBusy(lastErr):
			// Another worker (or a crashed process, until its lease expires) holds the object:
			// wait, without using up the budget; leases expire, so this ends.
			policy.Reset()
			log.get().Info("object locked by another worker; waiting", "error", lastErr, "attempt", attempts)
			if err := waitOrStop(ctx, stopping, c.cfg.RetryInitial); err != nil {
				return attempts, lastErr, err
			}
			continue
		case isUnavailable(lastErr) && c.breaker.isOpen():
			// The breaker paces the next attempt; the outage does not count against the budget.
			policy.Reset()
			log.get().Warn("STS unavailable; waiting for the circuit breaker", "error", lastErr, "attempt", attempts)
			continue
		}
		next := policy.NextBackOff()
		if next == backoff.Stop {
			return attempts, lastErr, lastErr
		}
		log.get().Warn("transient failure; retrying", "error", lastErr, "attempt", attempts, "retry_in", next)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempts, lastErr, ctx.Err()
		case <-t.C:
		}
	}
}

// isBusy reports whether err says the object is locked by another worker (a Busy() bool method).
func isBusy(err error) bool {
	var b interface{ Busy() bool }
	return errors.As(err, &b) && b.Busy()
}

// waitOrStop waits d; it returns ctx's error if ctx ends first, or errInterrupted if shutdown
// starts (the event is then requeued rather than kept waiting).
func waitOrStop(ctx context.Context, stopping <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stopping:
		return errInterrupted
	case <-t.C:
		return nil
	}
}

func (c *Consumer) handles(t ObjectType) bool {
	for _, k := range c.cfg.RoutingKeys {
		if k == string(t) {
			return true
		}
	}
	return false
}

// settle records the outcome of w and of each delivery coalesced into it; ackErr is the result
// of the acks/nacks, which fail only when the channel is gone (the broker then redelivers, and
// the pipeline is idempotent).
func (c *Consumer) settle(w *work, outcome Outcome, class string, took time.Duration, ackErr error) {
	if ackErr != nil {
		c.log.Warn("could not settle delivery; the broker will redeliver it", "outcome", outcome, "error", ackErr)
		outcome = OutcomeRequeued
	}
	if c.observer == nil {
		return
	}
	c.observer.Delivery(w.ev, outcome, class, took)
	dupOutcome := OutcomeCoalesced
	if outcome == OutcomeRequeued {
		dupOutcome = OutcomeRequeued
	}
	for range w.dups {
		c.observer.Delivery(w.ev, dupOutcome, "", 0)
	}
}
