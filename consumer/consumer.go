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
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
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

// Consumer consumes OS2MO events and hands them to a Handler.
type Consumer struct {
	cfg      Config
	handler  Handler
	observer Observer
	log      *slog.Logger
	ready    atomic.Bool
	deadline atomic.Bool
	breaker  *breaker

	// pub is the current session's confirm-mode publisher (nil between sessions), for Enqueue.
	pubMu sync.Mutex
	pub   *confirmedPublisher

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
	return &Consumer{cfg: cfg, handler: handler, observer: observer, log: log, breaker: br}, nil
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
		c.log.Warn("amqp session ended; reconnecting", "error", err, "attempt", attempt, "retry_in", wait.String())
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

// work is one delivery routed to a worker, with its parse result, and the deliveries of the same
// event that arrived while it waited in the worker's queue (coalesced into it: they are settled
// as it is, so none is acknowledged before the work they wait for is done).
type work struct {
	d    amqp.Delivery
	ev   Event
	err  error
	key  coalesceKey
	dups []amqp.Delivery // guarded by pending.mu until the work is taken
}

// coalesceKey identifies deliveries that ask for the same work.
type coalesceKey struct {
	routingKey string
	id         uuid.UUID
	force      bool
}

// pending holds the work waiting in the workers' queues, by event, for coalescing.
type pending struct {
	mu    sync.Mutex
	works map[coalesceKey]*work
}

// add queues w unless the same event is already waiting, in which case d joins it and add
// returns false.
func (p *pending) add(w *work) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.err != nil {
		return true // malformed: never coalesced
	}
	if waiting, ok := p.works[w.key]; ok {
		waiting.dups = append(waiting.dups, w.d)
		return false
	}
	p.works[w.key] = w
	return true
}

// take marks w as started: later deliveries of the event are queued anew.
func (p *pending) take(w *work) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.works[w.key] == w {
		delete(p.works, w.key)
	}
}

// ack acknowledges the delivery and its coalesced duplicates; the first error is returned.
func (w *work) ack() error {
	err := w.d.Ack(false)
	for _, d := range w.dups {
		if e := d.Ack(false); err == nil {
			err = e
		}
	}
	return err
}

// requeue returns the delivery and its coalesced duplicates to the queue.
func (w *work) requeue() error {
	err := w.d.Nack(false, true)
	for _, d := range w.dups {
		if e := d.Nack(false, true); err == nil {
			err = e
		}
	}
	return err
}

