package stsclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// KOMBIT's endpoints and identifiers (test = "eksterntest", production). The STS signing and
// service certificates are published by KOMBIT (digitaliseringskataloget.dk) and configured
// separately.
const (
	STSEndpointTest       = "https://n2adgangsstyring.eksterntest-stoettesystemerne.dk/runtime/services/kombittrust/14/certificatemixed"
	STSEndpointProduction = "https://n2adgangsstyring.stoettesystemerne.dk/runtime/services/kombittrust/14/certificatemixed"
	STSEntityIDTest       = "https://saml.n2adgangsstyring.eksterntest-stoettesystemerne.dk/runtime"
	STSEntityIDProduction = "https://saml.n2adgangsstyring.stoettesystemerne.dk/runtime"
	BaseURLTest           = "https://organisation.eksterntest-stoettesystemerne.dk"
	BaseURLProduction     = "https://organisation.stoettesystemerne.dk"
	// OrganisationEntityID is the AppliesTo (audience) of tokens for Organisation 6.
	OrganisationEntityID = wssec.OrganisationEntityID
	// STSPath is the path of the STS SOAP endpoint (the fake serves it too).
	STSPath = wssec.STSPath
)

// Defaults of TokenConfig.
const (
	DefaultTokenTimeout       = 30 * time.Second
	DefaultTokenRefreshMargin = 5 * time.Minute
	DefaultClockSkew          = 5 * time.Minute
	// DefaultTimestampTTL is the lifetime of request Timestamps (Expires - Created).
	DefaultTimestampTTL = 5 * time.Minute
)

// TokenConfig configures a TokenClient. Endpoint, EntityID, Credentials and STSCertificates are
// required.
type TokenConfig struct {
	// Endpoint is the STS SOAP endpoint, e.g. STSEndpointTest.
	Endpoint string
	// EntityID is the STS entity id, which issued assertions must name as Issuer, e.g.
	// STSEntityIDTest.
	EntityID string
	// AppliesTo is the service tokens are requested for; default OrganisationEntityID.
	AppliesTo string
	// Credentials sign the requests; tokens are bound to their certificate (holder-of-key).
	Credentials *Credentials
	// STSCertificates are trusted to sign responses and assertions (several during a
	// certificate rollover).
	STSCertificates []*x509.Certificate
	// HTTPClient sends requests; default a new http.Client (no TLS client certificate: the
	// SOAP STS authenticates by the signature).
	HTTPClient *http.Client
	// Timeout bounds one issue call; default DefaultTokenTimeout.
	Timeout time.Duration
	// Lifetime, if positive, is requested as wst:Lifetime (the STS default is 8 hours and it may
	// shorten the request).
	Lifetime time.Duration
	// RefreshMargin: a cached token is replaced this long before it expires (at most half its
	// lifetime); default DefaultTokenRefreshMargin.
	RefreshMargin time.Duration
	// ClockSkew tolerated between our clock and the STS's; default DefaultClockSkew.
	ClockSkew time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NewID generates MessageIDs and wsu:Ids; default uuid.New.
	NewID func() uuid.UUID
	// Logger receives a record per issued token; default discards.
	Logger *slog.Logger
}

// TokenClient obtains holder-of-key SAML tokens from KOMBIT's STS (OIO WS-Trust 1.3 Issue over
// SOAP 1.2, signed with the credentials) and caches them per (certificate, CVR, service) until
// shortly before they expire. Concurrent requests for the same token share one STS call. It is
// safe for concurrent use.
type TokenClient struct {
	cfg    TokenConfig
	flight singleflight.Group

	mu    sync.Mutex
	cache map[string]*Token
}

