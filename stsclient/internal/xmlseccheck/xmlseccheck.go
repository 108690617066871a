// Package xmlseccheck verifies XML signatures with xmlsec1 (libxmlsec1 over libxml2 and
// OpenSSL), an implementation independent of this module's Go code, for tests. Without xmlsec1
// the test is skipped, unless the environment variable CI is "true": then it fails, so CI
// cannot pass by skipping.
package xmlseccheck

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// IDAttr names elements whose "Id" attribute (of any namespace, e.g. wsu:Id) xmlsec1 should
// treat as an XML ID: Namespace is the element's namespace URI, Local its local name.
type IDAttr struct {
	Attr      string // attribute local name, e.g. "Id" or "ID"
	Namespace string
	Local     string
}

// Options selects what Verify checks.
type Options struct {
	// IDs lists the Id attributes references may point at.
	IDs []IDAttr
	// NodeID selects the ds:Signature with this Id attribute; empty: the first ds:Signature
	// in document order.
	NodeID string
}

// Verify runs `xmlsec1 --verify` on doc with the public key of cert and returns xmlsec1's
// complaint, or nil when every reference of the signature and its SignatureValue verify.
func Verify(t testing.TB, doc []byte, cert *x509.Certificate, opts Options) error {
	t.Helper()
	bin := lookPath(t)
	dir := t.TempDir()
	docPath := filepath.Join(dir, "doc.xml")
	certPath := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify", "--pubkey-cert-pem", certPath, "--enabled-reference-uris", "same-doc"}
	if opts.NodeID != "" {
		args = append(args, "--node-id", opts.NodeID)
	}
	for _, id := range opts.IDs {
		args = append(args, "--id-attr:"+id.Attr, id.Namespace+":"+id.Local)
	}
	args = append(args, docPath)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xmlsec1 %v: %w\n%s", args, err, out)
	}
	return nil
}

// lookPath returns the path of xmlsec1; without it the test is skipped (or fails when
// CI=true).
func lookPath(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		msg := "xmlsec1 not found (apt-get install xmlsec1): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}
