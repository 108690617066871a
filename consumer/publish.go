package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// HeaderCascadeOf is set on the events the pipeline queues for the persons and subtree of a
// changed unit: the bundle key of that unit.
const HeaderCascadeOf = "cascade-of"

// publishRefused is a publish the broker refused for this message alone (nacked, or returned as
// unroutable); the channel stays usable.
type publishRefused struct{ reason string }

func (e publishRefused) Error() string { return e.reason }

// confirmedPublisher publishes on a confirm-mode channel of its own, mandatory, one message (or
// one batch: publishBatch) at a time, so that a return or nack belongs to what was just published.
type confirmedPublisher struct {
	mu      sync.Mutex
	ch      *amqp.Channel
	returns chan amqp.Return
}

// newConfirmedPublisher opens the confirm-mode channel on conn.
func newConfirmedPublisher(conn *amqp.Connection) (*confirmedPublisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publishing channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	// The client hands a return to this channel before it processes the confirm that follows it,
	// so after a confirm the return, if any, is already here. A batch may have every message
	// returned: the channel holds a whole batch, so the client never blocks on it.
	return &confirmedPublisher{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, maxBatch))}, nil
}

func (p *confirmedPublisher) close() { _ = p.ch.Close() }

// maxBatch bounds the messages publishBatch has in flight at once.
const maxBatch = 256

// publish publishes msg and waits for the broker's confirm. A nack or a return is a
// publishRefused; any other error means the channel is unusable.
func (p *confirmedPublisher) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return fmt.Errorf("publish to exchange %q with routing key %q: %w", exchange, key, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for the broker to confirm the publish to %q: %w", exchange, err)
	}
	if !ok {
		return publishRefused{fmt.Sprintf("the broker refused (nacked) the publish to exchange %q", exchange)}
	}
	select {
	case r := <-p.returns:
		return publishRefused{fmt.Sprintf("no queue is bound to exchange %q for routing key %q (returned: %d %s)", exchange, key, r.ReplyCode, r.ReplyText)}
	default:
		return nil
	}
}

// publishBatch publishes msgs with routing key, at most maxBatch in flight before waiting for
// their confirms (one round trip per batch instead of per message). It returns how many were
// confirmed, all of them in order before the first that failed; a nack or a return is a
// publishRefused.
func (p *confirmedPublisher) publishBatch(ctx context.Context, exchange, key string, msgs []amqp.Publishing) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for start := 0; start < len(msgs); start += maxBatch {
		batch := msgs[start:min(len(msgs), start+maxBatch)]
		pending := make([]*amqp.DeferredConfirmation, 0, len(batch))
		for _, msg := range batch {
			dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
			if err != nil {
				return done, fmt.Errorf("publish to exchange %q with routing key %q: %w", exchange, key, err)
			}
			pending = append(pending, dc)
		}
		for _, dc := range pending {
			ok, err := dc.WaitContext(ctx)
			if err != nil {
				return done, fmt.Errorf("wait for the broker to confirm the publish to %q: %w", exchange, err)
			}
			if !ok {
				return done, publishRefused{fmt.Sprintf("the broker refused (nacked) a publish to exchange %q", exchange)}
			}
			done++
		}
		select {
		case r := <-p.returns:
			// Which message came back is unknown; report none of this batch as done.
			for len(p.returns) > 0 {
				<-p.returns
			}
			return start, publishRefused{fmt.Sprintf("no queue is bound to exchange %q for routing key %q (returned: %d %s)", exchange, key, r.ReplyCode, r.ReplyText)}
		default:
		}
	}
	return done, nil
}

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
	return pub.publish(ctx, c.cfg.Exchange, routingKey, msg)
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
	n, err := pub.publishBatch(ctx, c.cfg.Exchange, string(typ), msgs)
	c.cascaded.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("queue %d of %d %s event(s) (cascade of %s): %w", len(ids)-n, len(ids), typ, cause, err)
	}
	return nil
}
