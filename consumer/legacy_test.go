package consumer

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

func TestLegacyBindingKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []string
		want []string
	}{
		{"none", nil, []string{}},
		{"unit", []string{"org_unit"}, []string{"employee.org_unit.*", "org_unit.org_unit.*"}},
		{"legacy type names", []string{"person", "ituser", "address"}, []string{
			"employee.employee.*", "org_unit.employee.*", "employee.it.*", "org_unit.it.*", "employee.address.*", "org_unit.address.*",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := legacyBindingKeys(tt.keys); !slices.Equal(got, tt.want) {
				t.Errorf("legacyBindingKeys(%q) = %q; want %q", tt.keys, got, tt.want)
			}
		})
	}
}

// TestLegacyKeys: with LegacyKeys, a legacy event (`<service>.<type>.<action>`, JSON object body)
// published on MO's exchange for a type in RoutingKeys reaches the handler; legacy events of other
// types are not bound. Without LegacyKeys no legacy event is bound at all, and the broker returns
// them as unroutable. Exchange and queue names are unique, so the test exercises the configured
// names rather than the defaults.
func TestLegacyKeys(t *testing.T) {
	t.Parallel()
	unit, person, other := uuid.New(), uuid.New(), uuid.New()
	events := []struct {
		key string
		id  uuid.UUID
		// typ and service are what ParseEvent makes of key; typ is empty for an event that is
		// never bound, as its type is not in RoutingKeys.
		typ     ObjectType
		service string
	}{
		{"org_unit.org_unit.update", unit, TypeOrgUnit, "org_unit"},
		{"employee.employee.create", person, TypePerson, "employee"},
		{"org_unit.address.update", other, "", ""},      // address is not in RoutingKeys
		{"org_unit.related_unit.create", other, "", ""}, // not an object type of the sync
	}
	tests := []struct {
		name       string
		legacyKeys bool
	}{
		{"legacy keys on", true},
		{"legacy keys off", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, fastRetry(Config{
				MOExchange:         testenv.UniqueName("mo."),
				Exchange:           testenv.UniqueName("ex."),
				Queue:              testenv.UniqueName("q."),
				DeadLetterExchange: testenv.UniqueName("dlx."),
				DeadLetterQueue:    testenv.UniqueName("dlq."),
				RoutingKeys:        []string{string(TypeOrgUnit), string(TypePerson)},
				LegacyKeys:         tt.legacyKeys,
			}))
			var (
				mu      sync.Mutex
				handled []Event
			)
			r := h.start(handlerFunc(func(_ context.Context, ev Event) error {
				mu.Lock()
				defer mu.Unlock()
				handled = append(handled, ev)
				return nil
			}))

			ch := h.channel()
			if err := ch.Confirm(false); err != nil {
				t.Fatalf("confirm mode: %v", err)
			}
			returns := ch.NotifyReturn(make(chan amqp.Return, len(events)+1))
			publish := func(key string, body []byte) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, h.cfg.MOExchange, key, true, false, amqp.Publishing{Body: body})
				if err != nil {
					t.Fatalf("publish %q: %v", key, err)
				}
				if ok, err := dc.WaitContext(ctx); !ok || err != nil {
					t.Fatalf("publish %q: confirmed %v, %v", key, ok, err)
				}
			}
			var want []Event
			var wantReturned []string
			for _, e := range events {
				publish(e.key, []byte(`{"uuid":"`+e.id.String()+`","object_uuid":"`+uuid.NewString()+`","time":"2025-03-14T15:09:26+01:00"}`))
				if tt.legacyKeys && e.typ != "" {
					want = append(want, Event{RoutingKey: e.key, Type: e.typ, UUID: e.id, Legacy: true, Service: e.service})
				} else {
					wantReturned = append(wantReturned, e.key)
				}
			}
			// A new-style event after the legacy ones: once it is settled, so are the legacy
			// events that were routed before it.
			sentinel := uuid.New()
			publish(string(TypeOrgUnit), []byte(`"`+sentinel.String()+`"`))
			want = append(want, Event{RoutingKey: string(TypeOrgUnit), Type: TypeOrgUnit, UUID: sentinel})

			h.obs.waitN(t, len(want))
			if err := r.stop(t); err != nil {
				t.Fatalf("Run = %v; want nil", err)
			}

			mu.Lock()
			got := slices.Clone(handled)
			mu.Unlock()
			byKey := func(a, b Event) int { return strings.Compare(a.RoutingKey, b.RoutingKey) }
			slices.SortFunc(got, byKey)
			slices.SortFunc(want, byKey)
			if !slices.Equal(got, want) {
				t.Errorf("handled %+v;\nwant    %+v", got, want)
			}
			for _, o := range h.obs.all() {
				if o.outcome != OutcomeDone {
					t.Errorf("outcome %+v; want every event done", o)
				}
			}
			var returned []string
			for len(returns) > 0 {
				returned = append(returned, (<-returns).RoutingKey)
			}
			if !slices.Equal(returned, wantReturned) {
				t.Errorf("returned as unroutable: %q; want %q", returned, wantReturned)
			}

			var bindings []struct {
				Source      string `json:"source"`
				Destination string `json:"destination"`
				RoutingKey  string `json:"routing_key"`
			}
			mgmt(t, "GET", "/api/queues/"+url.PathEscape(h.broker.VHost)+"/"+url.PathEscape(h.cfg.Queue)+"/bindings", &bindings)
			var keys []string
			for _, b := range bindings {
				if b.Source == h.cfg.Exchange {
					keys = append(keys, b.RoutingKey)
				}
			}
			slices.Sort(keys)
			wantKeys := []string{"org_unit", "person"}
			if tt.legacyKeys {
				wantKeys = append(wantKeys, "employee.employee.*", "employee.org_unit.*", "org_unit.employee.*", "org_unit.org_unit.*")
			}
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("queue bound with %q; want %q", keys, wantKeys)
			}
		})
	}
}