// NewTokenClient validates cfg, applies defaults and returns a TokenClient.
func NewTokenClient(cfg TokenConfig) (*TokenClient, error) {
	var errs []error
	if u, err := url.Parse(cfg.Endpoint); cfg.Endpoint == "" || err != nil || !u.IsAbs() || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint %q must be an absolute URL", cfg.Endpoint))
	}
	if cfg.EntityID == "" {
		errs = append(errs, errors.New("EntityID is required"))
	}
	if cfg.Credentials == nil || cfg.Credentials.key == nil {
		errs = append(errs, errors.New("credentials are required"))
	}
	if len(cfg.STSCertificates) == 0 {
		errs = append(errs, errors.New("at least one STS certificate is required"))
	}
	if cfg.Timeout < 0 || cfg.Lifetime < 0 || cfg.RefreshMargin < 0 || cfg.ClockSkew < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sts token config: %w", err)
	}
	if cfg.AppliesTo == "" {
		cfg.AppliesTo = OrganisationEntityID
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTokenTimeout
	}
	if cfg.RefreshMargin == 0 {
		cfg.RefreshMargin = DefaultTokenRefreshMargin
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &TokenClient{cfg: cfg, cache: map[string]*Token{}}, nil
}

// Credentials returns the credentials tokens are bound to.
func (c *TokenClient) Credentials() *Credentials { return c.cfg.Credentials }

// Token is a verified holder-of-key SAML assertion for one CVR and service. It is immutable.
type Token struct {
	// ID is the assertion's ID.
	ID string
	// CVR is the municipality (anvenderkontekst) the token was issued for.
	CVR string
	// AppliesTo is the service (audience).
	AppliesTo string
	// Issuer is the STS entity id.
	Issuer string
	// IssuedAt is the assertion's IssueInstant.
	IssuedAt time.Time
	// Expires is the earliest of the assertion's NotOnOrAfter bounds and the RSTR lifetime.
	Expires time.Time
	// Privileges is the decoded Privileges_intermediate attribute (basic privilege profile XML),
	// empty if absent.
	Privileges string

	key       string
	refreshAt time.Time
	assertion *etree.Element // detached, never modified
}

// Assertion returns a copy of the assertion element exactly as issued (its namespace
// declarations included), to be placed in a request's Security header.
func (t *Token) Assertion() *etree.Element { return t.assertion.Copy() }

// LogValue identifies the token without its content.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("cvr", t.CVR),
		slog.String("applies_to", t.AppliesTo), slog.Time("expires", t.Expires))
}

func (c *TokenClient) cacheKey(cvr string) string {
	return c.cfg.Credentials.Thumbprint() + "|" + cvr + "|" + c.cfg.AppliesTo
}

// Token returns a cached token for cvr that is not due for refresh, or issues a new one. A call
// whose context ends while others wait for the same token returns the context's error; the
// shared STS call continues for the others.
func (c *TokenClient) Token(ctx context.Context, cvr string) (*Token, error) {
	key := c.cacheKey(cvr)
	c.mu.Lock()
	tok := c.cache[key]
	c.mu.Unlock()
	if tok != nil && c.cfg.Now().Before(tok.refreshAt) {
		return tok, nil
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		// Detached from the first caller's cancellation: others may be waiting for this call.
		t, err := c.Issue(context.WithoutCancel(ctx), cvr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.cache[key] = t
		c.mu.Unlock()
		return t, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sts token for CVR %s: %w", cvr, context.Cause(ctx))
	}
}

// Invalidate drops t from the cache if it is still the cached token for its key (a later token
// obtained by a concurrent refresh stays).
func (c *TokenClient) Invalidate(t *Token) {
	if t == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache[t.key] == t {
		delete(c.cache, t.key)
	}
}

// InvalidateID drops the cached token with the given assertion ID, if any.
func (c *TokenClient) InvalidateID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.cache {
		if t.ID == id {
			delete(c.cache, k)
		}
	}
}

// TokenError is a failed token request.
type TokenError struct {
	Endpoint   string
	CVR        string
	HTTPStatus int         // 0 when no response arrived
	Fault      *soap.Fault // the STS's SOAP fault, if it sent one
	Err        error
	// Temporary reports whether a later attempt may succeed (network errors, timeouts, HTTP
	// 5xx/408/429 without a fault, Receiver faults).
	Temporary bool
}

