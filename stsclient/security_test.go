package stsclient_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/testkeys"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// assertFault checks that err is a *FaultError with the wsse subcode, whose reason contains
// detail.
func assertFault(t *testing.T, err error, subcode, detail string) {
	t.Helper()
	var fe *stsclient.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want *FaultError %s", err, subcode)
	}
	if fe.Fault.Subcode.Space != soap.NSSecurity || fe.Fault.Subcode.Local != subcode || fe.Fault.Code != soap.CodeSender {
		t.Errorf("fault %v, want Sender/wsse:%s", &fe.Fault, subcode)
	}
	if !strings.Contains(fe.Fault.Reason, detail) {
		t.Errorf("reason %q lacks %q", fe.Fault.Reason, detail)
	}
	if !fe.Security() || stsclient.IsRetryable(err) {
		t.Errorf("Security() = %v, IsRetryable = %v; want a non-retryable security fault", fe.Security(), stsclient.IsRetryable(err))
	}
}

// frozenTokens hands out the first token forever and ignores invalidation (a broken cache).
type frozenTokens struct {
	stsclient.TokenSource
	mu  sync.Mutex
	tok *stsclient.Token
}

func (f *frozenTokens) Token(ctx context.Context, cvr string) (*stsclient.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tok == nil {
		t, err := f.TokenSource.Token(ctx, cvr)
		if err != nil {
			return nil, err
		}
		f.tok = t
	}
	return f.tok, nil
}

func (*frozenTokens) InvalidateID(string) {}

// otherKey reports other credentials than the tokens are bound to (a foreign signing key).
type otherKey struct {
	stsclient.TokenSource
	creds *stsclient.Credentials
}

func (o otherKey) Credentials() *stsclient.Credentials { return o.creds }

