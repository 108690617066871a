package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stsorgsync/stsorgsync/internal/amqppub"
)

// session is one broker session of a Consumer: its two connections (one consuming, one
// publishing with confirms), the consuming channel, its deliveries and the notifications that end
// it, the confirm-mode publisher and the dead-letterer on it, the workers' queues, the work waiting
// in them (for coalescing) and the wait group of the workers. Run makes a new session for every
// connection attempt; nothing of one session is reused by the next.
//
// The lifecycle, driven by Consumer.session (serve, then close):
//
//  1. open dials both connections, opens the channel, declares the topology, sets the prefetch,
//     opens the publisher and hands it to the Consumer (Publish, Enqueue), and subscribes to the
//     closes of both connections and the channel and to the broker's cancel of the consumer.
//  2. consume starts consuming; from here the Consumer is Ready.
//  3. startWorkers starts Config.Workers workers, each with its own queue, on a work context that
//     a lost session cancels at once but shutdown only after Config.ShutdownTimeout.
//  4. run dispatches every delivery to its object's worker, coalescing it into the same event
//     already waiting there, until either
//     - the session is lost (a connection or the channel closed, the consumer cancelled, the
//     deliveries closed): lost cancels the work and waits for the workers (the broker requeues
//     what was not acknowledged), and run returns the cause, wrapping the broker's *amqp.Error
//     where there is one; or
//     - Run's context is cancelled: shutdown stops consuming, has the workers requeue what they
//     have not started, and drain gives in-flight events ShutdownTimeout before cancelling them;
//     run returns nil, or ErrShutdownDeadline.
//  5. close, however far the session got: cancels the work context, withdraws the publisher from
//     the Consumer and closes both connections, so the broker requeues whatever is still
//     unacknowledged (the deliveries of abandoned events included).
type session struct {
	c *Consumer

	// Set by open.
	conn, pubConn *amqp.Connection
	ch            *amqp.Channel
	pub           *amqppub.Publisher
	dl            *deadLetterer
	connClosed    <-chan *amqp.Error // the consuming connection closed
	chClosed      <-chan *amqp.Error // the consuming channel closed
	pubClosed     <-chan *amqp.Error // the publishing connection closed
	cancelled     <-chan string      // the broker cancelled the consumer (e.g. the queue was deleted)

	// Set by consume.
	tag        string
	deliveries <-chan amqp.Delivery

	// Set by startWorkers.
	stopping   <-chan struct{} // closed when shutdown starts (Run's context is done)
	workCtx    context.Context // the events' context: cancelled at once when the session is lost
	cancelWork context.CancelFunc
	draining   atomic.Bool // shutdown started: workers requeue what they take
	queues     []chan *work
	waiting    pending
	wg         sync.WaitGroup // the workers
}

// session runs one broker session (see the session type). It returns the cause when the session
// is lost, and nil or ErrShutdownDeadline after a graceful shutdown when ctx is cancelled.
func (c *Consumer) session(ctx context.Context) error {
	s := &session{c: c}
	defer s.close()
	return s.serve(ctx)
}

// serve opens the session, consumes, starts the workers and runs until the session is lost or
// ctx is cancelled. The caller closes the session afterwards, also when serve fails early.
func (s *session) serve(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := s.consume(); err != nil {
		return err
	}
	s.startWorkers(ctx)
	return s.run(ctx)
}

