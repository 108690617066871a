package ststest

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// knownServicePrefix: the fake STS issues tokens for any AppliesTo under it (the real STS
// knows the registered services; an unknown one is error 101).
const knownServicePrefix = "http://stoettesystemerne.dk/service/"

// serveToken handles POST /runtime/services/kombittrust/14/certificatemixed (OIO WS-Trust 1.3
// Issue).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if _, err := soap.ParseContentType(r.Header.Get("Content-Type")); err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	env, err := soap.Parse(data)
	if err != nil {
		s.writeFault(w, soap.Addressing{}, *stsFault(STSErrorMalformed, err.Error()))
		return
	}
	in := env.Addressing()
	reply := soap.Addressing{Action: wssec.ActionIssueFinal, RelatesTo: in.MessageID}
	resp, f := s.issue(env)
	if f != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "fakests token refused", slog.String("reason", f.Reason))
		s.writeFault(w, reply, *f)
		return
	}
	out := soap.New(reply, resp)
	if err := s.signResponse(out, s.PKI().STS, false); err != nil {
		s.writeFault(w, reply, *stsFault(STSErrorUnexpected, err.Error()))
		return
	}
	s.writeEnvelope(w, http.StatusOK, out)
}

// issue checks an RST and returns the RequestSecurityTokenResponseCollection.
func (s *Server) issue(env *soap.Envelope) (*etree.Element, *soap.Fault) {
	now := s.opts.Now()
	pki := s.PKI()
	if a := env.Addressing(); a.Action != wssec.ActionIssue {
		return nil, stsFault(STSErrorMalformed, fmt.Sprintf("wsa:Action %q is not %s", a.Action, wssec.ActionIssue))
	}
	h, err := wssec.ParseHeader(env)
	if err != nil {
		return nil, securityFault(FaultInvalidSecurity, err.Error())
	}
	if !h.MustUnderstand() {
		return nil, securityFault(FaultInvalidSecurity, "wsse:Security lacks mustUnderstand")
	}
	if err := h.CheckTimestamp(now, s.opts.ClockSkew); err != nil {
		return nil, securityFault(FaultMessageExpired, err.Error())
	}
	if h.Signature == nil {
		return nil, securityFault(FaultInvalidSecurity, "the request is not signed")
	}
	str := wssec.KeyInfoSTR(h.Signature)
	if str == nil {
		return nil, securityFault(FaultInvalidSecurity, "KeyInfo must hold a SecurityTokenReference")
	}
	bst, err := wssec.DerefSTR(str, h.Index)
	if err != nil || !wssec.Is(bst, wssec.NSSecExt, "BinarySecurityToken") || bst.Parent() != h.Security {
		return nil, securityFault(FaultSecurityTokenUnavailable, "KeyInfo must reference a BinarySecurityToken in the Security header")
	}
	cert, err := wssec.CertificateFromBST(bst)
	if err != nil {
		return nil, securityFault(FaultInvalidSecurityToken, err.Error())
	}
	verified, err := wssec.Verify(h.Signature, cert.PublicKey, h.Index)
	if err != nil {
		return nil, signatureFault(err)
	}
	parts := append(wssec.AddressingParts(env),
		wssec.Part{Name: "wsu:Timestamp", Element: h.Timestamp}, wssec.Part{Name: "wsse:BinarySecurityToken", Element: bst})
	if err := wssec.RequireCovered(verified, parts...); err != nil {
		return nil, securityFault(FaultInvalidSecurity, err.Error())
	}
	if err := s.trustedClient(cert, now); err != nil {
		return nil, stsFault(STSErrorConfiguration, err.Error())
	}
	rst, err := readRST(env, cert)
	if err != nil {
		return nil, stsFault(STSErrorMalformed, err.Error())
	}
	if !strings.HasPrefix(rst.appliesTo, knownServicePrefix) {
		return nil, stsFault(STSErrorConfiguration, fmt.Sprintf("unknown service %q", rst.appliesTo))
	}
	access := AccessReadWrite
	if s.opts.Agreements != nil {
		if access = s.opts.Agreements[rst.cvr]; access == 0 {
			return nil, stsFault(STSErrorConfiguration, fmt.Sprintf("no service agreement for CVR %s and %s", rst.cvr, rst.appliesTo))
		}
	}
	expires := now.Add(s.opts.TokenLifetime)
	if !rst.expires.IsZero() && rst.expires.Before(expires) {
		if !rst.expires.After(now) {
			return nil, stsFault(STSErrorMalformed, "requested lifetime has passed")
		}
		expires = rst.expires
	}
	assertion, id, err := s.newAssertion(pki, cert, rst, access, now, expires)
	if err != nil {
		return nil, stsFault(STSErrorUnexpected, err.Error())
	}
	s.mu.Lock()
	s.tokens[id] = false
	s.mu.Unlock()
	return rstr(assertion, id, rst.appliesTo, now, expires), nil
}

