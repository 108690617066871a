package converge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/internal/leasekeep"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Applier performs one planned write to STS Organisation.
type Applier interface {
	Apply(ctx context.Context, op translate.Operation) error
}

// Trail is the durable audit trail (audit.Stream): Append returns once the records are stored.
type Trail interface {
	Append(ctx context.Context, recs ...audit.Record) error
}

// Writer converges bundles: it takes their leases and writes them with the one protocol (see the
// package doc). Its zero values are defaults documented per field; Store and STS are required.
type Writer struct {
	Store Store
	STS   Applier
	// LeaseTTL bounds how long a bundle stays locked if the process dies mid-write (default 2m);
	// a live lease is renewed every third of it.
	LeaseTTL time.Duration
	// Attempts bounds the tries of a bundle's writes that fail transiently (default 1: the caller
	// retries the whole bundle); RetryDelay is the first wait between them, doubling (default 1s).
	Attempts   int
	RetryDelay time.Duration
	// NewID returns each write's TransactionUUID (default uuid.New).
	NewID func() uuid.UUID
	// Trail, if set, receives an intent record before each write (the write is not made unless
	// it is stored) and an outcome record after it.
	Trail Trail
	// Now is the clock of the trail's records (default time.Now).
	Now func() time.Time
	// Logger receives the audit lines and lease trouble (default slog.Default()).
	Logger *slog.Logger
}

func (w *Writer) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

func (w *Writer) leaseTTL() time.Duration {
	if w.LeaseTTL <= 0 {
		return 2 * time.Minute
	}
	return w.LeaseTTL
}

func (w *Writer) log() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

// Leased runs work under key's lease, renewed every LeaseTTL/3, and releases it afterwards. A
// lease another worker holds is a *BusyError (work does not run). When a renewal finds the lease
// lost, work's context is cancelled and Leased returns a *LeaseLostError whatever work returned;
// the lease is then not released (it is not ours).
func (w *Writer) Leased(ctx context.Context, key string, work func(ctx context.Context) error) error {
	ttl := w.leaseTTL()
	lease, err := w.Store.AcquireLease(ctx, key, ttl)
	if errors.Is(err, state.ErrLeaseHeld) {
		return &BusyError{Key: key}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	leased, stop := leasekeep.Keep(ctx, lease, ttl, state.ErrLeaseLost, w.log(), key)
	err = work(leased)
	lost := context.Cause(leased) == state.ErrLeaseLost
	stop()
	if lost {
		if err == nil {
			err = context.Cause(leased)
		}
		return &LeaseLostError{Key: key, Cause: err}
	}
	if rerr := lease.Release(context.WithoutCancel(leased)); rerr != nil {
		w.log().Warn("release lease", "object", key, "error", rerr)
	}
	return err
}

// Job is one bundle's writes, made under its lease (Writer.Write).
type Job struct {
	// Key is the bundle (translate.BundleKey).
	Key string
	// Record is the bundle's last-sent record to keep once every write succeeded ("" keeps none).
	// It is kept after a write, and also when nothing was written unless RecordOnlyIfWritten.
	Record              string
	RecordOnlyIfWritten bool
	// HadRecord says the bundle has a last-sent record now: it is forgotten before the first write.
	HadRecord bool
	// Plan returns the writes in order. retry is true when it is called again after a failed write:
	// what STS holds is uncertain then, and Plan must read it again.
	Plan func(ctx context.Context, retry bool) ([]translate.Operation, error)
	// Applied, if set, is told of each write STS accepted (the full sync updates its model of STS).
	Applied func(ctx context.Context, op translate.Operation) error
	// Source is what made the writes, for the audit trail's records and the audit line.
	Source audit.Source
}

// Write plans the job's writes and makes them: the record is forgotten before the first write,
// each write is logged as one audit line ("sts write": object, operation, bundle, the
// TransactionUUID sent to STS), and the record is kept after the last. A write that fails
// transiently (an error with Retryable() true) is retried, after a wait and a new Plan, up to
// Writer.Attempts times in all. It returns how many writes STS accepted.
func (w *Writer) Write(ctx context.Context, j Job) (written int, err error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = w.RetryDelay
	if b.InitialInterval <= 0 {
		b.InitialInterval = time.Second
	}
	b.RandomizationFactor = 0
	b.MaxInterval = 64 * b.InitialInterval
	b.MaxElapsedTime = 0
	attempts := max(w.Attempts, 1)
	var policy backoff.BackOff = backoff.WithMaxRetries(b, uint64(attempts-1))
	policy.Reset()
	forgotten := !j.HadRecord
	for attempt := 1; ; attempt++ {
		ops, err := j.Plan(ctx, attempt > 1)
		if err != nil {
			return written, err
		}
		if len(ops) > 0 && !forgotten {
			// A write that fails half-way must not leave a record saying STS is as before.
			if err := w.Store.ForgetSent(ctx, j.Key); err != nil {
				return written, fmt.Errorf("clear the last-sent record of %s before writing: %w", j.Key, err)
			}
			forgotten = true
		}
		n, err := w.apply(ctx, j, ops)
		written += n
		if err == nil {
			break
		}
		next := policy.NextBackOff()
		if next == backoff.Stop || !retryable(err) || ctx.Err() != nil {
			return written, err
		}
		w.log().Warn("bundle write failed, retrying", "object", j.Key, "attempt", attempt, "error", err, "wait", next)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return written, ctx.Err()
		case <-t.C:
		}
	}
	if j.Record != "" && (written > 0 || !j.RecordOnlyIfWritten) {
		if err := w.Store.RecordSent(ctx, j.Key, j.Record); err != nil {
			// The writes succeeded; a lost record only costs reads next time.
			w.log().Warn("could not record what was sent", "object", j.Key, "error", err)
		}
	}
	return written, nil
}

