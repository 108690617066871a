package chaosenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
)

// TestClusterLeaderKill: three nodes of the test's own form one cluster (a quorum queue declared
// through node 1 has a leader the management API names); kill -9 of the leader leaves a quorum
// (2 of 3), a new leader is elected on a surviving node, and the confirmed message is still there,
// read through a surviving node.
func TestClusterLeaderKill(t *testing.T) {
	c := chaosenv.StartCluster(t, 3)
	seen := map[string]bool{}
	for _, b := range c.Nodes {
		if seen[b.Node] || !strings.HasPrefix(b.Node, "chaos-") {
			t.Fatalf("node names %v are not the test's own and distinct", c)
		}
		seen[b.Node] = true
	}
	urls, vhost := c.AddVHost(t)
	if got := len(strings.Split(urls, ",")); got != 3 {
		t.Fatalf("URLs = %d entries, want 3", got)
	}
	first := strings.Split(urls, ",")[0]
	publishKept(t, first)

	var leader int
	waitUntil(t, 30*time.Second, "the quorum queue's leader", func() bool {
		var err error
		leader, err = c.QueueLeader(t, vhost, "q")
		return err == nil
	})
	c.KillNode(t, leader)
	if c.Nodes[leader].Up() {
		t.Fatal("the killed leader still answers")
	}
	waitUntil(t, 60*time.Second, "a new leader on a surviving node", func() bool {
		l, err := c.QueueLeader(t, vhost, "q")
		return err == nil && l != leader
	})
	survivor := c.Nodes[(leader+1)%3]
	getKept(t, survivor.URL(vhost))
}

// waitUntil polls cond every 200 ms until it holds, or fails the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
