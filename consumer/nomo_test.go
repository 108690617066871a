package consumer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// TestNoMOExchangeRemovesTheBindingAndPublishFeedsTheQueue: a consumer whose events come through
// the GraphQL bridge removes the binding an earlier AMQP-sourced run made (so OS2MO's AMQP events
// no longer arrive twice), and Publish puts an event in its queue with a confirm; without a
// session Publish fails with ErrNoSession.
func TestNoMOExchangeRemovesTheBindingAndPublishFeedsTheQueue(t *testing.T) {
	t.Parallel()
	h := newHarness(t, fastRetry(Config{Workers: 2}))
	var calls counter
	handler := calls.wrap(func(context.Context, Event) error { return nil })

	// An earlier run with EVENT_SOURCE=amqp: OS2MO's events arrive.
	r := h.start(handler)
	h.publish("org_unit", uuid.New())
	h.obs.waitN(t, 1)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}

	h.cfg.NoMOExchange = true
	c, err := New(h.cfg, handler, h.obs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(t.Context(), "org_unit", amqp.Publishing{Body: []byte(`"` + uuid.NewString() + `"`)}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Publish before Run = %v; want ErrNoSession", err)
	}
	r = h.start(handler)
	h.publish("org_unit", uuid.New()) // to OS2MO's exchange: must no longer reach the queue
	bridged := uuid.New()
	if err := r.c.Publish(t.Context(), "org_unit", amqp.Publishing{Body: []byte(`"` + bridged.String() + `"`)}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	got := h.obs.waitN(t, 2)
	if got[1].ev.UUID != bridged {
		t.Errorf("second event handled = %s; want the published %s", got[1].ev.UUID, bridged)
	}
	time.Sleep(200 * time.Millisecond) // give a wrongly routed OS2MO event time to arrive
	if n := len(h.obs.all()); n != 2 {
		t.Errorf("%d events handled; want 2 (OS2MO's exchange is no longer bound)", n)
	}
	if err := r.c.Publish(t.Context(), "no_such_type", amqp.Publishing{Body: []byte(`"x"`)}); err == nil {
		t.Error("Publish with a routing key no queue is bound to succeeded; want the broker's return as an error")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