// trustedClient accepts client certificates issued by the fake's CA and valid at now.
func (s *Server) trustedClient(cert *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(s.PKI().CA.Certificate)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("unknown anvendersystem certificate %q: %w", cert.Subject.String(), err)
	}
	return nil
}

// rstRequest is what an RST asks for.
type rstRequest struct {
	appliesTo string
	cvr       string
	expires   time.Time // requested wst:Lifetime/wsu:Expires, zero if absent
}

func readRST(env *soap.Envelope, signer *x509.Certificate) (*rstRequest, error) {
	p, err := env.Payload()
	if err != nil {
		return nil, err
	}
	if !wssec.Is(p, wssec.NSTrust, "RequestSecurityToken") {
		return nil, fmt.Errorf("body holds %s, not wst:RequestSecurityToken", p.FullTag())
	}
	text := func(local string) string {
		if el := wssec.Child(p, wssec.NSTrust, local); el != nil {
			return strings.TrimSpace(el.Text())
		}
		return ""
	}
	for _, f := range [][2]string{{"TokenType", wssec.TokenTypeSAML}, {"RequestType", wssec.RequestTypeIssue}, {"KeyType", wssec.KeyTypePublicKey}} {
		if got := text(f[0]); got != f[1] {
			return nil, fmt.Errorf("wst:%s %q, want %s", f[0], got, f[1])
		}
	}
	req := &rstRequest{}
	addr := wssec.Child(wssec.Child(wssec.Child(p, wssec.NSPolicy, "AppliesTo"), soap.NSAddressing, "EndpointReference"), soap.NSAddressing, "Address")
	if addr == nil {
		return nil, errors.New("no wsp:AppliesTo/wsa:EndpointReference/wsa:Address")
	}
	req.appliesTo = strings.TrimSuffix(strings.TrimSpace(addr.Text()), "/")
	claims := wssec.Child(p, wssec.NSTrust, "Claims")
	types := wssec.Children(claims, wssec.NSAuth, "ClaimType")
	if len(types) != 1 {
		return nil, fmt.Errorf("wst:Claims must hold exactly one ClaimType, has %d", len(types))
	}
	if uri, _ := wssec.AttrNS(types[0], "", "Uri"); uri != wssec.AttrCVR {
		return nil, fmt.Errorf("ClaimType %q, want %s", uri, wssec.AttrCVR)
	}
	v := wssec.Child(types[0], wssec.NSAuth, "Value")
	if v == nil || !isCVR(strings.TrimSpace(v.Text())) {
		return nil, errors.New("the CvrNumberIdentifier claim needs an 8-digit value")
	}
	req.cvr = strings.TrimSpace(v.Text())
	useKey := wssec.Child(wssec.Child(p, wssec.NSTrust, "UseKey"), wssec.NSSecExt, "BinarySecurityToken")
	if useKey == nil {
		return nil, errors.New("no wst:UseKey/wsse:BinarySecurityToken")
	}
	key, err := wssec.CertificateFromBST(useKey)
	if err != nil {
		return nil, fmt.Errorf("UseKey: %w", err)
	}
	if !key.Equal(signer) {
		return nil, errors.New("UseKey must be the certificate that signed the request")
	}
	if exp := wssec.Child(wssec.Child(p, wssec.NSTrust, "Lifetime"), soap.NSUtility, "Expires"); exp != nil {
		if req.expires, err = wssec.ParseTime(exp.Text()); err != nil {
			return nil, fmt.Errorf("wst:Lifetime: %w", err)
		}
	}
	return req, nil
}

