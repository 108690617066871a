// Package wssec holds the XML-Signature building blocks of the WS-Security profile KOMBIT's
// STS and the Organisation 6 services use (OIO IDWS SOAP, OIO WS-Trust): exclusive
// canonicalisation of elements in their document context, namespace-aware Id resolution,
// creating one ds:Signature over many references (including the WS-Security STR-Transform),
// verifying such a signature, and the Security header tokens (Timestamp, BinarySecurityToken,
// SecurityTokenReference). It is shared by stsclient and the fake in stsclient/ststest.
//
// goxmldsig signs and verifies one reference per signature, knows no STR-Transform, mutates the
// element it canonicalises and limits NSDetatch to 1,000 elements; this package therefore uses
// only its exclusive canonicaliser, on copies that carry the namespace declarations in scope at
// the original (Detach), and builds and checks SignedInfo itself.
package wssec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// Namespaces.
const (
	NSDSig    = "http://www.w3.org/2000/09/xmldsig#"
	NSUtility = soap.NSUtility
	NSSecExt  = soap.NSSecurity
	// NSSecExt11 is the WSS 1.1 namespace of the TokenType attribute on SecurityTokenReference.
	NSSecExt11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	NSSAML     = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSExcC14N  = "http://www.w3.org/2001/10/xml-exc-c14n#"
)

// Algorithm identifiers.
const (
	AlgExcC14N      = string(dsig.CanonicalXML10ExclusiveAlgorithmId)
	AlgRSASHA256    = dsig.RSASHA256SignatureMethod
	AlgSHA256       = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgEnveloped    = string(dsig.EnvelopedSignatureAltorithmId)
	AlgSTRTransform = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#STR-Transform"
)

// Token profile identifiers.
const (
	ValueTypeX509v3      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	ValueTypeX509SKI     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	EncodingBase64Binary = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	ValueTypeSAMLID      = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
	TokenTypeSAML20      = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
)

// TimeLayout is the layout of wsu:Created/wsu:Expires the package writes (UTC, milliseconds).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Errors wrapped by Verify and the token look-ups, classifying what is wrong.
var (
	// ErrMalformed: the Signature or a token is structurally wrong.
	ErrMalformed = errors.New("wssec: malformed security element")
	// ErrUnsupportedAlgorithm: an algorithm other than exc-c14n, RSA-SHA256, SHA-256,
	// STR-Transform (and enveloped-signature where allowed).
	ErrUnsupportedAlgorithm = errors.New("wssec: unsupported algorithm")
	// ErrReference: a reference names no element, or an Id occurs twice.
	ErrReference = errors.New("wssec: unresolvable reference")
	// ErrDigest: a reference's digest does not match the element.
	ErrDigest = errors.New("wssec: digest mismatch")
	// ErrSignature: the SignatureValue does not verify with the key.
	ErrSignature = errors.New("wssec: signature value does not verify")
)

// Is reports whether el is the element {ns}local.
func Is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// Child returns the first child element {ns}local of el, or nil (also if el is nil).
func Child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if Is(c, ns, local) {
			return c
		}
	}
	return nil
}

// Children returns the child elements {ns}local of el (none if el is nil).
func Children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if Is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// AttrNS returns the value of el's attribute {ns}local ("" for an unqualified attribute) and
// whether it is present.
func AttrNS(el *etree.Element, ns, local string) (string, bool) {
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Key != local || a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		if ns == "" && a.Space == "" || ns != "" && a.Space != "" && a.NamespaceURI() == ns {
			return a.Value, true
		}
	}
	return "", false
}

// inScope returns the namespace declarations in scope at el's parent: prefix → URI, "" for the
// default namespace.
func inScope(el *etree.Element) map[string]string {
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	ns := map[string]string{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, a := range chain[i].Attr {
			switch {
			case a.Space == "xmlns":
				ns[a.Key] = a.Value
			case a.Space == "" && a.Key == "xmlns":
				ns[""] = a.Value
			}
		}
	}
	return ns
}

