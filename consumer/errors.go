package consumer

import (
	"errors"
)

// ErrPermanent marks a failure that retrying cannot fix (e.g. STS rejected the data as invalid);
// wrap it (fmt.Errorf("…: %w", ErrPermanent)) to dead-letter an event at once.
var ErrPermanent = errors.New("permanent failure")

// retryable reports whether err is worth retrying. Errors that say so themselves (a Retryable()
// bool method anywhere in the chain, as stsclient's and moclient's errors have) decide; ErrPermanent
// and ErrMalformed are never retried; anything else is assumed transient, because dead-lettering a
// writable event is worse than retrying a hopeless one a few more times.
func retryable(err error) bool {
	if errors.Is(err, ErrPermanent) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnhandled) {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return true
}

// DeadLetterClasses returns every error class a dead-lettered event can carry (DeadLetter.Class):
// ours (malformed, permanent, retries-exhausted), the broker's own dead-letter reasons with "_"
// written "-" (delivery-limit, rejected, expired, maxlen), and unknown when none is recorded.
func DeadLetterClasses() []string {
	return []string{ClassMalformed, ClassPermanent, ClassRetriesExhausted, "delivery-limit", "rejected", "expired", "maxlen", ClassUnknown}
}

// The error classes the consumer writes in HeaderErrorClass, and the one a dead letter without any
// recorded class gets.
const (
	ClassMalformed        = "malformed"
	ClassPermanent        = "permanent"
	ClassRetriesExhausted = "retries-exhausted"
	ClassUnknown          = "unknown"
)

// errorClass names the kind of failure for the dead-letter headers and metrics.
func errorClass(err error) string {
	switch {
	case errors.Is(err, ErrMalformed):
		return ClassMalformed
	case !retryable(err):
		return ClassPermanent
	default:
		return ClassRetriesExhausted
	}
}