// open connects (both connections through the Consumer's dialer: the first node that takes them,
// starting after the one last lost), declares the topology on the consuming channel, sets its prefetch, opens the
// confirm-mode publisher on the other connection and hands it to the Consumer, and subscribes to
// the notifications that end the session. What it opened before failing is closed by close.
func (s *session) open(ctx context.Context) error {
	cfg := s.c.cfg
	conn, _, err := s.c.dialer.Dial(ctx, "stsorgsync consumer")
	if err != nil {
		return fmt.Errorf("connect to broker: %w", err)
	}
	s.conn = conn
	pubConn, _, err := s.c.dialer.Dial(ctx, "stsorgsync dead-letter publisher")
	if err != nil {
		return fmt.Errorf("connect to broker (publisher): %w", err)
	}
	s.pubConn = pubConn
	if s.ch, err = conn.Channel(); err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := DeclareTopology(s.ch, cfg); err != nil {
		return err
	}
	if err := s.ch.Qos(cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch %d: %w", cfg.Prefetch, err)
	}
	pub, err := amqppub.New(pubConn)
	if err != nil {
		return err
	}
	s.pub = pub
	s.dl = &deadLetterer{pub: pub, exchange: cfg.DeadLetterExchange}
	s.c.setPublisher(pub)
	s.connClosed = conn.NotifyClose(make(chan *amqp.Error, 1))
	s.chClosed = s.ch.NotifyClose(make(chan *amqp.Error, 1))
	s.pubClosed = pubConn.NotifyClose(make(chan *amqp.Error, 1))
	s.cancelled = s.ch.NotifyCancel(make(chan string, 1))
	return nil
}

// consume starts consuming the work queue (Config.ConsumerTag, or a random tag) and marks the
// Consumer ready.
func (s *session) consume() error {
	c := s.c
	s.tag = c.cfg.ConsumerTag
	if s.tag == "" {
		s.tag = "stsorgsync-" + uuid.NewString()
	}
	deliveries, err := s.ch.Consume(c.cfg.Queue, s.tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume from queue %q: %w", c.cfg.Queue, err)
	}
	s.deliveries = deliveries
	c.ready.Store(true)
	c.sessions.Add(1)
	c.log.Info("consuming", "queue", c.cfg.Queue, "workers", c.cfg.Workers, "prefetch", c.cfg.Prefetch)
	return nil
}

// startWorkers starts the workers. Their work runs on a context that shutdown does not cancel at
// once (in-flight events may finish within ShutdownTimeout) but that a lost session cancels
// immediately; ctx being done tells them shutdown started.
func (s *session) startWorkers(ctx context.Context) {
	s.stopping = ctx.Done()
	s.workCtx, s.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	s.waiting.works = map[coalesceKey]*work{}
	s.queues = make([]chan *work, s.c.cfg.Workers)
	for i := range s.queues {
		// Each worker's buffer can hold every unacknowledged delivery, so the dispatch loop
		// never blocks and always keeps draining the delivery channel.
		q := make(chan *work, s.c.cfg.Prefetch)
		s.queues[i] = q
		s.wg.Go(func() { s.worker(q) })
	}
}

// worker processes the work of its queue in order until the queue is closed. Once shutdown has
// started it requeues what it takes instead.
func (s *session) worker(q <-chan *work) {
	for w := range q {
		s.waiting.take(w)
		if s.draining.Load() {
			s.c.settle(w, OutcomeRequeued, "", 0, w.requeue())
			continue
		}
		s.process(w)
	}
}

// stopWorkers closes the workers' queues: each worker returns when it has emptied its queue.
func (s *session) stopWorkers() {
	for _, q := range s.queues {
		close(q)
	}
}

// run dispatches deliveries until the session is lost or ctx is cancelled (see the session type).
func (s *session) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return s.shutdown()
		case d, ok := <-s.deliveries:
			if !ok {
				return s.lost(s.deliveriesClosed())
			}
			s.dispatch(d)
		case e := <-s.connClosed:
			return s.lost(closedBy("connection closed", e))
		case e := <-s.chClosed:
			return s.lost(closedBy("channel closed", e))
		case e := <-s.pubClosed:
			return s.lost(closedBy("publisher connection closed", e))
		case tag := <-s.cancelled:
			return s.lost(consumerCancelled(tag))
		}
	}
}

