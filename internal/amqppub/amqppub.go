// Package amqppub is the one implementation of a confirmed AMQP publish: a confirm-mode channel,
// mandatory publishes, a nack or a return reported as Refused for that message alone. The
// consumer (dead-lettering, cascades, replays, the event bridge's publishes) and the audit trail
// publish through it.
package amqppub

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Refused is a publish the broker refused for this message alone (nacked, or returned as
// unroutable); the channel stays usable.
type Refused struct{ reason string }

func (e Refused) Error() string { return e.reason }

// Publisher publishes on a confirm-mode channel of its own, mandatory, one message (or
// one batch: PublishBatch) at a time, so that a return or nack belongs to what was just published.
// It is safe for concurrent use.
type Publisher struct {
	mu      sync.Mutex
	ch      *amqp.Channel
	returns chan amqp.Return
}

// New opens the confirm-mode channel on conn.
func New(conn *amqp.Connection) (*Publisher, error) {
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
	return &Publisher{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, MaxBatch))}, nil
}

func (p *Publisher) Close() { _ = p.ch.Close() }

// MaxBatch bounds the messages PublishBatch has in flight at once.
const MaxBatch = 256

// Publish publishes msg and waits for the broker's confirm. A nack or a return is a
// Refused; any other error means the channel is unusable.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
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
		return Refused{fmt.Sprintf("the broker refused (nacked) the publish to exchange %q", exchange)}
	}
	select {
	case r := <-p.returns:
		return Refused{fmt.Sprintf("no queue is bound to exchange %q for routing key %q (returned: %d %s)", exchange, key, r.ReplyCode, r.ReplyText)}
	default:
		return nil
	}
}

// PublishBatch publishes msgs with routing key, at most MaxBatch in flight before waiting for
// their confirms (one round trip per batch instead of per message). It returns how many were
// confirmed, all of them in order before the first that failed; a nack or a return is a
// Refused.
func (p *Publisher) PublishBatch(ctx context.Context, exchange, key string, msgs []amqp.Publishing) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for start := 0; start < len(msgs); start += MaxBatch {
		batch := msgs[start:min(len(msgs), start+MaxBatch)]
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
				return done, Refused{fmt.Sprintf("the broker refused (nacked) a publish to exchange %q", exchange)}
			}
			done++
		}
		select {
		case r := <-p.returns:
			// Which message came back is unknown; report none of this batch as done.
			for len(p.returns) > 0 {
				<-p.returns
			}
			return start, Refused{fmt.Sprintf("no queue is bound to exchange %q for routing key %q (returned: %d %s)", exchange, key, r.ReplyCode, r.ReplyText)}
		default:
		}
	}
	return done, nil
}
