package converge

import (
	"context"
	"fmt"
	"time"

	"github.com/stsorgsync/stsorgsync/state"
)

// Store keeps the per-bundle leases and last-sent records. *state.Redis implements it (and
// *state.Memory, for tests); the keys are translate.BundleKey values.
//
// AcquireLease fails with an error matching state.ErrLeaseHeld when another worker holds the
// lease, and the lease's Renew with one matching state.ErrLeaseLost when it is gone. Peek returns
// the record and whether the lease is held, in one round trip. ForgetSent removes the record.
type Store interface {
	AcquireLease(ctx context.Context, key string, ttl time.Duration) (state.Lease, error)
	Peek(ctx context.Context, key string) (record string, ok, leased bool, err error)
	LastSent(ctx context.Context, key string) (string, bool, error)
	RecordSent(ctx context.Context, key, record string) error
	ForgetSent(ctx context.Context, key string) error
}

// BusyError says another worker (another replica, the full sync, or a crashed process until its
// lease expires) holds the bundle's lease. It matches state.ErrLeaseHeld. Retrying later is right,
// and waiting for a lease is not a failure: Busy lets the event path's retry policy tell.
type BusyError struct{ Key string }

// Error says which bundle is busy.
func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is being written by another worker", e.Key)
}

// Unwrap returns state.ErrLeaseHeld.
func (e *BusyError) Unwrap() error { return state.ErrLeaseHeld }

// Retryable reports true.
func (e *BusyError) Retryable() bool { return true }

// Busy reports true: the bundle is locked, nothing failed.
func (e *BusyError) Busy() bool { return true }

// LeaseLostError says the bundle's lease was lost while its work ran (expired, or taken over after
// Redis lost it) and the work was cancelled before another writer's writes could interleave. It
// matches state.ErrLeaseLost and is retryable whatever the cancelled work returned (Cause).
type LeaseLostError struct {
	Key   string
	Cause error
}

// Error names the bundle and what the cancelled work returned.
func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("%s: %v; work cancelled (%v)", e.Key, state.ErrLeaseLost, e.Cause)
}

// Unwrap returns state.ErrLeaseLost.
func (e *LeaseLostError) Unwrap() error { return state.ErrLeaseLost }

// Retryable reports true: the next attempt takes the lease again.
func (e *LeaseLostError) Retryable() bool { return true }
