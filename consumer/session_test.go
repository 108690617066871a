package consumer

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestLostSessionWrapsTheBrokersError: when the broker closes the session's channel or one of its
// connections, the error the session returns wraps the broker's *amqp.Error, so that errors.As
// finds it with its Code, Server and Recover.
func TestLostSessionWrapsTheBrokersError(t *testing.T) {
	t.Parallel()
	closeConnection := func(name string) func(*testing.T, *harness, *session) {
		return func(t *testing.T, h *harness, _ *session) {
			var conns []connection
			eventually(t, "the management API to list "+name, func() bool {
				conns = connections(t, h.broker.VHost, name)
				return len(conns) == 1
			})
			mgmt(t, http.MethodDelete, "/api/connections/"+url.PathEscape(conns[0].Name), nil)
		}
	}
	tests := []struct {
		name    string
		provoke func(t *testing.T, h *harness, s *session)
		code    int
		recover bool
	}{
		{
			// The broker closes a channel that acknowledges a delivery it never sent
			// (PRECONDITION_FAILED, a soft error), as it does on a consumer timeout.
			name: "channel closed by the broker",
			provoke: func(t *testing.T, _ *harness, s *session) {
				if err := s.ch.Ack(1<<40, false); err != nil {
					t.Fatalf("ack an unknown delivery tag: %v", err)
				}
			},
			code: amqp.PreconditionFailed, recover: true,
		},
		{"consumer connection closed by the management API", closeConnection("stsorgsync consumer"), amqp.ConnectionForced, false},
		{"publisher connection closed by the management API", closeConnection("stsorgsync dead-letter publisher"), amqp.ConnectionForced, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{})
			c, err := New(h.cfg, handlerFunc(func(context.Context, Event) error { return nil }), h.obs)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			s := &session{c: c}
			result := make(chan error, 1)
			go func() { result <- s.serve(ctx) }()
			t.Cleanup(func() {
				cancel()
				select {
				case err := <-result:
					result <- err
				case <-time.After(waitTimeout):
					t.Error("session did not end at cleanup")
					return
				}
				s.close()
			})
			eventually(t, "session consuming", c.Ready)

			tt.provoke(t, h, s)
			var lost error
			select {
			case lost = <-result:
				result <- lost // for the cleanup
			case <-time.After(waitTimeout):
				t.Fatal("the session did not end after the broker closed it")
			}
			var amqpErr *amqp.Error
			if !errors.As(lost, &amqpErr) {
				t.Fatalf("session ended with %v (%T); want it to wrap the broker's *amqp.Error", lost, lost)
			}
			if amqpErr.Code != tt.code || !amqpErr.Server || amqpErr.Recover != tt.recover {
				t.Errorf("wrapped *amqp.Error = %+v; want code %d from the server, Recover %v", *amqpErr, tt.code, tt.recover)
			}
			if c.Ready() {
				t.Error("consumer still ready after its session was lost")
			}
		})
	}
}
