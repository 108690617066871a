package wssec

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// OIO WS-Trust (KOMBIT STS) identifiers.
const (
	NSTrust  = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	NSPolicy = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	NSAuth   = "http://docs.oasis-open.org/wsfed/authorization/200706"
	NSXSI    = "http://www.w3.org/2001/XMLSchema-instance"

	ActionIssue      = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"
	ActionIssueFinal = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"
	RequestTypeIssue = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
	KeyTypePublicKey = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"
	ClaimsDialect    = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims"
	TokenTypeSAML    = TokenTypeSAML20

	// AttrCVR is the SAML attribute (and RST claim type) of the municipality's CVR number.
	AttrCVR = "dk:gov:saml:attribute:CvrNumberIdentifier"
	// AttrPrivileges carries the base64 basic-privilege-profile document.
	AttrPrivileges = "dk:gov:saml:attribute:Privileges_intermediate"

	MethodHolderOfKey = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"

	// OrganisationEntityID is the AppliesTo (audience) of tokens for Organisation 6.
	OrganisationEntityID = "http://stoettesystemerne.dk/service/organisation/3"
	// STSPath is the path of KOMBIT's SOAP STS endpoint.
	STSPath = "/runtime/services/kombittrust/14/certificatemixed"
)

// ErrAssertion is wrapped by ParseAssertion errors: the assertion's signature or content is not
// acceptable.
var ErrAssertion = errors.New("wssec: invalid SAML assertion")

// Assertion is what a verified holder-of-key SAML 2.0 assertion says.
type Assertion struct {
	ID           string
	Issuer       string
	IssueInstant time.Time
	// NotBefore and NotOnOrAfter are the Conditions' bounds (zero if absent).
	NotBefore, NotOnOrAfter time.Time
	// ConfirmationNotOnOrAfter is SubjectConfirmationData/@NotOnOrAfter (zero if absent).
	ConfirmationNotOnOrAfter time.Time
	Audiences                []string
	// HolderOfKey is the certificate in SubjectConfirmationData: its key must sign the
	// messages that carry the assertion.
	HolderOfKey *x509.Certificate
	// Attributes maps attribute names to their values.
	Attributes map[string][]string
}

// Expires returns the earliest of the assertion's end times.
func (a *Assertion) Expires() time.Time {
	exp := a.NotOnOrAfter
	if !a.ConfirmationNotOnOrAfter.IsZero() && (exp.IsZero() || a.ConfirmationNotOnOrAfter.Before(exp)) {
		exp = a.ConfirmationNotOnOrAfter
	}
	return exp
}

// Attribute returns the first value of the named attribute ("" if absent).
func (a *Assertion) Attribute(name string) string {
	if v := a.Attributes[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ParseAssertion verifies the enveloped signature of a saml:Assertion with goxmldsig against
// the trusted STS certificates (one of which must be the signing certificate, valid at now) and
// reads the verified content: nothing outside what the signature covers is trusted. It checks
// the shape of a holder-of-key assertion but not its times or audience, which are the caller's
// policy. Errors wrap ErrAssertion.
func ParseAssertion(el *etree.Element, trusted []*x509.Certificate, now time.Time) (*Assertion, error) {
	if !Is(el, NSSAML, "Assertion") {
		return nil, fmt.Errorf("%w: %s is not a saml:Assertion", ErrAssertion, el.FullTag())
	}
	if len(trusted) == 0 {
		return nil, fmt.Errorf("%w: no trusted STS certificate configured", ErrAssertion)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: trusted})
	vc.IdAttribute = "ID"
	vc.Clock = dsig.NewFakeClockAt(now)
	verified, err := vc.Validate(Detach(el))
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrAssertion, err)
	}
	return readAssertion(verified)
}

func readAssertion(el *etree.Element) (*Assertion, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrAssertion, fmt.Sprintf(format, args...))
	}
	a := &Assertion{Attributes: map[string][]string{}}
	a.ID, _ = AttrNS(el, "", "ID")
	if a.ID == "" {
		return nil, bad("no ID")
	}
	var err error
	if v, ok := AttrNS(el, "", "IssueInstant"); ok {
		if a.IssueInstant, err = ParseTime(v); err != nil {
			return nil, bad("IssueInstant: %v", err)
		}
	}
	if iss := Child(el, NSSAML, "Issuer"); iss != nil {
		a.Issuer = strings.TrimSpace(iss.Text())
	}
	if a.Issuer == "" {
		return nil, bad("no Issuer")
	}
	if cond := Child(el, NSSAML, "Conditions"); cond != nil {
		if a.NotBefore, err = optTime(cond, "NotBefore"); err != nil {
			return nil, bad("Conditions: %v", err)
		}
		if a.NotOnOrAfter, err = optTime(cond, "NotOnOrAfter"); err != nil {
			return nil, bad("Conditions: %v", err)
		}
		for _, ar := range Children(cond, NSSAML, "AudienceRestriction") {
			for _, au := range Children(ar, NSSAML, "Audience") {
				a.Audiences = append(a.Audiences, strings.TrimSpace(au.Text()))
			}
		}
	}
	if a.NotOnOrAfter.IsZero() {
		return nil, bad("no Conditions/@NotOnOrAfter")
	}
	subject := Child(el, NSSAML, "Subject")
	var hok *etree.Element
	for _, sc := range Children(subject, NSSAML, "SubjectConfirmation") {
		if m, _ := AttrNS(sc, "", "Method"); m == MethodHolderOfKey {
			if hok != nil {
				return nil, bad("more than one holder-of-key SubjectConfirmation")
			}
			hok = sc
		}
	}
	if subject == nil || hok == nil {
		return nil, bad("no holder-of-key SubjectConfirmation")
	}
	scd := Child(hok, NSSAML, "SubjectConfirmationData")
	if a.ConfirmationNotOnOrAfter, err = optTime(scd, "NotOnOrAfter"); err != nil {
		return nil, bad("SubjectConfirmationData: %v", err)
	}
	certs := Children(Child(Child(scd, NSDSig, "KeyInfo"), NSDSig, "X509Data"), NSDSig, "X509Certificate")
	if len(certs) != 1 {
		return nil, bad("SubjectConfirmationData must hold exactly one X509Certificate, has %d", len(certs))
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certs[0].Text()), ""))
	if err != nil {
		return nil, bad("holder-of-key certificate: %v", err)
	}
	if a.HolderOfKey, err = x509.ParseCertificate(der); err != nil {
		return nil, bad("holder-of-key certificate: %v", err)
	}
	for _, st := range Children(el, NSSAML, "AttributeStatement") {
		for _, at := range Children(st, NSSAML, "Attribute") {
			name, _ := AttrNS(at, "", "Name")
			for _, v := range Children(at, NSSAML, "AttributeValue") {
				a.Attributes[name] = append(a.Attributes[name], strings.TrimSpace(v.Text()))
			}
		}
	}
	return a, nil
}

func optTime(el *etree.Element, attr string) (time.Time, error) {
	if el == nil {
		return time.Time{}, nil
	}
	v, ok := AttrNS(el, "", attr)
	if !ok {
		return time.Time{}, nil
	}
	return ParseTime(v)
}
