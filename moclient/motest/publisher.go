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
type Publisher struct {
	opts  PublisherOptions
	conn  *amqp.Connection // closed by Close only if owned
	owned bool
	log   *slog.Logger

	mu sync.Mutex // serialises publishes on ch (channels are not thread-safe)
	ch *amqp.Channel

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
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("motest: opening AMQP channel: %w", err)
	}
	if err := ch.ExchangeDeclare(opts.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("motest: declaring exchange %q (topic, durable): %w", opts.Exchange, err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("motest: enabling publisher confirms: %w", err)
	}
	return &Publisher{opts: opts, conn: conn, ch: ch, log: opts.Logger, rng: rand.New(rand.NewPCG(opts.Seed, 0x6576656e7473)),
		closing: make(chan struct{})}, nil
}

// DialPublisher connects to url and returns a publisher that owns the connection.
func DialPublisher(url, exchange string) (*Publisher, error) {
	return DialPublisherWithOptions(url, PublisherOptions{Exchange: exchange})
}

// DialPublisherWithOptions is [DialPublisher] with options.
func DialPublisherWithOptions(url string, opts PublisherOptions) (*Publisher, error) {
	cfg := amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US", Properties: amqp.NewConnectionProperties()}
	cfg.Properties.SetClientConnectionName("fakemo publisher")
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, fmt.Errorf("motest: connecting to AMQP broker: %w", err)
	}
	p, err := NewPublisherWithOptions(conn, opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	p.owned = true
	return p, nil
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
		return errors.New("motest: publisher is closed")
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

// send publishes one message without properties and waits for its confirm.
func (p *Publisher) send(ctx context.Context, m Message) error {
	p.mu.Lock()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.opts.Exchange, m.RoutingKey, false, false, amqp.Publishing{Body: m.Body})
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("routing key %s: %w", m.RoutingKey, err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("waiting for confirm (routing key %s): %w", m.RoutingKey, err)
	}
	if !acked {
		return fmt.Errorf("broker nacked routing key %s", m.RoutingKey)
	}
	return nil
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
	err := p.ch.Close()
	if p.owned {
		err = errors.Join(err, p.conn.Close())
	}
	if err != nil {
		return fmt.Errorf("motest: closing publisher: %w", err)
	}
	return nil
}
