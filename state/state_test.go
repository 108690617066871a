package state_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/state"
)

// store is the contract both implementations meet.
type store interface {
	AcquireLease(ctx context.Context, key string, ttl time.Duration) (state.Lease, error)
	LastSent(ctx context.Context, key string) (string, bool, error)
	RecordSent(ctx context.Context, key, hash string) error
	ForgetSent(ctx context.Context, key string) error
	Peek(ctx context.Context, key string) (hash string, ok, leased bool, err error)
}

func counterTokens() state.TokenSource {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("token-%d", n.Add(1)) }
}

// impl is one implementation under test and a function that lets time pass beyond a lease's TTL.
type impl struct {
	s      store
	expire func(time.Duration)
}

// impls returns the implementations under test on the machine's Redis: in memory and Redis.
func impls(t *testing.T) map[string]impl {
	clock := testclock.New(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	client, prefix := testenv.Redis(t)
	r, err := state.NewRedis(client, state.RedisOptions{Prefix: prefix, Token: counterTokens()})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]impl{
		"memory": {state.NewMemory(clock.Now, counterTokens()), clock.Advance},
		"redis":  {r, func(d time.Duration) { time.Sleep(d) }},
	}
}

// contractTest is one test of the Store contract, run against every implementation.
type contractTest struct {
	name string
	run  func(t *testing.T, impl impl)
}

// contract returns the tests of the contract every implementation meets.
func contract() []contractTest {
	return []contractTest{
		{"last-sent round trip", testLastSentRoundTrip},
		{"lease exclusive and released", testLeaseExclusiveAndRelease},
		{"expired lease cannot be released by its old holder", testExpiredLeaseCannotBeReleasedByOldHolder},
		{"concurrent acquire has one winner", testConcurrentAcquireHasOneWinner},
		{"peek", testPeek},
	}
}

// runContract runs every contract test against each implementation newImpls returns, with
// fresh ones (an empty store, a new key prefix) for each test.
func runContract(t *testing.T, newImpls func(t *testing.T) map[string]impl) {
	for _, c := range contract() {
		t.Run(c.name, func(t *testing.T) {
			for name, im := range newImpls(t) {
				t.Run(name, func(t *testing.T) { c.run(t, im) })
			}
		})
	}
}

// TestStore: the in-memory store and Redis (one server) meet the contract.
func TestStore(t *testing.T) { runContract(t, impls) }

func testLastSentRoundTrip(t *testing.T, impl impl) {
	ctx := t.Context()
	if _, ok, err := impl.s.LastSent(ctx, "organisationenhed:a"); err != nil || ok {
		t.Fatalf("LastSent on empty store = ok %v, err %v; want not found", ok, err)
	}
	if err := impl.s.RecordSent(ctx, "organisationenhed:a", "h1"); err != nil {
		t.Fatal(err)
	}
	if err := impl.s.RecordSent(ctx, "organisationenhed:a", "h2"); err != nil {
		t.Fatal(err)
	}
	h, ok, err := impl.s.LastSent(ctx, "organisationenhed:a")
	if err != nil || !ok || h != "h2" {
		t.Fatalf("LastSent = %q, %v, %v; want h2, true, nil", h, ok, err)
	}
	if err := impl.s.ForgetSent(ctx, "organisationenhed:a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := impl.s.LastSent(ctx, "organisationenhed:a"); ok {
		t.Fatal("hash still present after ForgetSent")
	}
}

func testLeaseExclusiveAndRelease(t *testing.T, impl impl) {
	ctx := t.Context()
	l1, err := impl.s.AcquireLease(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := impl.s.AcquireLease(ctx, "k", time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Fatalf("second AcquireLease err = %v; want ErrLeaseHeld", err)
	}
	if _, err := impl.s.AcquireLease(ctx, "other", time.Minute); err != nil {
		t.Fatalf("lease on another key: %v", err)
	}
	if err := l1.Renew(ctx, time.Minute); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := l1.Release(ctx); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("double Release err = %v; want ErrLeaseLost", err)
	}
	l2, err := impl.s.AcquireLease(ctx, "k", time.Minute)
	if err != nil {
		t.Fatalf("AcquireLease after release: %v", err)
	}
	_ = l2.Release(ctx)
}

func testExpiredLeaseCannotBeReleasedByOldHolder(t *testing.T, impl impl) {
	ctx := t.Context()
	old, err := impl.s.AcquireLease(ctx, "k", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	impl.expire(120 * time.Millisecond)
	taker, err := impl.s.AcquireLease(ctx, "k", time.Minute)
	if err != nil {
		t.Fatalf("lease not free after expiry: %v", err)
	}
	if err := old.Release(ctx); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("stale Release err = %v; want ErrLeaseLost", err)
	}
	if err := old.Renew(ctx, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("stale Renew err = %v; want ErrLeaseLost", err)
	}
	// The new holder's lease must be intact.
	if _, err := impl.s.AcquireLease(ctx, "k", time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Fatalf("new holder's lease was disturbed: %v", err)
	}
	if err := taker.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func testConcurrentAcquireHasOneWinner(t *testing.T, impl impl) {
	ctx := t.Context()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := impl.s.AcquireLease(ctx, "contended", time.Minute); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, state.ErrLeaseHeld) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d goroutines won the lease; want exactly 1", wins.Load())
	}
}

// testPeek: one call tells the record and whether the lease is held, through a lease's life.
func testPeek(t *testing.T, impl impl) {
	ctx := context.Background()
	type peek struct {
		hash       string
		ok, leased bool
	}
	check := func(step string, want peek) {
		t.Helper()
		h, ok, leased, err := impl.s.Peek(ctx, "org_unit:1")
		if err != nil {
			t.Fatalf("%s: Peek: %v", step, err)
		}
		if got := (peek{h, ok, leased}); got != want {
			t.Errorf("%s: Peek = %+v, want %+v", step, got, want)
		}
	}
	check("empty", peek{})
	if err := impl.s.RecordSent(ctx, "org_unit:1", "r1 abc"); err != nil {
		t.Fatal(err)
	}
	check("recorded", peek{"r1 abc", true, false})
	lease, err := impl.s.AcquireLease(ctx, "org_unit:1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	check("leased", peek{"r1 abc", true, true})
	if err := impl.s.ForgetSent(ctx, "org_unit:1"); err != nil {
		t.Fatal(err)
	}
	check("forgotten while leased", peek{"", false, true})
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	check("released", peek{})
	short, err := impl.s.AcquireLease(ctx, "org_unit:1", 50*time.Millisecond)
	if err != nil || short == nil {
		t.Fatal(err)
	}
	impl.expire(100 * time.Millisecond)
	check("lease expired", peek{})
}
