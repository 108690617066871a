package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// HeaderCascadeOf is set on the events the pipeline queues for the persons and subtree of a
// changed unit: the bundle key of that unit.
const HeaderCascadeOf = "cascade-of"

// ErrNoSession is returned (wrapped) by [Consumer.Publish] while the consumer has no live broker
// session (connecting, reconnecting, or not running).
var ErrNoSession = errors.New("no broker session")

// Publish publishes one message to the integration's exchange (Config.Exchange) with routingKey
// on the current session's confirm-mode publisher, persistent and mandatory, and returns once the
// broker has confirmed it: then it is in the work queue. A nack, or no queue bound for routingKey,
// is an error, as is ErrNoSession without a live session. The GraphQL event bridge publishes
// OS2MO's events with it.
func (c *Consumer) Publish(ctx context.Context, routingKey string, msg amqp.Publishing) error {
	c.pubMu.Lock()
	pub := c.pub
	c.pubMu.Unlock()
	if pub == nil {
		return fmt.Errorf("publish to exchange %q: %w", c.cfg.Exchange, ErrNoSession)
	}
	msg.DeliveryMode = amqp.Persistent
	if msg.MessageId == "" {
		msg.MessageId = c.cfg.NewID()
	}
	if msg.Timestamp.IsZero() {
		msg.Timestamp = c.cfg.Now()
	}
	return pub.Publish(ctx, c.cfg.Exchange, routingKey, msg)
}

// Enqueue implements Enqueuer: it publishes one event per UUID (routing key typ, body the UUID as
// a JSON string, as OS2MO does) to the integration's exchange on the current session's publisher,
// in confirmed batches. Without a live session it fails (errors are retryable; a retry queues the
// items again, which coalescing and the last-sent records make cheap).
func (c *Consumer) Enqueue(ctx context.Context, typ ObjectType, ids []uuid.UUID, cause string) error {
	c.pubMu.Lock()
	pub := c.pub
	c.pubMu.Unlock()
	if pub == nil {
		return fmt.Errorf("queue %d %s event(s): %w", len(ids), typ, ErrNoSession)
	}
	msgs := make([]amqp.Publishing, len(ids))
	for i, id := range ids {
		body, _ := json.Marshal(id.String())
		msgs[i] = amqp.Publishing{
			Headers: amqp.Table{HeaderCascadeOf: cause}, ContentType: "application/json",
			DeliveryMode: amqp.Persistent, MessageId: c.cfg.NewID(), Timestamp: c.cfg.Now(), Body: body,
		}
	}
	n, err := pub.PublishBatch(ctx, c.cfg.Exchange, string(typ), msgs)
	c.cascaded.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("queue %d of %d %s event(s) (cascade of %s): %w", len(ids)-n, len(ids), typ, cause, err)
	}
	return nil
}
