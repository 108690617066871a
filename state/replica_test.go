package state_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/state"
)

// TestReplicaAcks: on a master with a replica, watched by a Sentinel (started by the test), the
// store meets the contract with ReplicaAcks; a lease and a forgotten record are on the replica
// when AcquireLease and ForgetSent return; with the replica gone they wait ReplicaWait and go
// ahead.
func TestReplicaAcks(t *testing.T) {
	group := chaosenv.StartSentinelGroup(t, 1, 1)
	client, err := state.NewClient(state.RedisConfig{URL: "redis:///0", SentinelAddrs: group.SentinelAddrs(), SentinelMaster: group.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	const wait = 1500 * time.Millisecond
	newStore := func(t *testing.T) (*state.Redis, string) {
		prefix := testenv.UniqueName("test:") + ":"
		st, err := state.NewRedis(client, state.RedisOptions{Prefix: prefix, Token: counterTokens(), ReplicaAcks: 1, ReplicaWait: wait})
		if err != nil {
			t.Fatal(err)
		}
		return st, prefix
	}
	runContract(t, func(t *testing.T) map[string]impl {
		st, _ := newStore(t)
		return map[string]impl{"sentinel": {st, func(d time.Duration) { time.Sleep(d) }}}
	})

	ctx := t.Context()
	st, prefix := newStore(t)
	replica := redis.NewClient(&redis.Options{Addr: group.Data[1].Addr()})
	t.Cleanup(func() { _ = replica.Close() })
	if err := st.RecordSent(ctx, "k", "h"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if _, err := st.AcquireLease(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.ForgetSent(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took >= wait {
		t.Errorf("AcquireLease and ForgetSent with a replica in sync took %s, want well under ReplicaWait %s", took, wait)
	}
	if n, err := replica.Exists(ctx, prefix+"lease:k").Result(); err != nil || n != 1 {
		t.Errorf("the lease is not on the replica when AcquireLease returns (%d, %v)", n, err)
	}
	if n, err := replica.Exists(ctx, prefix+"sent:k").Result(); err != nil || n != 0 {
		t.Errorf("the record is still on the replica when ForgetSent returns (%d, %v)", n, err)
	}

	group.Data[1].Kill(t)
	begin = time.Now()
	if _, err := st.AcquireLease(ctx, "k2", time.Minute); err != nil {
		t.Fatalf("AcquireLease without a replica: %v", err)
	}
	if took := time.Since(begin); took < wait {
		t.Errorf("AcquireLease without a replica returned after %s, want the ReplicaWait of %s (WAIT)", took, wait)
	}
}