func isCVR(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// newAssertion returns a signed holder-of-key assertion shaped like KOMBIT's (sts-wire.md §1.5).
func (s *Server) newAssertion(pki *PKI, holder *x509.Certificate, rst *rstRequest, access Access, now, expires time.Time) (*etree.Element, string, error) {
	id := "_" + s.opts.NewID().String()
	ts := func(t time.Time) string { return wssec.FormatTime(t) }
	a := etree.NewElement("Assertion")
	a.CreateAttr("xmlns", wssec.NSSAML)
	a.CreateAttr("ID", id)
	a.CreateAttr("IssueInstant", ts(now))
	a.CreateAttr("Version", "2.0")
	iss := a.CreateElement("Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText(s.opts.EntityID)
	subj := a.CreateElement("Subject")
	nameID := subj.CreateElement("NameID")
	nameID.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName")
	nameID.SetText(holder.Subject.String())
	sc := subj.CreateElement("SubjectConfirmation")
	sc.CreateAttr("Method", wssec.MethodHolderOfKey)
	scd := sc.CreateElement("SubjectConfirmationData")
	scd.CreateAttr("xmlns:xsi", wssec.NSXSI)
	scd.CreateAttr("xsi:type", "KeyInfoConfirmationDataType")
	scd.CreateAttr("NotBefore", ts(now))
	scd.CreateAttr("NotOnOrAfter", ts(expires))
	scd.CreateAttr("Recipient", rst.appliesTo)
	ki := scd.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", wssec.NSDSig)
	ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(holder.Raw))
	cond := a.CreateElement("Conditions")
	cond.CreateAttr("NotBefore", ts(now))
	cond.CreateAttr("NotOnOrAfter", ts(expires))
	cond.CreateElement("AudienceRestriction").CreateElement("Audience").SetText(rst.appliesTo)
	attrs := a.CreateElement("AttributeStatement")
	attr := func(name, value string) {
		at := attrs.CreateElement("Attribute")
		at.CreateAttr("Name", name)
		at.CreateElement("AttributeValue").SetText(value)
	}
	attr("dk:gov:saml:attribute:AssuranceLevel", "3")
	attr("dk:gov:saml:attribute:SpecVer", "DK-SAML-2.0")
	attr("dk:gov:saml:attribute:KombitSpecVer", "1.0")
	attr(wssec.AttrCVR, rst.cvr)
	attr(wssec.AttrPrivileges, base64.StdEncoding.EncodeToString([]byte(privilegeList(rst.cvr, access))))
	authn := a.CreateElement("AuthnStatement")
	authn.CreateAttr("AuthnInstant", ts(now))
	authn.CreateElement("AuthnContext").CreateElement("AuthnContextClassRef").SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:X509")

	ctx, err := dsig.NewSigningContext(pki.STS.Key, [][]byte{pki.STS.Certificate.Raw})
	if err != nil {
		return nil, "", err
	}
	ctx.IdAttribute = "ID"
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, "", err
	}
	sig, err := ctx.ConstructSignature(a, true)
	if err != nil {
		return nil, "", fmt.Errorf("sign assertion: %w", err)
	}
	a.InsertChildAt(iss.Index()+1, sig) // SAML order: Issuer, Signature, Subject, …
	return a, id, nil
}

// privilegeList returns the basic-privilege-profile document of a token.
func privilegeList(cvr string, access Access) string {
	privs := "<Privilege>" + PrivilegeRead + "</Privilege>"
	if access == AccessReadWrite {
		privs += "<Privilege>" + PrivilegeWrite + "</Privilege>"
	}
	return `<bpp:PrivilegeList xmlns:bpp="http://itst.dk/oiosaml/basic_privilege_profile">` +
		`<PrivilegeGroup Scope="urn:dk:gov:saml:cvrNumberIdentifier:` + cvr + `">` + privs + `</PrivilegeGroup></bpp:PrivilegeList>`
}

// rstr builds the RequestSecurityTokenResponseCollection around the assertion.
func rstr(assertion *etree.Element, id, appliesTo string, now, expires time.Time) *etree.Element {
	coll := etree.NewElement("trust:RequestSecurityTokenResponseCollection")
	coll.CreateAttr("xmlns:trust", wssec.NSTrust)
	r := coll.CreateElement("trust:RequestSecurityTokenResponse")
	lt := r.CreateElement("trust:Lifetime")
	lt.CreateElement("u:Created").SetText(wssec.FormatTime(now))
	lt.CreateElement("u:Expires").SetText(wssec.FormatTime(expires))
	at := r.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", wssec.NSPolicy)
	at.CreateElement("a:EndpointReference").CreateElement("a:Address").SetText(appliesTo)
	r.CreateElement("trust:RequestedSecurityToken").AddChild(assertion)
	r.CreateElement("trust:RequestedAttachedReference").AddChild(wssec.NewSTRToSAML(id, ""))
	r.CreateElement("trust:RequestedUnattachedReference").AddChild(wssec.NewSTRToSAML(id, ""))
	r.CreateElement("trust:TokenType").SetText(wssec.TokenTypeSAML)
	r.CreateElement("trust:RequestType").SetText(wssec.RequestTypeIssue)
	r.CreateElement("trust:KeyType").SetText(wssec.KeyTypePublicKey)
	return coll
}
