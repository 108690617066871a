package motest_test

import (
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// dialBroker connects to an isolated vhost on the test broker (testenv: skipped when unreachable,
// failed under CI=true).
func dialBroker(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(testenv.AMQP(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestPublisherSendsOS2MOEvents(t *testing.T) {
	conn := dialBroker(t)
	pub, err := motest.NewPublisher(conn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })

	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	// Declaring os2mo again with MO's exact arguments must succeed (a mismatch would fail with
	// PRECONDITION_FAILED and close the channel).
	if err := ch.ExchangeDeclarePassive("os2mo", "topic", true, false, false, false, nil); err != nil {
		t.Fatalf("exchange os2mo not declared as durable topic: %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	q, err := ch.QueueDeclare("motest-publisher-"+hex.EncodeToString(suffix), false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "org_unit", "os2mo", false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	id := uuid.MustParse("c390b9a2-7202-48e6-972b-ce36a90065c4")
	if err := pub.Publish(t.Context(), "person", uuid.New()); err != nil { // not bound: must not arrive
		t.Fatal(err)
	}
	if err := pub.Publish(t.Context(), "org_unit", id); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-deliveries:
		if got, want := string(d.Body), `"c390b9a2-7202-48e6-972b-ce36a90065c4"`; got != want {
			t.Errorf("body = %s, want %s", got, want)
		}
		if d.RoutingKey != "org_unit" || d.Exchange != "os2mo" {
			t.Errorf("routed as %s/%s", d.Exchange, d.RoutingKey)
		}
		props := []any{d.ContentType, d.ContentEncoding, d.DeliveryMode, d.Priority, d.CorrelationId, d.ReplyTo,
			d.Expiration, d.MessageId, d.Timestamp, d.Type, d.UserId, d.AppId}
		zero := []any{"", "", uint8(0), uint8(0), "", "", "", "", time.Time{}, "", "", ""}
		if !reflect.DeepEqual(props, zero) || len(d.Headers) != 0 {
			t.Errorf("message properties set: %v headers %v, want none", props, d.Headers)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no org_unit event arrived within 5 s")
	}
	select {
	case d := <-deliveries:
		t.Fatalf("unexpected extra delivery %s %s", d.RoutingKey, d.Body)
	case <-time.After(200 * time.Millisecond):
	}
}