// TestSecurityRejections checks that the fake refuses insecure requests with the right fault,
// that the client retries a security fault exactly once with a fresh token, and gives up with
// a non-retryable *FaultError when the retry fails too.
func TestSecurityRejections(t *testing.T) {
	ctx := context.Background()
	oe := oio.KindOrganisationEnhed

	t.Run("tampered body", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{wrap: func(s *stsclient.TokenSecurity) stsclient.Security {
			return &wrapSecurity{inner: s, after: func(env *soap.Envelope) {
				p, _ := env.Payload()
				p.FindElement(".//BrugervendtNoegleTekst").SetText("XXX")
			}}
		}})
		assertFault(t, e.client.Import(ctx, unit()), ststest.FaultFailedCheck, "digest mismatch")
		if n := e.fake.TotalCalls(); n != 2 {
			t.Errorf("%d calls, want 2 (one retry)", n)
		}
		if n := e.fake.TokensIssued(); n != 2 {
			t.Errorf("%d tokens issued, want 2 (the rejected token was dropped)", n)
		}
		if _, ok := e.fake.Object(oe, unitUUID); ok {
			t.Error("the tampered import was stored")
		}
	})

	t.Run("foreign signing key", func(t *testing.T) {
		other := setupSecure(t, ststest.Options{}, secureMods{clientKey: testkeys.Client2}).creds
		e := setupSecure(t, ststest.Options{}, secureMods{security: func(c *stsclient.SecurityConfig) {
			c.Tokens = otherKey{TokenSource: c.Tokens, creds: other}
		}})
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultFailedCheck, "holder-of-key signature")
	})

	t.Run("expired token", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{security: func(c *stsclient.SecurityConfig) {
			c.Tokens = &frozenTokens{TokenSource: c.Tokens}
		}})
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Fatalf("first call: %v", err)
		}
		e.clock.Advance(9 * time.Hour)
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultInvalidSecurityToken, "expired")
	})

	t.Run("expiring token is refreshed", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{})
		for range 3 {
			if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
				t.Fatal(err)
			}
		}
		e.clock.Advance(8*time.Hour - stsclient.DefaultTokenRefreshMargin + time.Second)
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Fatal(err)
		}
		if n := e.fake.TokensIssued(); n != 2 {
			t.Errorf("%d tokens issued, want 2", n)
		}
		if f := e.fake.Faults(); len(f) != 0 {
			t.Errorf("faults %v", f)
		}
	})

	t.Run("revoked token: dropped and retried once", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{})
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Fatal(err)
		}
		e.fake.RevokeTokens()
		if err := e.client.Import(ctx, unit()); err != nil {
			t.Fatalf("Import after revocation: %v", err)
		}
		if f := e.fake.Faults(); f[ststest.FaultInvalidSecurityToken] != 1 || len(f) != 1 {
			t.Errorf("faults %v, want one InvalidSecurityToken", f)
		}
		if n := e.fake.TokensIssued(); n != 2 {
			t.Errorf("%d tokens issued, want 2", n)
		}
	})

	t.Run("stale timestamp", func(t *testing.T) {
		var e *secureEnv
		e = setupSecure(t, ststest.Options{}, secureMods{wrap: func(s *stsclient.TokenSecurity) stsclient.Security {
			// The message spends ten minutes in transit.
			return &wrapSecurity{inner: s, after: func(*soap.Envelope) { e.clock.Advance(10 * time.Minute) }}
		}})
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultMessageExpired, "has passed")
	})

	t.Run("timestamp from the future", func(t *testing.T) {
		fakeClock := testclock.New(clockStart)
		e := setupSecure(t, ststest.Options{Now: fakeClock.Now}, secureMods{security: func(c *stsclient.SecurityConfig) {
			c.Tokens = &frozenTokens{TokenSource: c.Tokens} // (the STS would refuse the clock too)
		}})
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Minute) // the client's clock runs ahead
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultMessageExpired, "in the future")
	})

	t.Run("replayed MessageID", func(t *testing.T) {
		rec := &recordingTransport{}
		e := setupSecure(t, ststest.Options{}, secureMods{client: func(c *stsclient.Config) {
			rec.base = c.HTTPClient.Transport
			c.HTTPClient = &http.Client{Transport: rec}
		}})
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Post(e.client.Endpoint(oe), rec.contentType, bytes.NewReader(rec.body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		env, err := soap.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if f := env.Fault(); f == nil || f.Subcode.Local != ststest.FaultInvalidSecurity || !strings.Contains(f.Reason, "replayed") {
			t.Errorf("replay answered with %v, want InvalidSecurity (replayed)", f)
		}
	})

	for _, part := range []struct{ omit, name string }{
		{"To", "wsa:To"}, {"MessageID", "wsa:MessageID"}, {"Action", "wsa:Action"}, {"ReplyTo", "wsa:ReplyTo"},
		{"Body", "soap:Body"}, {"Timestamp", "wsu:Timestamp"}, {"Assertion", "saml:Assertion"},
	} {
		t.Run("unsigned "+part.name, func(t *testing.T) {
			e := setupSecure(t, ststest.Options{}, secureMods{})
			stsclient.OmitSignedParts(e.sec, part.omit)
			_, err := e.client.Read(ctx, oe, unitUUID)
			assertFault(t, err, ststest.FaultInvalidSecurity, "not signed: "+part.name)
		})
	}

	t.Run("Security header without mustUnderstand", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{wrap: func(s *stsclient.TokenSecurity) stsclient.Security {
			return &wrapSecurity{inner: s, after: func(env *soap.Envelope) {
				env.Header.SelectElement("Security").RemoveAttr("s:mustUnderstand")
			}}
		}})
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultInvalidSecurity, "lacks mustUnderstand")
	})

	t.Run("no Security header", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{wrap: func(*stsclient.TokenSecurity) stsclient.Security {
			return stsclient.NoSecurity{}
		}})
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultInvalidSecurity, "no wsse:Security header")
		if n := e.fake.TotalCalls(); n != 1 {
			t.Errorf("%d calls; NoSecurity must not retry", n)
		}
	})

	t.Run("token from a foreign STS", func(t *testing.T) {
		// A second fake with its own CA and STS key issues the token.
		foreignPKI := testPKI(t)
		foreign, err := ststestPKIWithSTS(foreignPKI)
		if err != nil {
			t.Fatal(err)
		}
		other := setupSecure(t, ststest.Options{PKI: foreign}, secureMods{})
		e := setupSecure(t, ststest.Options{}, secureMods{security: func(c *stsclient.SecurityConfig) {
			c.Tokens = other.tokens
		}})
		_, err = e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultInvalidSecurityToken, "Could not verify certificate against trusted certs")
	})

	t.Run("token for another service", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) {
			c.AppliesTo = "http://stoettesystemerne.dk/service/adresse/1"
		}})
		_, err := e.client.Read(ctx, oe, unitUUID)
		assertFault(t, err, ststest.FaultFailedAuthentication, "not http://stoettesystemerne.dk/service/organisation/3")
	})
}

// ststestPKIWithSTS returns p with its STS identity replaced by one signed with the foreign
// test key (same CA, so the client certificate stays valid, but another STS).
func ststestPKIWithSTS(p *ststest.PKI) (*ststest.PKI, error) {
	sts, err := p.NewClient(ststest.ClientConfig{Name: "ADG_FOREIGN", Key: testkeys.Key(testkeys.Foreign)})
	if err != nil {
		return nil, err
	}
	c := *p
	c.STS = sts
	return &c, nil
}