// closedBy is the error for a connection or channel (what) whose NotifyClose channel gave e. The
// broker's *amqp.Error is wrapped, so errors.As finds it with its Code, Reason, Server and Recover;
// a nil e (closed without an error, as by this process) is not.
func closedBy(what string, e *amqp.Error) error {
	if e == nil {
		return errors.New(what)
	}
	return fmt.Errorf("%s: %w", what, e)
}

// consumerCancelled is the error for the broker's cancel of consumer tag.
func consumerCancelled(tag string) error {
	return fmt.Errorf("broker cancelled consumer %q (queue deleted?)", tag)
}

// deliveriesClosed is the cause of a session whose delivery channel closed. The client library
// tells the NotifyClose and NotifyCancel listeners why before it closes the delivery channel, so
// the broker's error (or cancel) is waiting there if there is one.
func (s *session) deliveriesClosed() error {
	select {
	case e := <-s.connClosed:
		if e != nil {
			return closedBy("connection closed", e)
		}
	default:
	}
	select {
	case e := <-s.chClosed:
		if e != nil {
			return closedBy("channel closed", e)
		}
	default:
	}
	select {
	case tag := <-s.cancelled:
		return consumerCancelled(tag)
	default:
	}
	return errors.New("delivery channel closed")
}

// dispatch parses a delivery and queues it for its worker, or coalesces it into the same event
// already waiting there. Every worker queue can hold all unacknowledged deliveries, so this never
// blocks.
func (s *session) dispatch(d amqp.Delivery) {
	ev, perr := parseDelivery(d)
	w := &work{d: d, ev: ev, err: perr, key: coalesceKey{d.RoutingKey, ev.UUID, ev.Force}}
	if s.waiting.add(w) {
		s.queues[s.c.workerFor(ev, d)] <- w
	}
}

// lost ends a session whose connection or channel is gone: in-flight work is cancelled (its
// deliveries are requeued by the broker) and the workers are waited for. It returns cause.
func (s *session) lost(cause error) error {
	s.c.ready.Store(false)
	s.cancelWork()
	s.stopWorkers()
	s.wg.Wait()
	return cause
}

// shutdown ends the session gracefully: it stops consuming (requeueing what no worker has
// started) and drains the workers.
func (s *session) shutdown() error {
	s.c.log.Info("shutting down: no new events; finishing in-flight ones", "timeout", s.c.cfg.ShutdownTimeout)
	s.c.ready.Store(false)
	s.stopConsuming()
	return s.drain()
}

// stopConsuming puts the workers in draining mode (they requeue what they take), cancels the
// consumer, routes the deliveries already on the wire to the workers as usual (so they are
// requeued too), and closes the workers' queues.
func (s *session) stopConsuming() {
	s.draining.Store(true)
	if err := s.ch.Cancel(s.tag, false); err != nil {
		s.c.log.Warn("cancel consumer", "error", err)
	}
	// Deliveries already on the wire arrive before the channel closes.
	for d := range s.deliveries {
		s.dispatch(d)
	}
	s.stopWorkers()
}

// drain waits for the in-flight events, at most ShutdownTimeout, and returns nil if they finished.
// Otherwise it cancels them (they requeue themselves) and returns ErrShutdownDeadline.
func (s *session) drain() error {
	c := s.c
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		c.log.Info("shutdown complete")
		return nil
	case <-time.After(c.cfg.ShutdownTimeout):
		c.deadline.Store(true)
		c.log.Warn("shutdown timeout reached; cancelling in-flight events (they will be redelivered)")
		s.cancelWork()
	}
	// Cancelled events normally return at once and nack themselves. One that ignores its context
	// gets as long again; then it is abandoned: the session's connections are closed on return, so
	// the broker requeues its delivery, and its late ack or nack fails harmlessly.
	select {
	case <-done:
	case <-time.After(c.cfg.ShutdownTimeout):
		c.log.Error("in-flight events ignored cancellation; abandoning them (the broker requeues them)")
	}
	return ErrShutdownDeadline
}

