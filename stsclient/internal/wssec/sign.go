package wssec

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Reference is one ds:Reference to create.
type Reference struct {
	// URI names the referenced element: "#" + its Id.
	URI string
	// Element is what gets digested: the referenced element itself, or, with STR, the security
	// token the referenced SecurityTokenReference points at.
	Element *etree.Element
	// STR selects the STR-Transform (with exc-c14n as its canonicalisation) instead of a plain
	// exc-c14n transform: the digest covers the token, not the reference.
	STR bool
}

// Sign appends a ds:Signature to parent: a SignedInfo with exc-c14n canonicalisation, the
// RSA-SHA256 signature method and one SHA-256 Reference per ref, the SignatureValue over the
// SignedInfo as canonicalised in its final position, and a KeyInfo holding keyInfo (if not nil).
// Every referenced element must be final: changing it afterwards breaks the signature. On error
// parent is left unchanged.
func Sign(parent *etree.Element, key crypto.Signer, refs []Reference, keyInfo *etree.Element) (*etree.Element, error) {
	sig := parent.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	fail := func(err error) (*etree.Element, error) {
		parent.RemoveChild(sig)
		return nil, err
	}
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", AlgRSASHA256)
	for _, r := range refs {
		if r.Element == nil {
			return fail(fmt.Errorf("%w: reference %s has no element", ErrReference, r.URI))
		}
		d, err := Digest(r.Element)
		if err != nil {
			return fail(err)
		}
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", r.URI)
		tr := ref.CreateElement("ds:Transforms").CreateElement("ds:Transform")
		if r.STR {
			tr.CreateAttr("Algorithm", AlgSTRTransform)
			tp := tr.CreateElement("wsse:TransformationParameters")
			tp.CreateAttr("xmlns:wsse", NSSecExt)
			tp.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
		} else {
			tr.CreateAttr("Algorithm", AlgExcC14N)
		}
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
		ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(d))
	}
	c, err := Canonicalize(si, "")
	if err != nil {
		return fail(err)
	}
	value, err := SignRSA(key, c)
	if err != nil {
		return fail(err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	if keyInfo != nil {
		sig.CreateElement("ds:KeyInfo").AddChild(keyInfo)
	}
	return sig, nil
}

// Verified is a reference whose digest matched.
type Verified struct {
	URI string
	// Element is the element the URI names (for STR-Transform references: the
	// SecurityTokenReference).
	Element *etree.Element
	// Token is, for STR-Transform references, the token that was digested; nil otherwise.
	Token *etree.Element
}

// Covers reports whether el was digested by one of the verified references (directly, or as
// the token of an STR-Transform reference).
func Covers(vs []Verified, el *etree.Element) bool {
	for _, v := range vs {
		if el != nil && (v.Element == el && v.Token == nil || v.Token == el) {
			return true
		}
	}
	return false
}

// Verify checks the ds:Signature sig: its shape, that it uses exc-c14n, RSA-SHA256 and SHA-256
// only (plus the STR-Transform), that the SignatureValue verifies with pub over the canonical
// SignedInfo, and that every Reference's digest matches the element idx resolves it to. It
// returns the verified references; which elements must be among them is the caller's policy.
// Errors wrap ErrMalformed, ErrUnsupportedAlgorithm, ErrReference, ErrSignature or ErrDigest.
func Verify(sig *etree.Element, pub crypto.PublicKey, idx Index) ([]Verified, error) {
	if !Is(sig, NSDSig, "Signature") {
		return nil, fmt.Errorf("%w: not a ds:Signature", ErrMalformed)
	}
	kids := sig.ChildElements()
	if len(kids) < 2 || !Is(kids[0], NSDSig, "SignedInfo") || !Is(kids[1], NSDSig, "SignatureValue") ||
		len(Children(sig, NSDSig, "SignedInfo")) != 1 || len(Children(sig, NSDSig, "SignatureValue")) != 1 ||
		len(Children(sig, NSDSig, "KeyInfo")) > 1 {
		return nil, fmt.Errorf("%w: Signature must hold SignedInfo, SignatureValue and at most one KeyInfo", ErrMalformed)
	}
	si, sv := kids[0], kids[1]
	siKids := si.ChildElements()
	if len(siKids) < 3 || !Is(siKids[0], NSDSig, "CanonicalizationMethod") || !Is(siKids[1], NSDSig, "SignatureMethod") {
		return nil, fmt.Errorf("%w: SignedInfo must hold CanonicalizationMethod, SignatureMethod and References", ErrMalformed)
	}
	prefixList, err := excC14N(siKids[0])
	if err != nil {
		return nil, fmt.Errorf("SignedInfo: %w", err)
	}
	if alg, _ := AttrNS(siKids[1], "", "Algorithm"); alg != AlgRSASHA256 {
		return nil, fmt.Errorf("%w: SignatureMethod %q", ErrUnsupportedAlgorithm, alg)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: verification key is %T, want RSA", ErrUnsupportedAlgorithm, pub)
	}
	value, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: SignatureValue: %w", ErrMalformed, err)
	}
	canon, err := Canonicalize(si, prefixList)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	if err := rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, sum[:], value); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	var out []Verified
	for _, ref := range siKids[2:] {
		if !Is(ref, NSDSig, "Reference") {
			return nil, fmt.Errorf("%w: unexpected %s in SignedInfo", ErrMalformed, ref.FullTag())
		}
		v, err := verifyReference(ref, idx)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// excC14N checks that a CanonicalizationMethod or Transform names exc-c14n and returns its
// InclusiveNamespaces PrefixList.
func excC14N(el *etree.Element) (string, error) {
	if alg, _ := AttrNS(el, "", "Algorithm"); alg != AlgExcC14N {
		return "", fmt.Errorf("%w: canonicalisation %q", ErrUnsupportedAlgorithm, alg)
	}
	var list string
	for _, c := range el.ChildElements() {
		if !Is(c, NSExcC14N, "InclusiveNamespaces") {
			return "", fmt.Errorf("%w: unexpected %s", ErrMalformed, c.FullTag())
		}
		list, _ = AttrNS(c, "", "PrefixList")
	}
	return list, nil
}

func verifyReference(ref *etree.Element, idx Index) (Verified, error) {
	uri, _ := AttrNS(ref, "", "URI")
	v := Verified{URI: uri}
	kids := ref.ChildElements()
	if len(kids) != 3 || !Is(kids[0], NSDSig, "Transforms") || !Is(kids[1], NSDSig, "DigestMethod") || !Is(kids[2], NSDSig, "DigestValue") {
		return v, fmt.Errorf("%w: Reference %s must hold Transforms, DigestMethod and DigestValue", ErrMalformed, uri)
	}
	if alg, _ := AttrNS(kids[1], "", "Algorithm"); alg != AlgSHA256 {
		return v, fmt.Errorf("%w: DigestMethod %q in Reference %s", ErrUnsupportedAlgorithm, alg, uri)
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(kids[2].Text()))
	if err != nil {
		return v, fmt.Errorf("%w: DigestValue of Reference %s: %w", ErrMalformed, uri, err)
	}
	transforms := kids[0].ChildElements()
	if len(transforms) != 1 || !Is(transforms[0], NSDSig, "Transform") {
		return v, fmt.Errorf("%w: Reference %s must have exactly one Transform", ErrUnsupportedAlgorithm, uri)
	}
	tr := transforms[0]
	if v.Element, err = idx.Lookup(uri); err != nil {
		return v, err
	}
	digested, prefixList := v.Element, ""
	if alg, _ := AttrNS(tr, "", "Algorithm"); alg == AlgSTRTransform {
		tp := Child(tr, NSSecExt, "TransformationParameters")
		if tp == nil || len(tp.ChildElements()) != 1 || !Is(tp.ChildElements()[0], NSDSig, "CanonicalizationMethod") {
			return v, fmt.Errorf("%w: STR-Transform of Reference %s lacks TransformationParameters/CanonicalizationMethod", ErrMalformed, uri)
		}
		if prefixList, err = excC14N(tp.ChildElements()[0]); err != nil {
			return v, err
		}
		if v.Token, err = DerefSTR(v.Element, idx); err != nil {
			return v, fmt.Errorf("Reference %s: %w", uri, err)
		}
		digested = v.Token
	} else if prefixList, err = excC14N(tr); err != nil {
		return v, fmt.Errorf("Reference %s: %w", uri, err)
	}
	canon, err := Canonicalize(digested, prefixList)
	if err != nil {
		return v, err
	}
	got := sha256.Sum256(canon)
	if !bytes.Equal(got[:], want) {
		return v, fmt.Errorf("%w: Reference %s (%s)", ErrDigest, uri, v.Element.FullTag())
	}
	return v, nil
}

// DerefSTR resolves a wsse:SecurityTokenReference to the token it names: a KeyIdentifier of
// value type SAMLID names a saml:Assertion by ID; a Reference names an element by URI.
func DerefSTR(str *etree.Element, idx Index) (*etree.Element, error) {
	if !Is(str, NSSecExt, "SecurityTokenReference") {
		return nil, fmt.Errorf("%w: %s is not a SecurityTokenReference", ErrReference, str.FullTag())
	}
	kids := str.ChildElements()
	if len(kids) != 1 {
		return nil, fmt.Errorf("%w: SecurityTokenReference must hold one child", ErrMalformed)
	}
	k := kids[0]
	switch {
	case Is(k, NSSecExt, "KeyIdentifier"):
		if vt, _ := AttrNS(k, "", "ValueType"); vt != ValueTypeSAMLID {
			return nil, fmt.Errorf("%w: KeyIdentifier ValueType %q", ErrUnsupportedAlgorithm, vt)
		}
		el := idx[strings.TrimSpace(k.Text())]
		if !Is(el, NSSAML, "Assertion") {
			return nil, fmt.Errorf("%w: no assertion with ID %q", ErrReference, strings.TrimSpace(k.Text()))
		}
		return el, nil
	case Is(k, NSSecExt, "Reference"):
		uri, _ := AttrNS(k, "", "URI")
		return idx.Lookup(uri)
	}
	return nil, fmt.Errorf("%w: unsupported SecurityTokenReference child %s", ErrUnsupportedAlgorithm, k.FullTag())
}

// KeyInfoSTR returns the SecurityTokenReference in the KeyInfo of sig, or nil.
func KeyInfoSTR(sig *etree.Element) *etree.Element {
	return Child(Child(sig, NSDSig, "KeyInfo"), NSSecExt, "SecurityTokenReference")
}