// Detach returns a deep copy of el that declares the namespaces in scope at el (those declared
// on ancestors and not redeclared on el itself), so that the copy means the same as el does in
// its document. el is not modified. Unlike etreeutils.NSDetatch it has no element limit, which
// matters for large Bodies (a ret with many relations, a long soeg result).
func Detach(el *etree.Element) *etree.Element {
	c := el.Copy()
	declared := map[string]bool{}
	for _, a := range c.Attr {
		switch {
		case a.Space == "xmlns":
			declared[a.Key] = true
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		}
	}
	for prefix, uri := range inScope(el) {
		if declared[prefix] || prefix == "xml" {
			continue
		}
		if prefix == "" {
			c.CreateAttr("xmlns", uri)
		} else {
			c.CreateAttr("xmlns:"+prefix, uri)
		}
	}
	return c
}

// DetachUsed returns a deep copy of el that declares those namespaces in scope at el which el's
// subtree uses (in element and attribute names, and as the prefix of xsi:type values) without
// declaring them itself. A self-contained element, such as an assertion from KOMBIT's STS, is
// copied unchanged; one that relies on its context keeps its meaning when moved elsewhere.
func DetachUsed(el *etree.Element) *etree.Element {
	c := el.Copy()
	scope := inScope(el)
	need := map[string]bool{}
	var walk func(e *etree.Element, declared map[string]bool)
	walk = func(e *etree.Element, declared map[string]bool) {
		local := declared
		copied := false
		for _, a := range e.Attr {
			if p, ok := declaredPrefix(a); ok {
				if !copied {
					local, copied = maps.Clone(declared), true
				}
				local[p] = true
			}
		}
		use := func(p string) {
			if !local[p] && p != "xml" && p != "xmlns" {
				need[p] = true
			}
		}
		use(e.Space)
		for _, a := range e.Attr {
			if _, isDecl := declaredPrefix(a); isDecl {
				continue
			}
			if a.Space != "" {
				use(a.Space)
			}
			if a.Key == "type" && a.NamespaceURI() == NSXSI {
				if p, _, ok := strings.Cut(a.Value, ":"); ok {
					use(p)
				}
			}
		}
		for _, k := range e.ChildElements() {
			walk(k, local)
		}
	}
	walk(el, map[string]bool{})
	for p := range need {
		uri, ok := scope[p]
		if !ok {
			continue
		}
		if p == "" {
			c.CreateAttr("xmlns", uri)
		} else {
			c.CreateAttr("xmlns:"+p, uri)
		}
	}
	return c
}

// declaredPrefix reports the prefix a namespace declaration attribute declares ("" for the
// default namespace).
func declaredPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

// Canonicalize returns the exclusive XML canonicalisation (without comments) of el as it stands
// in its document, with the given InclusiveNamespaces prefix list (usually empty). el is not
// modified.
func Canonicalize(el *etree.Element, prefixList string) ([]byte, error) {
	out, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList).Canonicalize(Detach(el))
	if err != nil {
		return nil, fmt.Errorf("wssec: canonicalise %s: %w", el.FullTag(), err)
	}
	return out, nil
}

// Digest returns SHA-256 of the exclusive canonicalisation of el.
func Digest(el *etree.Element) ([]byte, error) {
	c, err := Canonicalize(el, "")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c)
	return sum[:], nil
}

// Index maps Ids to the elements that carry them: every wsu:Id attribute (resolved by
// namespace, whatever its prefix) and the ID attribute of saml:Assertion elements.
type Index map[string]*etree.Element

// IndexIDs indexes the Ids under root. An Id that occurs twice is an error wrapping
// ErrReference: a signature must not be satisfiable by a second element with the same Id
// (signature wrapping).
func IndexIDs(root *etree.Element) (Index, error) {
	idx := Index{}
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		ids := make([]string, 0, 1)
		if v, ok := AttrNS(el, NSUtility, "Id"); ok {
			ids = append(ids, v)
		}
		if Is(el, NSSAML, "Assertion") {
			if v, ok := AttrNS(el, "", "ID"); ok {
				ids = append(ids, v)
			}
		}
		for _, id := range ids {
			if prev, dup := idx[id]; dup && prev != el {
				return fmt.Errorf("%w: Id %q occurs more than once", ErrReference, id)
			}
			idx[id] = el
		}
		for _, c := range el.ChildElements() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return idx, nil
}

// Lookup resolves a same-document URI "#id".
func (idx Index) Lookup(uri string) (*etree.Element, error) {
	id, ok := strings.CutPrefix(uri, "#")
	if !ok || id == "" {
		return nil, fmt.Errorf("%w: URI %q is not a same-document reference", ErrReference, uri)
	}
	el := idx[id]
	if el == nil {
		return nil, fmt.Errorf("%w: no element has Id %q", ErrReference, id)
	}
	return el, nil
}

