package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Fetcher reads the current state of OS2MO objects. OrgUnit returns an error matching
// moclient.ErrNotFound when OS2MO does not know the UUID, and moclient.ErrNotCurrent when the unit
// exists but is not in effect now (terminated or future).
type Fetcher interface {
	OrgUnit(ctx context.Context, id uuid.UUID) (*moclient.OrgUnit, error)
}

// STS reads and writes STS Organisation objects. ReadMany returns the current registrations of
// the objects of one kind that exist and are not passivated (missing ones are absent, so they
// are (re)created with importer); it reads them in bulk, not one call per object.
type STS interface {
	ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error)
	Apply(ctx context.Context, op translate.Operation) error
}

// Lease is an exclusive, expiring claim on one object, so that no two workers (in this process
// or another replica) write it at once.
type Lease interface {
	// Renew extends the lease to ttl from now. An error matching ErrLeaseLost says the lease
	// expired or was taken over; other errors are treated as passing trouble.
	Renew(ctx context.Context, ttl time.Duration) error
	Release(ctx context.Context) error
}

// ErrLeaseLost is matched (errors.Is) by the error Lease.Renew returns when the lease is gone.
// The pipeline then cancels the object's work and returns a retryable error wrapping it.
var ErrLeaseLost = errors.New("object lease lost")

// ErrObjectBusy is matched (errors.Is) by the error Store.AcquireLease returns when another
// worker holds the object's lease.
var ErrObjectBusy = errors.New("object is being written by another worker")

// Store keeps per-object leases and last-sent hashes (package state, adapted in cmd).
type Store interface {
	AcquireLease(ctx context.Context, key string, ttl time.Duration) (Lease, error)
	LastSent(ctx context.Context, key string) (string, bool, error)
	RecordSent(ctx context.Context, key, hash string) error
}

// busyError says another worker (probably another replica) holds the object's lease; retrying
// later is right.
type busyError struct{ key string }

func (e busyError) Error() string {
	return fmt.Sprintf("object %s is being written by another worker", e.key)
}
func (e busyError) Retryable() bool { return true }

// leaseLostError says the object's lease was lost mid-work and the work was cancelled; it is
// retryable (the next attempt takes the lease again) whatever the cancelled work returned.
type leaseLostError struct {
	key   string
	cause error
}

func (e leaseLostError) Error() string {
	return fmt.Sprintf("%s: %v; work cancelled (%v)", e.key, ErrLeaseLost, e.cause)
}
func (e leaseLostError) Unwrap() error   { return ErrLeaseLost }
func (e leaseLostError) Retryable() bool { return true }