// session runs one connection lifetime. It returns when the session is lost (with the cause) or
// after a graceful shutdown when ctx is cancelled.
func (c *Consumer) session(ctx context.Context) error {
	conn, err := amqp.DialConfig(c.cfg.URL, amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "stsorgsync consumer"}})
	if err != nil {
		return fmt.Errorf("connect to broker: %w", err)
	}
	defer conn.Close()
	pubConn, err := amqp.DialConfig(c.cfg.URL, amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "stsorgsync dead-letter publisher"}})
	if err != nil {
		return fmt.Errorf("connect to broker (publisher): %w", err)
	}
	defer pubConn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := DeclareTopology(ch, c.cfg); err != nil {
		return err
	}
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch %d: %w", c.cfg.Prefetch, err)
	}
	pub, err := newConfirmedPublisher(pubConn)
	if err != nil {
		return err
	}
	dl := &deadLetterer{pub: pub, exchange: c.cfg.DeadLetterExchange}
	c.pubMu.Lock()
	c.pub = pub
	c.pubMu.Unlock()
	defer func() {
		c.pubMu.Lock()
		c.pub = nil
		c.pubMu.Unlock()
	}()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	pubClosed := pubConn.NotifyClose(make(chan *amqp.Error, 1))
	cancelled := ch.NotifyCancel(make(chan string, 1))
	tag := c.cfg.ConsumerTag
	if tag == "" {
		tag = "stsorgsync-" + uuid.NewString()
	}
	deliveries, err := ch.Consume(c.cfg.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume from queue %q: %w", c.cfg.Queue, err)
	}
	c.ready.Store(true)
	c.sessions.Add(1)
	c.log.Info("consuming", "queue", c.cfg.Queue, "workers", c.cfg.Workers, "prefetch", c.cfg.Prefetch)

	// Work runs on a context that shutdown does not cancel at once (in-flight events may finish
	// within ShutdownTimeout) but that a lost session cancels immediately.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var draining atomic.Bool
	queues := make([]chan *work, c.cfg.Workers)
	waiting := &pending{works: map[coalesceKey]*work{}}
	var wg sync.WaitGroup
	for i := range queues {
		// Each worker's buffer can hold every unacknowledged delivery, so the dispatch loop
		// never blocks and always keeps draining the delivery channel.
		queues[i] = make(chan *work, c.cfg.Prefetch)
		q := queues[i]
		wg.Go(func() {
			for w := range q {
				waiting.take(w)
				if draining.Load() {
					c.settle(w, OutcomeRequeued, "", 0, w.requeue())
					continue
				}
				c.process(workCtx, ctx.Done(), dl, w)
			}
		})
	}
	stopWorkers := func() {
		for _, q := range queues {
			close(q)
		}
	}

	for {
		select {
		case <-ctx.Done():
			return c.shutdown(ch, tag, deliveries, func(d amqp.Delivery) { c.dispatch(d, queues, waiting) }, stopWorkers, &wg, &draining, cancelWork)
		case d, ok := <-deliveries:
			if !ok {
				cancelWork()
				stopWorkers()
				wg.Wait()
				return errors.New("delivery channel closed")
			}
			c.dispatch(d, queues, waiting)
		case e := <-connClosed:
			return c.lost(fmt.Errorf("connection closed: %v", e), cancelWork, stopWorkers, &wg)
		case e := <-chClosed:
			return c.lost(fmt.Errorf("channel closed: %v", e), cancelWork, stopWorkers, &wg)
		case e := <-pubClosed:
			return c.lost(fmt.Errorf("publisher connection closed: %v", e), cancelWork, stopWorkers, &wg)
		case tag := <-cancelled:
			return c.lost(fmt.Errorf("broker cancelled consumer %q (queue deleted?)", tag), cancelWork, stopWorkers, &wg)
		}
	}
}

// lost ends a session whose connection or channel is gone: in-flight work is cancelled (its
// deliveries are requeued by the broker) and the workers are waited for.
func (c *Consumer) lost(cause error, cancelWork func(), stopWorkers func(), wg *sync.WaitGroup) error {
	c.ready.Store(false)
	cancelWork()
	stopWorkers()
	wg.Wait()
	return cause
}

// shutdown stops consuming, requeues buffered deliveries, and gives in-flight ones until the
// shutdown timeout before cancelling them.
func (c *Consumer) shutdown(ch *amqp.Channel, tag string, deliveries <-chan amqp.Delivery, dispatch func(amqp.Delivery), stopWorkers func(), wg *sync.WaitGroup, draining *atomic.Bool, cancelWork func()) error {
	c.log.Info("shutting down: no new events; finishing in-flight ones", "timeout", c.cfg.ShutdownTimeout.String())
	c.ready.Store(false)
	draining.Store(true)
	if err := ch.Cancel(tag, false); err != nil {
		c.log.Warn("cancel consumer", "error", err)
	}
	// Deliveries already on the wire arrive before the channel closes; route them as usual so
	// the (draining) workers requeue them.
	for d := range deliveries {
		dispatch(d)
	}
	stopWorkers()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		c.log.Info("shutdown complete")
		return nil
	case <-time.After(c.cfg.ShutdownTimeout):
		c.deadline.Store(true)
		c.log.Warn("shutdown timeout reached; cancelling in-flight events (they will be redelivered)")
		cancelWork()
	}
	// Cancelled events normally return at once and nack themselves. One that ignores its context
	// gets as long again; then it is abandoned: the session's connection is closed on return, so
	// the broker requeues its delivery, and its late ack or nack fails harmlessly.
	select {
	case <-done:
	case <-time.After(c.cfg.ShutdownTimeout):
		c.log.Error("in-flight events ignored cancellation; abandoning them (the broker requeues them)")
	}
	return ErrShutdownDeadline
}

