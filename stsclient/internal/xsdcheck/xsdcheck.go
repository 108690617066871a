// Package xsdcheck validates XML against the vendored Organisation 6 XSDs with xmllint, for
// tests. Without xmllint the test is skipped, unless the environment variable CI is "true":
// then it fails, so CI cannot pass by skipping.
package xsdcheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// SchemaPath returns the path of the operations XSD of the kind (e.g.
// stsclient/xsd/6.0.STS-0/OrganisationEnhedOperationer.xsd), which declares its Input and
// Output elements; for oio.KindOrganisationSystem it is OrganisationSystemOperationer.xsd.
func SchemaPath(t testing.TB, k oio.Kind) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("xsdcheck: cannot locate source file")
	}
	name := k.ElementName()
	if k == oio.KindOrganisationSystem {
		name = "OrganisationSystem"
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "xsd", "6.0.STS-0", name+"Operationer.xsd")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("xsdcheck: %v", err)
	}
	return path
}

// Validate checks that doc (a standalone XML document, e.g. one operation element) is valid
// against the kind's operations XSD, failing the test otherwise.
func Validate(t testing.TB, k oio.Kind, doc []byte) {
	t.Helper()
	if err := Check(t, k, doc); err != nil {
		t.Error(err)
	}
}

// Check returns xmllint's complaint about doc, or nil if doc is valid against the kind's
// operations XSD.
func Check(t testing.TB, k oio.Kind, doc []byte) error {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		msg := "xmllint not found (install libxml2-utils): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(xmllint, "--noout", "--nonet", "--schema", SchemaPath(t, k), "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("xmllint rejects the document: %w\n%s\ndocument:\n%s", err, out, doc)
	}
	return nil
}
