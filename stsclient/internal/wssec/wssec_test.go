package wssec_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/testkeys"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xmlseccheck"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

func selfSigned(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	key := testkeys.Key(name)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signedEnvelope builds an envelope with the addressing headers, a Timestamp and a
// BinarySecurityToken, signed over all of them and the Body.
func signedEnvelope(t *testing.T, cert *x509.Certificate, bodyElements int) *soap.Envelope {
	t.Helper()
	payload := etree.NewElement("p:Payload")
	payload.CreateAttr("xmlns:p", "urn:example:payload")
	payload.CreateAttr("xmlns:unused", "urn:example:unused")
	for i := range bodyElements {
		payload.CreateElement("p:Item").SetText(strings.Repeat("x", i%7) + " & <æøå>")
	}
	env := soap.New(soap.Addressing{Action: "urn:example:action", MessageID: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
		ReplyTo: soap.AnonymousAddress, To: "https://example.invalid/service/"}, payload)
	sec := wssec.NewSecurity(env.Header)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := wssec.AddTimestamp(sec, "TS-1", now, now.Add(5*time.Minute))
	bst := wssec.AddBinarySecurityToken(sec, "X509-1", cert.Raw)
	var refs []wssec.Reference
	refs = append(refs, wssec.Reference{URI: "#_1", Element: env.Body})
	for _, h := range env.Header.ChildElements() {
		if h.Space == "a" {
			id, _ := wssec.AttrNS(h, wssec.NSUtility, "Id")
			refs = append(refs, wssec.Reference{URI: "#" + id, Element: h})
		}
	}
	refs = append(refs, wssec.Reference{URI: "#TS-1", Element: ts}, wssec.Reference{URI: "#X509-1", Element: bst})
	if _, err := wssec.Sign(sec, testkeys.Key(testkeys.Client1), refs, wssec.NewSTRToBST("X509-1")); err != nil {
		t.Fatal(err)
	}
	return env
}

var wsIDs = []xmlseccheck.IDAttr{
	{Attr: "Id", Namespace: soap.NSEnvelope, Local: "Body"},
	{Attr: "Id", Namespace: soap.NSAddressing, Local: "Action"},
	{Attr: "Id", Namespace: soap.NSAddressing, Local: "MessageID"},
	{Attr: "Id", Namespace: soap.NSAddressing, Local: "ReplyTo"},
	{Attr: "Id", Namespace: soap.NSAddressing, Local: "To"},
	{Attr: "Id", Namespace: soap.NSUtility, Local: "Timestamp"},
	{Attr: "Id", Namespace: soap.NSSecurity, Local: "BinarySecurityToken"},
}

func TestSignVerify(t *testing.T) {
	cert := selfSigned(t, testkeys.Client1)
	for _, n := range []int{3, 2500} {
		env := signedEnvelope(t, cert, n)
		data, err := env.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := soap.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := wssec.IndexIDs(parsed.Doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		sig := parsed.Header.FindElement("./Security/Signature")
		vs, err := wssec.Verify(sig, cert.PublicKey, idx)
		if err != nil {
			t.Fatalf("%d elements: %v", n, err)
		}
		if len(vs) != 7 || !wssec.Covers(vs, parsed.Body) {
			t.Errorf("verified %d references", len(vs))
		}
		if err := xmlseccheck.Verify(t, data, cert, xmlseccheck.Options{IDs: wsIDs}); err != nil {
			t.Errorf("%d elements: %v", n, err)
		}
		// xmlsec1 notices tampering too (the check is not vacuous).
		if err := xmlseccheck.Verify(t, bytes.Replace(data, []byte("&amp; &lt;"), []byte("&amp;  &lt;"), 1), cert, xmlseccheck.Options{IDs: wsIDs}); err == nil {
			t.Error("xmlsec1 accepted a tampered document")
		}
		// Tamper with the body: the digest no longer matches.
		parsed.Body.FindElement(".//Item").SetText("changed")
		if _, err := wssec.Verify(sig, cert.PublicKey, idx); !errors.Is(err, wssec.ErrDigest) {
			t.Errorf("tampered body: %v, want ErrDigest", err)
		}
	}
}

func TestDetachUsed(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<r:Root xmlns:r="urn:r" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:x="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:unused="urn:u">` +
		`<saml:Assertion ID="a1"><saml:Issuer x:flag="1">i</saml:Issuer><saml:Subject xsi:type="x:T"/></saml:Assertion>` +
		`<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="a2"><Issuer>i</Issuer></Assertion></r:Root>`); err != nil {
		t.Fatal(err)
	}
	kids := doc.Root().ChildElements()
	got := func(el *etree.Element) string {
		d := etree.NewDocument()
		d.SetRoot(wssec.DetachUsed(el))
		s, _ := d.WriteToString()
		return s
	}
	if s := got(kids[0]); !strings.Contains(s, `xmlns:saml=`) || !strings.Contains(s, `xmlns:x=`) || !strings.Contains(s, `xmlns:xsi=`) ||
		strings.Contains(s, "unused") || strings.Contains(s, "xmlns:r=") {
		t.Errorf("context-dependent assertion: %s", s)
	}
	want := `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="a2"><Issuer>i</Issuer></Assertion>`
	if s := got(kids[1]); s != want {
		t.Errorf("self-contained assertion changed:\n got %s\nwant %s", s, want)
	}
	// Canonical forms agree with the original in context.
	for _, k := range kids {
		a, _ := wssec.Canonicalize(k, "")
		b, _ := wssec.Canonicalize(wssec.DetachUsed(k), "")
		if string(a) != string(b) {
			t.Errorf("canonical forms differ:\n%s\n%s", a, b)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	cert := selfSigned(t, testkeys.Client1)
	build := func() (*soap.Envelope, *etree.Element, wssec.Index) {
		data, _ := signedEnvelope(t, cert, 2).Bytes()
		env, err := soap.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := wssec.IndexIDs(env.Doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		return env, env.Header.FindElement("./Security/Signature"), idx
	}
	tests := []struct {
		name   string
		change func(env *soap.Envelope, sig *etree.Element)
		want   error
	}{
		{"SignedInfo changed (digest method)", func(_ *soap.Envelope, sig *etree.Element) {
			sig.FindElement("./SignedInfo/Reference/DigestMethod").SelectAttr("Algorithm").Value = "http://www.w3.org/2000/09/xmldsig#sha1"
		}, wssec.ErrSignature},
		{"signature value", func(_ *soap.Envelope, sig *etree.Element) {
			sv := sig.FindElement("./SignatureValue")
			sv.SetText("AAAA" + sv.Text()[4:])
		}, wssec.ErrSignature},
		{"moved Id", func(env *soap.Envelope, _ *etree.Element) {
			env.Body.RemoveAttr("u:Id")
		}, wssec.ErrReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sig, idx := build()
			tt.change(env, sig)
			if tt.name == "moved Id" {
				idx, _ = wssec.IndexIDs(env.Doc.Root())
			}
			if _, err := wssec.Verify(sig, cert.PublicKey, idx); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	// Signature wrapping: a second element with the Body's Id makes the document ambiguous.
	env, _, _ := build()
	dup := env.Header.CreateElement("x:Wrapper")
	dup.CreateAttr("xmlns:x", "urn:x")
	dup.CreateAttr("u:Id", "_1")
	if _, err := wssec.IndexIDs(env.Doc.Root()); !errors.Is(err, wssec.ErrReference) {
		t.Errorf("duplicate Id: %v, want ErrReference", err)
	}
}
