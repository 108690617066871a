package stsclient_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// lastBody is a RoundTripper that keeps the body of the last response.
type lastBody struct {
	next http.RoundTripper
	mu   sync.Mutex
	body []byte
}

func (l *lastBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.body = data
	l.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// BenchmarkTokenCachedCall measures what KOMBIT's security profile costs per call once the token
// is cached (the steady state: one token per 8 hours):
//
//   - secure request: take the cached token and sign a ret request (Timestamp, assertion, STR,
//     seven references, RSA-2048), then serialise it;
//   - verify response: parse a signed laes response and verify its signature and Timestamp;
//   - laes round trip, security off and on: one laes against the fake over loopback HTTP, one
//     call at a time; the difference is the security overhead of a call on both sides (the fake
//     verifies and signs too).
//
// It fails if the client fetched more than one token.
func BenchmarkTokenCachedCall(b *testing.B) {
	ctx := context.Background()
	capture := &lastBody{}
	e := setupSecure(b, ststest.Options{}, secureMods{client: func(c *stsclient.Config) {
		capture.next = c.HTTPClient.Transport
		if capture.next == nil {
			capture.next = http.DefaultTransport
		}
		hc := *c.HTTPClient
		hc.Transport = capture
		c.HTTPClient = &hc
	}})
	e.fake.Put(unit())
	if _, err := e.client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil {
		b.Fatal(err)
	}
	capture.mu.Lock()
	response := bytes.Clone(capture.body)
	capture.mu.Unlock()

	payload, err := oio.MarshalRetInput(oio.NewRetInput(renamed(unit()), ""))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("secure request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			env := soap.New(soap.Addressing{Action: soap.Action(oio.KindOrganisationEnhed, oio.OpRet),
				TransactionUUID: "6b0f4f2e-4c1e-4e57-9a43-7d2f2d1c0a11", MessageID: "urn:uuid:9a43b0f4-4c1e-4e57-9a43-7d2f2d1c0a11",
				ReplyTo: soap.AnonymousAddress, To: e.client.Endpoint(oio.KindOrganisationEnhed)}, payload.Copy())
			if err := e.sec.SecureRequest(ctx, env); err != nil {
				b.Fatal(err)
			}
			if _, err := env.Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify response", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			env, err := soap.Parse(response)
			if err != nil {
				b.Fatal(err)
			}
			if err := e.sec.VerifyResponse(ctx, env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("laes round trip/security off", func(b *testing.B) {
		fake, client, _ := setup(b, ststest.Options{}, nil)
		fake.Put(unit())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("laes round trip/security on", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := e.fake.TokensIssued(); n != 1 {
		b.Fatalf("the fake STS issued %d tokens; the client should have cached one", n)
	}
}
