// Package leasekeep keeps an expiring lease alive while the work it protects runs, and stops that
// work when the lease is lost, for the event pipeline and the full synchronisation alike.
package leasekeep

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Renewer extends a lease to ttl from now. Its error matches the lost sentinel given to Keep when
// the lease expired or was taken over; other errors are passing trouble.
type Renewer interface {
	Renew(ctx context.Context, ttl time.Duration) error
}

// Keep renews the lease every ttl/3 until stop is called. When a renewal fails with an error
// matching lost, the returned context is cancelled with cause lost, so the work stops before
// another worker's writes can interleave with its own; other renewal errors are logged and the
// next renewal is tried. key names the leased object in the logs.
func Keep(ctx context.Context, r Renewer, ttl time.Duration, lost error, log *slog.Logger, key string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := r.Renew(ctx, ttl)
			switch {
			case errors.Is(err, lost):
				log.Error("lease lost while writing; stopping the work", "object", key, "error", err)
				cancel(lost)
				return
			case err != nil && ctx.Err() == nil:
				log.Warn("renew lease", "object", key, "error", err)
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-finished
		cancel(nil)
	}
}
