package stsclient_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/testkeys"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

func TestLoadCredentials(t *testing.T) {
	pki := testPKI(t)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	client := func(name string, from, to time.Time) *ststest.Identity {
		id, err := pki.NewClient(ststest.ClientConfig{CVR: testCVR, Key: testkeys.Key(name), NotBefore: from, NotAfter: to})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	valid := client(testkeys.Client1, now.AddDate(-1, 0, 0), now.AddDate(0, 0, 20).Add(time.Hour))
	other := client(testkeys.Client2, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	expired := client(testkeys.Client1, now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1))
	future := client(testkeys.Client1, now.AddDate(0, 0, 1), now.AddDate(2, 0, 0))
	ca := pki.CA.Certificate
	pw := "hemmeligt kodeord æøå"
	encode := func(enc *pkcs12.Encoder, key any, cert *x509.Certificate, chain ...*x509.Certificate) []byte {
		data, err := enc.Encode(key, cert, chain, pw)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	trustStore, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{valid.Certificate, ca}, pw)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		data     []byte // nil: the file does not exist
		password string
		want     error
		wantCert *x509.Certificate
	}{
		{"modern AES (PBES2)", encode(pkcs12.Modern, valid.Key, valid.Certificate, ca), pw, nil, valid.Certificate},
		{"modern 2026 (PBMAC1)", encode(pkcs12.Modern2026, valid.Key, valid.Certificate, ca), pw, nil, valid.Certificate},
		{"legacy 3DES", encode(pkcs12.LegacyDES, valid.Key, valid.Certificate), pw, nil, valid.Certificate},
		{"leaf after the CA", encode(pkcs12.Modern, valid.Key, ca, valid.Certificate), pw, nil, valid.Certificate},
		{"missing file", nil, pw, stsclient.ErrCredentialsUnreadable, nil},
		{"not PKCS#12", []byte("-----BEGIN CERTIFICATE-----\n"), pw, stsclient.ErrCredentialsMalformed, nil},
		{"wrong password", encode(pkcs12.Modern, valid.Key, valid.Certificate, ca), "forkert", stsclient.ErrWrongPassword, nil},
		{"wrong password, legacy", encode(pkcs12.LegacyDES, valid.Key, valid.Certificate), "forkert", stsclient.ErrWrongPassword, nil},
		{"no private key", trustStore, pw, stsclient.ErrNoPrivateKey, nil},
		{"key and certificate mismatch", encode(pkcs12.Modern, other.Key, valid.Certificate, ca), pw, stsclient.ErrKeyMismatch, nil},
		{"ECDSA key", encode(pkcs12.Modern, ecKey, valid.Certificate), pw, stsclient.ErrUnsupportedKey, nil},
		{"expired", encode(pkcs12.Modern, expired.Key, expired.Certificate, ca), pw, stsclient.ErrCertificateExpired, nil},
		{"not yet valid", encode(pkcs12.Modern, future.Key, future.Certificate, ca), pw, stsclient.ErrCertificateNotYetValid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foces.p12")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := stsclient.LoadCredentials(path, []byte(tt.password), now)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), "foces.p12") || strings.Contains(err.Error(), tt.password) {
					t.Errorf("error %q must name the file and not contain the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.Certificate.Equal(tt.wantCert) {
				t.Errorf("certificate %s, want %s", c.Certificate.Subject, tt.wantCert.Subject)
			}
			if d := c.DaysUntilExpiry(now); d != 20 {
				t.Errorf("DaysUntilExpiry = %d, want 20", d)
			}
			if !c.ExpiresWithin(now, 30*24*time.Hour) || c.ExpiresWithin(now, 10*24*time.Hour) {
				t.Error("ExpiresWithin wrong")
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "credentials", c)
			if !strings.Contains(buf.String(), c.Thumbprint()) || strings.Contains(buf.String(), "PRIVATE") || strings.Contains(buf.String(), tt.password) {
				t.Errorf("log record %s", buf.String())
			}
		})
	}
	if d := (&stsclient.Credentials{Certificate: expired.Certificate}).DaysUntilExpiry(now); d != -1 {
		t.Errorf("DaysUntilExpiry of an expired certificate = %d, want -1", d)
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"P12_PASSWORD": "fromenv"}[k] }
	if pw, err := stsclient.ReadPassword(file, "P12_PASSWORD", env); err != nil || string(pw) != "s3cret" {
		t.Errorf("file: %q, %v", pw, err)
	}
	if pw, err := stsclient.ReadPassword("", "P12_PASSWORD", env); err != nil || string(pw) != "fromenv" {
		t.Errorf("env: %q, %v", pw, err)
	}
	if _, err := stsclient.ReadPassword("", "UNSET", env); err == nil {
		t.Error("no source accepted")
	}
	if _, err := stsclient.ReadPassword(filepath.Join(dir, "missing"), "", env); err == nil {
		t.Error("missing file accepted")
	}
}

func TestLoadCertificates(t *testing.T) {
	pki := testPKI(t)
	dir := t.TempDir()
	pemFile, derFile, badFile := filepath.Join(dir, "certs.pem"), filepath.Join(dir, "sts.cer"), filepath.Join(dir, "bad")
	_ = os.WriteFile(pemFile, ststest.CertificatePEM(pki.STS.Certificate, pki.Service.Certificate), 0o600)
	_ = os.WriteFile(derFile, pki.STS.Certificate.Raw, 0o600)
	_ = os.WriteFile(badFile, []byte("nope"), 0o600)
	if c, err := stsclient.LoadCertificates(pemFile); err != nil || len(c) != 2 || !c[1].Equal(pki.Service.Certificate) {
		t.Errorf("PEM: %v %v", c, err)
	}
	if c, err := stsclient.LoadCertificates(derFile); err != nil || len(c) != 1 || !c[0].Equal(pki.STS.Certificate) {
		t.Errorf("DER: %v %v", c, err)
	}
	if _, err := stsclient.LoadCertificates(badFile); err == nil {
		t.Error("garbage accepted")
	}
}

// TestOpenSSLP12 loads a PKCS#12 exported by OpenSSL (3.x defaults: PBES2/AES-256-CBC,
// PBKDF2, SHA-256 MAC), like files from MitID Erhverv, and one written by ststest.
func TestOpenSSLP12(t *testing.T) {
	pki := testPKI(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake.p12")
	if _, err := pki.WriteClientP12(fake, []byte("pw"), testCVR); err != nil {
		t.Fatal(err)
	}
	if _, err := stsclient.LoadCredentials(fake, []byte("pw"), time.Now()); err != nil {
		t.Errorf("WriteClientP12 output: %v", err)
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found")
	}
	id, err := pki.NewClient(ststest.ClientConfig{CVR: testCVR, Key: testkeys.Key(testkeys.Client1)})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile, p12 := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "openssl.p12")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	_ = os.WriteFile(certFile, ststest.CertificatePEM(id.Certificate, pki.CA.Certificate), 0o600)
	out, err := exec.Command(openssl, "pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-out", p12,
		"-passout", "pass:pw", "-name", "FOCES").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	c, err := stsclient.LoadCredentials(p12, []byte("pw"), time.Now())
	if err != nil || !c.Certificate.Equal(id.Certificate) || len(c.Chain) != 1 {
		t.Errorf("openssl p12: %v %v", c, err)
	}
}
