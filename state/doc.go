// Package state keeps the sync's small amount of shared state: per-object leases that keep one
// writer per STS object across processes, and the hash of the last desired state successfully
// written to STS Organisation for each object, so that unchanged objects cost no STS call.
//
// Redis is the production store (SET NX PX with a unique token; Lua compare-and-delete and
// compare-and-extend), reached through NewClient as one server, a master watched by Sentinels, or
// a Redis Cluster (where the two keys of an object share a hash slot); Inspect reports the
// topology found. Memory implements the same contract for single-process use and unit tests.
// Losing the store (flush, restart, a failover that lost the last writes) only causes extra
// reads and idempotent rewrites: a missing hash is never taken as "unchanged".
package state
