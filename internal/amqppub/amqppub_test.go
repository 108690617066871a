package amqppub

import (
	"errors"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

// fullQueue returns a publisher on a fresh vhost and a channel with queue "q" holding at most one
// message and nacking publishes beyond it (reject-publish), so that the broker nacks a publish
// while the queue is full. It is a classic queue: a quorum queue applies the limit a message late.
func fullQueue(t *testing.T) (*Publisher, *amqp.Channel) {
	t.Helper()
	b := testenv.AMQP(t)
	conn, err := amqp.Dial(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, queueArgs()); err != nil {
		t.Fatal(err)
	}
	p, err := New(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, ch
}

// queueArgs are the arguments of fullQueue's queue.
func queueArgs() amqp.Table {
	return amqp.Table{amqp.QueueMaxLenArg: 1, amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish}
}

// TestPublishAgainAfterNack: a message the broker nacks (its queue is full) is published again
// and confirmed once the queue has room within the retries; a nack that persists is a Refused
// after NackAttempts; an unroutable message is a Refused at once.
func TestPublishAgainAfterNack(t *testing.T) {
	tests := []struct {
		name      string
		drainAt   time.Duration // when the first message is taken out of the queue; 0: never
		key       string
		wantErr   bool
		atLeast   time.Duration // the publish takes at least this long
		wantCount int           // messages in the queue at the end
	}{
		{"room after a nack", 250 * time.Millisecond, "q", false, 200 * time.Millisecond, 1},
		{"full for good", 0, "q", true, 1400 * time.Millisecond, 1},
		{"unroutable", 0, "no-such-queue", true, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ch := fullQueue(t)
			if err := p.Publish(t.Context(), "", "q", amqp.Publishing{Body: []byte("first")}); err != nil {
				t.Fatal(err)
			}
			if tt.drainAt > 0 {
				time.AfterFunc(tt.drainAt, func() { _, _, _ = ch.Get("q", true) })
			}
			start := time.Now()
			err := p.Publish(t.Context(), "", tt.key, amqp.Publishing{Body: []byte("second")})
			took := time.Since(start)
			var refused Refused
			if tt.wantErr != (err != nil) || (err != nil && !errors.As(err, &refused)) {
				t.Fatalf("Publish = %v, want a Refused: %v", err, tt.wantErr)
			}
			if took < tt.atLeast {
				t.Errorf("Publish took %s, want at least %s (published again after backoff)", took, tt.atLeast)
			}
			time.Sleep(50 * time.Millisecond) // the drain's Get has finished
			q, err := ch.QueueDeclarePassive("q", true, false, false, false, amqp.Table{
				amqp.QueueTypeArg: amqp.QueueTypeQuorum, amqp.QueueMaxLenArg: 1, amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish,
			})
			if err != nil {
				t.Fatal(err)
			}
			if q.Messages != tt.wantCount {
				t.Errorf("queue holds %d messages, want %d", q.Messages, tt.wantCount)
			}
			if tt.drainAt > 0 {
				d, ok, err := ch.Get("q", true)
				if err != nil || !ok || string(d.Body) != "second" {
					t.Errorf("queue holds %q (%v, %v), want the message published again", d.Body, ok, err)
				}
			}
		})
	}
}

// TestPublishBatchAgainAfterNack: of a batch into a queue with room for one, the nacked ones are
// published again, in order, as the queue is drained.
func TestPublishBatchAgainAfterNack(t *testing.T) {
	p, ch := fullQueue(t)
	stop := make(chan struct{})
	got := make(chan string, 10)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(60 * time.Millisecond):
			}
			if d, ok, err := ch.Get("q", true); err == nil && ok {
				got <- string(d.Body)
			}
		}
	}()
	msgs := make([]amqp.Publishing, 3)
	for i := range msgs {
		msgs[i] = amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)}
	}
	n, err := p.PublishBatch(t.Context(), "", "q", msgs)
	if err != nil || n != 3 {
		t.Fatalf("PublishBatch = %d, %v; want 3, nil", n, err)
	}
	deadline := time.After(10 * time.Second)
	var bodies []string
	for len(bodies) < 3 {
		select {
		case b := <-got:
			bodies = append(bodies, b)
		case <-deadline:
			t.Fatalf("took only %v", bodies)
		}
	}
	close(stop)
	if fmt.Sprint(bodies) != "[m0 m1 m2]" {
		t.Errorf("queue gave %v, want [m0 m1 m2]", bodies)
	}
}
