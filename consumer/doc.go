// Package consumer is the event transport: it takes change events from the integration's RabbitMQ
// work queue and hands each to a Handler, exactly once at a time per object.
//
// It declares its topology idempotently (OS2MO's durable topic exchange unless
// Config.NoMOExchange, the integration's own exchange, one durable quorum queue with a delivery
// limit and a dead-letter exchange, and a dead-letter queue), runs one broker session at a time
// (a session: connections, channel, publisher, workers) and reconnects with jittered backoff,
// dispatches deliveries to a fixed pool of workers keyed by object UUID (so one object is never
// handled twice at once in a process) and coalesces duplicates waiting for the same worker,
// retries transient failures with exponential backoff (waiting for a busy object or an open
// circuit breaker costs no retry budget), dead-letters what cannot be handled with the reason in
// headers, and shuts down gracefully. Every delivery is acknowledged, rejected or requeued exactly
// once. Publish and Enqueue put events into the queue on the session's confirm channel (the
// GraphQL event bridge, a unit's cascade).
//
// What an event does is the Handler's business: in the daemon that is package pipeline.
//
// DLQ lists, exports and replays the dead-letter queue without losing messages; replayed events
// carry HeaderReplayed, and HeaderForce (Event.Force) when the last-sent hash is to be bypassed.
package consumer
