// Package bridge brings OS2MO's GraphQL events into the integration's own RabbitMQ queue.
//
// A current OS2MO offers change events through GraphQL rather than AMQP: an integration declares
// one listener per object type (event_listener_declare), fetches due events one at a time
// (event_fetch) and acknowledges each handled one (event_acknowledge). There is no negative
// acknowledgement: OS2MO offers an unacknowledged event again after a back-off of at least three
// minutes. The bridge declares the listeners, fetches with a configurable number of fetchers per
// listener, publishes every event to the integration's exchange exactly as OS2MO's AMQP subsystem
// would (routing key = object type, body = the subject as a JSON string), waits for the broker's
// confirm and only then acknowledges the event in OS2MO. So RabbitMQ stays the durable work queue
// (coalescing, per-object ordering, retries, dead-lettering, replay), and:
//
//   - an event that cannot be published is not acknowledged: OS2MO keeps it and offers it again;
//   - a crash between the confirm and the acknowledgement only duplicates an event, which the
//     pipeline handles as a no-op (its last-sent records);
//   - a change made while an earlier event of the same subject is in flight bumps that event's
//     generation in OS2MO, so the older token cannot acknowledge it: the newer change is offered
//     again.
//
// While a listener has no work, one fetcher polls: 100 ms after the last event it found, doubling
// the wait after each empty poll up to Config.PollInterval (so a quiet listener costs one small
// query per interval, and a steady trickle of changes is picked up within a few hundred
// milliseconds). The first event it finds wakes the listener's other fetchers, which fetch until
// OS2MO has nothing due. While OS2MO fails, fetching backs off (jittered, up to Config.RetryMax) and [Bridge.Healthy]
// reports the failure; while the broker session is down nothing is fetched, so no event is taken
// out of OS2MO's hands that could not be published.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// Source is OS2MO's GraphQL event API. [*moclient.Client] implements it.
type Source interface {
	// DeclareListener declares, idempotently, the listener (namespace, userKey) for routingKey.
	DeclareListener(ctx context.Context, namespace, userKey, routingKey string) (uuid.UUID, error)
	// FetchEvent takes the next due event of listener, or nil when none is due.
	FetchEvent(ctx context.Context, listener uuid.UUID) (*moclient.Event, error)
	// AcknowledgeEvent acknowledges a handled event.
	AcknowledgeEvent(ctx context.Context, token string) error
}

// Sink is the integration's work queue. [*consumer.Consumer] implements it.
type Sink interface {
	// Publish publishes msg with routingKey and returns once the broker has confirmed it.
	Publish(ctx context.Context, routingKey string, msg amqp.Publishing) error
	// Ready reports whether a broker session is live (Publish can succeed).
	Ready() bool
}

// Step is what happened to one event, or one poll, of a listener (for metrics).
type Step string

// The steps an [Observer] is told of.
const (
	// StepFetched: event_fetch handed out an event.
	StepFetched Step = "fetched"
	// StepEmpty: event_fetch had nothing due.
	StepEmpty Step = "empty_poll"
	// StepPublished: the broker confirmed the event.
	StepPublished Step = "published"
	// StepAcknowledged: OS2MO accepted the acknowledgement.
	StepAcknowledged Step = "acknowledged"
)

// Stage is where the bridge failed (for metrics and logs).
type Stage string

// The stages that can fail.
const (
	// StageDeclare: declaring a listener (at start).
	StageDeclare Stage = "declare"
	// StageFetch: event_fetch (OS2MO unreachable or refusing).
	StageFetch Stage = "fetch"
	// StagePublish: publishing to the broker (the event stays unacknowledged in OS2MO).
	StagePublish Stage = "publish"
	// StageAcknowledge: event_acknowledge after a confirmed publish (OS2MO offers the event
	// again later: a harmless duplicate).
	StageAcknowledge Stage = "acknowledge"
)

// Observer is told of every step and failure, by routing key. It must be safe for concurrent use.
type Observer interface {
	BridgeStep(routingKey string, step Step)
	BridgeError(routingKey string, stage Stage)
}

// HeaderSource marks the messages the bridge publishes ("os2mo-graphql-events"), so that an event
// in the dead-letter queue tells where it came from.
const HeaderSource = "x-event-source"

// HeaderPriority carries the OS2MO event's priority (1 is the highest) for inspection; the quorum
// queue does not order by it.
const HeaderPriority = "x-os2mo-priority"

