package motest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
)

// DefaultExchange is the exchange OS2MO publishes its events to.
const DefaultExchange = "os2mo"

// PublisherOptions configures a [Publisher]; the zero value publishes exactly like OS2MO's current
// AMQP subsystem, once and at once.
type PublisherOptions struct {
	// Exchange is the topic exchange (default "os2mo").
	Exchange string
	// Legacy also sends the deprecated trigger messages of each event (see [Event.Legacy]), as an
	// OS2MO with the legacy AMQP trigger enabled does.
	Legacy bool
	// Duplicates is the probability (0…1) that a message is sent twice: OS2MO delivers at least
	// once and may repeat events.
	Duplicates float64
	// MaxDelay, when positive, delays each event by a random duration in [MinDelay, MaxDelay], as
	// OS2MO's event generator (which sleeps 5–90 s between runs) does. Publish then returns at once
	// and the event is sent in the background; Close sends what is still waiting.
	MinDelay, MaxDelay time.Duration
	// Seed seeds the randomness of duplicates and delays.
	Seed uint64
	// After is the clock for delays (default time.After).
	After func(time.Duration) <-chan time.Time
	// Logger receives failures of delayed sends (default discards).
	Logger *slog.Logger
}

// Publisher emits OS2MO-style change events: on the durable topic exchange os2mo, routing key =
// object type, body = the object's UUID as a JSON string (with the quotes), and no message
// properties at all — exactly what OS2MO's ramqp publisher sends — optionally with legacy keys,
// duplicates and delays (see [PublisherOptions]). It uses publisher confirms, so a nil error from
// an undelayed [Publisher.Publish] means the broker accepted the message. It is safe for
// concurrent use.
//
// Like a real client it rides out a broker restart: a message whose publish fails, or whose
// confirm does not come (the channel or connection was lost, the broker nacked it), is sent again
// on a new channel — for a publisher made by [DialPublisher], on a new connection — after a wait
// that starts at 100 ms and doubles up to 2 s, until it is confirmed or the context ends; then
// Publish returns the context's error with the last failure. Nothing is dropped silently; a
// message whose confirm was lost with the connection may arrive twice (at least once, as from
// OS2MO). A publisher made by [NewPublisher] on a connection of the caller's reopens its channel
// but never redials: once that connection is closed, Publish fails at once.
type Publisher struct {
	opts   PublisherOptions
	dialer *amqpdial.Dialer // DialPublisher: redials after a lost connection; nil for NewPublisher
	owned  bool             // conn is the publisher's own (closed by Close)
	log    *slog.Logger

	mu     sync.Mutex // guards conn, ch and shut; serialises publishes on ch (channels are not thread-safe)
	conn   *amqp.Connection
	ch     *amqp.Channel // nil while it has to be (re)opened
	shut   bool          // Close has closed the channel and connection
	redial int           // connections dialled after the first (Reconnects)

	rngMu sync.Mutex // guards rng
	rng   *rand.Rand

	closeMu sync.Mutex     // guards closed and pending.Add against Close
	closed  bool           // set by Close
	pending sync.WaitGroup // delayed sends
	closing chan struct{}  // closed by Close: delayed sends go out at once
}

// NewPublisher opens a confirm-mode channel on conn and declares the exchange (default "os2mo")
// as OS2MO does: topic, durable, not auto-deleted. Close closes the channel, not conn.
func NewPublisher(conn *amqp.Connection, exchange string) (*Publisher, error) {
	return NewPublisherWithOptions(conn, PublisherOptions{Exchange: exchange})
}

// NewPublisherWithOptions is [NewPublisher] with options.
func NewPublisherWithOptions(conn *amqp.Connection, opts PublisherOptions) (*Publisher, error) {
	if opts.Exchange == "" {
		opts.Exchange = DefaultExchange
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Duplicates < 0 || opts.Duplicates > 1 {
		return nil, fmt.Errorf("motest: Duplicates must be between 0 and 1, got %v", opts.Duplicates)
	}
	if opts.MaxDelay > 0 && opts.MinDelay > opts.MaxDelay {
		return nil, fmt.Errorf("motest: MinDelay %v exceeds MaxDelay %v", opts.MinDelay, opts.MaxDelay)
	}
	ch, err := openChannel(conn, opts.Exchange)
	if err != nil {
		return nil, err
	}
	return &Publisher{opts: opts, conn: conn, ch: ch, log: opts.Logger, rng: rand.New(rand.NewPCG(opts.Seed, 0x6576656e7473)),
		closing: make(chan struct{})}, nil
}

// openChannel opens a confirm-mode channel on conn and declares the exchange as OS2MO does:
// topic, durable, not auto-deleted.
func openChannel(conn *amqp.Connection, exchange string) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("motest: opening AMQP channel: %w", err)
	}
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("motest: declaring exchange %q (topic, durable): %w", exchange, err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("motest: enabling publisher confirms: %w", err)
	}
	return ch, nil
}

