package stsclient_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/testkeys"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xmlseccheck"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// Id attributes of the signed parts, for xmlsec1.
var (
	idBody      = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSEnvelope, Local: "Body"}
	idAction    = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSAddressing, Local: "Action"}
	idMessageID = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSAddressing, Local: "MessageID"}
	idReplyTo   = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSAddressing, Local: "ReplyTo"}
	idTo        = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSAddressing, Local: "To"}
	idRelatesTo = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSAddressing, Local: "RelatesTo"}
	idTimestamp = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSUtility, Local: "Timestamp"}
	idBST       = xmlseccheck.IDAttr{Attr: "Id", Namespace: soap.NSSecurity, Local: "BinarySecurityToken"}
	idAssertion = xmlseccheck.IDAttr{Attr: "ID", Namespace: wssec.NSSAML, Local: "Assertion"}
)

// deterministicEnv is a secured fake and client served in-process at KOMBIT's test URLs, with
// fixed keys, clock and IDs, so that every request is reproducible byte for byte.
type deterministicEnv struct {
	fake   *ststest.Server
	pki    *ststest.PKI
	tr     *handlerTransport
	client *stsclient.Client
	tokens *stsclient.TokenClient
	creds  *stsclient.Credentials
}

func newDeterministicEnv(t testing.TB) *deterministicEnv {
	t.Helper()
	clock := testclock.New(clockStart)
	e := &deterministicEnv{pki: testPKI(t)}
	e.fake = ststest.NewServer(ststest.Options{Now: clock.Now, NewID: sequentialIDs(), PKI: e.pki, RequireSecurity: true,
		EntityID: stsclient.STSEntityIDTest})
	e.tr = &handlerTransport{h: e.fake.Handler()}
	id, err := e.pki.NewClient(ststest.ClientConfig{CVR: testCVR, Key: testkeys.Key(testkeys.Client1)})
	if err != nil {
		t.Fatal(err)
	}
	if e.creds, err = stsclient.NewCredentials(id.Certificate, id.Key, clockStart); err != nil {
		t.Fatal(err)
	}
	ids := sequentialIDs()
	httpClient := &http.Client{Transport: e.tr}
	if e.tokens, err = stsclient.NewTokenClient(stsclient.TokenConfig{Endpoint: stsclient.STSEndpointTest,
		EntityID: stsclient.STSEntityIDTest, Credentials: e.creds, STSCertificates: []*x509.Certificate{e.pki.STS.Certificate},
		HTTPClient: httpClient, Now: clock.Now, NewID: ids, Lifetime: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	sec, err := stsclient.NewTokenSecurity(stsclient.SecurityConfig{Tokens: e.tokens, CVR: testCVR,
		ServiceCertificates: []*x509.Certificate{e.pki.Service.Certificate}, Now: clock.Now, NewID: ids})
	if err != nil {
		t.Fatal(err)
	}
	if e.client, err = stsclient.New(stsclient.Config{BaseURL: stsclient.BaseURLTest, HTTPClient: httpClient,
		Now: clock.Now, NewID: ids, Security: sec}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTokenRequestGolden pins the signed RST (deterministic keys, clock and IDs) and has
// xmlsec1 verify its signature over all seven parts independently.
func TestTokenRequestGolden(t *testing.T) {
	e := newDeterministicEnv(t)
	env, _, err := e.tokens.BuildRequest(testCVR)
	if err != nil {
		t.Fatal(err)
	}
	data, err := env.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// The golden file is an indented view; the signature is checked on the exact bytes.
	golden.Assert(t, "token_request.golden.xml", golden.Indent(t, data))
	if err := xmlseccheck.Verify(t, data, e.creds.Certificate, xmlseccheck.Options{
		IDs: []xmlseccheck.IDAttr{idBody, idAction, idMessageID, idReplyTo, idTo, idTimestamp, idBST}}); err != nil {
		t.Error(err)
	}
	if n := strings.Count(string(data), "<ds:Reference "); n != 7 {
		t.Errorf("%d references, want 7", n)
	}
}

// TestSignedRequestGolden pins a signed importer request and checks its signature with
// implementations independent of this module: xmlsec1 verifies the STS's enveloped signature
// of the assertion; xmlsec1 cannot apply the WS-Security STR-Transform, so it verifies a copy
// whose signature references the assertion directly instead (same digests), and the request's
// own SignatureValue is checked over SignedInfo as canonicalised by libxml2 (xmllint).
func TestSignedRequestGolden(t *testing.T) {
	e := newDeterministicEnv(t)
	if err := e.client.Import(context.Background(), unit()); err != nil {
		t.Fatal(err)
	}
	var req recorded
	for _, r := range e.tr.requests {
		if strings.Contains(r.header.Get("Content-Type"), "organisationenhed/importer") {
			req = r
		}
	}
	golden.Assert(t, "request_importer_organisationenhed_signed.golden.xml", golden.Indent(t, req.body))
	xsdcheck.Validate(t, oio.KindOrganisationEnhed, payloadDocument(t, req.body))

	// 1. The assertion, exactly as issued, still verifies with the STS certificate.
	if err := xmlseccheck.Verify(t, req.body, e.pki.STS.Certificate, xmlseccheck.Options{IDs: []xmlseccheck.IDAttr{idAssertion}}); err != nil {
		t.Errorf("assertion signature: %v", err)
	}

	env, err := soap.Parse(req.body)
	if err != nil {
		t.Fatal(err)
	}
	sec := env.Header.FindElement("./Security")
	sig := sec.FindElement("./Signature")
	assertion := sec.FindElement("./Assertion")
	origRefs := sig.FindElements("./SignedInfo/Reference")
	if len(origRefs) != 7 {
		t.Fatalf("%d references, want 7", len(origRefs))
	}

	// 2. A copy signed over the same parts, the assertion referenced by its ID.
	variant := etree.NewDocument()
	variant.SetRoot(env.Doc.Root().Copy())
	venv := &soap.Envelope{Doc: variant, Header: variant.Root().SelectElement("Header"), Body: variant.Root().SelectElement("Body")}
	vsec := venv.Header.SelectElement("Security")
	vsec.RemoveChild(vsec.SelectElement("Signature"))
	idx, err := wssec.IndexIDs(variant.Root())
	if err != nil {
		t.Fatal(err)
	}
	var refs []wssec.Reference
	for _, r := range origRefs {
		uri := r.SelectAttrValue("URI", "")
		if strings.HasPrefix(uri, "#_str") {
			id := assertion.SelectAttrValue("ID", "")
			refs = append(refs, wssec.Reference{URI: "#" + id, Element: idx[id]})
			continue
		}
		el, err := idx.Lookup(uri)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, wssec.Reference{URI: uri, Element: el})
	}
	vsig, err := wssec.Sign(vsec, e.creds.Signer(), refs, nil)
	if err != nil {
		t.Fatal(err)
	}
	vsig.CreateAttr("Id", "variant")
	vdata, err := variant.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := xmlseccheck.Verify(t, vdata, e.creds.Certificate, xmlseccheck.Options{NodeID: "variant",
		IDs: []xmlseccheck.IDAttr{idBody, idAction, idMessageID, idReplyTo, idTo, idTimestamp, idAssertion,
			{Attr: "Id", Namespace: wssec.NSDSig, Local: "Signature"}}}); err != nil {
		t.Errorf("variant signature: %v", err)
	}
	for i, r := range vsig.FindElements("./SignedInfo/Reference") {
		got, want := origRefs[i].FindElement("./DigestValue").Text(), r.FindElement("./DigestValue").Text()
		if got != want {
			t.Errorf("reference %s: digest %s, xmlsec1-verified digest %s", origRefs[i].SelectAttrValue("URI", ""), got, want)
		}
	}

	// 3. The request's SignatureValue over SignedInfo as libxml2 canonicalises it.
	canon := xmllintExcC14N(t, wssec.Detach(sig.SelectElement("SignedInfo")))
	value, err := base64.StdEncoding.DecodeString(sig.SelectElement("SignatureValue").Text())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	if err := rsa.VerifyPKCS1v15(e.creds.Certificate.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], value); err != nil {
		t.Errorf("SignatureValue over libxml2's canonical SignedInfo: %v", err)
	}
}

// TestSignedResponseXmlsec has xmlsec1 verify a response signed by the fake service.
func TestSignedResponseXmlsec(t *testing.T) {
	rec := &recordingResponses{}
	e2 := setupSecure(t, ststest.Options{}, secureMods{client: func(c *stsclient.Config) {
		c.HTTPClient = &http.Client{Transport: rewritingTransport{base: c.HTTPClient.Transport, rewrite: rec.keep}}
	}})
	if _, err := e2.client.Read(context.Background(), oio.KindOrganisationEnhed, unitUUID); !errors.Is(err, stsclient.ErrNotFound) {
		t.Fatal(err)
	}
	if err := xmlseccheck.Verify(t, rec.last(), e2.pki.Service.Certificate, xmlseccheck.Options{
		IDs: []xmlseccheck.IDAttr{idBody, idAction, idMessageID, idRelatesTo, idTimestamp, idBST}}); err != nil {
		t.Error(err)
	}
}

type recordingResponses struct {
	mu   sync.Mutex
	body []byte
}

func (r *recordingResponses) keep(b []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.body = append([]byte(nil), b...)
	return b
}

func (r *recordingResponses) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body
}

// xmllintExcC14N returns libxml2's exclusive canonicalisation of el as a standalone document.
func xmllintExcC14N(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found")
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--exc-c14n", "-")
	cmd.Stdin = strings.NewReader(string(data))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xmllint --exc-c14n: %v", err)
	}
	return out
}