// FormatTime formats t as wsu:Created/wsu:Expires (UTC with milliseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses an xs:dateTime as written in Timestamps, assertions and lifetimes.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q: %w", ErrMalformed, s, err)
	}
	return t, nil
}

// NewSecurity appends a wsse:Security header block (prefix "o", mustUnderstand) to header,
// whose root must declare the SOAP envelope namespace as "s".
func NewSecurity(header *etree.Element) *etree.Element {
	sec := header.CreateElement("o:Security")
	sec.CreateAttr("s:mustUnderstand", "1")
	sec.CreateAttr("xmlns:o", NSSecExt)
	return sec
}

// AddTimestamp appends a wsu:Timestamp (prefix "u", declared on the envelope) with Id id.
func AddTimestamp(sec *etree.Element, id string, created, expires time.Time) *etree.Element {
	ts := sec.CreateElement("u:Timestamp")
	ts.CreateAttr("u:Id", id)
	ts.CreateElement("u:Created").SetText(FormatTime(created))
	ts.CreateElement("u:Expires").SetText(FormatTime(expires))
	return ts
}

// AddBinarySecurityToken appends an X.509 v3 wsse:BinarySecurityToken carrying certDER; id
// (optional) becomes its wsu:Id. The "o" and "u" prefixes must be in scope.
func AddBinarySecurityToken(parent *etree.Element, id string, certDER []byte) *etree.Element {
	bst := parent.CreateElement("o:BinarySecurityToken")
	if id != "" {
		bst.CreateAttr("u:Id", id)
	}
	bst.CreateAttr("EncodingType", EncodingBase64Binary)
	bst.CreateAttr("ValueType", ValueTypeX509v3)
	bst.SetText(base64.StdEncoding.EncodeToString(certDER))
	return bst
}

// NewSTRToBST returns a wsse:SecurityTokenReference (prefix "o" declared on it) with a
// wsse:Reference to the BinarySecurityToken with wsu:Id bstID.
func NewSTRToBST(bstID string) *etree.Element {
	str := etree.NewElement("o:SecurityTokenReference")
	str.CreateAttr("xmlns:o", NSSecExt)
	ref := str.CreateElement("o:Reference")
	ref.CreateAttr("URI", "#"+bstID)
	ref.CreateAttr("ValueType", ValueTypeX509v3)
	return str
}

// NewSTRToSAML returns a wsse:SecurityTokenReference (prefix "o", declared on it) to a SAML
// 2.0 assertion by its ID (KeyIdentifier of value type SAMLID, TokenType SAMLV2.0), with wsu:Id
// id unless id is empty (then the "u" prefix must be in scope where it is placed).
func NewSTRToSAML(assertionID, id string) *etree.Element {
	str := etree.NewElement("o:SecurityTokenReference")
	str.CreateAttr("xmlns:o", NSSecExt)
	str.CreateAttr("xmlns:b", NSSecExt11)
	str.CreateAttr("b:TokenType", TokenTypeSAML20)
	if id != "" {
		str.CreateAttr("u:Id", id)
	}
	ki := str.CreateElement("o:KeyIdentifier")
	ki.CreateAttr("ValueType", ValueTypeSAMLID)
	ki.SetText(assertionID)
	return str
}

// CertificateFromBST decodes the X.509 certificate of a wsse:BinarySecurityToken.
func CertificateFromBST(bst *etree.Element) (*x509.Certificate, error) {
	if vt, _ := AttrNS(bst, "", "ValueType"); vt != ValueTypeX509v3 {
		return nil, fmt.Errorf("%w: BinarySecurityToken ValueType %q is not X509v3", ErrMalformed, vt)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(bst.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: BinarySecurityToken: %w", ErrMalformed, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: BinarySecurityToken: %w", ErrMalformed, err)
	}
	return cert, nil
}

// SignRSA signs data with RSASSA-PKCS1-v1_5 over SHA-256 (deterministic).
func SignRSA(key crypto.Signer, data []byte) ([]byte, error) {
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%w: signing key is %T, want RSA", ErrUnsupportedAlgorithm, key.Public())
	}
	sum := sha256.Sum256(data)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("wssec: sign: %w", err)
	}
	return sig, nil
}
