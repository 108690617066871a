package consumer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrMalformed marks an event whose routing key or body cannot be understood; such messages are
// dead-lettered at once and never retried.
var ErrMalformed = errors.New("malformed event")

// ErrUnhandled marks an event of a type the sync does not act on; it is acknowledged and counted.
var ErrUnhandled = errors.New("event type not handled")

// MaxEventBody bounds the body size of an event. MO's bodies are 38 bytes (a quoted UUID); legacy
// bodies are a small JSON object.
const MaxEventBody = 4096

// ObjectType is the OS2MO object type an event is about (the new-style routing key).
type ObjectType string

// The OS2MO object types that change what STS Organisation holds.
const (
	TypeOrgUnit     ObjectType = "org_unit"
	TypePerson      ObjectType = "person"
	TypeAddress     ObjectType = "address"
	TypeEngagement  ObjectType = "engagement"
	TypeITUser      ObjectType = "ituser"
	TypeManager     ObjectType = "manager"
	TypeKLE         ObjectType = "kle"
	TypeAssociation ObjectType = "association"
	TypeLeave       ObjectType = "leave"
)

// Event is one parsed OS2MO change event: the object type and the UUID of the changed object. For
// legacy events, UUID is the owning person or unit and Service says which.
type Event struct {
	RoutingKey string
	Type       ObjectType
	UUID       uuid.UUID
	// Legacy is set for `<service>.<type>.<action>` events; Service is "employee" or "org_unit".
	Legacy  bool
	Service string
	// Force is set on an event replayed with `stsorgsync dlq replay --force` (header HeaderForce):
	// the object is to be written even if its last-sent hash says it is unchanged.
	Force bool
	// ID is the message id of the delivery ("" if it had none); Replayed is set on an event
	// replayed from the dead-letter queue. The audit trail records both.
	ID       string
	Replayed bool
}

// parseDelivery parses a delivery with ParseEvent and sets Force from its HeaderForce header.
func parseDelivery(d amqp.Delivery) (Event, error) {
	ev, err := ParseEvent(d.RoutingKey, d.Body)
	if err == nil {
		ev.Force = forced(d.Headers)
		ev.ID = d.MessageId
		ev.Replayed = headerInt(d.Headers[HeaderReplayed]) > 0
	}
	return ev, err
}

// ParseEvent parses an event as OS2MO publishes it: routing key = object type and body = the UUID
// as a JSON string (a bare UUID is accepted too), or a legacy key `employee|org_unit.<type>.<action>`
// with a JSON object body {"uuid": …}. Errors wrap ErrMalformed.
func ParseEvent(routingKey string, body []byte) (Event, error) {
	if len(body) > MaxEventBody {
		return Event{}, fmt.Errorf("%w: body of %d bytes exceeds %d (routing key %q)", ErrMalformed, len(body), MaxEventBody, routingKey)
	}
	if parts := strings.Split(routingKey, "."); len(parts) == 3 {
		return parseLegacy(routingKey, parts, body)
	}
	if routingKey == "" || strings.Contains(routingKey, ".") {
		return Event{}, fmt.Errorf("%w: routing key %q is neither an object type nor <service>.<type>.<action>", ErrMalformed, routingKey)
	}
	id, err := parseUUIDBody(body)
	if err != nil {
		return Event{}, fmt.Errorf("%w: routing key %q: %w", ErrMalformed, routingKey, err)
	}
	return Event{RoutingKey: routingKey, Type: ObjectType(routingKey), UUID: id}, nil
}

func parseUUIDBody(body []byte) (uuid.UUID, error) {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return uuid.Nil, fmt.Errorf("body is not a JSON string: %w", err)
		}
		b = []byte(s)
	}
	id, err := uuid.ParseBytes(b)
	if err != nil || len(b) != 36 {
		return uuid.Nil, fmt.Errorf("body %q is not a UUID", truncate(body, 80))
	}
	return id, nil
}

func parseLegacy(routingKey string, parts []string, body []byte) (Event, error) {
	service, typ := parts[0], parts[1]
	if service != "employee" && service != "org_unit" {
		return Event{}, fmt.Errorf("%w: legacy routing key %q: service must be employee or org_unit", ErrMalformed, routingKey)
	}
	var payload struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return Event{}, fmt.Errorf("%w: legacy routing key %q: body is not a JSON object: %w", ErrMalformed, routingKey, err)
	}
	id, err := uuid.Parse(payload.UUID)
	if err != nil || len(payload.UUID) != 36 {
		return Event{}, fmt.Errorf("%w: legacy routing key %q: \"uuid\" %q is not a UUID", ErrMalformed, routingKey, payload.UUID)
	}
	switch typ { // OS2MO's legacy names
	case "employee":
		typ = string(TypePerson)
	case "it":
		typ = string(TypeITUser)
	}
	return Event{RoutingKey: routingKey, Type: ObjectType(typ), UUID: id, Legacy: true, Service: service}, nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
