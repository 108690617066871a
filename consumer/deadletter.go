package consumer

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stsorgsync/stsorgsync/internal/amqppub"
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

// deadLetterer publishes to the dead-letter exchange with publisher confirms and mandatory
// routing, one message at a time.
type deadLetterer struct {
	pub      *amqppub.Publisher
	exchange string
}

// publish copies d (body and properties) to the dead-letter exchange with the failure headers and
// waits for the broker's confirm. A returned (unroutable) message is an error.
func (p *deadLetterer) publish(ctx context.Context, d amqp.Delivery, cause error, class string, attempts int, now time.Time, newID func() string) error {
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
		msgID = newID()
	}
	pub := amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		MessageId: msgID, Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body,
	}
	if err := p.pub.Publish(ctx, p.exchange, d.RoutingKey, pub); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}
