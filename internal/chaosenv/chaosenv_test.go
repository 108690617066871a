package chaosenv_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
)

// TestBrokerSurvivesKill: a confirmed message in a quorum queue of the test's own node is still
// there after kill -9 and a restart; the node has its own name and ports.
func TestBrokerSurvivesKill(t *testing.T) {
	b := chaosenv.StartBroker(t)
	if !strings.HasPrefix(b.Node, "chaos-") {
		t.Errorf("node %s is not a chaos node", b.Node)
	}
	for _, p := range []int{b.AMQPPort, b.APIPort, b.DistPort} {
		if p == 5672 || p == 15672 || p == 25672 {
			t.Fatalf("chaos node uses the machine's port %d", p)
		}
	}
	url, vhost := b.AddVHost(t)
	publishKept(t, url)

	b.Kill(t)
	if b.Up() {
		t.Fatal("the node answers after kill -9")
	}
	b.Start(t)

	getKept(t, url)
	var vhosts []struct{ Name string }
	if _, err := b.Management(http.MethodGet, "/api/vhosts", "", &vhosts); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vhosts {
		found = found || v.Name == vhost
	}
	if !found {
		t.Errorf("vhost %s gone after the restart: %v", vhost, vhosts)
	}
	out, err := b.Ctl("status")
	if err != nil || !strings.Contains(out, b.Node) {
		t.Errorf("rabbitmqctl status of the chaos node: %v\n%s", err, out)
	}
}

// TestBrokerSurvivesStopApp: StopApp stops the test's own node's application (it no longer
// answers, its Erlang VM keeps running) and StartApp brings it back on the same ports, with a
// confirmed message of a quorum queue still there.
func TestBrokerSurvivesStopApp(t *testing.T) {
	b := chaosenv.StartBroker(t)
	b.RequireCtl(t)
	url, _ := b.AddVHost(t)
	publishKept(t, url)

	b.StopApp(t)
	if b.Up() {
		t.Fatal("the node answers after stop_app")
	}
	if out, err := b.Ctl("eval", "node()."); err != nil || !strings.Contains(out, b.Node) {
		t.Errorf("rabbitmqctl eval on the stopped node (its VM should still run): %v\n%s", err, out)
	}
	b.StartApp(t)
	if !b.Up() {
		t.Fatal("the node does not answer after start_app")
	}
	getKept(t, url)
}

// publishKept declares the durable quorum queue q in the vhost of url and publishes the message
// "kept" to it, waiting for the broker's confirmation.
func publishKept(t *testing.T, url string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		t.Fatal(err)
	}
	// A quorum queue's Ra member persists its metadata a moment after the declaration; a node
	// killed within that moment may not elect the queue's leader again (real deployments
	// declare their queues long before any crash), so the test waits for it.
	time.Sleep(2 * time.Second)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "q", true, false, amqp.Publishing{Body: []byte("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
		t.Fatalf("not confirmed: %v %v", ok, err)
	}
}

// getKept takes the message publishKept left in q, waiting up to 30 s for the queue (its leader
// is elected a moment after the node is up).
func getKept(t *testing.T, url string) {
	t.Helper()
	var d amqp.Delivery
	var ok bool
	deadline := time.Now().Add(30 * time.Second)
	for !ok {
		conn, err := amqp.Dial(url)
		if err == nil {
			ch, cerr := conn.Channel()
			if cerr == nil {
				d, ok, err = ch.Get("q", true)
			}
			_ = conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("message gone after the restart (last error %v)", err)
		}
		if !ok {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if string(d.Body) != "kept" {
		t.Errorf("body %q", d.Body)
	}
}

// TestRedisSurvivesKill: a key written to the test's own Redis is there after kill -9 and a
// restart (append-only file, fsync every second).
func TestRedisSurvivesKill(t *testing.T) {
	r := chaosenv.StartRedis(t)
	if r.Port == 6379 {
		t.Fatal("chaos Redis uses the machine's port")
	}
	c := r.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // appendfsync everysec
	r.Kill(t)
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("Redis answers after kill -9")
	}
	r.Start(t)
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("after the restart: %q, %v", v, err)
	}
}