// dial connects as "fakemo publisher" to the first node of d that takes the connection.
func dial(d *amqpdial.Dialer) (*amqp.Connection, error) {
	conn, _, err := d.Dial(context.Background(), "fakemo publisher")
	if err != nil {
		return nil, fmt.Errorf("motest: connecting to AMQP broker: %w", err)
	}
	return conn, nil
}

// DialPublisher connects to url (one AMQP URL, or a cluster's comma-separated node URLs: a lost
// connection is redialled starting at the next node) and returns a publisher that owns the
// connection.
func DialPublisher(url, exchange string) (*Publisher, error) {
	return DialPublisherWithOptions(url, PublisherOptions{Exchange: exchange})
}

// DialPublisherWithOptions is [DialPublisher] with options.
// The first connection must succeed; later ones are redialled as needed (see [Publisher]).
func DialPublisherWithOptions(url string, opts PublisherOptions) (*Publisher, error) {
	d, err := amqpdial.New(amqpdial.Config{URLs: url, Timeout: 5 * time.Second, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("motest: AMQP URL: %w", err)
	}
	conn, err := dial(d)
	if err != nil {
		return nil, err
	}
	p, err := NewPublisherWithOptions(conn, opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	p.owned, p.dialer = true, d
	return p, nil
}

// Reconnects returns how many connections the publisher dialled after its first one (broker
// restarts or lost connections it rode out).
func (p *Publisher) Reconnects() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.redial
}

// Publish sends one new-style event (no legacy messages: there are no owners) and, unless
// delayed, waits for the broker's confirm.
func (p *Publisher) Publish(ctx context.Context, objectType string, id uuid.UUID) error {
	return p.PublishEvent(ctx, Event{ObjectType: objectType, UUID: id})
}

// PublishEvent sends e: its new-style message, its legacy messages if enabled, each possibly
// twice, possibly after a delay.
func (p *Publisher) PublishEvent(ctx context.Context, e Event) error {
	if e.ObjectType == "" {
		return errors.New("motest: Publish: empty object type")
	}
	msgs := []Message{e.NewStyle()}
	if p.opts.Legacy {
		msgs = append(msgs, e.Legacy()...)
	}
	p.rngMu.Lock()
	var out []Message
	for _, m := range msgs {
		out = append(out, m)
		if p.opts.Duplicates > 0 && p.rng.Float64() < p.opts.Duplicates {
			out = append(out, m)
		}
	}
	var delay time.Duration
	if p.opts.MaxDelay > 0 {
		delay = p.opts.MinDelay + time.Duration(p.rng.Int64N(int64(p.opts.MaxDelay-p.opts.MinDelay)+1))
	}
	p.rngMu.Unlock()
	if delay == 0 {
		return p.sendAll(ctx, e, out)
	}
	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		return errClosed
	}
	p.pending.Add(1)
	p.closeMu.Unlock()
	go func() {
		defer p.pending.Done()
		select {
		case <-p.opts.After(delay):
		case <-p.closing:
		}
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := p.sendAll(sendCtx, e, out); err != nil {
			p.log.Error("sending delayed OS2MO event failed", "object_type", e.ObjectType, "uuid", e.UUID, "error", err)
		}
	}()
	return nil
}

func (p *Publisher) sendAll(ctx context.Context, e Event, msgs []Message) error {
	for _, m := range msgs {
		if err := p.send(ctx, m); err != nil {
			return fmt.Errorf("motest: publishing %s event for %s: %w", e.ObjectType, e.UUID, err)
		}
	}
	return nil
}

