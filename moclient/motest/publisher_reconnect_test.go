package motest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// TestPublisherRidesOutBrokerRestart: against a RabbitMQ node of the test's own (never the
// machine's), the broker is killed with SIGKILL while events are being published. Publishes
// during the outage wait and retry, and return nil only once the restarted broker confirmed them;
// one whose context ends first fails with the context's error; every confirmed event is in the
// queue afterwards. A publisher on a caller's connection never redials.
func TestPublisherRidesOutBrokerRestart(t *testing.T) {
	b := chaosenv.StartBroker(t)
	url, _ := b.AddVHost(t)
	pub, err := motest.DialPublisher(url, motest.DefaultExchange)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	// A durable quorum queue bound to every event keeps what was confirmed across the restart.
	setup, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := setup.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("events", true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("events", "#", motest.DefaultExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	_ = setup.Close()
	time.Sleep(2 * time.Second) // the queue's Ra member persists its metadata (chaosenv_test.go)

	var confirmed []uuid.UUID
	publish := func(ctx context.Context) error {
		id := uuid.New()
		err := pub.Publish(ctx, "org_unit", id)
		if err == nil {
			confirmed = append(confirmed, id)
		}
		return err
	}
	for range 10 {
		if err := publish(t.Context()); err != nil {
			t.Fatalf("before the outage: %v", err)
		}
	}

	b.Kill(t)
	tests := []struct {
		name string
		// during runs while the broker is down; after, when not nil, checks its result once the
		// broker is back.
		during func() <-chan error
		after  func(t *testing.T, err error)
	}{
		{
			name: "a publish whose context ends during the outage fails with the context's error",
			during: func() <-chan error {
				ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
				defer cancel()
				done := make(chan error, 1)
				done <- publish(ctx)
				return done
			},
			after: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("publish during the outage returned %v, want context.DeadlineExceeded", err)
				}
			},
		},
		{
			name: "publishes during the outage wait and are confirmed after the restart",
			during: func() <-chan error {
				done := make(chan error, 1)
				go func() {
					var err error
					for range 10 {
						if err = publish(t.Context()); err != nil {
							break
						}
					}
					done <- err
				}()
				return done
			},
			after: func(t *testing.T, err error) {
				if err != nil {
					t.Errorf("publish across the restart: %v", err)
				}
			},
		},
	}
	results := make([]<-chan error, len(tests))
	for i, tt := range tests {
		results[i] = tt.during() // in order: the first returns before the second starts publishing
	}
	select {
	case err := <-results[1]:
		t.Fatalf("publishing returned %v while the broker was down", err)
	case <-time.After(time.Second):
	}
	b.Start(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			select {
			case err := <-results[i]:
				tt.after(t, err)
			case <-time.After(60 * time.Second):
				t.Fatal("publish still blocked 60s after the broker came back")
			}
		})
	}
	if pub.Reconnects() == 0 {
		t.Error("the publisher counted no reconnect")
	}

	// Every confirmed event is in the queue (at least once: a confirm lost with the connection
	// means a second copy).
	got := map[uuid.UUID]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(confirmed) && time.Now().Before(deadline) {
		conn, err := amqp.Dial(url)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		c, err := conn.Channel()
		for err == nil {
			var d amqp.Delivery
			var ok bool
			if d, ok, err = c.Get("events", true); err != nil || !ok {
				break
			}
			var id uuid.UUID
			if id, err = uuid.Parse(string(d.Body[1 : len(d.Body)-1])); err == nil {
				got[id] = true
			}
		}
		_ = conn.Close()
		if len(got) < len(confirmed) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, id := range confirmed {
		if !got[id] {
			t.Errorf("confirmed event %s is not in the queue", id)
		}
	}
	if len(confirmed) != 20 {
		t.Errorf("%d events confirmed, want 20", len(confirmed))
	}

	// NewPublisher does not own its connection: when the caller's connection is gone it fails at
	// once rather than waiting for a context that may never end.
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	borrowed, err := motest.NewPublisher(conn, motest.DefaultExchange)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	start := time.Now()
	if err := borrowed.Publish(t.Context(), "org_unit", uuid.New()); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("publish on a closed borrowed connection: %v after %s, want a quick error", err, time.Since(start))
	}
	if err := borrowed.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