// apply makes ops in order, one audit line each, and tells j.Applied of each. With a Trail, each
// write's intent record is stored before the write (together with the previous write's outcome:
// one round trip), and the last outcome after the last write. A write whose intent cannot be
// stored is not made (a retryable error). A lost outcome is logged, not an error: the write has
// its intent record, and an intent without an outcome tells the reader to ask KOMBIT by its
// transaction UUID.
func (w *Writer) apply(ctx context.Context, j Job, ops []translate.Operation) (int, error) {
	newID := w.NewID
	if newID == nil {
		newID = uuid.New
	}
	var pending []audit.Record // the previous write's outcome, not yet stored
	defer func() {
		if len(pending) > 0 && w.Trail != nil {
			if err := w.Trail.Append(context.WithoutCancel(ctx), pending...); err != nil {
				w.log().Warn("the outcome of an STS write was not recorded in the audit trail; its intent record stands", "object", pending[0].Kind+":"+pending[0].Object.String(), "transaction_uuid", pending[0].TransactionUUID.String(), "error", err)
			}
		}
	}()
	for i, op := range ops {
		op.TransactionUUID = newID()
		var intent audit.Record
		if w.Trail != nil {
			intent = audit.Intent(w.now(), j.Source, j.Key, string(op.Op), op.TransactionUUID, op.Before, op.Object)
			if err := w.Trail.Append(ctx, append(pending, intent)...); err != nil {
				return i, fmt.Errorf("%s %s (for %s) not written: %w", op.Op, op.Ref(), j.Key, err)
			}
			pending = nil
		}
		err := w.STS.Apply(ctx, op)
		if w.Trail != nil {
			pending = []audit.Record{audit.Outcome(w.now(), intent, statusKode(err), err)}
		}
		if err != nil {
			return i, fmt.Errorf("%s %s (for %s, transaction %s): %w", op.Op, op.Ref(), j.Key, op.TransactionUUID, err)
		}
		// The audit line: one per STS write.
		attrs := []any{"object", op.Ref().String(), "operation", string(op.Op), "for", j.Key,
			"transaction_uuid", op.TransactionUUID.String(), "source", j.Source.Kind}
		if j.Source.RoutingKey != "" {
			attrs = append(attrs, "routing_key", j.Source.RoutingKey, "event_object", j.Source.Object)
		}
		w.log().Info("sts write", attrs...)
		if j.Applied != nil {
			if err := j.Applied(ctx, op); err != nil {
				return i + 1, err
			}
		}
	}
	return len(ops), nil
}

// statusKode returns the StatusKode STS answered with err, or 0.
func statusKode(err error) int {
	var s interface{ StatusKode() int }
	if errors.As(err, &s) {
		return s.StatusKode()
	}
	return 0
}

// retryable reports whether an error says trying again later may succeed.
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}
