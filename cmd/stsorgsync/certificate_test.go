package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestCertificateExpiryMetric: stsorgsync_certificate_expiry_timestamp_seconds holds the
// NotAfter of the organisation certificate in STS_P12_FILE and of every certificate in
// STS_TOKEN_CERT_FILE and STS_SERVICE_CERT_FILE, one series each. The KOMBIT files hold two
// certificates each, as during a rollover (an expired predecessor before the token service's
// certificate, a not yet valid successor after the service's): the daemon loads both, gets a
// token and verifies a signed response, and warns about the expired one.
func TestCertificateExpiryMetric(t *testing.T) {
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	sts := ststest.NewServer(ststest.Options{RequireSecurity: true, Organisations: []ststest.Organisation{{UUID: org, CVR: "29189846"}}})
	srv := httptest.NewServer(sts.Handler())
	t.Cleanup(srv.Close)
	env := validEnv()
	for k, v := range writeSecurityFiles(t, sts, srv.URL, "29189846") {
		env[k] = v
	}
	pki := sts.PKI()
	now := time.Now()
	old, err := pki.NewClient(ststest.ClientConfig{Name: "ADG_FAKE_Adgangsstyring_0", NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.AddDate(0, 0, -2)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := pki.NewClient(ststest.ClientConfig{Name: "ORG_FAKE_Organisation_2", NotBefore: now.AddDate(0, 1, 0), NotAfter: now.AddDate(3, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for file, certs := range map[string][]*x509.Certificate{
		env["STS_TOKEN_CERT_FILE"]:   {old.Certificate, pki.STS.Certificate},
		env["STS_SERVICE_CERT_FILE"]: {pki.Service.Certificate, next.Certificate},
	} {
		if err := os.WriteFile(file, ststest.CertificatePEM(certs...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env["STS_BASE_URL"] = srv.URL
	cfg, err := loadConfig(getenvOf(env), "")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	sec, err := newSTSSecurity(cfg, srv.Client(), slog.New(slog.NewJSONHandler(&logs, nil)), now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sec.token(ctx); err != nil {
		t.Fatalf("token with the token service's certificate second in STS_TOKEN_CERT_FILE: %v", err)
	}
	client, err := stsclient.New(stsclient.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Security: sec.security})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(ctx, oio.KindOrganisation, org); err != nil {
		t.Fatalf("signed response with two certificates in STS_SERVICE_CERT_FILE: %v", err)
	}
	if !strings.Contains(logs.String(), "a certificate in STS_TOKEN_CERT_FILE has expired") {
		t.Errorf("no warning about the expired certificate in STS_TOKEN_CERT_FILE:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "expires within 30 days") {
		t.Errorf("a warning about files whose certificates expire soon, though none does:\n%s", logs.String())
	}

	creds, err := stsclient.LoadCredentials(env["STS_P12_FILE"], []byte("correct horse battery staple"), now)
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(func() consumerStats { return nil })
	m.certificates(sec.certificates)
	got := map[string]float64{} // certificate/serial/subject → value
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "stsorgsync_certificate_expiry_timestamp_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["certificate"]+"/"+labels["serial"]+"/"+labels["subject"]] = s.GetGauge().GetValue()
		}
	}
	want := map[string]*x509.Certificate{}
	for role, certs := range map[string][]*x509.Certificate{
		certOrganisation: {creds.Certificate},
		certTokenService: {old.Certificate, pki.STS.Certificate},
		certService:      {pki.Service.Certificate, next.Certificate},
	} {
		for _, c := range certs {
			want[role+"/"+serialHex(c)+"/"+c.Subject.String()] = c
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d (one per certificate): %v", len(got), len(want), got)
	}
	for key, c := range want {
		v, ok := got[key]
		switch {
		case !ok:
			t.Errorf("no series %s", key)
		case v != float64(c.NotAfter.Unix()):
			t.Errorf("%s = %v, want the certificate's NotAfter %d (%s)", key, v, c.NotAfter.Unix(), c.NotAfter.UTC())
		}
	}
	if v := got[certOrganisation+"/"+serialHex(creds.Certificate)+"/"+creds.Certificate.Subject.String()]; v != float64(creds.NotAfter().Unix()) {
		t.Errorf("organisation certificate: %v, want %d", v, creds.NotAfter().Unix())
	}
}

// TestKOMBITCertificatesExpiringSoon: a file whose every certificate expires within 30 days is
// warned about (KOMBIT's next certificate is missing from it); with a successor in the file it
// is not.
func TestKOMBITCertificatesExpiringSoon(t *testing.T) {
	now := time.Now()
	soon := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: now.AddDate(0, 0, 10)}
	later := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: now.AddDate(2, 0, 0)}
	for _, tc := range []struct {
		certs []*x509.Certificate
		warn  bool
	}{{[]*x509.Certificate{soon}, true}, {[]*x509.Certificate{soon, later}, false}, {[]*x509.Certificate{later}, false}} {
		var logs bytes.Buffer
		warnKOMBITExpiry(slog.New(slog.NewJSONHandler(&logs, nil)), "STS_TOKEN_CERT_FILE", tc.certs, now)
		if got := strings.Contains(logs.String(), "every certificate in STS_TOKEN_CERT_FILE expires within 30 days"); got != tc.warn {
			t.Errorf("%d certificates: warned %v, want %v:\n%s", len(tc.certs), got, tc.warn, logs.String())
		}
	}
}

func TestSerialHex(t *testing.T) {
	for serial, want := range map[int64]string{1: "01", 0x1a2: "01A2", 0xabcd: "ABCD"} {
		c := &x509.Certificate{SerialNumber: big.NewInt(serial)}
		if got := serialHex(c); got != want {
			t.Errorf("serial %d: %q, want %q", serial, got, want)
		}
	}
}
