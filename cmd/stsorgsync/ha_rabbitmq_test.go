package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
)

// TestRabbitMQClusterLeaderKill (issue 22): two daemons (the real binary) with AMQP_URL listing
// the three nodes of a RabbitMQ cluster of the test's own, the fake OS2MO publishing through the
// same list. A stream of changes (each one an STS write of its own) and no-op refreshes runs; in
// its middle the node leading the work queue (a quorum queue, a member on every node) is killed
// with SIGKILL and stays dead. Both daemons must move on to another node by themselves (each
// counts a reconnect and consumes again); afterwards verify passes (no change lost), the work
// queue and the dead-letter queue are empty and the fake STS saw no two writes of one object at
// once. The figures are logged in one line, "ha-rabbitmq: recovered in …", for the closing note.
func TestRabbitMQClusterLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node RabbitMQ cluster and two daemons (about 2 minutes)")
	}
	bin := buildDaemon(t)
	start := time.Now()
	cluster := chaosenv.StartCluster(t, 3)
	rds := chaosenv.StartRedis(t)

	var (
		killed    int           // index of the node killed
		recovered time.Duration // kill → every daemon consuming again and a write after that
	)
	sc := chaosScenario{
		name:    "RabbitMQ cluster: kill -9 of the quorum queue's leader",
		daemons: 2,
		noops:   5,
		fault: func(t *testing.T, r *chaosRig) time.Time {
			var err error
			if killed, err = cluster.QueueLeader(t, r.vhost, chaosQueue); err != nil {
				t.Fatal(err)
			}
			// The daemons dial the first node and declare the queue there, so RabbitMQ's default
			// leader locator (client-local) puts its leader there: killing it also kills the
			// daemons' connections. Elsewhere, the test would not show them moving on.
			if killed != 0 {
				t.Fatalf("%s leads %s, not %s, which the daemons are connected to: the kill would not make them move to another node",
					cluster.Nodes[killed].Node, chaosQueue, cluster.Nodes[0].Node)
			}
			before := make([]float64, len(r.daemons))
			for i, d := range r.daemons {
				before[i] = metricAt(t, d.ops, "stsorgsync_amqp_reconnects_total ")
			}
			t.Logf("killing %s, leader of %s (the daemons dial %s first)", cluster.Nodes[killed].Node, chaosQueue, cluster.Nodes[0].Node)
			kill := time.Now()
			cluster.KillNode(t, killed)
			// Moved on: every daemon whose connections were on the killed node counted a
			// reconnect and is ready again (consuming through another node), and STS takes a write
			// after that.
			waitFor(t, 2*time.Minute, "both daemons consuming again", func() bool {
				for i, d := range r.daemons {
					if metricAt(t, d.ops, "stsorgsync_amqp_reconnects_total ") <= before[i] {
						return false
					}
					if !daemonReady(d) {
						return false
					}
				}
				return true
			})
			writes0 := writes(r.sts.Calls())
			waitFor(t, 2*time.Minute, "an STS write after the daemons reconnected", func() bool {
				return writes(r.sts.Calls()) > writes0 || r.streamFinished()
			})
			recovered = time.Since(kill)
			t.Logf("both daemons consume again %s after the kill", recovered.Round(100*time.Millisecond))
			return kill
		},
		after: func(t *testing.T, r *chaosRig, res *chaosResult) {
			lost := r.verifyDifferences(t)
			t.Logf("ha-rabbitmq: recovered in %.1fs; events %d; lost %d; dlq %d; concurrent writes %d; killed leader node %d of 3; drained and verified %.1fs after the kill; wall %s",
				recovered.Seconds(), res.events, lost, res.dlqEnd, res.concurrent, killed+1, res.recovery.Seconds(), time.Since(start).Round(time.Second))
			if lost != 0 {
				t.Errorf("verify finds %d differences: events lost", lost)
			}
			if n := r.streamed(); n < 1000 {
				t.Errorf("the stream had %d events, want at least 1,000", n)
			}
			// The DLQ tools go to a surviving node (AMQP_URL starts with the dead one if it was
			// node 1).
			if code, out := r.cli.command(t, "dlq", "list"); code != 0 || !strings.Contains(out, "is empty") {
				t.Errorf("dlq list after the kill: exit %d, want 0 and an empty queue:\n%s", code, lastLines(out, 10))
			}
			for _, d := range r.daemons {
				if n := metricAt(t, d.ops, "stsorgsync_amqp_reconnects_total "); n < 1 {
					t.Errorf("%s counts %v reconnects after its node was killed", d.name, n)
				}
			}
		},
	}
	var res chaosResult
	runChaosScenario(t, bin, cluster, rds, sc, &res)
}

// daemonReady reports whether the daemon's /readyz answers 200.
func daemonReady(d *daemonProcess) bool {
	resp, err := http.Get(d.ops + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// streamFinished reports whether the whole stream is published.
func (r *chaosRig) streamFinished() bool {
	select {
	case <-r.streamDone:
		return true
	default:
		return false
	}
}

// verifyDifferences runs `stsorgsync verify --json` and returns the number of differences it
// reports.
func (r *chaosRig) verifyDifferences(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, "--config", r.cli.config, "verify", "--json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("verify --json: %v\n%s", err, stderr.String())
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, fmt.Sprint(stdout.String(), stderr.String()))
	}
	return len(rep.Differences)
}