// Error names the CVR, the endpoint, the HTTP status and the cause.
func (e *TokenError) Error() string {
	s := fmt.Sprintf("sts token for CVR %s from %s", e.CVR, e.Endpoint)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(": HTTP %d", e.HTTPStatus)
	}
	if e.Fault != nil {
		s += ": " + e.Fault.Error()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// Retryable returns e.Temporary.
func (e *TokenError) Retryable() bool { return e.Temporary }

// Issue requests a new token for cvr from the STS, bypassing (and not filling) the cache, and
// verifies the response: the STS signature over Body, Timestamp, RelatesTo (= our MessageID)
// and Action, the Timestamp, and the assertion's STS signature, Issuer, audience, holder-of-key
// certificate (ours), CVR attribute and validity.
func (c *TokenClient) Issue(ctx context.Context, cvr string) (*Token, error) {
	tokErr := func(status int, temporary bool, f *soap.Fault, err error) error {
		return &TokenError{Endpoint: c.cfg.Endpoint, CVR: cvr, HTTPStatus: status, Fault: f, Err: err, Temporary: temporary}
	}
	if cvr == "" {
		return nil, tokErr(0, false, nil, errors.New("empty CVR"))
	}
	env, messageID, err := c.BuildRequest(cvr)
	if err != nil {
		return nil, tokErr(0, false, nil, err)
	}
	body, err := env.Bytes()
	if err != nil {
		return nil, tokErr(0, false, nil, fmt.Errorf("serialise request: %w", err))
	}
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, c.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, tokErr(0, false, nil, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", soap.ContentType(wssec.ActionIssue))
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, tokErr(0, ctx.Err() == nil, nil, fmt.Errorf("post: %w", err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxResponseBytes+1))
	if err != nil {
		return nil, tokErr(resp.StatusCode, ctx.Err() == nil, nil, fmt.Errorf("read response: %w", err))
	}
	if len(data) > DefaultMaxResponseBytes {
		return nil, tokErr(resp.StatusCode, false, nil, errors.New("response too large"))
	}
	renv, perr := soap.Parse(data)
	if perr == nil {
		if f := renv.Fault(); f != nil {
			return nil, tokErr(resp.StatusCode, f.Code == soap.CodeReceiver, f, nil)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, tokErr(resp.StatusCode, temporaryStatus(resp.StatusCode), nil,
			fmt.Errorf("unexpected HTTP status: %s", snippet(data)))
	}
	if perr != nil {
		return nil, tokErr(resp.StatusCode, false, nil, perr)
	}
	tok, err := c.readResponse(renv, messageID, cvr)
	if err != nil {
		return nil, tokErr(resp.StatusCode, false, nil, fmt.Errorf("response: %w", err))
	}
	c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "sts token issued", slog.Any("token", tok))
	return tok, nil
}

// BuildRequest returns the signed RST for cvr and its MessageID (exported for tests and
// diagnostics; Issue sends it).
func (c *TokenClient) BuildRequest(cvr string) (*soap.Envelope, string, error) {
	now := c.cfg.Now()
	messageID := "urn:uuid:" + c.cfg.NewID().String()
	certDER := c.cfg.Credentials.Certificate.Raw

	rst := etree.NewElement("wst:RequestSecurityToken")
	rst.CreateAttr("xmlns:wst", wssec.NSTrust)
	rst.CreateElement("wst:TokenType").SetText(wssec.TokenTypeSAML)
	rst.CreateElement("wst:RequestType").SetText(wssec.RequestTypeIssue)
	at := rst.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", wssec.NSPolicy)
	at.CreateElement("a:EndpointReference").CreateElement("a:Address").SetText(c.cfg.AppliesTo)
	claims := rst.CreateElement("wst:Claims")
	claims.CreateAttr("Dialect", wssec.ClaimsDialect)
	ct := claims.CreateElement("auth:ClaimType")
	ct.CreateAttr("xmlns:auth", wssec.NSAuth)
	ct.CreateAttr("Uri", wssec.AttrCVR)
	ct.CreateAttr("Optional", "false")
	ct.CreateElement("auth:Value").SetText(cvr)
	rst.CreateElement("wst:KeyType").SetText(wssec.KeyTypePublicKey)
	useKey := rst.CreateElement("wst:UseKey")
	useKey.CreateAttr("xmlns:o", wssec.NSSecExt)
	wssec.AddBinarySecurityToken(useKey, "", certDER)
	if c.cfg.Lifetime > 0 {
		rst.CreateElement("wst:Lifetime").CreateElement("u:Expires").
			SetText(now.Add(c.cfg.Lifetime).UTC().Format(time.RFC3339))
	}

	env := soap.New(soap.Addressing{Action: wssec.ActionIssue, MessageID: messageID,
		ReplyTo: soap.AnonymousAddress, To: c.cfg.Endpoint}, rst)
	sec := wssec.NewSecurity(env.Header)
	ts := wssec.AddTimestamp(sec, "TS-"+c.cfg.NewID().String(), now, now.Add(DefaultTimestampTTL))
	bstID := "X509-" + c.cfg.NewID().String()
	bst := wssec.AddBinarySecurityToken(sec, bstID, certDER)
	refs := addressingRefs(env)
	refs = append(refs, wssec.Reference{URI: "#" + wssec.IDOf(ts), Element: ts},
		wssec.Reference{URI: "#" + bstID, Element: bst})
	if _, err := wssec.Sign(sec, c.cfg.Credentials.key, refs, wssec.NewSTRToBST(bstID)); err != nil {
		return nil, "", fmt.Errorf("sign request: %w", err)
	}
	return env, messageID, nil
}

// addressingRefs returns references to the WS-Addressing headers (in header order) and the
// Body, by the wsu:Ids soap.New gave them.
func addressingRefs(env *soap.Envelope) []wssec.Reference {
	var refs []wssec.Reference
	for _, h := range env.Header.ChildElements() {
		if id := wssec.IDOf(h); id != "" && h.NamespaceURI() == soap.NSAddressing {
			refs = append(refs, wssec.Reference{URI: "#" + id, Element: h})
		}
	}
	return append(refs, wssec.Reference{URI: "#" + wssec.IDOf(env.Body), Element: env.Body})
}

func (c *TokenClient) readResponse(env *soap.Envelope, messageID, cvr string) (*Token, error) {
	now := c.cfg.Now()
	h, err := wssec.ParseHeader(env)
	if err != nil {
		return nil, err
	}
	if err := h.CheckTimestamp(now, c.cfg.ClockSkew); err != nil {
		return nil, err
	}
	if h.Signature == nil {
		return nil, errors.New("response is not signed")
	}
	var verified []wssec.Verified
	var verr error
	for _, cert := range c.cfg.STSCertificates {
		if verified, verr = wssec.Verify(h.Signature, cert.PublicKey, h.Index); verr == nil {
			break
		}
	}
	if verr != nil {
		return nil, fmt.Errorf("STS signature: %w", verr)
	}
	parts := []wssec.Part{{Name: "soap:Body", Element: env.Body}, {Name: "wsu:Timestamp", Element: h.Timestamp}}
	var relatesTo *etree.Element
	for _, p := range wssec.AddressingParts(env, "Action", "MessageID", "RelatesTo")[1:] {
		parts = append(parts, p)
		if p.Element.Tag == "RelatesTo" {
			relatesTo = p.Element
		}
	}
	if err := wssec.RequireCovered(verified, parts...); err != nil {
		return nil, err
	}
	if relatesTo == nil || strings.TrimSpace(relatesTo.Text()) != messageID {
		return nil, fmt.Errorf("wsa:RelatesTo does not name the request %s", messageID)
	}

	rstr, err := payloadRSTR(env)
	if err != nil {
		return nil, err
	}
	ast := wssec.Children(wssec.Child(rstr, wssec.NSTrust, "RequestedSecurityToken"), wssec.NSSAML, "Assertion")
	if len(ast) != 1 {
		return nil, fmt.Errorf("RequestedSecurityToken must hold one saml:Assertion, has %d", len(ast))
	}
	a, err := wssec.ParseAssertion(ast[0], c.cfg.STSCertificates, now)
	if err != nil {
		return nil, err
	}
	expires := a.Expires()
	if lt := wssec.Child(wssec.Child(rstr, wssec.NSTrust, "Lifetime"), wssec.NSUtility, "Expires"); lt != nil {
		e, err := wssec.ParseTime(lt.Text())
		if err != nil {
			return nil, fmt.Errorf("RSTR lifetime: %w", err)
		}
		if e.Before(expires) {
			expires = e
		}
	}
	switch {
	case a.Issuer != c.cfg.EntityID:
		return nil, fmt.Errorf("assertion Issuer %q, want %q", a.Issuer, c.cfg.EntityID)
	case !slices.Contains(a.Audiences, c.cfg.AppliesTo):
		return nil, fmt.Errorf("assertion audience %q does not include %q", a.Audiences, c.cfg.AppliesTo)
	case !a.HolderOfKey.Equal(c.cfg.Credentials.Certificate):
		return nil, fmt.Errorf("assertion is bound to certificate %q, not ours", a.HolderOfKey.Subject.String())
	case a.Attribute(wssec.AttrCVR) != cvr:
		return nil, fmt.Errorf("assertion is for CVR %q, want %q", a.Attribute(wssec.AttrCVR), cvr)
	case !a.NotBefore.IsZero() && a.NotBefore.After(now.Add(c.cfg.ClockSkew)):
		return nil, fmt.Errorf("assertion not valid before %s", a.NotBefore)
	case !expires.After(now):
		return nil, fmt.Errorf("assertion expired at %s", expires)
	}
	issued := a.IssueInstant
	if issued.IsZero() || issued.After(now) {
		issued = now
	}
	margin := min(c.cfg.RefreshMargin, expires.Sub(issued)/2)
	tok := &Token{ID: a.ID, CVR: cvr, AppliesTo: c.cfg.AppliesTo, Issuer: a.Issuer, IssuedAt: a.IssueInstant,
		Expires: expires, key: c.cacheKey(cvr), refreshAt: expires.Add(-margin), assertion: wssec.DetachUsed(ast[0])}
	if p := a.Attribute(wssec.AttrPrivileges); p != "" {
		tok.Privileges = decodePrivileges(p)
	}
	return tok, nil
}

// payloadRSTR returns the RequestSecurityTokenResponse of a response Body: the only one in a
// RequestSecurityTokenResponseCollection, or the Body's payload itself.
func payloadRSTR(env *soap.Envelope) (*etree.Element, error) {
	p, err := env.Payload()
	if err != nil {
		return nil, err
	}
	if wssec.Is(p, wssec.NSTrust, "RequestSecurityTokenResponseCollection") {
		rs := wssec.Children(p, wssec.NSTrust, "RequestSecurityTokenResponse")
		if len(rs) != 1 {
			return nil, fmt.Errorf("RequestSecurityTokenResponseCollection holds %d responses, want 1", len(rs))
		}
		return rs[0], nil
	}
	if !wssec.Is(p, wssec.NSTrust, "RequestSecurityTokenResponse") {
		return nil, fmt.Errorf("unexpected response payload %s", p.FullTag())
	}
	return p, nil
}

// decodePrivileges decodes the base64 Privileges_intermediate value (kept as is if it is not
// base64).
func decodePrivileges(v string) string {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil {
		return v
	}
	return string(b)
}
