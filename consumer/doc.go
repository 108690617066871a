// Package consumer turns OS2MO's change events on RabbitMQ into writes to STS Organisation.
//
// It declares its topology idempotently (MO's durable topic exchange, the integration's own
// exchange bound to it, one durable quorum queue with a delivery limit and a dead-letter exchange,
// and a dead-letter queue), runs an explicit AMQP session loop that reconnects with jittered
// backoff, dispatches deliveries to a fixed pool of workers keyed by object UUID (so one object is
// never processed twice at once in a process), retries transient failures with exponential
// backoff, dead-letters what cannot be written with the reason in headers, and shuts down
// gracefully. Every delivery is acknowledged, rejected or requeued exactly once.
//
// The per-object work (fetch from OS2MO, translate, compare with the last-sent hash, read STS,
// plan, write, record) is the Pipeline, which depends only on the small interfaces declared here.
//
// DLQ lists, exports and replays the dead-letter queue without losing messages; replayed events
// carry HeaderReplayed, and HeaderForce (Event.Force) when the last-sent hash is to be bypassed.
package consumer
