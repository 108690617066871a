package stsclient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// BenchmarkSignRequest measures securing one ret request (Timestamp, assertion, STR, seven
// references, RSA-2048 signature) with a cached token, for a small and a large body.
func BenchmarkSignRequest(b *testing.B) {
	e := setupSecure(b, ststest.Options{}, secureMods{})
	tok, err := e.tokens.Token(context.Background(), testCVR)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		addresses int
	}{{"small", 1}, {"200 addresses", 200}} {
		o := renamed(unit())
		for i := 1; i < tc.addresses; i++ {
			a := o.Registration.Relationer[0]
			a.Indeks = string(rune('a'+i%26)) + a.Indeks
			o.Registration.Relationer = append(o.Registration.Relationer, a)
		}
		payload, err := oio.MarshalRetInput(oio.NewRetInput(o, ""))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				env := soap.New(soap.Addressing{Action: soap.Action(oio.KindOrganisationEnhed, oio.OpRet),
					TransactionUUID: "6b0f4f2e-4c1e-4e57-9a43-7d2f2d1c0a11", MessageID: "urn:uuid:9a43b0f4-4c1e-4e57-9a43-7d2f2d1c0a11",
					ReplyTo: soap.AnonymousAddress, To: e.client.Endpoint(oio.KindOrganisationEnhed)}, payload.Copy())
				if err := stsclient.Sign(e.sec, env, tok); err != nil {
					b.Fatal(err)
				}
				if _, err := env.Bytes(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallsAgainstFake measures laes calls per second against the fake over HTTP with
// zero latency and security on: the client signs and verifies, the fake verifies and signs.
func BenchmarkCallsAgainstFake(b *testing.B) {
	e := setupSecure(b, ststest.Options{}, secureMods{})
	e.fake.Put(unit())
	ctx := context.Background()
	if _, err := e.client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil && !errors.Is(err, stsclient.ErrNotFound) {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkListAgainstFake measures objects read per second with list against the fake over
// HTTP with zero latency: 1,000 units in calls of DefaultMaxListIDs (100), without and with
// security (the client signs and verifies, the fake verifies and signs).
func BenchmarkListAgainstFake(b *testing.B) {
	units := numbered(1000)
	ids := uuids(units)
	for _, secure := range []bool{false, true} {
		b.Run(modeName(secure), func(b *testing.B) {
			var fake *ststest.Server
			var client *stsclient.Client
			if secure {
				e := setupSecure(b, ststest.Options{}, secureMods{})
				fake, client = e.fake, e.client
			} else {
				fake, client, _ = setup(b, ststest.Options{}, nil)
			}
			for _, u := range units {
				fake.Put(u)
			}
			ctx := context.Background()
			objects := 0
			for b.Loop() {
				got, err := client.List(ctx, oio.KindOrganisationEnhed, ids)
				if err != nil || len(got) != len(ids) {
					b.Fatalf("List: %d objects, %v", len(got), err)
				}
				objects += len(got)
			}
			b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
