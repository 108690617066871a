// Package motest is a fake OS2MO for tests and demos: a GraphQL v25 endpoint that validates every
// query against the real OS2MO v25 schema (schema-v25.graphql) and answers from an in-memory
// organisation, a Keycloak-style client-credentials token endpoint, a small HTTP JSON API to
// change the organisation, and a [Publisher] that emits OS2MO's AMQP change events.
//
// The GraphQL side is a small, general executor over the parsed query (selection sets, aliases,
// arguments and variables, fragments) with per-type field resolvers written in Go; a field the
// fake does not resolve yet is answered with a GraphQL error naming it, never with made-up data.
//
// Temporal model (walking skeleton): each stored object has one validity interval [From, To),
// To zero meaning open-ended; there is no registration history. Note that OS2MO v25 reports
// "to" as the last valid day (off by one, fixed in v29); the fake stores and reports the instant
// it was given.
package motest
