package stsclient

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// TokenSource supplies the tokens TokenSecurity puts into requests. *TokenClient implements it.
type TokenSource interface {
	// Token returns a valid token for the CVR (cached or new).
	Token(ctx context.Context, cvr string) (*Token, error)
	// InvalidateID drops the cached token with this assertion ID.
	InvalidateID(id string)
	// Credentials returns the holder-of-key credentials the tokens are bound to.
	Credentials() *Credentials
}

// SecurityConfig configures TokenSecurity. Tokens and CVR are required, and
// ServiceCertificates unless SkipResponseVerification is set.
type SecurityConfig struct {
	// Tokens supplies tokens, normally a *TokenClient.
	Tokens TokenSource
	// CVR is the municipality the sync writes for (the token's anvenderkontekst).
	CVR string
	// ServiceCertificates are trusted to sign responses (KOMBIT's "ORG" certificate; several
	// during a rollover).
	ServiceCertificates []*x509.Certificate
	// SkipResponseVerification accepts unsigned responses (diagnostics only; verification is on
	// by default).
	SkipResponseVerification bool
	// ClockSkew tolerated on response Timestamps; default DefaultClockSkew.
	ClockSkew time.Duration
	// TimestampTTL is Expires - Created of request Timestamps; default DefaultTimestampTTL.
	TimestampTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NewID generates wsu:Ids; default uuid.New.
	NewID func() uuid.UUID
}

// TokenSecurity is the Security of the real service (OIO IDWS SOAP profile): every request gets
// one wsse:Security header with a Timestamp, the SAML token (byte-for-byte as issued), a
// SecurityTokenReference to it, and one RSA-SHA256 signature by the holder-of-key credentials
// over the Body, Action, MessageID, ReplyTo, To, the Timestamp and (through the STR-Transform)
// the token. Responses must carry a Timestamp and a signature by a service certificate over the
// Body, the Timestamp and the Action, MessageID and RelatesTo headers (and the Client requires
// RelatesTo to name the request, so a signed response cannot be replayed as the answer to
// another request). After a WS-Security SOAP fault the client drops the token it used and
// retries the call once (see FaultHandler). It is safe for concurrent use.
type TokenSecurity struct {
	cfg  SecurityConfig
	omit map[string]bool // parts left unsigned; tests of the fake only
}

