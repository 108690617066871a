// Package motest is a fake OS2MO for tests and demos: a GraphQL v25 endpoint that validates every
// query against the real OS2MO v25 schema (schema-v25.graphql) and answers from an in-memory
// organisation, a Keycloak-style client-credentials token endpoint, mutation functions and a small
// HTTP JSON API to change the organisation, a [Publisher] that emits OS2MO's AMQP change events,
// and a seeded generator of synthetic municipalities of any size ([GenerateOrg]).
//
// The GraphQL side is a small, general executor over the parsed query (selection sets, aliases,
// arguments and variables, fragments, @skip/@include) with per-type field resolvers written in Go;
// a field or filter the fake does not resolve yet is answered with a GraphQL error naming it,
// never with made-up data. It resolves the operations moclient sends: org_units, persons
// (employees), engagements, addresses, itusers, managers, kles, associations and leaves with the
// filters uuids, user_keys, from_date/to_date, the nested org_unit/employee filters, ancestor,
// parent and names for units, with limit and an opaque keyset cursor; on the objects, their
// *_response references, current(at), validities(start, end), and the deprecated list fields.
//
// Temporal model: OS2MO stores units, persons and every detail (address, engagement, IT user,
// manager role, KLE mark-up, association, leave) as separate objects with a history of
// validities. The fake does too: an edit from a date splits the validity containing it, a
// termination cuts the history short, a filter without dates means "now", explicit null dates
// mean "all time", current is the validity in effect now (null when terminated or future) and
// an unknown UUID gives objects: []. Validity ends are stored as exclusive instants and reported as
// OS2MO v25 does: "to" is the start of the last valid day (off by one, fixed in v29). There is no
// registration (transaction-time) history.
//
// Events: every mutation publishes what OS2MO's AMQP subsystem publishes — one message per
// changed object, routing key = the object's type, body = its UUID as a JSON string — and
// optionally the legacy `<service>.<type>.<action>` messages, duplicates and delays
// ([PublisherOptions]); [Server.BoundaryEvents] gives the events OS2MO emits when validity
// boundaries pass. AMQP is Options.Events; nil means AMQP is off. The loaders ([Server.Load],
// [Server.AddOrgUnit], [Server.UpdateOrgUnit], …) publish nothing, in either event system.
//
// GraphQL events: the fake also keeps OS2MO's GraphQL event system, and executes GraphQL
// mutation operations (validated against the v25 schema like queries; their top-level fields run
// one after the other, in document order; a mutation field the fake does not implement is a
// GraphQL error naming it). Every change the mutation functions, the HTTP API and
// [Server.PublishBoundaryEvents] make adds, besides the AMQP message and even with AMQP off or
// failing, one event per listener of the public namespace "mo" whose routing key is the object
// type: subject = the object UUID, priority 10000 ([DefaultEventPriority]).
//
//   - Owners: a listener belongs to the Keycloak client whose token declared it; the owner UUID
//     is derived from the client id ([Server.ClientOwner]). Options.Clients adds clients.
//   - event_listener_declare(input: {namespace, user_key, routing_key}) is idempotent per (owner,
//     namespace, user_key); the same user_key with another routing key is an error, as in OS2MO,
//     and so is an unknown namespace. event_namespace_declare creates other namespaces (private
//     unless public: true); event_listener_delete, event_namespace_delete, event_listeners,
//     event_namespaces, events (the caller's pending events), event_silence and event_unsilence
//     work as in OS2MO.
//   - Pending events are unique per (listener, subject): a new event for a pending subject
//     renews it with a new generation, the smaller priority number, fetched_count 0, due at once.
//   - event_fetch(filter: {listener}) hands out the due event with the lowest priority number,
//     then the fewest fetches, then the oldest, or null; for another owner's listener it answers
//     null, as OS2MO does. A fetched event is offered again only after max(3 min, min(2^n s,
//     17 h)), n = its fetch count, on the server clock (Options.Now), so concurrent fetchers
//     never get the same event before that. Options.EmptyFetchDelay stands in for OS2MO's pause
//     before an empty answer.
//   - The token is base64 of "<event uuid>.<generation uuid>". event_acknowledge removes the
//     event only if the token names its current generation and the caller owns it, and answers
//     true either way; a token that does not parse is a GraphQL error.
//   - event_send(input: {namespace, routing_key, subject, priority}) adds an event for the
//     namespace's listeners with that routing key; only the namespace's owner may send (so not
//     in "mo"), priority ≥ 1, subject ≤ 220 bytes.
//   - org_unit_refresh, employee_refresh (routing key "person"), engagement_refresh,
//     address_refresh, ituser_refresh, manager_refresh, kle_refresh, association_refresh and
//     leave_refresh select objects with the same filters, limit and cursor as the corresponding
//     query and answer their UUIDs. With listener: and/or owner: they add GraphQL events for the
//     matching listeners of "mo" with the model's routing key only; with exchange: they publish
//     AMQP messages only (through Options.Events, whose one exchange the fake uses whatever the
//     name; an error when AMQP is off); with neither, both. listener/owner together with exchange
//     is an error. The v25 schema has no priority argument on the refreshes: priority 10000.
//
// For tests: [Server.EventListeners], [Server.PendingEvents], [Server.EventStats],
// [Server.DeclareListener], [Server.SendEvent], [Server.HoldAcknowledgements] (an acknowledgement
// whose request ends while held acknowledges nothing — a daemon dying between its RabbitMQ
// confirm and its acknowledgement) with [Server.AcknowledgementsWaiting], and GET /api/events.
package motest
