package consumer

import (
	"fmt"
	"math"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DeadLetterQueueDeliveryLimit is the dead-letter queue's x-delivery-limit: in effect unlimited.
// `stsorgsync dlq` reads the queue by taking messages unacknowledged and returning them, and every
// return counts as a delivery on RabbitMQ 3.x and 4.0–4.2 (from 4.3 only rejects and lost
// connections do). RabbitMQ 4.x defaults the limit to 20 and drops a message past it (the
// dead-letter queue has no dead-letter exchange of its own), so an unpinned queue would lose a
// message after 20 inspections. -1, which 4.x reads as "no limit", makes 3.10 drop a message at its
// first return, so a large positive limit is the one value that is safe on every version.
const DeadLetterQueueDeliveryLimit = math.MaxInt32

// DeclareTopology declares, idempotently, everything the consumer uses: MO's exchange exactly as
// MO declares it, the integration's exchange bound to it (neither with Config.NoMOExchange, which
// removes that binding instead), the dead-letter exchange and queue, and
// the work queue with its bindings: RoutingKeys, and with LegacyKeys the legacy patterns of the
// same types (legacyBindingKeys).
//
// The work queue is a quorum queue with an explicit x-delivery-limit (RabbitMQ 3.10 has no
// default, 4.x defaults to 20; we pin it) and at-least-once dead-lettering, so a message the
// broker gives up on is moved to the dead-letter queue rather than dropped. Changing these
// arguments on an existing queue fails with PRECONDITION_FAILED; see README "Changing the queue".
//
// The dead-letter queue is a quorum queue too, with DeadLetterQueueDeliveryLimit pinned for the
// reason given there.
func DeclareTopology(ch *amqp.Channel, cfg Config) error {
	cfg = cfg.withDefaults()
	exchanges := []struct{ name, kind string }{
		{cfg.Exchange, amqp.ExchangeTopic},
		{cfg.DeadLetterExchange, amqp.ExchangeFanout},
	}
	if !cfg.NoMOExchange {
		exchanges = append(exchanges, struct{ name, kind string }{cfg.MOExchange, amqp.ExchangeTopic})
	}
	for _, ex := range exchanges {
		if err := ch.ExchangeDeclare(ex.name, ex.kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %q (%s, durable): %w", ex.name, ex.kind, err)
		}
	}
	if cfg.NoMOExchange {
		// Unbinding is idempotent: no binding, or no such exchange, is not an error.
		if err := ch.ExchangeUnbind(cfg.Exchange, "#", cfg.MOExchange, false, nil); err != nil {
			return fmt.Errorf("remove the binding of exchange %q to OS2MO's %q: %w", cfg.Exchange, cfg.MOExchange, err)
		}
	} else if err := ch.ExchangeBind(cfg.Exchange, "#", cfg.MOExchange, false, nil); err != nil {
		return fmt.Errorf("bind exchange %q to %q: %w", cfg.Exchange, cfg.MOExchange, err)
	}
	if _, err := ch.QueueDeclare(cfg.DeadLetterQueue, true, false, false, false, amqp.Table{
		amqp.QueueTypeArg:  amqp.QueueTypeQuorum,
		"x-delivery-limit": int64(DeadLetterQueueDeliveryLimit),
	}); err != nil {
		return fmt.Errorf("declare dead-letter queue %q: %w", cfg.DeadLetterQueue, err)
	}
	if err := ch.QueueBind(cfg.DeadLetterQueue, "", cfg.DeadLetterExchange, false, nil); err != nil {
		return fmt.Errorf("bind dead-letter queue %q: %w", cfg.DeadLetterQueue, err)
	}
	if _, err := ch.QueueDeclare(cfg.Queue, true, false, false, false, amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
		"x-delivery-limit":       int64(cfg.DeliveryLimit),
		"x-dead-letter-exchange": cfg.DeadLetterExchange,
		"x-dead-letter-strategy": "at-least-once",
		amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
	}); err != nil {
		return fmt.Errorf("declare queue %q (quorum, delivery limit %d): %w; if the queue exists with other arguments, drain and delete it first (README: Changing the queue)", cfg.Queue, cfg.DeliveryLimit, err)
	}
	keys := cfg.RoutingKeys
	if cfg.LegacyKeys {
		keys = append(slices.Clip(keys), legacyBindingKeys(cfg.RoutingKeys)...)
	}
	for _, key := range keys {
		if err := ch.QueueBind(cfg.Queue, key, cfg.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %q to %q with key %q: %w", cfg.Queue, cfg.Exchange, key, err)
		}
	}
	return nil
}

// legacyBindingKeys returns the binding patterns Config.LegacyKeys adds for the object types in
// routingKeys: "employee.<type>.*" and "org_unit.<type>.*" for each, with OS2MO's legacy name of
// the type ("employee" for person, "it" for ituser).
func legacyBindingKeys(routingKeys []string) []string {
	keys := make([]string, 0, 2*len(routingKeys))
	for _, k := range routingKeys {
		name := k
		switch ObjectType(k) {
		case TypePerson:
			name = "employee"
		case TypeITUser:
			name = "it"
		}
		for _, service := range []string{"employee", "org_unit"} {
			keys = append(keys, service+"."+name+".*")
		}
	}
	return keys
}
