package state

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseHeld is returned by AcquireLease when another holder owns the lease.
var ErrLeaseHeld = errors.New("lease is held by another worker")

// ErrLeaseLost is returned by Lease.Renew and Lease.Release when the lease expired or was taken
// over by someone else; work done under it may have overlapped another writer's.
var ErrLeaseLost = errors.New("lease was lost (expired or taken over)")

// Lease is an exclusive, expiring claim on one key, identified by a unique token.
type Lease interface {
	// Key is the leased key (without the store's prefix).
	Key() string
	// Renew extends the lease to ttl from now; it fails with ErrLeaseLost if the lease is gone.
	Renew(ctx context.Context, ttl time.Duration) error
	// Release gives the lease up; it fails with ErrLeaseLost if the lease is no longer ours.
	Release(ctx context.Context) error
}

// TokenSource returns a new unique, unguessable lease token.
type TokenSource func() string
