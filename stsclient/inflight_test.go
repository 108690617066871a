package stsclient_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// gateTransport holds every request until the test lets it go (by closing the channel the request
// announced itself with), and counts the requests on the wire.
type gateTransport struct {
	inner   http.RoundTripper
	arrived chan chan struct{}
	onWire  atomic.Int64
	maxWire atomic.Int64
}

func (g *gateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := g.onWire.Add(1)
	defer g.onWire.Add(-1)
	for {
		m := g.maxWire.Load()
		if n <= m || g.maxWire.CompareAndSwap(m, n) {
			break
		}
	}
	gate := make(chan struct{})
	g.arrived <- gate
	select {
	case <-gate:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return g.inner.RoundTrip(req)
}

// TestWithMaxInFlight: a bounded client keeps at most n requests on the wire, while further
// calls build and sign theirs meanwhile; the client it came from is not bounded by it.
func TestWithMaxInFlight(t *testing.T) {
	gt := &gateTransport{arrived: make(chan chan struct{}, 16)}
	var signed atomic.Int64
	fake, client, _ := setup(t, ststest.Options{}, func(c *stsclient.Config) {
		gt.inner = c.HTTPClient.Transport
		c.HTTPClient = &http.Client{Transport: gt}
		c.Security = &wrapSecurity{inner: stsclient.NoSecurity{}, after: func(*soap.Envelope) { signed.Add(1) }}
	})
	fake.Put(fixture(oio.KindOrganisationEnhed))
	bounded := client.WithMaxInFlight(2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const calls = 5
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			_, err := bounded.Read(ctx, oio.KindOrganisationEnhed, unitUUID)
			errs <- err
		})
	}
	// Two reach the wire; the other three are signed and wait for a slot.
	wire := []chan struct{}{<-gt.arrived, <-gt.arrived}
	waitFor(t, func() bool { return signed.Load() == calls })
	select {
	case <-gt.arrived:
		t.Fatal("a third request reached the wire while two were on it")
	case <-time.After(50 * time.Millisecond):
	}
	// The unbounded client is not held by the bounded one's slots.
	go func() { close(<-gt.arrived) }()
	if _, err := client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil {
		t.Fatalf("unbounded client: %v", err)
	}
	// Let the five through one at a time: each one done lets one more onto the wire.
	for i := range calls {
		close(wire[0])
		wire = wire[1:]
		if i+2 < calls {
			wire = append(wire, <-gt.arrived)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("bounded call: %v", err)
		}
	}
	if got := gt.maxWire.Load(); got != 3 {
		// two of the bounded client's and the unbounded client's one
		t.Errorf("at most %d requests were on the wire at once; want 3 (2 bounded + 1 unbounded)", got)
	}

	// A caller that gives up while waiting for a slot gets its context's error, and nothing is sent.
	blocked := make(chan error, 1)
	go func() { _, err := bounded.Read(ctx, oio.KindOrganisationEnhed, unitUUID); blocked <- err }()
	go func() { _, err := bounded.Read(ctx, oio.KindOrganisationEnhed, unitUUID); blocked <- err }()
	wire = []chan struct{}{<-gt.arrived, <-gt.arrived}
	short, cancelShort := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancelShort()
	before := fake.TotalCalls()
	_, err := bounded.Read(short, oio.KindOrganisationEnhed, unitUUID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a slot past the deadline: got %v, want context.DeadlineExceeded", err)
	}
	if got := fake.TotalCalls(); got != before {
		t.Errorf("the call that gave up reached the service (%d calls, was %d)", got, before)
	}
	close(wire[0])
	close(wire[1])
	for range 2 {
		if err := <-blocked; err != nil {
			t.Errorf("bounded call: %v", err)
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
