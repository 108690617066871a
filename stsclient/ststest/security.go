package ststest

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// caller is what a verified request's token says about its sender.
type caller struct {
	cvr      string
	canWrite bool
}

// maxSeen bounds the replay cache; beyond it expired entries are purged.
const maxSeen = 4096

// checkSecurity verifies the WS-Security profile of an Organisation request (see the package
// documentation) and returns the caller, or the fault to answer with.
func (s *Server) checkSecurity(env *soap.Envelope) (*caller, *soap.Fault) {
	now := s.opts.Now()
	skew := s.opts.ClockSkew
	h, err := wssec.ParseHeader(env)
	if err != nil {
		return nil, securityFault(FaultInvalidSecurity, err.Error())
	}
	if !h.MustUnderstand() {
		return nil, securityFault(FaultInvalidSecurity, "wsse:Security lacks mustUnderstand")
	}
	if err := h.CheckTimestamp(now, skew); err != nil {
		return nil, securityFault(FaultMessageExpired, err.Error())
	}

	// The token: exactly one assertion, issued by our STS for Organisation 6, current.
	assertions := wssec.Children(h.Security, wssec.NSSAML, "Assertion")
	switch len(assertions) {
	case 0:
		return nil, securityFault(FaultSecurityTokenUnavailable, "no SAML assertion in the Security header")
	case 1:
	default:
		return nil, securityFault(FaultInvalidSecurity, fmt.Sprintf("%d SAML assertions in the Security header", len(assertions)))
	}
	assertion := assertions[0]
	a, err := wssec.ParseAssertion(assertion, []*x509.Certificate{s.PKI().STS.Certificate}, now)
	if err != nil {
		return nil, securityFault(FaultInvalidSecurityToken, err.Error())
	}
	s.mu.Lock()
	revoked, known := s.tokens[a.ID]
	s.mu.Unlock()
	switch {
	case a.Issuer != s.opts.EntityID:
		return nil, securityFault(FaultInvalidSecurityToken, fmt.Sprintf("assertion issued by %q", a.Issuer))
	case !a.NotBefore.IsZero() && a.NotBefore.After(now.Add(skew)):
		return nil, securityFault(FaultInvalidSecurityToken, "assertion not yet valid")
	case !a.Expires().After(now.Add(-skew)):
		return nil, securityFault(FaultInvalidSecurityToken, fmt.Sprintf("assertion expired at %s", wssec.FormatTime(a.Expires())))
	case !slices.Contains(a.Audiences, wssec.OrganisationEntityID):
		return nil, securityFault(FaultFailedAuthentication, fmt.Sprintf("assertion is for %q, not %s", a.Audiences, wssec.OrganisationEntityID))
	case !known || revoked:
		return nil, securityFault(FaultInvalidSecurityToken, "assertion is unknown or revoked")
	}

	// The signature: by the holder-of-key certificate, over every required part.
	if h.Signature == nil {
		return nil, securityFault(FaultInvalidSecurity, "the request is not signed")
	}
	str := wssec.KeyInfoSTR(h.Signature)
	if str == nil {
		return nil, securityFault(FaultInvalidSecurity, "KeyInfo must hold a SecurityTokenReference to the assertion")
	}
	if key, err := wssec.DerefSTR(str, h.Index); err != nil || key != assertion {
		return nil, securityFault(FaultSecurityTokenUnavailable, "KeyInfo does not reference the holder-of-key assertion")
	}
	verified, err := wssec.Verify(h.Signature, a.HolderOfKey.PublicKey, h.Index)
	if err != nil {
		return nil, signatureFault(fmt.Errorf("holder-of-key signature: %w", err))
	}
	parts := append(wssec.AddressingParts(env),
		wssec.Part{Name: "wsu:Timestamp", Element: h.Timestamp}, wssec.Part{Name: "saml:Assertion", Element: assertion})
	if err := wssec.RequireCovered(verified, parts...); err != nil {
		return nil, securityFault(FaultInvalidSecurity, err.Error())
	}

	// Replay: a MessageID is accepted once while its Timestamp could still pass.
	msgID := env.Addressing().MessageID
	until := h.Created.Add(2 * skew)
	if h.Expires.After(h.Created) {
		until = h.Expires.Add(skew)
	}
	s.mu.Lock()
	_, replayed := s.seen[msgID]
	if !replayed {
		if len(s.seen) >= maxSeen {
			for id, t := range s.seen {
				if t.Before(now) {
					delete(s.seen, id)
				}
			}
		}
		s.seen[msgID] = until
	}
	s.mu.Unlock()
	if replayed {
		return nil, securityFault(FaultInvalidSecurity, "replayed wsa:MessageID "+msgID)
	}
	return &caller{cvr: a.Attribute(wssec.AttrCVR), canWrite: hasPrivilege(a.Attribute(wssec.AttrPrivileges), PrivilegeWrite)}, nil
}

// hasPrivilege reports whether the base64 basic-privilege-profile document grants priv.
func hasPrivilege(b64, priv string) bool {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return false
	}
	for _, p := range doc.FindElements("//Privilege") {
		if strings.TrimSpace(p.Text()) == priv {
			return true
		}
	}
	return false
}

// signResponse adds a Security header to a response: a Timestamp and a signature by id over
// the Body, every WS-Addressing header and the Timestamp. With bst the signing certificate is
// included as a BinarySecurityToken and referenced from KeyInfo (like the Organisation
// service); without, KeyInfo names it by subject key identifier (like KOMBIT's STS).
func (s *Server) signResponse(env *soap.Envelope, id *Identity, bst bool) error {
	now := s.opts.Now()
	sec := wssec.NewSecurity(env.Header)
	ts := wssec.AddTimestamp(sec, "_ts-"+s.opts.NewID().String(), now, now.Add(5*time.Minute))
	var keyInfo *etree.Element
	if bst {
		bstID := "_x509-" + s.opts.NewID().String()
		wssec.AddBinarySecurityToken(sec, bstID, id.Certificate.Raw)
		keyInfo = wssec.NewSTRToBST(bstID)
	} else {
		keyInfo = etree.NewElement("o:SecurityTokenReference")
		keyInfo.CreateAttr("xmlns:o", wssec.NSSecExt)
		ki := keyInfo.CreateElement("o:KeyIdentifier")
		ki.CreateAttr("ValueType", wssec.ValueTypeX509SKI)
		ki.CreateAttr("EncodingType", wssec.EncodingBase64Binary)
		ki.SetText(base64.StdEncoding.EncodeToString(id.Certificate.SubjectKeyId))
	}
	var refs []wssec.Reference
	for _, p := range wssec.AddressingParts(env) {
		refs = append(refs, wssec.Reference{URI: "#" + wssec.IDOf(p.Element), Element: p.Element})
	}
	refs = append(refs, wssec.Reference{URI: "#" + wssec.IDOf(ts), Element: ts})
	if _, err := wssec.Sign(sec, id.Key, refs, keyInfo); err != nil {
		return fmt.Errorf("sign response: %w", err)
	}
	return nil
}
