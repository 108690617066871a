package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// event is one OS2MO event: routing key (object type) and the object's UUID.
type event struct {
	key string
	id  uuid.UUID
}

// publishWindow is how many publishes may await their confirm at once.
const publishWindow = 512

// fastPublisher publishes OS2MO-style events exactly as OS2MO's ramqp does (routing key = object
// type, body = the UUID as a JSON string, no properties) with publisher confirms, but pipelined:
// up to publishWindow unconfirmed messages, so that publishing is never what limits a storm.
type fastPublisher struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	exchange string
}

func dialFastPublisher(url, exchange string) (*fastPublisher, error) {
	cfg := amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.NewConnectionProperties()}
	cfg.Properties.SetClientConnectionName("stsbench publisher")
	conn, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to RabbitMQ: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("declaring exchange %q: %w", exchange, err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &fastPublisher{conn: conn, ch: ch, exchange: exchange}, nil
}

func (p *fastPublisher) close() { _ = p.conn.Close() }

// publish sends events in order and returns once the broker confirmed every one.
func (p *fastPublisher) publish(ctx context.Context, events []event) error {
	return publishBodies(ctx, p.ch, p.exchange, len(events), func(i int) (string, []byte) {
		body, _ := json.Marshal(events[i].id.String())
		return events[i].key, body
	})
}

func publishBodies(ctx context.Context, ch *amqp.Channel, exchange string, n int, msg func(i int) (string, []byte)) error {
	pending := make([]*amqp.DeferredConfirmation, 0, publishWindow)
	wait := func(dc *amqp.DeferredConfirmation) error {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the broker nacked a publish")
		}
		return nil
	}
	for i := range n {
		if len(pending) == publishWindow {
			if err := wait(pending[0]); err != nil {
				return err
			}
			pending = pending[1:]
		}
		key, body := msg(i)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, amqp.Publishing{Body: body})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if err := wait(dc); err != nil {
			return err
		}
	}
	return nil
}

// bareConsumerRate measures a bare amqp091-go consumer that only acknowledges: n messages are
// published (pipelined, as for the storm) to a fresh quorum queue while one consumer with the
// given prefetch acks each; the rate is n / (last ack − first publish).
func bareConsumerRate(ctx context.Context, url string, n, prefetch int) (float64, time.Duration, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	setup, err := conn.Channel()
	if err != nil {
		return 0, 0, err
	}
	queue := "stsbench.bare." + uuid.NewString()[:8]
	if _, err := setup.QueueDeclare(queue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		return 0, 0, fmt.Errorf("declare %s: %w", queue, err)
	}
	defer func() { _, _ = setup.QueueDelete(queue, false, false, false) }()

	cons, err := conn.Channel()
	if err != nil {
		return 0, 0, err
	}
	if err := cons.Qos(prefetch, 0, false); err != nil {
		return 0, 0, err
	}
	deliveries, err := cons.ConsumeWithContext(ctx, queue, "stsbench-bare", false, false, false, false, nil)
	if err != nil {
		return 0, 0, err
	}
	var acked atomic.Int64
	done := make(chan error, 1)
	go func() {
		for d := range deliveries {
			if err := d.Ack(false); err != nil {
				done <- err
				return
			}
			if acked.Add(1) == int64(n) {
				done <- nil
				return
			}
		}
		done <- errors.New("delivery channel closed")
	}()

	pub, err := conn.Channel()
	if err != nil {
		return 0, 0, err
	}
	if err := pub.Confirm(false); err != nil {
		return 0, 0, err
	}
	body, _ := json.Marshal(uuid.NewString())
	start := time.Now()
	if err := publishBodies(ctx, pub, "", n, func(int) (string, []byte) { return queue, body }); err != nil {
		return 0, 0, err
	}
	select {
	case err := <-done:
		if err != nil {
			return 0, 0, err
		}
	case <-time.After(5 * time.Minute):
		return 0, 0, fmt.Errorf("bare consumer acked %d of %d in 5 minutes", acked.Load(), n)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	took := time.Since(start)
	return float64(n) / took.Seconds(), took, nil
}
