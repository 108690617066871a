package ststest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

var unknown = uuid.MustParse("11111111-2222-4333-8444-555555555555")

func http503(err error) bool {
	var te *stsclient.TransportError
	return errors.As(err, &te) && te.HTTPStatus == http.StatusServiceUnavailable && stsclient.IsRetryable(err)
}

func TestErrorRate(t *testing.T) {
	_, _, client := start(t, ststest.Options{ErrorRate: 0.3, Seed: 42})
	failed := 0
	for range 200 {
		_, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unknown)
		switch {
		case http503(err):
			failed++
		case !errors.Is(err, stsclient.ErrNotFound):
			t.Fatalf("unexpected %v", err)
		}
	}
	if failed < 35 || failed > 85 {
		t.Errorf("%d of 200 calls failed at ErrorRate 0.3", failed)
	}
}

func TestOutage(t *testing.T) {
	outage := ststest.Outage{From: now.Add(-time.Minute), To: now.Add(time.Minute)}
	_, _, client := start(t, ststest.Options{Outages: []ststest.Outage{outage}})
	if _, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unknown); !http503(err) {
		t.Errorf("inside the outage: %v, want retryable HTTP 503", err)
	}
	_, _, client = start(t, ststest.Options{Outages: []ststest.Outage{{From: now.Add(time.Minute), To: now.Add(time.Hour)}}})
	if _, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unknown); !errors.Is(err, stsclient.ErrNotFound) {
		t.Errorf("outside the outage: %v", err)
	}
}

func TestConcurrencyCapAndLatency(t *testing.T) {
	const latency = 40 * time.Millisecond
	for _, serviceTime := range []bool{false, true} {
		t.Run(fmt.Sprintf("ServiceTime=%v", serviceTime), func(t *testing.T) {
			_, _, client := start(t, ststest.Options{MaxConcurrent: 1, Latency: latency, LatencyTail: time.Millisecond, Seed: 1, ServiceTime: serviceTime})
			begin := time.Now()
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if _, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unknown); !errors.Is(err, stsclient.ErrNotFound) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if d := time.Since(begin); d < 4*latency {
				t.Errorf("4 calls through a cap of 1 took %v, want ≥ %v", d, 4*latency)
			}
			// A waiting client that gives up leaves without an answer.
			ctx, cancel := context.WithTimeout(t.Context(), latency/2)
			defer cancel()
			if _, err := client.Read(ctx, oio.KindOrganisationEnhed, unknown); err == nil {
				t.Error("call finished despite its deadline")
			}
		})
	}
}

// TestServiceTime: with Options.ServiceTime the fake does its work at the start of the latency
// and answers at its end; without it, it waits first and works after.
func TestServiceTime(t *testing.T) {
	const latency = 300 * time.Millisecond
	for _, tt := range []struct {
		serviceTime        bool
		minWrite, maxWrite time.Duration // when the write is stored, after the call began
	}{
		{serviceTime: true, minWrite: 0, maxWrite: latency / 2},
		{serviceTime: false, minWrite: latency, maxWrite: time.Hour},
	} {
		t.Run(fmt.Sprintf("ServiceTime=%v", tt.serviceTime), func(t *testing.T) {
			var wrote atomic.Int64
			begin := time.Now()
			_, _, client := start(t, ststest.Options{Latency: latency, MaxConcurrent: 1, ServiceTime: tt.serviceTime,
				OnWrite: func(ststest.Write) { wrote.Store(int64(time.Since(begin))) }})
			if err := client.Import(t.Context(), unit(uuid.New(), "Enhed")); err != nil {
				t.Fatal(err)
			}
			answered := time.Since(begin)
			if w := time.Duration(wrote.Load()); w < tt.minWrite || w > tt.maxWrite {
				t.Errorf("the write was stored %v after the call began, want between %v and %v", w, tt.minWrite, tt.maxWrite)
			}
			if answered < latency {
				t.Errorf("answered after %v, want ≥ the latency %v", answered, latency)
			}
		})
	}
}

func TestPKIFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, created, err := ststest.LoadOrCreatePKI(dir, ststest.PKIConfig{})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	again, created, err := ststest.LoadOrCreatePKI(dir, ststest.PKIConfig{})
	if err != nil || created || !again.STS.Certificate.Equal(p.STS.Certificate) || !again.Service.Key.Equal(p.Service.Key) {
		t.Fatalf("reload: %v %v", created, err)
	}
	certs, err := stsclient.LoadCertificates(filepath.Join(dir, ststest.FileServiceCert))
	if err != nil || !certs[0].Equal(p.Service.Certificate) {
		t.Errorf("service certificate file: %v", err)
	}
	p12 := filepath.Join(dir, "client.p12")
	id, err := again.WriteClientP12(p12, []byte("pw"), "11111111")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p12); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("p12 file mode: %v %v", fi, err)
	}
	c, err := stsclient.LoadCredentials(p12, []byte("pw"), time.Now())
	if err != nil || !c.Certificate.Equal(id.Certificate) {
		t.Errorf("LoadCredentials: %v", err)
	}
}