// close releases the session, however far open, consume and startWorkers got: it cancels the
// work context, withdraws the publisher from the Consumer and closes both connections (and with
// them the channels).
func (s *session) close() {
	if s.cancelWork != nil {
		s.cancelWork()
	}
	if s.pub != nil {
		s.c.setPublisher(nil)
	}
	if s.pubConn != nil {
		_ = s.pubConn.Close()
	}
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// setPublisher makes pub the publisher of Publish and Enqueue (nil: no session).
func (c *Consumer) setPublisher(pub *amqppub.Publisher) {
	c.pubMu.Lock()
	c.pub = pub
	c.pubMu.Unlock()
}

// process handles one delivery and settles it exactly once. Events waiting for the circuit
// breaker or another worker's lease are requeued when shutdown starts.
func (s *session) process(w *work) {
	c := s.c
	start := c.cfg.Now()
	log := &eventLog{base: c.log, w: w}
	if w.err != nil {
		// No object: the body named none that could be read.
		log.get().Warn("malformed event; dead-lettering", "message_id", w.d.MessageId, "body_bytes", len(w.d.Body), "error", w.err)
		s.deadLetter(w, w.err, 1, start)
		return
	}
	if !c.handles(w.ev.Type) {
		log.get().Info("event type not handled; acknowledged")
		c.settle(w, OutcomeUnhandled, "", c.cfg.Now().Sub(start), w.ack())
		return
	}
	attempts, lastErr, err := c.attempt(s.workCtx, s.stopping, w.ev, log)
	took := c.cfg.Now().Sub(start)
	switch {
	case err == nil:
		c.settle(w, OutcomeDone, "", took, w.ack())
	case s.workCtx.Err() != nil, errors.Is(err, errInterrupted):
		log.get().Info("event interrupted; requeued", "attempts", attempts)
		c.settle(w, OutcomeRequeued, "", took, w.requeue())
	case errors.Is(lastErr, ErrUnhandled):
		// The queue is bound to a type the handler does not act on (yet): acknowledge it like
		// an unbound type rather than dead-lettering every such event.
		log.get().Info("event type not handled by the handler; acknowledged", "error", lastErr)
		c.settle(w, OutcomeUnhandled, "", took, w.ack())
	default:
		if lastErr == nil {
			lastErr = err
		}
		log.get().Error("event failed; dead-lettering", "error", lastErr, "attempts", attempts, "class", errorClass(lastErr))
		s.deadLetter(w, lastErr, attempts, start)
	}
}

// eventLog is the logger of one event, with its routing key and (when the body named one) its
// object, made on first use: most events are handled without a log line, and slog's With
// formats its attributes at once. It belongs to the worker processing the event.
type eventLog struct {
	base *slog.Logger
	w    *work
	l    *slog.Logger
}

// get returns the event's logger.
func (e *eventLog) get() *slog.Logger {
	if e.l == nil {
		e.l = e.base.With("routing_key", e.w.d.RoutingKey)
		if e.w.err == nil {
			e.l = e.l.With("object", e.w.ev.UUID.String())
		}
	}
	return e.l
}

// deadLetter publishes the delivery to the dead-letter exchange with the reason, then acks it. If
// publishing fails the delivery is requeued instead, so it is never lost.
func (s *session) deadLetter(w *work, cause error, attempts int, start time.Time) {
	c := s.c
	class := errorClass(cause)
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(s.workCtx), 30*time.Second)
	defer cancel()
	if err := s.dl.publish(pubCtx, w.d, cause, class, attempts, c.cfg.Now(), c.cfg.NewID); err != nil {
		c.log.Error("could not dead-letter event; requeueing it", "routing_key", w.d.RoutingKey, "error", err)
		c.settle(w, OutcomeRequeued, class, c.cfg.Now().Sub(start), w.requeue())
		return
	}
	// Coalesced duplicates are acknowledged: the dead-lettered event stands for them (a replay
	// reads OS2MO's state as it is then).
	c.settle(w, OutcomeDeadLettered, class, c.cfg.Now().Sub(start), w.ack())
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