// Config configures a Bridge. Zero values take the defaults documented on each field.
type Config struct {
	// RoutingKeys are the object types to listen for, one listener each (required): the work
	// queue's routing keys.
	RoutingKeys []string
	// Namespace is OS2MO's event namespace (default "mo", OS2MO's own public namespace).
	Namespace string
	// UserKeyPrefix names the listeners: user_key = prefix + routing key (default "stsorgsync_").
	// OS2MO keeps one listener per (owner, namespace, user_key), the owner being the Keycloak
	// client, so every process with the same client and prefix shares the listeners.
	UserKeyPrefix string
	// Parallelism is the number of fetchers per listener (default 4).
	Parallelism int
	// PollInterval is the longest a listener's poller waits after OS2MO had nothing due (default
	// 2s): after an event it waits 100 ms, doubling with each empty poll up to this.
	PollInterval time.Duration
	// RetryMax caps the jittered wait between attempts while OS2MO's event API fails (default 30s;
	// the first wait is about a second).
	RetryMax time.Duration
	// PublishTimeout bounds one publish, confirm included (default 10s).
	PublishTimeout time.Duration
	// AckTimeout bounds one acknowledgement; an acknowledgement due at shutdown still gets it
	// (default 10s).
	AckTimeout time.Duration
	// Observer is told of every step (default none).
	Observer Observer
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = "mo"
	}
	if c.UserKeyPrefix == "" {
		c.UserKeyPrefix = "stsorgsync_"
	}
	if c.Parallelism == 0 {
		c.Parallelism = 4
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PollInterval, 2*time.Second)
	def(&c.RetryMax, 30*time.Second)
	def(&c.PublishTimeout, 10*time.Second)
	def(&c.AckTimeout, 10*time.Second)
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.RoutingKeys) == 0 {
		errs = append(errs, errors.New("no routing keys: the bridge needs at least one object type to listen for"))
	}
	seen := map[string]bool{}
	for _, k := range c.RoutingKeys {
		if k == "" {
			errs = append(errs, errors.New("an empty routing key"))
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("routing key %q listed twice", k))
		}
		seen[k] = true
	}
	if c.Parallelism < 0 || c.Parallelism > 64 {
		errs = append(errs, fmt.Errorf("parallelism %d: want 1 to 64 fetchers per listener", c.Parallelism))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"poll interval", c.PollInterval}, {"retry max", c.RetryMax}, {"publish timeout", c.PublishTimeout}, {"ack timeout", c.AckTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s must not be negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

type nopObserver struct{}

func (nopObserver) BridgeStep(string, Step)   {}
func (nopObserver) BridgeError(string, Stage) {}

// Bridge moves OS2MO's GraphQL events into the work queue. Create it with New; Run it once.
type Bridge struct {
	cfg  Config
	src  Source
	sink Sink
	log  *slog.Logger

	mu       sync.Mutex
	declared bool
	failing  map[string]failure // by routing key: the listener's fetches fail
}

// failure is a listener's current trouble: since when, and the last error.
type failure struct {
	since time.Time
	err   error
}

// New returns a Bridge, or the configuration's errors.
func New(cfg Config, src Source, sink Sink) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("GraphQL event bridge: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Bridge{cfg: cfg, src: src, sink: sink, log: cfg.Logger.With("component", "bridge"), failing: map[string]failure{}}, nil
}

// Healthy returns nil once every listener is declared and while OS2MO answers every listener's
// fetches; otherwise an error saying what fails since when (for /readyz).
func (b *Bridge) Healthy() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.declared {
		if f, ok := b.failing[""]; ok {
			return fmt.Errorf("declaring OS2MO event listeners fails since %s: %w", f.since.Format(time.RFC3339), f.err)
		}
		return errors.New("declaring OS2MO event listeners")
	}
	for key, f := range b.failing {
		return fmt.Errorf("fetching %s events from OS2MO fails since %s: %w", key, f.since.Format(time.RFC3339), f.err)
	}
	return nil
}

// setFailing records (err != nil) or clears the trouble of a routing key ("" = declaring).
func (b *Bridge) setFailing(key string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.failing, key)
		return
	}
	f, ok := b.failing[key]
	if !ok {
		f.since = b.cfg.Now()
	}
	f.err = err
	b.failing[key] = f
}