// recordingTransport remembers the last Organisation request.
type recordingTransport struct {
	base        http.RoundTripper
	mu          sync.Mutex
	body        []byte
	contentType string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/organisation/") {
		body, err := readAll(req)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.body, r.contentType = body, req.Header.Get("Content-Type")
		r.mu.Unlock()
	}
	return r.base.RoundTrip(req)
}

// rewritingTransport changes response bodies.
type rewritingTransport struct {
	base    http.RoundTripper
	rewrite func([]byte) []byte
}

func (r rewritingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/organisation/") {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	data = r.rewrite(data)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// TestResponseVerification checks that the client rejects responses that are tampered with,
// signed by an untrusted certificate, or not signed.
func TestResponseVerification(t *testing.T) {
	ctx := context.Background()
	oe := oio.KindOrganisationEnhed
	rewrite := func(f func([]byte) []byte) secureMods {
		return secureMods{client: func(c *stsclient.Config) {
			c.HTTPClient = &http.Client{Transport: rewritingTransport{base: c.HTTPClient.Transport, rewrite: f}}
		}}
	}
	tests := []struct {
		name string
		mods secureMods
		want string
	}{
		{"tampered status", rewrite(func(b []byte) []byte {
			return bytes.Replace(b, []byte("<sd:StatusKode>44</sd:StatusKode>"), []byte("<sd:StatusKode>20</sd:StatusKode>"), 1)
		}), "digest mismatch"},
		{"unsigned", rewrite(func(b []byte) []byte {
			env, err := soap.Parse(b)
			if err != nil {
				return b
			}
			for _, h := range env.Header.ChildElements() {
				if h.Tag == "Security" {
					env.Header.RemoveChild(h)
				}
			}
			out, _ := env.Bytes()
			return out
		}), "no wsse:Security header"},
		{"untrusted service certificate", secureMods{security: func(c *stsclient.SecurityConfig) {
			c.ServiceCertificates = []*x509.Certificate{testPKI(t).STS.Certificate}
		}}, "untrusted certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupSecure(t, ststest.Options{}, tt.mods)
			_, err := e.client.Read(ctx, oe, unitUUID)
			var te *stsclient.TransportError
			if !errors.As(err, &te) || stsclient.IsRetryable(err) || !strings.Contains(err.Error(), "verify response") ||
				!strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want non-retryable verify error with %q", err, tt.want)
			}
		})
	}
	t.Run("skip verification", func(t *testing.T) {
		e := setupSecure(t, ststest.Options{}, secureMods{security: func(c *stsclient.SecurityConfig) {
			c.ServiceCertificates, c.SkipResponseVerification = nil, true
		}})
		if _, err := e.client.Read(ctx, oe, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
			t.Errorf("error %v, want ErrNotFound", err)
		}
	})
}

// relatesTransport records the wsa:MessageID of every Organisation request and the
// wsa:RelatesTo the service answered it with; with replay it answers every request after the
// first with the first response, byte for byte (an earlier signed response replayed while its
// Timestamp is fresh), and with rewrite it changes each response given the request's MessageID.
type relatesTransport struct {
	base    http.RoundTripper
	replay  bool
	rewrite func(resp []byte, messageID string) []byte

	mu        sync.Mutex
	sent      []string // MessageIDs of the requests, in order
	relatesTo []string // RelatesTo of the service's response to each ("" if none)
	first     []byte   // the first response body
}

