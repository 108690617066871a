package chaosenv

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TLSURL returns the amqps URL of a vhost on the node's TLS listener (BrokerOptions.TLS), as
// guest, with host 127.0.0.1 (the test server certificate names it).
func (b *Broker) TLSURL(vhost string) string {
	return strings.Replace(strings.Replace(b.URL(vhost), "amqp://", "amqps://", 1),
		fmt.Sprintf(":%d/", b.AMQPPort), fmt.Sprintf(":%d/", b.TLSPort), 1)
}

// Cluster is a RabbitMQ cluster of the test's own: nodes started by StartCluster, each a Broker
// with its own name, ports and data directory, sharing one Erlang cookie.
type Cluster struct {
	Nodes []*Broker
}

// StartCluster starts n RabbitMQ nodes of the test's own (at once), joins nodes 2…n to node 1
// (rabbitmqctl stop_app, join_cluster, start_app, each with the node's own HOME and so the
// shared cookie) and waits until every node answers AMQP and the management API and sees n
// running nodes. Quorum queues declared afterwards get a member on every node. The nodes are
// killed and their directories removed when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("StartCluster: n = %d, want at least 1", n)
	}
	cookie := strings.ToUpper(randomSuffix() + randomSuffix() + randomSuffix() + randomSuffix())
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, newBroker(t, BrokerOptions{Cookie: cookie}))
	}
	c.Nodes[0].RequireCtl(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, b := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.boot()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.Nodes[i].dumpLog(t)
			t.Fatalf("cluster node %d: %v", i+1, err)
		}
	}
	for _, b := range c.Nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.Nodes[0].Node}, {"start_app"}} {
			if _, err := b.Ctl(args...); err != nil {
				b.dumpLog(t)
				t.Fatalf("join %s to %s: %v", b.Node, c.Nodes[0].Node, err)
			}
		}
	}
	for _, b := range c.Nodes {
		b.mu.Lock()
		proc := b.proc
		b.mu.Unlock()
		b.waitUp(t, proc, "joining the cluster")
	}
	deadline := time.Now().Add(StartTimeout)
	for {
		var nodes []struct {
			Name    string `json:"name"`
			Running bool   `json:"running"`
		}
		running := 0
		if _, err := c.Nodes[0].Management(http.MethodGet, "/api/nodes", "", &nodes); err == nil {
			for _, nd := range nodes {
				if nd.Running {
					running++
				}
			}
		}
		if running == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster of %d: only %d nodes running after %s", n, running, StartTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("RabbitMQ cluster of %d nodes up in %s: %s", n, time.Since(start).Round(time.Millisecond), c)
	return c
}

// String names the nodes and their AMQP ports.
func (c *Cluster) String() string {
	parts := make([]string, len(c.Nodes))
	for i, b := range c.Nodes {
		parts[i] = fmt.Sprintf("%s (amqp %d, management %d)", b.Node, b.AMQPPort, b.APIPort)
	}
	return strings.Join(parts, ", ")
}

// URLs returns the comma-separated AMQP URLs of a vhost on every node, as guest (the form of
// AMQP_URL for a cluster).
func (c *Cluster) URLs(vhost string) string {
	urls := make([]string, len(c.Nodes))
	for i, b := range c.Nodes {
		urls[i] = b.URL(vhost)
	}
	return strings.Join(urls, ",")
}

// AddVHost creates a vhost (cluster-wide) through the first running node, as Broker.AddVHost
// does, and returns the URLs of it on every node and its name.
func (c *Cluster) AddVHost(t testing.TB) (urls, vhost string) {
	t.Helper()
	_, vhost = c.Running(t).AddVHost(t)
	return c.URLs(vhost), vhost
}

// KillNode sends SIGKILL to node i (0-based) and waits until it is gone; the other nodes notice
// when its distribution connection breaks.
func (c *Cluster) KillNode(t testing.TB, i int) {
	t.Helper()
	c.Nodes[i].Kill(t)
}

// Running returns the first node whose process runs and that answers the management API.
func (c *Cluster) Running(t testing.TB) *Broker {
	t.Helper()
	for _, b := range c.Nodes {
		b.mu.Lock()
		alive := b.proc != nil && !b.proc.exited()
		b.mu.Unlock()
		if alive {
			if status, err := b.Management(http.MethodGet, "/api/overview", "", nil); err == nil && status == http.StatusOK {
				return b
			}
		}
	}
	t.Fatal("no node of the cluster is running")
	return nil
}

// Management calls the management API as Broker.Management does, through the first node whose
// process runs and that answers; it returns the last failure if none does.
func (c *Cluster) Management(method, path, body string, out any) (int, error) {
	err := errors.New("no node of the cluster is running")
	for _, b := range c.Nodes {
		b.mu.Lock()
		alive := b.proc != nil && !b.proc.exited()
		b.mu.Unlock()
		if !alive {
			continue
		}
		var status int
		if status, err = b.Management(method, path, body, out); err == nil {
			return status, nil
		}
	}
	return 0, err
}

// QueueLeader returns the index of the node leading quorum queue q of vhost (the management
// API's "leader"), or an error if no running node names one that belongs to the cluster.
func (c *Cluster) QueueLeader(t testing.TB, vhost, q string) (int, error) {
	t.Helper()
	var info struct {
		Leader string `json:"leader"`
		Type   string `json:"type"`
	}
	if _, err := c.Management(http.MethodGet, "/api/queues/"+url.PathEscape(vhost)+"/"+url.PathEscape(q), "", &info); err != nil {
		return -1, fmt.Errorf("queue %s in vhost %s: %w", q, vhost, err)
	}
	for i, b := range c.Nodes {
		if b.Node == info.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("queue %s (type %q) has leader %q, not a node of the cluster", q, info.Type, info.Leader)
}