// Pipeline is the Handler that brings one STS object in line with OS2MO:
// fetch → translate → compare with the last-sent hash (skip) → read STS → plan → write → record.
type Pipeline struct {
	MO       Fetcher
	STS      STS
	Store    Store
	Settings translate.Settings
	// LeaseTTL bounds how long one object stays locked if this process dies mid-write (default 2m).
	LeaseTTL time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Handle implements Handler.
func (p *Pipeline) Handle(ctx context.Context, ev Event) error {
	switch ev.Type {
	case TypeOrgUnit:
		return p.syncUnit(ctx, ev, ev.UUID)
	}
	return fmt.Errorf("%w: %s", ErrUnhandled, ev.Type)
}

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// objectKey is the key of an STS object in the store and its lease.
func objectKey(kind oio.Kind, id uuid.UUID) string { return string(kind) + ":" + id.String() }

// syncUnit converges one OrganisationEnhed under its lease.
func (p *Pipeline) syncUnit(ctx context.Context, ev Event, id uuid.UUID) error {
	key := objectKey(oio.KindOrganisationEnhed, id)
	ttl := p.LeaseTTL
	if ttl == 0 {
		ttl = 2 * time.Minute
	}
	lease, err := p.Store.AcquireLease(ctx, key, ttl)
	if errors.Is(err, ErrObjectBusy) {
		return busyError{key}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	ctx, stopRenewing := p.keepLease(ctx, lease, key, ttl)
	defer func() {
		stopRenewing()
		if context.Cause(ctx) == ErrLeaseLost {
			return // not ours any more
		}
		if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
			p.log().Warn("release lease", "key", key, "error", err)
		}
	}()
	err = p.syncUnitLeased(ctx, ev, key, id)
	if err != nil && context.Cause(ctx) == ErrLeaseLost {
		return leaseLostError{key: key, cause: err}
	}
	return err
}

// keepLease renews lease every ttl/3 until stop is called. If a renewal says the lease is lost,
// the returned context is cancelled with cause ErrLeaseLost, so the work stops before another
// worker's write can interleave with ours.
func (p *Pipeline) keepLease(ctx context.Context, lease Lease, key string, ttl time.Duration) (context.Context, func()) {
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
			err := lease.Renew(ctx, ttl)
			switch {
			case errors.Is(err, ErrLeaseLost):
				p.log().Error("lease lost while writing; cancelling the work", "object", key, "error", err)
				cancel(ErrLeaseLost)
				return
			case err != nil && ctx.Err() == nil:
				p.log().Warn("renew lease", "object", key, "error", err)
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-finished
		cancel(nil)
	}
}

// syncUnitLeased converges everything STS should hold for one OS2MO unit (the
// OrganisationEnhed, its Adresse objects and its manager function); the caller holds the unit's
// lease.
func (p *Pipeline) syncUnitLeased(ctx context.Context, ev Event, key string, id uuid.UUID) error {
	unit, err := p.MO.OrgUnit(ctx, id)
	var desired translate.Desired
	switch {
	case errors.Is(err, moclient.ErrNotFound):
		p.log().Info("unit unknown to OS2MO; nothing to do", "object", key, "routing_key", ev.RoutingKey)
		return nil
	case errors.Is(err, moclient.ErrNotCurrent):
		desired = translate.UnitGone(p.Settings, id)
	case err != nil:
		return fmt.Errorf("fetch unit %s from OS2MO: %w", id, err)
	default:
		desired = translate.UnitDesired(p.Settings, unit, p.now())
	}
	return p.convergeAll(ctx, ev, key, desired)
}

// convergeAll writes the bundle unless its hash was already sent: it reads the bundle's objects
// from STS, plans the minimal operations and applies them in order, then records the hash.
func (p *Pipeline) convergeAll(ctx context.Context, ev Event, key string, desired translate.Desired) error {
	for _, pr := range desired.Problems {
		p.log().Warn("translation problem", "object", string(pr.Kind)+":"+pr.UUID.String(), "field", pr.Field, "problem", pr.Message)
	}
	hash := desired.Hash()
	last, ok, err := p.Store.LastSent(ctx, key)
	if err != nil {
		return fmt.Errorf("read last-sent hash: %w", err)
	}
	if ok && last == hash && !ev.Force {
		p.log().Debug("unchanged since last write; skipped", "object", key)
		return nil
	}
	current, err := p.readCurrent(ctx, desired.Lookups().Read)
	if err != nil {
		return err
	}
	if err := p.apply(ctx, ev, key, translate.PlanAll(p.Settings, desired, current, p.now())); err != nil {
		return err
	}
	if err := p.Store.RecordSent(ctx, key, hash); err != nil {
		// The writes succeeded; a lost hash only costs reads next time.
		p.log().Warn("could not record last-sent hash", "object", key, "error", err)
	}
	return nil
}

// readCurrent reads the referenced objects from STS with one bulk read per kind.
func (p *Pipeline) readCurrent(ctx context.Context, refs []translate.Ref) (map[uuid.UUID]*oio.Object, error) {
	byKind := map[oio.Kind][]uuid.UUID{}
	var kinds []oio.Kind
	for _, ref := range refs {
		if _, seen := byKind[ref.Kind]; !seen {
			kinds = append(kinds, ref.Kind)
		}
		byKind[ref.Kind] = append(byKind[ref.Kind], ref.UUID)
	}
	current := map[uuid.UUID]*oio.Object{}
	for _, kind := range kinds {
		objs, err := p.STS.ReadMany(ctx, kind, byKind[kind])
		if err != nil {
			return nil, fmt.Errorf("read %d %s object(s) from STS: %w", len(byKind[kind]), kind, err)
		}
		maps.Copy(current, objs)
	}
	return current, nil
}

func (p *Pipeline) apply(ctx context.Context, ev Event, key string, ops []translate.Operation) error {
	if len(ops) == 0 {
		p.log().Info("STS already up to date", "object", key, "routing_key", ev.RoutingKey)
	}
	for _, op := range ops {
		if err := p.STS.Apply(ctx, op); err != nil {
			return fmt.Errorf("%s %s (for %s): %w", op.Op, op.Ref(), key, err)
		}
		p.log().Info("sts write", "object", op.Ref().String(), "operation", string(op.Op), "for", key, "routing_key", ev.RoutingKey, "event_object", ev.UUID.String())
	}
	return nil
}
