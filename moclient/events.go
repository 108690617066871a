package moclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Event is one of OS2MO's GraphQL events, as event_fetch hands it out: the subject (in namespace
// "mo" an object UUID), its priority (1 is the highest) and the opaque token that acknowledges it.
type Event struct {
	Subject  string `json:"subject"`
	Priority int    `json:"priority"`
	Token    string `json:"token"`
}

// DeclareListener declares, idempotently, the GraphQL event listener (namespace, userKey) for
// routingKey and returns its UUID. OS2MO keeps one listener per (owner, namespace, user_key), the
// owner being the Keycloak client's user, so every process with the same client credentials gets
// the same listener.
func (c *Client) DeclareListener(ctx context.Context, namespace, userKey, routingKey string) (uuid.UUID, error) {
	var out struct {
		Listener *struct {
			UUID uuid.UUID `json:"uuid"`
		} `json:"event_listener_declare"`
	}
	vars := map[string]any{"namespace": namespace, "user_key": userKey, "routing_key": routingKey}
	if err := c.do(ctx, "DeclareEventListener", vars, &out); err != nil {
		return uuid.Nil, fmt.Errorf("declare OS2MO event listener %q for routing key %q: %w", userKey, routingKey, err)
	}
	if out.Listener == nil || out.Listener.UUID == uuid.Nil {
		return uuid.Nil, fmt.Errorf("declare OS2MO event listener %q: OS2MO answered without a listener UUID", userKey)
	}
	return out.Listener.UUID, nil
}

// FetchEvent takes the next due event of listener; it returns nil, nil when none is due. The event
// is offered again only after OS2MO's back-off (at least 3 minutes) unless it is acknowledged.
func (c *Client) FetchEvent(ctx context.Context, listener uuid.UUID) (*Event, error) {
	var out struct {
		Event *Event `json:"event_fetch"`
	}
	if err := c.do(ctx, "FetchEvent", map[string]any{"listener": listener.String()}, &out); err != nil {
		return nil, fmt.Errorf("fetch an OS2MO event of listener %s: %w", listener, err)
	}
	if out.Event != nil && out.Event.Token == "" {
		return nil, errors.New("fetch an OS2MO event: OS2MO answered with an event without a token")
	}
	return out.Event, nil
}

// AcknowledgeEvent acknowledges a handled event by its token. OS2MO answers true also for a token
// of an older generation of the subject's event, and then keeps the newer one.
func (c *Client) AcknowledgeEvent(ctx context.Context, token string) error {
	var out struct {
		OK *bool `json:"event_acknowledge"`
	}
	if err := c.do(ctx, "AcknowledgeEvent", map[string]any{"token": token}, &out); err != nil {
		return fmt.Errorf("acknowledge an OS2MO event: %w", err)
	}
	if out.OK == nil || !*out.OK {
		return errors.New("acknowledge an OS2MO event: OS2MO did not answer true")
	}
	return nil
}

// Listener is a GraphQL event listener as OS2MO reports it.
type Listener struct {
	UUID       uuid.UUID `json:"uuid"`
	UserKey    string    `json:"user_key"`
	RoutingKey string    `json:"routing_key"`
}

// EventListeners returns the listeners in namespace "mo" with the given user keys (a read: it
// declares nothing). An OS2MO without the event system answers with a GraphQL error.
func (c *Client) EventListeners(ctx context.Context, userKeys []string) ([]Listener, error) {
	var out struct {
		Listeners struct {
			Objects []Listener `json:"objects"`
		} `json:"event_listeners"`
	}
	if err := c.do(ctx, "EventListeners", map[string]any{"user_keys": userKeys}, &out); err != nil {
		return nil, fmt.Errorf("list OS2MO event listeners: %w", err)
	}
	return out.Listeners.Objects, nil
}