// TestTokenCache checks caching per CVR, single-flight refresh and invalidation.
func TestTokenCache(t *testing.T) {
	e := setupSecure(t, ststest.Options{}, secureMods{})
	ctx := context.Background()
	var wg sync.WaitGroup
	toks := make([]*stsclient.Token, 20)
	for i := range toks {
		wg.Go(func() {
			tok, err := e.tokens.Token(ctx, testCVR)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if n := e.fake.TokensIssued(); n != 1 {
		t.Errorf("20 concurrent requests issued %d tokens, want 1", n)
	}
	for _, tok := range toks[1:] {
		if tok != toks[0] {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	tok := toks[0]
	if tok.CVR != testCVR || tok.AppliesTo != stsclient.OrganisationEntityID || !tok.Expires.Equal(clockStart.Add(8*time.Hour)) ||
		!strings.Contains(tok.Privileges, ststest.PrivilegeWrite) {
		t.Errorf("token %+v", tok)
	}
	// Another CVR is another token.
	if _, err := e.tokens.Token(ctx, "22222222"); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TokensIssued(); n != 2 {
		t.Errorf("%d tokens, want 2", n)
	}
	// Invalidating a stale token does not drop a newer one.
	e.tokens.Invalidate(tok)
	fresh, err := e.tokens.Token(ctx, testCVR)
	if err != nil || fresh == tok {
		t.Fatalf("after Invalidate: %v, same token %v", err, fresh == tok)
	}
	e.tokens.Invalidate(tok)
	if again, _ := e.tokens.Token(ctx, testCVR); again != fresh {
		t.Error("invalidating an old token dropped the current one")
	}
	// A caller whose context ends stops waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	e.tokens.Invalidate(fresh)
	if _, err := e.tokens.Token(cctx, testCVR); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
}

// TestTokenErrors checks the STS's refusals and the client's checks of its responses.
func TestTokenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		opts      ststest.Options
		mods      secureMods
		want      string
		fault     bool
		retryable bool
	}{
		{"no service agreement", ststest.Options{Agreements: map[string]ststest.Access{"99999999": ststest.AccessReadWrite}}, secureMods{},
			"101: no service agreement for CVR 11111111", true, false},
		{"unknown service", ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) { c.AppliesTo = "http://example.invalid/x" }},
			"101: unknown service", true, false},
		{"client certificate of another CA", ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) {
			p, err := ststest.NewPKI(ststest.PKIConfig{NotBefore: clockStart.Add(-time.Hour), CAKey: testkeys.Key(testkeys.Foreign),
				STSKey: testkeys.Key(testkeys.STS), ServiceKey: testkeys.Key(testkeys.Service)})
			if err != nil {
				t.Fatal(err)
			}
			id, err := p.NewClient(ststest.ClientConfig{Key: testkeys.Key(testkeys.Client2)})
			if err != nil {
				t.Fatal(err)
			}
			c.Credentials, _ = stsclient.NewCredentials(id.Certificate, id.Key, clockStart)
		}}, "101: unknown anvendersystem certificate", true, false},
		{"untrusted STS certificate", ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) {
			c.STSCertificates = []*x509.Certificate{c.Credentials.Certificate}
		}}, "STS signature", false, false},
		{"wrong entity id", ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) { c.EntityID = stsclient.STSEntityIDProduction }},
			"assertion Issuer", false, false},
		{"STS down", ststest.Options{}, secureMods{token: func(c *stsclient.TokenConfig) { c.Endpoint = "http://127.0.0.1:1/sts" }},
			"connection refused", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupSecure(t, tt.opts, tt.mods)
			_, err := e.tokens.Token(ctx, testCVR)
			var te *stsclient.TokenError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) || (te.Fault != nil) != tt.fault || te.Retryable() != tt.retryable {
				t.Fatalf("error %v, want *TokenError with %q (fault %v, retryable %v)", err, tt.want, tt.fault, tt.retryable)
			}
			// Through the client, the call fails as a TransportError with the same retryability.
			_, err = e.client.Read(ctx, oio.KindOrganisationEnhed, unitUUID)
			var tre *stsclient.TransportError
			if !errors.As(err, &tre) || !errors.As(err, &te) || stsclient.IsRetryable(err) != tt.retryable {
				t.Errorf("call error %v, want TransportError wrapping TokenError, retryable %v", err, tt.retryable)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := stsclient.NewTokenClient(stsclient.TokenConfig{}); err == nil ||
		!strings.Contains(err.Error(), "EntityID is required") || !strings.Contains(err.Error(), "credentials are required") {
		t.Errorf("NewTokenClient({}) = %v", err)
	}
	if _, err := stsclient.NewTokenSecurity(stsclient.SecurityConfig{}); err == nil ||
		!strings.Contains(err.Error(), "token source is required") || !strings.Contains(err.Error(), "CVR is required") {
		t.Errorf("NewTokenSecurity({}) = %v", err)
	}
}
