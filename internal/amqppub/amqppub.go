// Package amqppub is the one implementation of a confirmed AMQP publish: a confirm-mode channel,
// mandatory publishes, a nacked message published again a few times (a quorum queue nacks while
// it has no leader, e.g. during a failover in a cluster), a nack that persists or a return
// reported as Refused for that message alone. The
// consumer (dead-lettering, cascades, replays, the event bridge's publishes) and the audit trail
// publish through it.
package amqppub

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Refused is a publish the broker refused for this message alone (nacked NackAttempts times, or
// returned as unroutable); the channel stays usable.
type Refused struct{ reason string }

// NackAttempts is how often a message the broker nacks is published in all, waiting NackBackoff
// before the second attempt and twice as long before each further one (0.1 + 0.2 + 0.4 + 0.8 s):
// a quorum queue elects a new leader within seconds. A message whose confirm is lost with the
// channel or connection is not published again here (the channel is gone): the callers hold
// their input until a publish is confirmed and repeat it on the next connection.
const (
	NackAttempts = 5
	NackBackoff  = 100 * time.Millisecond
)

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

// Publish publishes msg and waits for the broker's confirm, publishing it again after a nack
// (NackAttempts). A nack that persists or a return is a Refused; any other error means the
// channel is unusable.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	_, err := p.PublishBatch(ctx, exchange, key, []amqp.Publishing{msg})
	return err
}

// PublishBatch publishes msgs with routing key, at most MaxBatch in flight before waiting for
// their confirms (one round trip per batch instead of per message), publishing the nacked ones
// again (NackAttempts). It returns how many were confirmed, all of them in order before the first
// that failed; a nack that persists or a return is a Refused.
func (p *Publisher) PublishBatch(ctx context.Context, exchange, key string, msgs []amqp.Publishing) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for start := 0; start < len(msgs); start += MaxBatch {
		batch := msgs[start:min(len(msgs), start+MaxBatch)]
		todo := make([]int, len(batch)) // indexes into batch not confirmed yet
		for i := range todo {
			todo[i] = i
		}
		wait := NackBackoff
		for attempt := 1; ; attempt++ {
			nacked, err := p.publishOnce(ctx, exchange, key, batch, todo)
			if err != nil {
				return start + firstOf(todo, nacked), err
			}
			if len(nacked) == 0 {
				break
			}
			if attempt == NackAttempts {
				return start + nacked[0], Refused{fmt.Sprintf("the broker refused (nacked) the publish to exchange %q %d times", exchange, NackAttempts)}
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return start + nacked[0], fmt.Errorf("publish to exchange %q again after a nack: %w", exchange, ctx.Err())
			case <-t.C:
			}
			wait *= 2
			todo = nacked
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
	return len(msgs), nil
}

// publishOnce publishes batch[i] for each i of todo (ascending) and waits for their confirms; it
// returns the indexes the broker nacked. An error means the channel failed: the messages from the
// first unconfirmed one on are in doubt.
func (p *Publisher) publishOnce(ctx context.Context, exchange, key string, batch []amqp.Publishing, todo []int) (nacked []int, err error) {
	pending := make([]*amqp.DeferredConfirmation, 0, len(todo))
	for _, i := range todo {
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, batch[i])
		if err != nil {
			return nacked, fmt.Errorf("publish to exchange %q with routing key %q: %w", exchange, key, err)
		}
		pending = append(pending, dc)
	}
	for k, dc := range pending {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return append(nacked, todo[k:]...), fmt.Errorf("wait for the broker to confirm the publish to %q: %w", exchange, err)
		}
		if !ok {
			nacked = append(nacked, todo[k])
		}
	}
	return nacked, nil
}

// firstOf returns the first index of todo that is not confirmed: the smallest of failed, or of
// todo if failed is empty.
func firstOf(todo, failed []int) int {
	if len(failed) > 0 {
		return failed[0]
	}
	if len(todo) > 0 {
		return todo[0]
	}
	return 0
}