// errClosed says the publisher was closed, errNoRedial that its caller's connection is gone: both
// end the retries of send.
var (
	errClosed   = errors.New("motest: publisher is closed")
	errNoRedial = errors.New("the connection is closed and a publisher made by NewPublisher does not redial (use DialPublisher)")
)

// Waits between the attempts at one message: the first 50–100 ms, doubling up to retryMax.
const (
	retryInitial = 100 * time.Millisecond
	retryMax     = 2 * time.Second
)

// send publishes one message without properties and waits for its confirm, retrying on a new
// channel or connection until it is confirmed or ctx ends (see [Publisher]).
func (p *Publisher) send(ctx context.Context, m Message) error {
	for attempt := 1; ; attempt++ {
		err := p.sendOnce(ctx, m)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errClosed), errors.Is(err, errNoRedial):
			return fmt.Errorf("routing key %s: %w", m.RoutingKey, err)
		case ctx.Err() != nil:
			return fmt.Errorf("routing key %s: not confirmed when the context ended: %w (last attempt: %w)", m.RoutingKey, ctx.Err(), err)
		}
		wait := p.retryWait(attempt)
		p.log.Warn("publishing OS2MO event failed; retrying", "routing_key", m.RoutingKey, "attempt", attempt,
			"retry_in", wait.String(), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("routing key %s: not confirmed when the context ended: %w (last attempt: %w)", m.RoutingKey, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// retryWait returns the wait before retry n: retryInitial·2^(n-1) capped at retryMax, of which
// the second half is random.
func (p *Publisher) retryWait(n int) time.Duration {
	nominal := retryInitial
	for i := 1; i < n && nominal < retryMax; i++ {
		nominal = min(2*nominal, retryMax)
	}
	half := nominal / 2
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return nominal - half + time.Duration(p.rng.Int64N(int64(half)+1))
}

// sendOnce makes one attempt: publish on the current channel (opened anew if it was lost) and
// wait for the confirm.
func (p *Publisher) sendOnce(ctx context.Context, m Message) error {
	p.mu.Lock()
	ch, err := p.channel()
	if err != nil {
		p.mu.Unlock()
		return err
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.opts.Exchange, m.RoutingKey, false, false, amqp.Publishing{Body: m.Body})
	p.mu.Unlock()
	if err != nil {
		p.drop(ch)
		return fmt.Errorf("publish: %w", err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("waiting for confirm: %w", err)
	}
	if !acked {
		// A nack, or the channel closed before the confirm came (pending confirms are nacked).
		p.drop(ch)
		return errors.New("broker nacked the message or the channel closed before confirming it")
	}
	return nil
}

// channel returns the confirm-mode channel, opening a new one (and for a dialled publisher a new
// connection) if it was lost. Requires p.mu.
func (p *Publisher) channel() (*amqp.Channel, error) {
	if p.shut {
		return nil, errClosed
	}
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	p.ch = nil
	if p.conn.IsClosed() {
		if p.dialer == nil {
			return nil, errNoRedial
		}
		conn, err := dial(p.dialer)
		if err != nil {
			return nil, err
		}
		p.conn = conn
		p.redial++
		p.log.Info("AMQP publisher reconnected", "reconnects", p.redial)
	}
	ch, err := openChannel(p.conn, p.opts.Exchange)
	if err != nil {
		if p.dialer != nil {
			_ = p.conn.Close() // start afresh next time; the broker may still be booting
		}
		return nil, err
	}
	p.ch = ch
	return ch, nil
}

// drop forgets ch if it is still the current channel and closes it, so that the next attempt
// opens a new one.
func (p *Publisher) drop(ch *amqp.Channel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == ch {
		p.ch = nil
	}
	_ = ch.Close()
}

// Close sends the delayed events still waiting, then closes the channel, and the connection if
// the publisher dialled it.
func (p *Publisher) Close() error {
	p.closeMu.Lock()
	if !p.closed {
		p.closed = true
		close(p.closing)
	}
	p.closeMu.Unlock()
	p.pending.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
	var err error
	if p.ch != nil {
		if cerr := p.ch.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
			err = cerr
		}
		p.ch = nil
	}
	if p.owned {
		if cerr := p.conn.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return fmt.Errorf("motest: closing publisher: %w", err)
	}
	return nil
}
