package consumer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestReconnectDelay: the waits between reconnect attempts start short, double, are capped by
// ReconnectMax and are jittered between half the nominal wait and the nominal wait.
func TestReconnectDelay(t *testing.T) {
	least := func(int64) int64 { return 0 }      // the jitter draws nothing
	most := func(k int64) int64 { return k - 1 } // the jitter draws its maximum
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	tests := []struct {
		name             string
		initial, maxWait time.Duration
		jitter           func(int64) int64
		want             []time.Duration // attempts 1, 2, …
	}{
		{"default cap, shortest draws", reconnectInitial, 5 * time.Second, least,
			[]time.Duration{ms(125), ms(250), ms(500), time.Second, 2 * time.Second, 2500 * time.Millisecond, 2500 * time.Millisecond}},
		{"default cap, longest draws", reconnectInitial, 5 * time.Second, most,
			[]time.Duration{ms(250), ms(500), time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"the old 30s cap", reconnectInitial, 30 * time.Second, most,
			[]time.Duration{ms(250), ms(500), time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"cap below the initial wait", reconnectInitial, 100 * time.Millisecond, most,
			[]time.Duration{ms(100), ms(100), ms(100)}},
		{"cap below the initial wait, shortest draws", reconnectInitial, 100 * time.Millisecond, least,
			[]time.Duration{ms(50), ms(50)}},
		{"zero cap", reconnectInitial, 0, most, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			for n := 1; n <= len(tt.want); n++ {
				got = append(got, reconnectDelay(n, tt.initial, tt.maxWait, tt.jitter))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReconnectDelayBounds: with real randomness every wait lies in [nominal/2, nominal], also for
// attempt numbers whose nominal wait would overflow without the cap.
func TestReconnectDelayBounds(t *testing.T) {
	const maxWait = 5 * time.Second
	nominal := reconnectInitial
	for n := 1; n <= 200; n++ {
		for range 50 {
			d := reconnectDelay(n, reconnectInitial, maxWait, rand.Int64N)
			if d < nominal/2 || d > nominal {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", n, d, nominal/2, nominal)
			}
		}
		nominal = min(2*nominal, maxWait)
	}
}

func TestReconnectMaxDefaultAndValidation(t *testing.T) {
	if got := (Config{}).withDefaults().ReconnectMax; got != 5*time.Second {
		t.Errorf("default ReconnectMax = %s, want 5s", got)
	}
	if err := (Config{URL: "amqp://x/", ReconnectMax: -time.Second}).Validate(); err == nil {
		t.Error("a negative ReconnectMax was accepted")
	}
}
