package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Unavailable is implemented by errors that say the downstream service (STS Organisation) did
// not answer usefully at all: a network failure, a timeout, an HTTP 5xx. Such errors feed the
// consumer's circuit breaker. The adapter wiring the STS client implements it (package cmd); the
// consumer never imports the client.
type Unavailable interface {
	Unavailable() bool
}

// errInterrupted says an event waiting for the circuit breaker was interrupted by shutdown.
var errInterrupted = errors.New("interrupted by shutdown while waiting for the circuit breaker or another worker's lease")

// isUnavailable reports whether err (or an error it wraps) says the service is unavailable.
func isUnavailable(err error) bool {
	var u Unavailable
	return errors.As(err, &u) && u.Unavailable()
}

// attemptResult is what one handler attempt tells the breaker.
type attemptResult int

const (
	resultNeutral     attemptResult = iota // says nothing about the service (cancelled, other errors)
	resultAnswered                         // the handler succeeded: the service answers
	resultUnavailable                      // the service did not answer
)

// resultOf classifies a handler result for the breaker.
func resultOf(err error, cancelled bool) attemptResult {
	switch {
	case cancelled:
		return resultNeutral
	case err == nil:
		return resultAnswered
	case isUnavailable(err):
		return resultUnavailable
	}
	return resultNeutral
}

// breaker is the consumer's circuit breaker. After threshold consecutive "unavailable" attempts
// (across all workers) it opens: workers stop starting attempts and wait, so that events keep
// their retry budget instead of being dead-lettered while the service is down. Every probeEvery
// one waiting worker is let through as a probe; the first attempt that succeeds closes the
// breaker and releases everyone. Because the workers wait, at most Prefetch deliveries stay
// unacknowledged and the broker sends no more: consumption pauses.
type breaker struct {
	threshold  int // ≤ 0: disabled
	probeEvery time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu        sync.Mutex
	failures  int
	open      bool
	probing   bool
	nextProbe time.Time
	changed   chan struct{} // closed (and replaced) whenever waiting workers should look again
}

func newBreaker(threshold int, probeEvery time.Duration, now func() time.Time, log *slog.Logger) *breaker {
	return &breaker{threshold: threshold, probeEvery: probeEvery, now: now, log: log, changed: make(chan struct{})}
}

// isOpen reports whether the breaker is open.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// signal wakes every waiting worker. Requires b.mu.
func (b *breaker) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// acquire returns when an attempt may start: at once while the breaker is closed; while it is
// open, when this worker may probe (probe is true) or the breaker closed. waited reports whether
// it had to wait for the breaker (the caller's retry clock then starts again: time spent waiting
// out an outage is not the event's). It returns ctx's error if ctx ends first, and
// errInterrupted if stop is closed first (shutdown: waiting events are requeued at once rather
// than held until the shutdown deadline).
func (b *breaker) acquire(ctx context.Context, stop <-chan struct{}) (probe, waited bool, err error) {
	for {
		b.mu.Lock()
		if !b.open {
			b.mu.Unlock()
			return false, waited, nil
		}
		wait := b.probeEvery
		if !b.probing {
			wait = b.nextProbe.Sub(b.now())
			if wait <= 0 {
				b.probing = true
				b.mu.Unlock()
				return true, waited, nil
			}
		}
		waited = true
		ch := b.changed
		b.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, waited, ctx.Err()
		case <-stop:
			t.Stop()
			return false, waited, errInterrupted
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

// record feeds the result of one attempt (probe says whether acquire let it through as a probe).
func (b *breaker) record(r attemptResult, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		b.nextProbe = b.now().Add(b.probeEvery)
		defer b.signal() // another worker may probe when the time comes
	}
	if b.threshold <= 0 {
		return
	}
	switch r {
	case resultAnswered:
		b.failures = 0
		if b.open {
			b.open = false
			b.log.Warn("circuit breaker closed: STS answers again; resuming")
			b.signal()
		}
	case resultUnavailable:
		b.failures++
		if !b.open && b.failures >= b.threshold {
			b.open = true
			b.nextProbe = b.now().Add(b.probeEvery)
			b.log.Error("circuit breaker open: STS unavailable; pausing consumption and probing",
				"consecutive_failures", b.failures, "probe_every", b.probeEvery.String())
		}
	}
}
