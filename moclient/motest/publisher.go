package motest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultExchange is the exchange OS2MO publishes its events to.
const DefaultExchange = "os2mo"

// Publisher emits OS2MO-style ("new AMQP subsystem") change events: on the durable topic
// exchange os2mo, routing key = object type, body = the object's UUID as a JSON string (with the
// quotes), and no message properties at all — exactly what OS2MO's ramqp publisher sends. It uses
// publisher confirms, so a nil error from [Publisher.Publish] means the broker accepted the
// message. It is safe for concurrent use.
type Publisher struct {
	exchange string
	conn     *amqp.Connection // closed by Close only if owned
	owned    bool

	mu sync.Mutex // serialises publishes on ch (channels are not thread-safe)
	ch *amqp.Channel
}

// NewPublisher opens a confirm-mode channel on conn and declares the exchange (default "os2mo")
// as OS2MO does: topic, durable, not auto-deleted. Close closes the channel, not conn.
func NewPublisher(conn *amqp.Connection, exchange string) (*Publisher, error) {
	if exchange == "" {
		exchange = DefaultExchange
	}
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
	return &Publisher{exchange: exchange, conn: conn, ch: ch}, nil
}

// DialPublisher connects to url and returns a publisher that owns the connection.
func DialPublisher(url, exchange string) (*Publisher, error) {
	cfg := amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US", Properties: amqp.NewConnectionProperties()}
	cfg.Properties.SetClientConnectionName("fakemo publisher")
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, fmt.Errorf("motest: connecting to AMQP broker: %w", err)
	}
	p, err := NewPublisher(conn, exchange)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	p.owned = true
	return p, nil
}

// Publish sends one event and waits for the broker's confirm.
func (p *Publisher) Publish(ctx context.Context, objectType string, id uuid.UUID) error {
	if objectType == "" {
		return errors.New("motest: Publish: empty object type")
	}
	body, err := json.Marshal(id.String())
	if err != nil {
		return fmt.Errorf("motest: encoding event body: %w", err)
	}
	p.mu.Lock()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, objectType, false, false, amqp.Publishing{Body: body})
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("motest: publishing %s event for %s: %w", objectType, id, err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("motest: waiting for confirm of %s event for %s: %w", objectType, id, err)
	}
	if !acked {
		return fmt.Errorf("motest: broker nacked %s event for %s", objectType, id)
	}
	return nil
}

// Close closes the channel, and the connection if the publisher dialled it.
func (p *Publisher) Close() error {
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