// dispatch parses a delivery and queues it for its worker, or coalesces it into the same event
// already waiting there. Every worker queue can hold all unacknowledged deliveries, so this never
// blocks.
func (c *Consumer) dispatch(d amqp.Delivery, queues []chan *work, waiting *pending) {
	ev, perr := parseDelivery(d)
	w := &work{d: d, ev: ev, err: perr, key: coalesceKey{d.RoutingKey, ev.UUID, ev.Force}}
	if waiting.add(w) {
		queues[c.workerFor(ev, d)] <- w
	}
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

// process handles one delivery and settles it exactly once.
// stopping is closed when shutdown starts; events waiting for the circuit breaker are then
// requeued.
func (c *Consumer) process(ctx context.Context, stopping <-chan struct{}, dl *deadLetterer, w *work) {
	start := c.cfg.Now()
	log := c.log.With("routing_key", w.d.RoutingKey, "object", w.ev.UUID.String())
	if w.err != nil {
		log.Warn("malformed event; dead-lettering", "error", w.err)
		c.deadLetter(ctx, dl, w, w.err, 1, start)
		return
	}
	if !c.handles(w.ev.Type) {
		log.Info("event type not handled; acknowledged")
		c.settle(w, OutcomeUnhandled, "", c.cfg.Now().Sub(start), w.ack())
		return
	}
	attempts, lastErr, err := c.attempt(ctx, stopping, w.ev, log)
	took := c.cfg.Now().Sub(start)
	switch {
	case err == nil:
		c.settle(w, OutcomeDone, "", took, w.ack())
	case ctx.Err() != nil, errors.Is(err, errInterrupted):
		log.Info("event interrupted; requeued", "attempts", attempts)
		c.settle(w, OutcomeRequeued, "", took, w.requeue())
	case errors.Is(lastErr, ErrUnhandled):
		// The queue is bound to a type the handler does not act on (yet): acknowledge it like
		// an unbound type rather than dead-lettering every such event.
		log.Info("event type not handled by the handler; acknowledged", "error", lastErr)
		c.settle(w, OutcomeUnhandled, "", took, w.ack())
	default:
		if lastErr == nil {
			lastErr = err
		}
		log.Error("event failed; dead-lettering", "error", lastErr, "attempts", attempts, "class", errorClass(lastErr))
		c.deadLetter(ctx, dl, w, lastErr, attempts, start)
	}
}

// attempt runs the handler with retries until it succeeds, fails permanently, exhausts the retry
// budget or ctx ends. While the circuit breaker is open it waits instead of attempting; neither
// that wait nor an attempt that failed because STS is unavailable while the breaker is open uses
// up the budget (it is reset): events wait out an STS outage rather than being dead-lettered,
// and after it each has its whole budget for whatever else goes wrong.
func (c *Consumer) attempt(ctx context.Context, stopping <-chan struct{}, ev Event, log *slog.Logger) (attempts int, lastErr, err error) {
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
			log.Info("object locked by another worker; waiting", "error", lastErr, "attempt", attempts)
			if err := waitOrStop(ctx, stopping, c.cfg.RetryInitial); err != nil {
				return attempts, lastErr, err
			}
			continue
		case isUnavailable(lastErr) && c.breaker.isOpen():
			// The breaker paces the next attempt; the outage does not count against the budget.
			policy.Reset()
			log.Warn("STS unavailable; waiting for the circuit breaker", "error", lastErr, "attempt", attempts)
			continue
		}
		next := policy.NextBackOff()
		if next == backoff.Stop {
			return attempts, lastErr, lastErr
		}
		log.Warn("transient failure; retrying", "error", lastErr, "attempt", attempts, "retry_in", next.String())
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

// deadLetter publishes the delivery to the dead-letter exchange with the reason, then acks it. If
// publishing fails the delivery is requeued instead, so it is never lost.
func (c *Consumer) deadLetter(ctx context.Context, dl *deadLetterer, w *work, cause error, attempts int, start time.Time) {
	class := errorClass(cause)
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := dl.publish(pubCtx, w.d, cause, class, attempts, c.cfg.Now(), c.cfg.NewID); err != nil {
		c.log.Error("could not dead-letter event; requeueing it", "routing_key", w.d.RoutingKey, "error", err)
		c.settle(w, OutcomeRequeued, class, c.cfg.Now().Sub(start), w.requeue())
		return
	}
	// Coalesced duplicates are acknowledged: the dead-lettered event stands for them (a replay
	// reads OS2MO's state as it is then).
	c.settle(w, OutcomeDeadLettered, class, c.cfg.Now().Sub(start), w.ack())
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
