package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Dead-letter headers set on every event the consumer dead-letters itself (never "x-" headers,
// which belong to the broker).
const (
	HeaderError              = "error"
	HeaderErrorClass         = "error-class"
	HeaderAttempts           = "attempts"
	HeaderFailedAt           = "failed-at"
	HeaderOriginalRoutingKey = "original-routing-key"
	HeaderOriginalExchange   = "original-exchange"
)

// maxErrorHeader bounds the error text stored in a header.
const maxErrorHeader = 2000

// deadLetterer publishes to the dead-letter exchange on its own connection with publisher
// confirms and mandatory routing, one message at a time.
type deadLetterer struct {
	mu       sync.Mutex
	ch       *amqp.Channel
	exchange string
	returns  chan amqp.Return
}

func newDeadLetterer(conn *amqp.Connection, exchange string) (*deadLetterer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open dead-letter channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms on dead-letter channel: %w", err)
	}
	return &deadLetterer{ch: ch, exchange: exchange, returns: ch.NotifyReturn(make(chan amqp.Return, 1))}, nil
}

// publish copies d (body and properties) to the dead-letter exchange with the failure headers and
// waits for the broker's confirm. A returned (unroutable) message is an error.
func (p *deadLetterer) publish(ctx context.Context, d amqp.Delivery, cause error, class string, attempts int, now time.Time) error {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	msg := cause.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader] + "…"
	}
	headers[HeaderError] = msg
	headers[HeaderErrorClass] = class
	headers[HeaderAttempts] = int64(attempts)
	headers[HeaderFailedAt] = now.UTC().Format(time.RFC3339Nano)
	if _, ok := d.Headers[HeaderOriginalRoutingKey]; !ok {
		headers[HeaderOriginalRoutingKey] = d.RoutingKey
		headers[HeaderOriginalExchange] = d.Exchange
	}
	msgID := d.MessageId
	if msgID == "" {
		msgID = uuid.NewString()
	}
	pub := amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		MessageId: msgID, Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body,
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, d.RoutingKey, true, false, pub)
	if err != nil {
		return fmt.Errorf("publish to dead-letter exchange %q: %w", p.exchange, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for dead-letter confirm: %w", err)
	}
	if !ok {
		return errors.New("broker nacked the dead-letter publish")
	}
	select {
	case r := <-p.returns:
		return fmt.Errorf("dead-letter exchange %q has no queue bound (returned: %s %s)", p.exchange, strconv.Itoa(int(r.ReplyCode)), r.ReplyText)
	default:
		return nil
	}
}
