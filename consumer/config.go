package consumer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
)

// Config configures the consumer. Zero values take the defaults documented on each field.
type Config struct {
	// URL is the AMQP URL of the broker, e.g. amqp://user:pass@rabbitmq:5672/, or the
	// comma-separated URLs of a cluster's nodes, tried in order from the one after the node last
	// lost (package amqpdial; required).
	URL string
	// TLS is the client TLS configuration for amqps:// URLs (nil: the system's roots, no client
	// certificate). Verification is never skipped.
	TLS *tls.Config
	// MOExchange is OS2MO's durable topic exchange (default "os2mo").
	MOExchange string
	// Exchange is the integration's own topic exchange, bound to MOExchange with "#", so that
	// events can be re-sent to this integration alone (default "stsorgsync").
	Exchange string
	// NoMOExchange leaves OS2MO's exchange out: it is not declared, Exchange is not bound to it,
	// and the binding an earlier run made is removed. For a broker that carries no OS2MO AMQP
	// events, or must stop carrying them to us: events then come through the GraphQL event bridge
	// (package bridge), which publishes to Exchange.
	NoMOExchange bool
	// Queue is the durable quorum queue consumed (default "stsorgsync").
	Queue string
	// DeadLetterExchange receives what cannot be written (default "stsorgsync.dlx", fanout).
	DeadLetterExchange string
	// DeadLetterQueue holds dead-lettered events for inspection and replay (default "stsorgsync.dlq").
	DeadLetterQueue string
	// RoutingKeys are bound from Exchange to Queue (default: the object types the sync handles).
	RoutingKeys []string
	// LegacyKeys additionally binds OS2MO's deprecated event style: routing key
	// <service>.<type>.<action> (service "employee" or "org_unit") and a JSON object body whose
	// "uuid" is the owning person or unit (see ParseEvent). For each type in RoutingKeys the queue
	// is bound with "employee.<type>.*" and "org_unit.<type>.*", using OS2MO's legacy type names
	// (person is "employee", ituser is "it"). These precise patterns are used rather than
	// "employee.#" and "org_unit.#" so that, as with the new-style keys, only events of the types
	// in RoutingKeys reach the queue: the legacy style also reports related_unit, role and other
	// types the sync never acts on, which would only be delivered to be acknowledged unhandled.
	//
	// Default false. Enable it only for an OS2MO that sends the legacy style alone: one that sends
	// both styles would have every change processed twice (harmless, as the pipeline is
	// idempotent, but wasteful). Turning it off does not remove bindings an earlier run made;
	// remove those with the management UI.
	LegacyKeys bool
	// Workers is the number of events processed at once (default 8).
	Workers int
	// Prefetch is the number of unacknowledged deliveries the broker sends ahead (default 2×Workers).
	Prefetch int
	// DeliveryLimit is the quorum queue's x-delivery-limit: a message redelivered this many times
	// (crashes, requeues) is dead-lettered by the broker (default 20).
	DeliveryLimit int
	// RetryInitial, RetryMax and RetryMaxElapsed shape the in-process exponential backoff of one
	// event on transient errors (defaults 500ms, 30s, 2m). RetryMaxElapsed must stay well below
	// RabbitMQ's consumer timeout (30 min by default).
	RetryInitial, RetryMax, RetryMaxElapsed time.Duration
	// RetryMaxAttempts caps the number of attempts at one event (the first try included) before it
	// is dead-lettered with error class "retries-exhausted" (default 0: bounded by RetryMaxElapsed
	// alone).
	RetryMaxAttempts int
	// BreakerThreshold is the number of consecutive attempts (across all workers) failing
	// because STS is unavailable (errors implementing Unavailable) after which the circuit
	// breaker opens and consumption pauses (default 5; negative disables the breaker).
	BreakerThreshold int
	// BreakerProbeInterval is how often one event is let through as a probe while the breaker
	// is open (default 5s).
	BreakerProbeInterval time.Duration
	// ReconnectMax caps the jittered wait between reconnect attempts after a lost broker
	// connection or channel (default 5s). The first attempt waits 125–250 ms and each failed one
	// doubles the wait, so the consumer resumes within about ReconnectMax of the broker's return.
	ReconnectMax time.Duration
	// ShutdownTimeout is how long in-flight events may run after shutdown starts before they are
	// cancelled and requeued (default 30s). Events that ignore the cancellation get as long again;
	// then Run returns anyway and closes the connection, so the broker requeues them.
	ShutdownTimeout time.Duration
	// ConsumerTag identifies this consumer to the broker (default "stsorgsync-" + a random UUID).
	ConsumerTag string
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewID returns the message id of an event the consumer publishes (default uuid.NewString).
	NewID func() string
}

// DefaultRoutingKeys returns the routing keys bound when Config.RoutingKeys is empty: the object
// types whose changes can alter what STS Organisation holds (units, persons, and the objects
// that belong to them, resolved to their owners).
func DefaultRoutingKeys() []string {
	return []string{string(TypeOrgUnit), string(TypePerson), string(TypeAddress), string(TypeEngagement),
		string(TypeITUser), string(TypeManager), string(TypeKLE), string(TypeAssociation), string(TypeLeave)}
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.MOExchange, "os2mo")
	def(&c.Exchange, "stsorgsync")
	def(&c.Queue, "stsorgsync")
	def(&c.DeadLetterExchange, "stsorgsync.dlx")
	def(&c.DeadLetterQueue, "stsorgsync.dlq")
	if len(c.RoutingKeys) == 0 {
		c.RoutingKeys = DefaultRoutingKeys()
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2 * c.Workers
	}
	if c.DeliveryLimit == 0 {
		c.DeliveryLimit = 20
	}
	durDef := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	durDef(&c.RetryInitial, 500*time.Millisecond)
	durDef(&c.RetryMax, 30*time.Second)
	durDef(&c.RetryMaxElapsed, 2*time.Minute)
	durDef(&c.ReconnectMax, 5*time.Second)
	durDef(&c.BreakerProbeInterval, 5*time.Second)
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = 5
	}
	durDef(&c.ShutdownTimeout, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.NewString
	}
	return c
}

// Validate reports every problem with the configuration (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("AMQP URL is required"))
	} else if _, err := amqpdial.ParseURLs(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("AMQP URL: %w", err))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers must be at least 1, got %d", c.Workers))
	}
	if c.Prefetch < c.Workers {
		errs = append(errs, fmt.Errorf("prefetch (%d) must be at least the number of workers (%d)", c.Prefetch, c.Workers))
	}
	if c.DeliveryLimit < 1 {
		errs = append(errs, fmt.Errorf("delivery limit must be at least 1, got %d", c.DeliveryLimit))
	}
	if c.RetryMaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("retry max attempts must not be negative, got %d", c.RetryMaxAttempts))
	}
	if c.RetryMaxElapsed >= 25*time.Minute {
		errs = append(errs, fmt.Errorf("retry max elapsed %s must stay well below RabbitMQ's 30 min consumer timeout", c.RetryMaxElapsed))
	}
	if c.ReconnectMax < 0 {
		errs = append(errs, fmt.Errorf("reconnect max must not be negative, got %s", c.ReconnectMax))
	}
	if c.BreakerProbeInterval < 0 {
		errs = append(errs, fmt.Errorf("breaker probe interval must not be negative, got %s", c.BreakerProbeInterval))
	}
	if c.Queue == c.DeadLetterQueue {
		errs = append(errs, errors.New("queue and dead-letter queue must differ"))
	}
	return errors.Join(errs...)
}