// NewTokenSecurity validates cfg, applies defaults and returns a TokenSecurity.
func NewTokenSecurity(cfg SecurityConfig) (*TokenSecurity, error) {
	var errs []error
	if cfg.Tokens == nil {
		errs = append(errs, errors.New("a token source is required"))
	} else if cfg.Tokens.Credentials() == nil {
		errs = append(errs, errors.New("the token source has no credentials"))
	}
	if cfg.CVR == "" {
		errs = append(errs, errors.New("CVR is required"))
	}
	if len(cfg.ServiceCertificates) == 0 && !cfg.SkipResponseVerification {
		errs = append(errs, errors.New("service certificates are required to verify responses"))
	}
	if cfg.ClockSkew < 0 || cfg.TimestampTTL < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sts security config: %w", err)
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.TimestampTTL == 0 {
		cfg.TimestampTTL = DefaultTimestampTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	return &TokenSecurity{cfg: cfg}, nil
}

// SecureRequest gets a token (errors are *TokenError, retryable when the STS failed
// transiently) and signs env with it.
func (s *TokenSecurity) SecureRequest(ctx context.Context, env *soap.Envelope) error {
	tok, err := s.cfg.Tokens.Token(ctx, s.cfg.CVR)
	if err != nil {
		return err
	}
	return s.sign(env, tok, s.cfg.Tokens.Credentials().Signer())
}

func (s *TokenSecurity) sign(env *soap.Envelope, tok *Token, key crypto.Signer) error {
	if env.Header == nil {
		return errors.New("envelope has no header")
	}
	now := s.cfg.Now()
	sec := wssec.NewSecurity(env.Header)
	ts := wssec.AddTimestamp(sec, "_ts-"+s.cfg.NewID().String(), now, now.Add(s.cfg.TimestampTTL))
	sec.AddChild(tok.Assertion())
	strID := "_str" + tok.ID
	str := wssec.NewSTRToSAML(tok.ID, strID)
	sec.AddChild(str)
	var refs []wssec.Reference
	for _, r := range addressingRefs(env) {
		if !s.omit[r.Element.Tag] {
			refs = append(refs, r)
		}
	}
	if !s.omit["Timestamp"] {
		refs = append(refs, wssec.Reference{URI: "#" + wssec.IDOf(ts), Element: ts})
	}
	if !s.omit["Assertion"] {
		refs = append(refs, wssec.Reference{URI: "#" + strID, Element: tok.assertionIn(sec), STR: true})
	}
	if _, err := wssec.Sign(sec, key, refs, wssec.NewSTRToSAML(tok.ID, "")); err != nil {
		env.Header.RemoveChild(sec)
		return fmt.Errorf("sign request: %w", err)
	}
	return nil
}

// assertionIn returns the copy of t's assertion placed in the Security header sec.
func (t *Token) assertionIn(sec *etree.Element) *etree.Element {
	for _, el := range wssec.Children(sec, wssec.NSSAML, "Assertion") {
		if id, _ := wssec.AttrNS(el, "", "ID"); id == t.ID {
			return el
		}
	}
	return nil
}

// VerifyResponse checks the response's Timestamp and its signature by a service certificate
// over the Body, the Timestamp and the Action, MessageID and RelatesTo headers present (what
// KOMBIT's reference client requires): every wsa:RelatesTo must be covered by the signature.
// That RelatesTo is present and names the request is checked by the Client, which knows the
// request's MessageID. With SkipResponseVerification it does nothing.
func (s *TokenSecurity) VerifyResponse(_ context.Context, env *soap.Envelope) error {
	if s.cfg.SkipResponseVerification {
		return nil
	}
	h, err := wssec.ParseHeader(env)
	if err != nil {
		return err
	}
	if err := h.CheckTimestamp(s.cfg.Now(), s.cfg.ClockSkew); err != nil {
		return err
	}
	if h.Signature == nil {
		return errors.New("response is not signed")
	}
	certs := s.cfg.ServiceCertificates
	// A response naming its signing certificate (BinarySecurityToken) must name a trusted one.
	if str := wssec.KeyInfoSTR(h.Signature); str != nil {
		if tok, err := wssec.DerefSTR(str, h.Index); err == nil && wssec.Is(tok, wssec.NSSecExt, "BinarySecurityToken") {
			cert, err := wssec.CertificateFromBST(tok)
			if err != nil {
				return err
			}
			if !certIn(cert, certs) {
				return fmt.Errorf("response signed by untrusted certificate %q", cert.Subject.String())
			}
			certs = []*x509.Certificate{cert}
		}
	}
	var verified []wssec.Verified
	for _, cert := range certs {
		if verified, err = wssec.Verify(h.Signature, cert.PublicKey, h.Index); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("response signature: %w", err)
	}
	// What KOMBIT's own client requires to be signed in responses.
	parts := append(wssec.AddressingParts(env, "Action", "MessageID", "RelatesTo"),
		wssec.Part{Name: "wsu:Timestamp", Element: h.Timestamp})
	return wssec.RequireCovered(verified, parts...)
}

func certIn(c *x509.Certificate, list []*x509.Certificate) bool {
	for _, l := range list {
		if l.Equal(c) {
			return true
		}
	}
	return false
}

// HandleFault drops the token a request carried when the service answered it with a
// WS-Security fault (subcode in the wsse namespace: InvalidSecurityToken, FailedAuthentication,
// MessageExpired, …) and asks the client to retry it once with a fresh token.
func (s *TokenSecurity) HandleFault(_ context.Context, req *soap.Envelope, f *soap.Fault) bool {
	if !IsSecurityFault(f) {
		return false
	}
	if req.Header != nil {
		for _, sec := range wssec.Children(req.Header, wssec.NSSecExt, "Security") {
			for _, a := range wssec.Children(sec, wssec.NSSAML, "Assertion") {
				if id, _ := wssec.AttrNS(a, "", "ID"); id != "" {
					s.cfg.Tokens.InvalidateID(id)
				}
			}
		}
	}
	return true
}

// IsSecurityFault reports whether f is a WS-Security fault (its subcode is in the wsse
// namespace).
func IsSecurityFault(f *soap.Fault) bool {
	return f != nil && f.Subcode.Space == soap.NSSecurity
}
