package moclient_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// observation is one call of Config.Observe.
type observation struct{ op, result string }

// observer records what Config.Observe is told.
type observer struct {
	mu   sync.Mutex
	got  []observation
	took []time.Duration
}

func (o *observer) observe(op, result string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, observation{op, result})
	o.took = append(o.took, took)
}

func (o *observer) observations() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got)
}

// count returns how many observations have the operation op (any result).
func (o *observer) count(op func(string) bool) int {
	n := 0
	for _, g := range o.observations() {
		if op(g.op) {
			n++
		}
	}
	return n
}

func TestObserveSeesEveryRequest(t *testing.T) {
	isToken := func(op string) bool { return op == moclient.OperationToken }
	tests := []struct {
		name     string
		failures int64 // GraphQL requests answered 503 first
		mutate   func(*moclient.Config)
		call     func(t *testing.T, e *env, c *moclient.Client) error
		wantErr  bool
		want     []observation
	}{
		{
			name: "success",
			call: func(t *testing.T, e *env, c *moclient.Client) error { return c.Ping(t.Context()) },
			want: []observation{{"token", "ok"}, {"Ping", "ok"}},
		},
		{
			name:     "5xx is retried, every attempt observed",
			failures: 2,
			call: func(t *testing.T, e *env, c *moclient.Client) error {
				_, child := e.fixture(t)
				_, err := c.OrgUnit(t.Context(), child.UUID)
				return err
			},
			want: []observation{{"token", "ok"}, {"OrgUnit", "http_5xx"}, {"OrgUnit", "http_5xx"}, {"OrgUnit", "ok"}},
		},
		{
			name: "GraphQL error",
			call: func(t *testing.T, e *env, c *moclient.Client) error {
				queries, err := moclient.EmbeddedQueries()
				if err != nil {
					t.Fatal(err)
				}
				var out map[string]any
				// The embedded OrgUnit document with a variable the schema rejects.
				return c.RunRaw(t.Context(), "OrgUnit", queries["OrgUnit"], map[string]any{"uuids": []string{"not-a-uuid"}}, &out)
			},
			wantErr: true,
			want:    []observation{{"token", "ok"}, {"OrgUnit", "graphql_error"}},
		},
		{
			name: "stale token: 401, new token, retry",
			call: func(t *testing.T, e *env, c *moclient.Client) error {
				if err := c.Ping(t.Context()); err != nil {
					t.Fatal(err)
				}
				e.fake.ExpireTokens()
				return c.Ping(t.Context())
			},
			want: []observation{{"token", "ok"}, {"Ping", "ok"}, {"Ping", "auth"}, {"token", "ok"}, {"Ping", "ok"}},
		},
		{
			name:    "credentials rejected",
			mutate:  func(c *moclient.Config) { c.ClientSecret = "wrong" },
			call:    func(t *testing.T, e *env, c *moclient.Client) error { return c.Ping(t.Context()) },
			wantErr: true,
			want:    []observation{{"token", "auth"}},
		},
		{
			name:   "every page of a listing",
			mutate: func(c *moclient.Config) { c.PageSize = 1 },
			call: func(t *testing.T, e *env, c *moclient.Client) error {
				e.fixture(t)
				return c.ListUnits(t.Context(), func([]uuid.UUID) error { return nil })
			},
			// Pages are checked against the server's request count below.
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.failures)
			var o observer
			c := e.client(t, func(c *moclient.Config) {
				c.Observe = o.observe
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			err := tt.call(t, e, c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			got := o.observations()
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("observed %v, want %v", got, tt.want)
			}
			// Exactly one observation per HTTP request the server saw.
			if n, want := o.count(isToken), e.count.count(tokenPath); n != want {
				t.Errorf("%d token observations, server saw %d token requests", n, want)
			}
			if n, want := len(got)-o.count(isToken), e.count.count("/graphql/v25"); n != want {
				t.Errorf("%d GraphQL observations, server saw %d GraphQL requests", n, want)
			}
			if tt.want == nil && len(got) < 3 {
				t.Errorf("observed %v, want a token and one request per page", got)
			}
			for i, g := range got {
				if !slices.Contains(moclient.Operations(), g.op) || !slices.Contains(moclient.Results(), g.result) {
					t.Errorf("observation %v is outside Operations() × Results()", g)
				}
				if o.took[i] <= 0 {
					t.Errorf("observation %v took %v, want > 0", g, o.took[i])
				}
			}
		})
	}
}

// TestObserveTransportFailures covers requests that get no HTTP answer: refused, timed out,
// cancelled by the caller.
func TestObserveTransportFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t, 0)
		var o observer
		c := e.client(t, func(c *moclient.Config) { c.Observe = o.observe; c.MaxAttempts = 2 })
		e.ts.Close()
		if err := c.Ping(t.Context()); err == nil {
			t.Fatal("Ping succeeded against a closed server")
		}
		if got, want := o.observations(), []observation{{"token", "transport"}, {"token", "transport"}}; !slices.Equal(got, want) {
			t.Errorf("observed %v, want %v", got, want)
		}
	})

	// slow answers GraphQL requests only when the request ends (the client gives up), after
	// announcing each on arrived.
	slowServer := func(t *testing.T) (*env, chan struct{}) {
		t.Helper()
		e := newEnv(t, 0)
		arrived := make(chan struct{}, 10)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/graphql/") {
				// Only with the body read does the server notice the client hanging up.
				_, _ = io.Copy(io.Discard, r.Body)
				arrived <- struct{}{}
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			e.count.ServeHTTP(w, r)
		}))
		t.Cleanup(slow.Close)
		e.ts = slow
		return e, arrived
	}
	t.Run("timeout", func(t *testing.T) {
		e, _ := slowServer(t)
		var o observer
		c := e.client(t, func(c *moclient.Config) {
			c.Observe = o.observe
			c.MaxAttempts = 1
			c.Timeout = 100 * time.Millisecond
		})
		if err := c.Ping(t.Context()); err == nil {
			t.Fatal("Ping succeeded against a server that never answers")
		}
		if got, want := o.observations(), []observation{{"token", "ok"}, {"Ping", "timeout"}}; !slices.Equal(got, want) {
			t.Errorf("observed %v, want %v", got, want)
		}
		if o.took[1] < 100*time.Millisecond {
			t.Errorf("timed-out request took %v, want ≥ the 100ms timeout", o.took[1])
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		e, arrived := slowServer(t)
		var o observer
		c := e.client(t, func(c *moclient.Config) { c.Observe = o.observe })
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		if err := c.Ping(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got, want := o.observations(), []observation{{"token", "ok"}, {"Ping", "canceled"}}; !slices.Equal(got, want) {
			t.Errorf("observed %v, want %v", got, want)
		}
	})
}

func TestOperationsListsEveryEmbeddedQueryAndToken(t *testing.T) {
	want := append([]string{moclient.OperationToken}, allOperations...)
	slices.Sort(want)
	if got := moclient.Operations(); !slices.Equal(got, want) {
		t.Errorf("Operations() = %v, want %v", got, want)
	}
}
