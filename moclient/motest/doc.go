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
// boundaries pass.
package motest
