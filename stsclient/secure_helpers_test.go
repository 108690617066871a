package stsclient_test

import (
	"context"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/testkeys"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// testCVR is the CVR of the test environment's fictitious "Korsbæk Kommune".
const testCVR = "11111111"

// testPKI returns the fake's PKI built from the fixed test keys (reproducible certificates).
func testPKI(t testing.TB) *ststest.PKI {
	t.Helper()
	p, err := ststest.NewPKI(ststest.PKIConfig{
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		CAKey: testkeys.Key(testkeys.CA), STSKey: testkeys.Key(testkeys.STS), ServiceKey: testkeys.Key(testkeys.Service),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// secureEnv is a fake with RequireSecurity and a client wired to its STS.
type secureEnv struct {
	fake   *ststest.Server
	srv    *httptest.Server
	pki    *ststest.PKI
	client *stsclient.Client
	clock  *testClock
	creds  *stsclient.Credentials
	tokens *stsclient.TokenClient
	sec    *stsclient.TokenSecurity
}

// secureMods adjusts the configuration setupSecure builds.
type secureMods struct {
	token    func(*stsclient.TokenConfig)
	security func(*stsclient.SecurityConfig)
	client   func(*stsclient.Config)
	// wrap wraps the Security the client uses.
	wrap func(*stsclient.TokenSecurity) stsclient.Security
	// clientKey names the test key of the client certificate (default Client1).
	clientKey string
}

// setupSecure starts a fake with RequireSecurity on a real listener and returns a client using
// TokenSecurity against it; the fake and the client share clock unless opts.Now is set.
func setupSecure(t testing.TB, opts ststest.Options, mods secureMods) *secureEnv {
	t.Helper()
	e := &secureEnv{clock: testclock.New(clockStart)}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	if opts.PKI == nil {
		opts.PKI = testPKI(t)
	}
	if opts.NewID == nil {
		opts.NewID = sequentialIDs()
	}
	opts.RequireSecurity = true
	e.pki = opts.PKI
	e.fake = ststest.NewServer(opts)
	e.srv = httptest.NewServer(e.fake.Handler())
	t.Cleanup(e.srv.Close)

	keyName := mods.clientKey
	if keyName == "" {
		keyName = testkeys.Client1
	}
	id, err := e.pki.NewClient(ststest.ClientConfig{CVR: testCVR, Key: testkeys.Key(keyName)})
	if err != nil {
		t.Fatal(err)
	}
	if e.creds, err = stsclient.NewCredentials(id.Certificate, id.Key, clockStart); err != nil {
		t.Fatal(err)
	}
	ids := sequentialIDs()
	tc := stsclient.TokenConfig{
		Endpoint: e.srv.URL + stsclient.STSPath, EntityID: e.fake.EntityID(), Credentials: e.creds,
		STSCertificates: []*x509.Certificate{e.pki.STS.Certificate}, HTTPClient: e.srv.Client(),
		Now: e.clock.Now, NewID: ids,
	}
	if mods.token != nil {
		mods.token(&tc)
	}
	if e.tokens, err = stsclient.NewTokenClient(tc); err != nil {
		t.Fatal(err)
	}
	sc := stsclient.SecurityConfig{Tokens: e.tokens, CVR: testCVR,
		ServiceCertificates: []*x509.Certificate{e.pki.Service.Certificate}, Now: e.clock.Now, NewID: ids}
	if mods.security != nil {
		mods.security(&sc)
	}
	if e.sec, err = stsclient.NewTokenSecurity(sc); err != nil {
		t.Fatal(err)
	}
	var security stsclient.Security = e.sec
	if mods.wrap != nil {
		security = mods.wrap(e.sec)
	}
	cfg := stsclient.Config{BaseURL: e.srv.URL, Now: e.clock.Now, NewID: ids, HTTPClient: e.srv.Client(), Security: security}
	if mods.client != nil {
		mods.client(&cfg)
	}
	if e.client, err = stsclient.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// setupMode returns a fake and a client, secured or not, sharing a clock.
func setupMode(t *testing.T, secure bool, opts ststest.Options, mod func(*stsclient.Config)) (*ststest.Server, *stsclient.Client, *testClock) {
	t.Helper()
	if !secure {
		return setup(t, opts, mod)
	}
	e := setupSecure(t, opts, secureMods{client: mod})
	return e.fake, e.client, e.clock
}

func modeName(secure bool) string {
	if secure {
		return "security on"
	}
	return "security off"
}

// wrapSecurity is a Security that runs before and after (either may be nil) around an inner
// Security's SecureRequest, and forwards VerifyResponse and HandleFault.
type wrapSecurity struct {
	inner  stsclient.Security
	before func(env *soap.Envelope)
	after  func(env *soap.Envelope)
}

func (w *wrapSecurity) SecureRequest(ctx context.Context, env *soap.Envelope) error {
	if w.before != nil {
		w.before(env)
	}
	if err := w.inner.SecureRequest(ctx, env); err != nil {
		return err
	}
	if w.after != nil {
		w.after(env)
	}
	return nil
}

func (w *wrapSecurity) VerifyResponse(ctx context.Context, env *soap.Envelope) error {
	return w.inner.VerifyResponse(ctx, env)
}

func (w *wrapSecurity) HandleFault(ctx context.Context, req *soap.Envelope, f *soap.Fault) bool {
	h, ok := w.inner.(stsclient.FaultHandler)
	return ok && h.HandleFault(ctx, req, f)
}