// Run declares the listeners and moves events until ctx ends; then it finishes the event each
// fetcher holds (publishes and acknowledges it, within PublishTimeout and AckTimeout) and returns
// nil. The Sink must stay usable until Run has returned.
// It returns an error only if OS2MO refuses to declare a listener for a reason a retry cannot
// fix: a GraphQL error (an OS2MO without the event system, a client without the rights, a name
// OS2MO refuses) or wrong credentials. While OS2MO cannot be reached it retries.
func (b *Bridge) Run(ctx context.Context) error {
	listeners, err := b.declare(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	var wg sync.WaitGroup
	for key, id := range listeners {
		l := &listener{b: b, key: key, id: id, wake: make(chan struct{}, b.cfg.Parallelism)}
		wg.Go(func() { l.poll(ctx) })
		for range b.cfg.Parallelism - 1 {
			wg.Go(func() { l.help(ctx) })
		}
	}
	b.log.Info("bridging OS2MO's GraphQL events into the work queue", "listeners", len(listeners),
		"fetchers_per_listener", b.cfg.Parallelism, "poll_interval", b.cfg.PollInterval)
	wg.Wait()
	return nil
}

// declare declares every listener, retrying transient failures until ctx ends.
func (b *Bridge) declare(ctx context.Context) (map[string]uuid.UUID, error) {
	out := make(map[string]uuid.UUID, len(b.cfg.RoutingKeys))
	wait := b.backoff()
	for _, key := range b.cfg.RoutingKeys {
		userKey := b.cfg.UserKeyPrefix + key
		for {
			id, err := b.src.DeclareListener(ctx, b.cfg.Namespace, userKey, key)
			if err == nil {
				out[key] = id
				b.log.Info("OS2MO event listener declared", "routing_key", key, "user_key", userKey, "listener", id.String())
				break
			}
			if ctx.Err() != nil {
				return nil, nil
			}
			b.cfg.Observer.BridgeError(key, StageDeclare)
			b.setFailing("", err)
			// OS2MO answering with a GraphQL error (no event system, no rights, a refused
			// name) will answer the same on the next attempt: stop and say so.
			var gqlErr *moclient.GraphQLError
			if errors.As(err, &gqlErr) || !retryable(err) {
				return nil, fmt.Errorf("OS2MO refused to declare the event listener %q (namespace %q, routing key %q): %w; "+
					"EVENT_SOURCE=graphql needs an OS2MO with GraphQL events (2025-04 or later) and a Keycloak client allowed to use them, "+
					"else use EVENT_SOURCE=amqp", userKey, b.cfg.Namespace, key, err)
			}
			d := wait.NextBackOff()
			b.log.Error("declaring an OS2MO event listener failed; retrying", "routing_key", key, "error", err, "retry_in", d)
			if !sleep(ctx, d) {
				return nil, nil
			}
		}
	}
	b.mu.Lock()
	b.declared = true
	delete(b.failing, "")
	b.mu.Unlock()
	return out, nil
}

// retryable reports whether a later attempt may succeed (errors with a Retryable method say so;
// anything else, a network error included, is taken as transient).
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return true
}

