package converge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// storeCase is one implementation of converge.Store, with a way to lose a lease the way it
// happens there.
type storeCase struct {
	name  string
	store converge.Store
	// lose makes key's lease lost: expired (Memory: its clock moves past the TTL) or gone
	// (Redis: the key deleted, as after a FLUSHALL or a failover to an empty replica).
	lose func(t *testing.T, key string)
}

// stores returns every Store implementation: the contract is the same for all (watermill-style:
// one suite, every adapter).
func stores(t *testing.T) []storeCase {
	t.Helper()
	var n atomic.Int64
	token := func() string { return fmt.Sprint(n.Add(1)) }
	clock := testclock.New(time.Now())
	rdb, prefix := testenv.Redis(t)
	r, err := state.NewRedis(rdb, state.RedisOptions{Prefix: prefix, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return []storeCase{
		{"memory", state.NewMemory(clock.Now, token), func(*testing.T, string) { clock.Advance(time.Hour) }},
		{"redis", r, func(t *testing.T, key string) {
			if err := rdb.Del(context.Background(), prefix+"lease:"+key).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	}
}

// TestLeased: the lease is taken, kept renewed while the work runs and released after it; a lease
// held by another worker is a BusyError and the work does not run; a lease lost mid-work cancels
// the work and ends in a retryable LeaseLostError, and is not released (it is not ours). The same
// for both Store implementations.
func TestLeased(t *testing.T) {
	t.Parallel()
	for _, sc := range stores(t) {
		t.Run(sc.name, func(t *testing.T) {
			w := &converge.Writer{Store: sc.store, LeaseTTL: 90 * time.Millisecond, Logger: discard()}
			ctx := t.Context()

			key := "org_unit:" + uuid.NewString()
			err := w.Leased(ctx, key, func(ctx context.Context) error {
				time.Sleep(250 * time.Millisecond) // three TTLs: only renewals keep it
				if _, _, leased, err := sc.store.Peek(ctx, key); err != nil || !leased {
					return fmt.Errorf("after 250 ms of work the lease is not held (%v)", err)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("long work: %v", err)
			}
			if _, _, leased, _ := sc.store.Peek(ctx, key); leased {
				t.Error("lease held after the work: not released")
			}

			busy := "person:" + uuid.NewString()
			other, err := sc.store.AcquireLease(ctx, busy, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			ran := false
			err = w.Leased(ctx, busy, func(context.Context) error { ran = true; return nil })
			var be *converge.BusyError
			if !errors.As(err, &be) || !errors.Is(err, state.ErrLeaseHeld) || !be.Busy() || !be.Retryable() || ran {
				t.Errorf("Leased on a held lease = %v (work ran: %v); want a BusyError and no work", err, ran)
			}
			_ = other.Release(ctx)

			lost := "org_unit:" + uuid.NewString()
			start := time.Now()
			var workErr error
			err = w.Leased(ctx, lost, func(ctx context.Context) error {
				sc.lose(t, lost)
				select {
				case <-ctx.Done():
					workErr = ctx.Err()
					return workErr
				case <-time.After(5 * time.Second):
					return nil
				}
			})
			var le *converge.LeaseLostError
			if !errors.As(err, &le) || !errors.Is(err, state.ErrLeaseLost) || !le.Retryable() || le.Key != lost {
				t.Fatalf("Leased after losing the lease = %v; want a retryable LeaseLostError for %s", err, lost)
			}
			if workErr == nil || time.Since(start) > 2*time.Second {
				t.Errorf("the work was not cancelled when the lease was lost (took %s)", time.Since(start))
			}
		})
	}
}

// fakeSTS records the writes it accepts; fail, if set, answers the nth write (1-based) with an
// error.
type fakeSTS struct {
	mu      sync.Mutex
	applied []translate.Operation
	calls   int
	fail    map[int]error
	// onApply runs before each write is accepted (to look at the store in between).
	onApply func(op translate.Operation)
}

func (f *fakeSTS) Apply(_ context.Context, op translate.Operation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.onApply != nil {
		f.onApply(op)
	}
	if err := f.fail[f.calls]; err != nil {
		return err
	}
	f.applied = append(f.applied, op)
	return nil
}

type transient struct{}

func (transient) Error() string   { return "STS: HTTP 503" }
func (transient) Retryable() bool { return true }

type permanent struct{}

func (permanent) Error() string   { return "STS: StatusKode 40" }
func (permanent) Retryable() bool { return false }

func ops(n int) []translate.Operation {
	out := make([]translate.Operation, n)
	for i := range out {
		out[i] = translate.Operation{Op: translate.OpImport, Object: oio.Object{Kind: oio.KindAdresse, UUID: uuid.New()}}
	}
	return out
}

// TestWrite: the write protocol — the record is forgotten before the first write and kept only
// after the last; one audit line per write with its TransactionUUID; transient failures retried
// with a new plan, permanent ones not.
func TestWrite(t *testing.T) {
	t.Parallel()
	const key = "org_unit:0f2d5bcb-5f1b-4a4e-8c1b-7d4c2f3b1a10"
	tests := []struct {
		name                string
		hadRecord           bool
		recordOnlyIfWritten bool
		planned             int
		attempts            int
		fail                map[int]error
		wantErr             bool
		wantWritten         int
		wantPlans           int
		wantRecord          string // "" = none
	}{
		{"first write", false, false, 2, 1, nil, false, 2, 1, "new"},
		{"rewrite: the old record is forgotten first", true, false, 3, 1, nil, false, 3, 1, "new"},
		{"nothing to write: the record is kept", true, false, 0, 1, nil, false, 0, 1, "new"},
		{"nothing to write, record only if written", true, true, 0, 1, nil, false, 0, 1, "old"},
		{"a write fails for good: no record left", true, false, 3, 3, map[int]error{2: permanent{}}, true, 1, 1, ""},
		{"a transient failure is retried with a new plan", true, false, 2, 3, map[int]error{2: transient{}}, false, 2, 2, "new"},
		{"without attempts left a transient failure fails", true, false, 2, 1, map[int]error{1: transient{}}, true, 0, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := state.NewMemory(time.Now, uuid.NewString)
			if tt.hadRecord {
				if err := store.RecordSent(t.Context(), key, "old"); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			sts := &fakeSTS{fail: tt.fail}
			trail := &memTrail{}
			sts.onApply = func(op translate.Operation) {
				if _, ok, _ := store.LastSent(context.Background(), key); ok {
					t.Error("a write was made while the old record was still kept")
				}
				if r := trail.find(op.TransactionUUID, audit.PhaseIntent); r == nil || r.Bundle != key || r.Object != op.Object.UUID || r.Source.Kind != "test" {
					t.Errorf("write %s made without its intent record in the trail (found %+v)", op.TransactionUUID, r)
				}
			}
			ids := 0
			w := &converge.Writer{Store: store, STS: sts, Attempts: tt.attempts, RetryDelay: time.Millisecond,
				NewID: func() uuid.UUID { ids++; return uuid.NewSHA1(uuid.Nil, []byte(fmt.Sprint(ids))) },
				Trail: trail, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			plans, retries := 0, 0
			var applied []translate.Operation
			written, err := w.Write(t.Context(), converge.Job{
				Key: key, Record: "new", HadRecord: tt.hadRecord, RecordOnlyIfWritten: tt.recordOnlyIfWritten,
				Plan: func(_ context.Context, retry bool) ([]translate.Operation, error) {
					plans++
					if retry {
						retries++
					}
					if plans > 1 {
						return ops(1), nil // after a failure, what is left to do
					}
					return ops(tt.planned), nil
				},
				Applied: func(_ context.Context, op translate.Operation) error { applied = append(applied, op); return nil },
				Source:  audit.Source{Kind: "test"},
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Write = %v; want error %v", err, tt.wantErr)
			}
			if written != tt.wantWritten || len(sts.applied) != tt.wantWritten || len(applied) != tt.wantWritten {
				t.Errorf("written %d, STS accepted %d, Applied told of %d; want %d", written, len(sts.applied), len(applied), tt.wantWritten)
			}
			if plans != tt.wantPlans || retries != tt.wantPlans-1 {
				t.Errorf("Plan called %d times (%d as a retry); want %d", plans, retries, tt.wantPlans)
			}
			rec, ok, _ := store.LastSent(t.Context(), key)
			if got := map[bool]string{true: rec}[ok]; got != tt.wantRecord {
				t.Errorf("record after Write = %q; want %q", got, tt.wantRecord)
			}
			// One audit line per accepted write, naming its TransactionUUID.
			var lines int
			for line := range strings.Lines(logs.String()) {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if rec["msg"] != "sts write" {
					continue
				}
				lines++
				if rec["for"] != key || rec["source"] != "test" || rec["transaction_uuid"] == "" {
					t.Errorf("audit line %v lacks the bundle, the source or the transaction", rec)
				}
			}
			if lines != tt.wantWritten {
				t.Errorf("%d audit lines; want one per write (%d)", lines, tt.wantWritten)
			}
			// Every attempt has an intent before it and an outcome after it, with STS's result.
			if n := len(trail.phase(audit.PhaseIntent)); n != sts.calls {
				t.Errorf("%d intent records; want one per STS call (%d)", n, sts.calls)
			}
			outcomes := trail.phase(audit.PhaseOutcome)
			accepted := 0
			for _, r := range outcomes {
				if r.Result == "ok" {
					accepted++
				}
			}
			if len(outcomes) != sts.calls || accepted != tt.wantWritten {
				t.Errorf("%d outcome records, %d ok; want %d, %d ok", len(outcomes), accepted, sts.calls, tt.wantWritten)
			}
			for i, op := range sts.applied {
				if op.TransactionUUID == uuid.Nil || i > 0 && op.TransactionUUID == sts.applied[i-1].TransactionUUID {
					t.Errorf("write %d has TransactionUUID %s; want a new one per write", i, op.TransactionUUID)
				}
			}
		})
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// memTrail is an audit trail in memory; with fail set, every append fails.
type memTrail struct {
	mu   sync.Mutex
	recs []audit.Record
	fail error
}

func (m *memTrail) Append(_ context.Context, recs ...audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.recs = append(m.recs, recs...)
	return nil
}

func (m *memTrail) find(txn uuid.UUID, p audit.Phase) *audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.recs {
		if m.recs[i].TransactionUUID == txn && m.recs[i].Phase == p {
			return &m.recs[i]
		}
	}
	return nil
}

func (m *memTrail) phase(p audit.Phase) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Record
	for _, r := range m.recs {
		if r.Phase == p {
			out = append(out, r)
		}
	}
	return out
}

// TestNoWriteWithoutItsIntentRecord: when the trail cannot be written, no STS write is made and
// the error is retryable (the event is retried; nothing is lost).
func TestNoWriteWithoutItsIntentRecord(t *testing.T) {
	t.Parallel()
	store := state.NewMemory(time.Now, uuid.NewString)
	sts := &fakeSTS{}
	trail := &memTrail{fail: &audit.AppendError{Stream: "stsorgsync.audit", Err: errors.New("connection refused")}}
	w := &converge.Writer{Store: store, STS: sts, Trail: trail, Logger: discard()}
	written, err := w.Write(t.Context(), converge.Job{
		Key: "unit:" + uuid.NewString(), Record: "new",
		Plan: func(context.Context, bool) ([]translate.Operation, error) { return ops(2), nil },
	})
	var r interface{ Retryable() bool }
	if err == nil || !errors.As(err, &r) || !r.Retryable() || !strings.Contains(err.Error(), "audit trail") {
		t.Errorf("Write = %v; want a retryable error naming the audit trail", err)
	}
	if written != 0 || sts.calls != 0 {
		t.Errorf("written %d, STS called %d times; want none without the intent record", written, sts.calls)
	}
}