func (r *relatesTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "/organisation/") {
		return r.base.RoundTrip(req)
	}
	body, err := readAll(req)
	if err != nil {
		return nil, err
	}
	env, err := soap.Parse(body)
	if err != nil {
		return nil, err
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	relatesTo := ""
	if renv, err := soap.Parse(data); err == nil {
		relatesTo = renv.Addressing().RelatesTo
	}
	r.mu.Lock()
	r.sent = append(r.sent, env.Addressing().MessageID)
	r.relatesTo = append(r.relatesTo, relatesTo)
	if r.first == nil {
		r.first = data
	} else if r.replay {
		data = r.first
	}
	r.mu.Unlock()
	if r.rewrite != nil {
		data = r.rewrite(data, env.Addressing().MessageID)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// TestResponseRelatesTo checks that the client accepts a response only if its wsa:RelatesTo
// names the request: a correctly signed response without RelatesTo, and an earlier signed
// response replayed (fresh Timestamp, valid signature) as the answer to a later request, are
// rejected with a non-retryable error that names the request's MessageID; so are a signed
// response whose RelatesTo the signature does not cover, and a response with two RelatesTo. It
// also checks that the fake names the request in every response, faults included, signed or
// not.
func TestResponseRelatesTo(t *testing.T) {
	ctx := context.Background()
	oe := oio.KindOrganisationEnhed
	// addRelatesTo inserts a wsa:RelatesTo naming the request as the first header block.
	addRelatesTo := func(resp []byte, messageID string) []byte {
		return bytes.Replace(resp, []byte("<s:Header>"), []byte("<s:Header><a:RelatesTo>"+messageID+"</a:RelatesTo>"), 1)
	}
	tests := []struct {
		name   string
		secure bool
		opts   ststest.Options
		fault  bool // the second call is answered with a (Receiver) SOAP fault
		replay bool // the second call is answered with the first response, byte for byte
		// rewrite changes every response, given the request's MessageID.
		rewrite func(resp []byte, messageID string) []byte
		// reject is the number (1 or 2) of the Read that must be rejected; 0: both are answered.
		reject int
		// want returns what the rejection must mention, given the MessageIDs sent.
		want func(sent []string) []string
	}{
		{name: "signed response", secure: true},
		{name: "unsigned response"},
		{name: "signed fault", secure: true, fault: true},
		{name: "unsigned fault", fault: true},
		{name: "signed response without RelatesTo", secure: true, opts: ststest.Options{OmitRelatesTo: true}, reject: 1,
			want: func(sent []string) []string {
				return []string{"does not name the request", "no wsa:RelatesTo", sent[0]}
			}},
		{name: "unsigned response without RelatesTo", opts: ststest.Options{OmitRelatesTo: true}, reject: 1,
			want: func(sent []string) []string {
				return []string{"does not name the request", "no wsa:RelatesTo", sent[0]}
			}},
		{name: "replayed earlier signed response", secure: true, replay: true, reject: 2,
			want: func(sent []string) []string { return []string{sent[0], sent[1]} }},
		{name: "replayed earlier unsigned response", replay: true, reject: 2,
			want: func(sent []string) []string { return []string{sent[0], sent[1]} }},
		{name: "signed response with an unsigned RelatesTo", secure: true, opts: ststest.Options{OmitRelatesTo: true},
			rewrite: addRelatesTo, reject: 1,
			want: func([]string) []string { return []string{"verify response", "not signed: wsa:RelatesTo"} }},
		{name: "unsigned response with two RelatesTo", rewrite: addRelatesTo, reject: 1,
			want: func(sent []string) []string { return []string{"2 wsa:RelatesTo", sent[0]} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &relatesTransport{replay: tt.replay, rewrite: tt.rewrite}
			fake, client, _ := setupMode(t, tt.secure, tt.opts, func(c *stsclient.Config) {
				tr.base = c.HTTPClient.Transport
				c.HTTPClient = &http.Client{Transport: tr}
			})
			for call := 1; call <= 2; call++ {
				if call == 2 && tt.fault {
					fake.FailNext(ststest.Failure{Kind: oe, FaultReason: "injected fault"})
				}
				_, err := client.Read(ctx, oe, unitUUID)
				var fe *stsclient.FaultError
				switch {
				case call == tt.reject:
					var te *stsclient.TransportError
					if !errors.As(err, &te) || stsclient.IsRetryable(err) {
						t.Fatalf("Read %d: error %v, want a non-retryable *TransportError", call, err)
					}
					t.Logf("Read %d rejected: %v", call, err)
					tr.mu.Lock()
					want := tt.want(tr.sent)
					tr.mu.Unlock()
					for _, w := range want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("Read %d: error %q lacks %q", call, err, w)
						}
					}
					return
				case call == 2 && tt.fault:
					if !errors.As(err, &fe) || fe.Fault.Reason != "injected fault" {
						t.Fatalf("Read %d: error %v, want the injected fault", call, err)
					}
				case !errors.Is(err, stsclient.ErrNotFound):
					t.Fatalf("Read %d: error %v, want ErrNotFound", call, err)
				}
			}
			if tt.reject != 0 {
				t.Fatalf("Read %d was not rejected", tt.reject)
			}
			tr.mu.Lock()
			defer tr.mu.Unlock()
			for i, id := range tr.sent {
				if id == "" || tr.relatesTo[i] != id {
					t.Errorf("response %d relates to %q, want the request's MessageID %q", i+1, tr.relatesTo[i], id)
				}
			}
		})
	}
}