// backoff returns the jittered wait policy used while OS2MO fails: about 1s, doubling, capped at
// RetryMax, never giving up.
func (b *Bridge) backoff() *backoff.ExponentialBackOff {
	p := backoff.NewExponentialBackOff()
	p.InitialInterval = min(time.Second, b.cfg.RetryMax)
	p.MaxInterval = b.cfg.RetryMax
	p.MaxElapsedTime = 0
	p.RandomizationFactor = 0.5
	p.Reset()
	return p
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// listener is one declared listener and its fetchers.
type listener struct {
	b    *Bridge
	key  string
	id   uuid.UUID
	wake chan struct{} // signals the helpers that events are due
}

// sinkPoll is how often a fetcher looks whether the broker session is back.
const sinkPoll = 100 * time.Millisecond

// waitSink waits until the broker session is live; false if ctx ended first. Nothing is fetched
// without it: a fetched event that cannot be published waits minutes for OS2MO to offer it again.
func (l *listener) waitSink(ctx context.Context) bool {
	for !l.b.sink.Ready() {
		if !sleep(ctx, sinkPoll) {
			return false
		}
	}
	return true
}

// activePoll is the poller's first wait after it found an event: while changes keep coming it
// looks again soon, and each empty poll doubles the wait up to Config.PollInterval.
const activePoll = 100 * time.Millisecond

// poll is the listener's first fetcher: it polls while there is nothing due (soon after the last
// event, then less and less often, down to once per PollInterval), backs off while OS2MO fails,
// and wakes the helpers when it finds an event.
func (l *listener) poll(ctx context.Context) {
	var ack acker
	defer ack.wait()
	wait := l.b.backoff()
	idle := l.b.cfg.PollInterval
	for l.waitSink(ctx) {
		ev, err := l.b.src.FetchEvent(ctx, l.id)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.b.cfg.Observer.BridgeError(l.key, StageFetch)
			l.b.setFailing(l.key, err)
			d := wait.NextBackOff()
			l.b.log.Warn("fetching OS2MO events failed; retrying", "routing_key", l.key, "error", err, "retry_in", d)
			if !sleep(ctx, d) {
				return
			}
			continue
		}
		l.b.setFailing(l.key, nil)
		wait.Reset()
		if ev == nil {
			l.b.cfg.Observer.BridgeStep(l.key, StepEmpty)
			if !sleep(ctx, idle) {
				return
			}
			idle = min(2*idle, l.b.cfg.PollInterval)
			continue
		}
		idle = min(activePoll, l.b.cfg.PollInterval)
		for range cap(l.wake) {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
		l.handle(ctx, ev, &ack)
	}
}

// help is one of the listener's other fetchers: woken by the poller, it fetches until OS2MO has
// nothing due or fails (the poller deals with failures), then waits to be woken again.
func (l *listener) help(ctx context.Context) {
	var ack acker
	defer ack.wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for l.waitSink(ctx) {
			ev, err := l.b.src.FetchEvent(ctx, l.id)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				l.b.cfg.Observer.BridgeError(l.key, StageFetch)
				break
			}
			if ev == nil {
				l.b.cfg.Observer.BridgeStep(l.key, StepEmpty)
				break
			}
			l.handle(ctx, ev, &ack)
		}
	}
}

// acker runs one fetcher's acknowledgements in the background, one at a time: the fetcher
// fetches and publishes the next event while OS2MO takes the previous acknowledgement, and waits
// for it before it starts the next one (so at most one is outstanding per fetcher).
type acker struct{ done chan struct{} }

// wait waits for the outstanding acknowledgement, if any.
func (a *acker) wait() {
	if a.done != nil {
		<-a.done
		a.done = nil
	}
}

// start runs ack in the background after the previous one has finished.
func (a *acker) start(ack func()) {
	a.wait()
	done := make(chan struct{})
	a.done = done
	go func() {
		defer close(done)
		ack()
	}()
}

// handle publishes one fetched event and, once the broker confirmed it, acknowledges it (through
// ack, in the background).
func (l *listener) handle(ctx context.Context, ev *moclient.Event, ack *acker) {
	l.b.cfg.Observer.BridgeStep(l.key, StepFetched)
	log := l.b.log.With("routing_key", l.key, "subject", ev.Subject)
	body, err := json.Marshal(ev.Subject)
	if err != nil { // a Go string always marshals; kept for the contract
		log.Error("encoding an OS2MO event failed; not acknowledged", "error", err)
		return
	}
	// A fetched event is published even if shutdown has begun: the broker session outlives the
	// bridge, and an event left unpublished would wait minutes in OS2MO.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.b.cfg.PublishTimeout)
	err = l.b.sink.Publish(pctx, l.key, amqp.Publishing{
		ContentType: "application/json",
		Headers:     amqp.Table{HeaderSource: "os2mo-graphql-events", HeaderPriority: int32(ev.Priority)},
		Body:        body,
	})
	cancel()
	if err != nil {
		l.b.cfg.Observer.BridgeError(l.key, StagePublish)
		log.Warn("publishing an OS2MO event to the work queue failed; not acknowledged, OS2MO offers it again after its back-off (3 minutes or more)", "error", err)
		return
	}
	l.b.cfg.Observer.BridgeStep(l.key, StepPublished)
	// The event is in the queue: acknowledge it even if shutdown has begun.
	ack.start(func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.b.cfg.AckTimeout)
		defer cancel()
		if err := l.b.src.AcknowledgeEvent(actx, ev.Token); err != nil {
			l.b.cfg.Observer.BridgeError(l.key, StageAcknowledge)
			log.Warn("acknowledging an OS2MO event failed; OS2MO offers it again later, a duplicate the pipeline finds unchanged", "error", err)
			return
		}
		l.b.cfg.Observer.BridgeStep(l.key, StepAcknowledged)
	})
}
