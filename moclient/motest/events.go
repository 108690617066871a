package motest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Object types used as AMQP routing keys by OS2MO (new-style events).
const (
	ObjectOrgUnit     = "org_unit"
	ObjectPerson      = "person"
	ObjectAddress     = "address"
	ObjectEngagement  = "engagement"
	ObjectITUser      = "ituser"
	ObjectManager     = "manager"
	ObjectKLE         = "kle"
	ObjectAssociation = "association"
	ObjectLeave       = "leave"
)

// Actions of legacy routing keys (`<service>.<object_type>.<action>`).
const (
	ActionCreate    = "create"
	ActionEdit      = "edit"
	ActionTerminate = "terminate"
	ActionRefresh   = "refresh"
)

// Services of legacy routing keys: the kind of object a changed object belongs to.
const (
	ServiceEmployee = "employee"
	ServiceOrgUnit  = "org_unit"
)

// Event is one change event as OS2MO emits it. New-style consumers see only ObjectType (the
// routing key) and UUID (the JSON-string body); Action, Owners and Time feed the legacy keys.
type Event struct {
	// ObjectType is the new-style routing key, e.g. "address".
	ObjectType string `json:"object_type"`
	// UUID is the changed object itself (for an address: the address, not its owner).
	UUID uuid.UUID `json:"uuid"`
	// Action is the legacy action: create, edit, terminate or refresh.
	Action string `json:"action,omitempty"`
	// Owners are the persons and units the object belongs to; each gives one legacy message.
	Owners []EventOwner `json:"owners,omitempty"`
	// Time is when the change takes effect (legacy body "time").
	Time time.Time `json:"time"`
}

// EventOwner is a person (ServiceEmployee) or unit (ServiceOrgUnit) that owns a changed object.
type EventOwner struct {
	Service string    `json:"service"`
	UUID    uuid.UUID `json:"uuid"`
}

// Message is one AMQP message: routing key and body, sent with no properties.
type Message struct {
	RoutingKey string
	Body       []byte
}

// NewStyle returns the message OS2MO's current AMQP subsystem sends: routing key = object type,
// body = the UUID as a JSON string.
func (e Event) NewStyle() Message {
	body, _ := json.Marshal(e.UUID.String()) // a string always marshals
	return Message{RoutingKey: e.ObjectType, Body: body}
}

// Legacy returns the deprecated trigger messages: one per owner, routing key
// `<service>.<object_type>.<action>` (IT users are "it", persons "employee") and body
// {"uuid": owner, "object_uuid": object, "time": …}.
func (e Event) Legacy() []Message {
	typ := e.ObjectType
	switch typ {
	case ObjectITUser:
		typ = "it"
	case ObjectPerson:
		typ = "employee"
	}
	action := e.Action
	if action == "" {
		action = ActionRefresh
	}
	out := make([]Message, 0, len(e.Owners))
	for _, o := range e.Owners {
		body, _ := json.Marshal(struct {
			UUID       string `json:"uuid"`
			ObjectUUID string `json:"object_uuid"`
			Time       string `json:"time"`
		}{o.UUID.String(), e.UUID.String(), e.Time.Format("2006-01-02T15:04:05.999999-07:00")})
		out = append(out, Message{RoutingKey: o.Service + "." + typ + "." + action, Body: body})
	}
	return out
}

// EventPublisher emits an OS2MO change event: routing key objectType ("org_unit", "person", …),
// subject id. [*Publisher] implements it.
type EventPublisher interface {
	Publish(ctx context.Context, objectType string, id uuid.UUID) error
}

// EventSink is an [EventPublisher] that takes the whole [Event] (for legacy keys); the server
// uses PublishEvent when its Events implement it. [*Publisher] implements it.
type EventSink interface {
	PublishEvent(ctx context.Context, e Event) error
}

// ErrNotPublished is returned (wrapped) by the mutation functions when the change was stored but
// an event could not be published, as when OS2MO's event generator lags.
var ErrNotPublished = errors.New("motest: change stored, but its events were not published")

// emit gives events to OS2MO's two event systems: it stores the GraphQL events (always, even
// with AMQP off, as OS2MO does since 2026-07) and then publishes them in order through the
// configured AMQP publisher (none: AMQP is off). The two are separate: a publishing failure
// leaves the GraphQL events stored and is returned wrapping [ErrNotPublished].
func (s *Server) emit(ctx context.Context, events []Event) error {
	s.storeMOEvents(events)
	return s.publishAMQP(ctx, events)
}

