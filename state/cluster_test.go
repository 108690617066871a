package state_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/state"
)

// TestRedisCluster: every state operation works on a Redis Cluster of three masters (started by
// the test on ports of its own): the contract holds, and Peek's MGET of a record and a lease
// meets no CROSSSLOT error because both keys carry the bundle key as their hash tag. Without the
// tag the same two keys would be in different slots (checked, so the test could fail).
func TestRedisCluster(t *testing.T) {
	cluster := chaosenv.StartRedisCluster(t, 3)
	client, err := state.NewClient(state.RedisConfig{URL: "redis:///0", ClusterAddrs: cluster.Addrs()[:1]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("NewClient with cluster addresses returned %T, want *redis.ClusterClient", client)
	}
	ctx := t.Context()

	const key = "org_unit:0b0f1c9e-3d0e-4c71-9b1e-5a3c1f0e2d44"
	plain := func(kind string) string { return "stsorgsync:" + kind + ":" + key }
	sentSlot, err := cc.ClusterKeySlot(ctx, plain("sent")).Result()
	if err != nil {
		t.Fatal(err)
	}
	leaseSlot, err := cc.ClusterKeySlot(ctx, plain("lease")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if sentSlot == leaseSlot {
		t.Fatalf("without hash tags both keys are in slot %d: the test would prove nothing", sentSlot)
	}
	if err := cc.MGet(ctx, plain("sent"), plain("lease")).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MGET of untagged keys in two slots: err %v, want CROSSSLOT", err)
	}
	tagged := func(kind string) string { return "stsorgsync:{" + key + "}:" + kind }
	a, errA := cc.ClusterKeySlot(ctx, tagged("sent")).Result()
	b, errB := cc.ClusterKeySlot(ctx, tagged("lease")).Result()
	if err := errors.Join(errA, errB); err != nil || a != b {
		t.Fatalf("tagged keys in slots %d and %d (%v), want one", a, b, err)
	}

	// The store's own keys: write a record and a lease, then find them under the tagged names.
	st, err := state.NewRedis(client, state.RedisOptions{Prefix: "stsorgsync:", Token: counterTokens()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordSent(ctx, key, "h1"); err != nil {
		t.Fatal(err)
	}
	lease, err := st.AcquireLease(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := cc.Exists(ctx, tagged("sent")).Result(); err != nil || n != 1 {
		t.Errorf("record not under %s (%d, %v)", tagged("sent"), n, err)
	}
	if n, err := cc.Exists(ctx, tagged("lease")).Result(); err != nil || n != 1 {
		t.Errorf("lease not under %s (%d, %v)", tagged("lease"), n, err)
	}
	if h, ok, leased, err := st.Peek(ctx, key); err != nil || h != "h1" || !ok || !leased {
		t.Errorf("Peek = %q, %v, %v, %v; want h1, true, true, nil", h, ok, leased, err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := state.NewRedis(client, state.RedisOptions{Prefix: "a{b}:", Token: counterTokens()}); err == nil {
		t.Error("a key prefix with a hash tag was accepted on a cluster")
	}

	runContract(t, func(t *testing.T) map[string]impl {
		st, err := state.NewRedis(client, state.RedisOptions{Prefix: testenv.UniqueName("test:") + ":", Token: counterTokens()})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]impl{"cluster": {st, func(d time.Duration) { time.Sleep(d) }}}
	})

	items := state.Inspect(ctx, state.RedisConfig{URL: "redis:///0", ClusterAddrs: cluster.Addrs()[:1]}, client)
	var lines []string
	for _, it := range items {
		lines = append(lines, it.Name+": "+it.Detail)
		if it.Err != nil {
			t.Errorf("Inspect: %s: %v", it.Name, it.Err)
		}
	}
	if len(items) != 4 || items[3].Detail != "3 nodes, 3 masters, 16384 of 16384 slots covered" {
		t.Errorf("Inspect found:\n%s\nwant 3 nodes and a summary of 3 masters covering every slot", strings.Join(lines, "\n"))
	}
}

// TestKeyLayoutOutsideCluster: on one server (and a Sentinel's master) the keys are those of
// every earlier version, so a lease an earlier version's replica holds excludes this version
// during a rolling upgrade, and its records are read.
func TestKeyLayoutOutsideCluster(t *testing.T) {
	client, prefix := testenv.Redis(t)
	st, err := state.NewRedis(client, state.RedisOptions{Prefix: prefix, Token: counterTokens()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const key = "person:7d1c2a40-9a0e-4a57-8f57-1b2c3d4e5f60"
	// What an earlier version's replica leaves: its lease and its record.
	if err := client.Set(ctx, prefix+"lease:"+key, "old-version-token", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.Set(ctx, prefix+"sent:"+key, "old record", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(ctx, key, time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Errorf("AcquireLease while an earlier version holds the lease: %v, want ErrLeaseHeld", err)
	}
	if h, ok, leased, err := st.Peek(ctx, key); err != nil || h != "old record" || !ok || !leased {
		t.Errorf("Peek = %q, %v, %v, %v; want the earlier version's record and lease", h, ok, leased, err)
	}
}