// publishAMQP publishes events in order through Options.Events (nil: nothing to do), stopping at
// the first failure, which it returns wrapping [ErrNotPublished].
func (s *Server) publishAMQP(ctx context.Context, events []Event) error {
	if s.opts.Events == nil {
		return nil
	}
	for _, e := range events {
		var err error
		if sink, ok := s.opts.Events.(EventSink); ok {
			err = sink.PublishEvent(ctx, e)
		} else {
			err = s.opts.Events.Publish(ctx, e.ObjectType, e.UUID)
		}
		if err != nil {
			s.log.ErrorContext(ctx, "publishing OS2MO event failed", "object_type", e.ObjectType, "uuid", e.UUID, "error", err)
			return fmt.Errorf("%w: %s %s: %w", ErrNotPublished, e.ObjectType, e.UUID, err)
		}
	}
	return nil
}

// BoundaryEvents returns the events OS2MO emits when validity boundaries pass: one per object
// (any type) with a validity starting or ending in (since, until], e.g. a future termination on
// the day it takes effect. Action is "refresh". Events are sorted by type and UUID.
func (s *Server) BoundaryEvents(since, until time.Time) []Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store
	var out []Event
	add := func(typ string, id uuid.UUID, owners []EventOwner) {
		out = append(out, Event{ObjectType: typ, UUID: id, Action: ActionRefresh, Owners: owners, Time: until})
	}
	collect(st.units, since, until, func(v *ver[unitData]) { add(ObjectOrgUnit, v.id, unitOwner(v.id)) })
	collect(st.persons, since, until, func(v *ver[personData]) { add(ObjectPerson, v.id, personOwner(&v.id)) })
	collect(st.engagements, since, until, func(v *ver[engData]) {
		add(ObjectEngagement, v.id, append(personOwner(&v.d.person), unitOwner(v.d.orgUnit)...))
	})
	collect(st.addresses, since, until, func(v *ver[addrData]) { add(ObjectAddress, v.id, owners(v.d.person, v.d.orgUnit)) })
	collect(st.itusers, since, until, func(v *ver[itData]) { add(ObjectITUser, v.id, owners(v.d.person, v.d.orgUnit)) })
	collect(st.managers, since, until, func(v *ver[mgrData]) { add(ObjectManager, v.id, owners(v.d.person, &v.d.orgUnit)) })
	collect(st.kles, since, until, func(v *ver[kleData]) { add(ObjectKLE, v.id, unitOwner(v.d.orgUnit)) })
	collect(st.associations, since, until, func(v *ver[assocData]) {
		add(ObjectAssociation, v.id, owners(&v.d.person, &v.d.orgUnit))
	})
	collect(st.leaves, since, until, func(v *ver[leaveData]) { add(ObjectLeave, v.id, personOwner(&v.d.person)) })
	slices.SortFunc(out, func(a, b Event) int {
		if a.ObjectType != b.ObjectType {
			if a.ObjectType < b.ObjectType {
				return -1
			}
			return 1
		}
		return compareUUID(a.UUID, b.UUID)
	})
	return out
}

// PublishBoundaryEvents publishes [Server.BoundaryEvents] for (since, until] and returns them:
// as GraphQL events for the listeners of "mo", and through Options.Events when set.
func (s *Server) PublishBoundaryEvents(ctx context.Context, since, until time.Time) ([]Event, error) {
	events := s.BoundaryEvents(since, until)
	return events, s.emit(ctx, events)
}

func collect[T keyed](t *table[T], since, until time.Time, f func(*ver[T])) {
	for _, id := range t.sorted {
		if h := t.get(id); h.hasBoundary(since, until) {
			f(h.vs[len(h.vs)-1])
		}
	}
}

func unitOwner(id uuid.UUID) []EventOwner { return []EventOwner{{Service: ServiceOrgUnit, UUID: id}} }

func personOwner(id *uuid.UUID) []EventOwner {
	if id == nil {
		return nil
	}
	return []EventOwner{{Service: ServiceEmployee, UUID: *id}}
}

func owners(person, unit *uuid.UUID) []EventOwner {
	out := personOwner(person)
	if unit != nil {
		out = append(out, unitOwner(*unit)...)
	}
	return out
}
