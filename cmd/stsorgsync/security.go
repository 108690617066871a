package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient"
)

// configError is a configuration problem found while building the clients (an unreadable
// certificate, a wrong password); the process exits with exitConfig.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// certificateWarning is how long before expiry the organisation certificate is warned about.
const certificateWarning = 30 * 24 * time.Hour

// stsHTTPClient returns the HTTP client for STS Organisation and the token service: verified TLS
// (system roots plus STS_CA_FILE), a keep-alive pool sized for the workers.
func stsHTTPClient(cfg Config) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2 * cfg.Workers
	transport.MaxIdleConns = 4 * cfg.Workers
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.STSCAFile != "" {
		pem, err := os.ReadFile(cfg.STSCAFile)
		if err != nil {
			return nil, configError{fmt.Errorf("STS_CA_FILE: %w", err)}
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configError{fmt.Errorf("STS_CA_FILE %s: no PEM certificates found", cfg.STSCAFile)}
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: transport}, nil
}

// stsSecurity is what the daemon needs of the security profile: the request Security and, for
// readiness and `check`, a way to obtain the token.
type stsSecurity struct {
	security stsclient.Security
	token    func(context.Context) error // nil when security is off
	// certificates are the certificates loaded, for the expiry metric.
	certificates []loadedCertificate
}

// The roles of the certificates the daemon loads: the label certificate of
// stsorgsync_certificate_expiry_timestamp_seconds.
const (
	certOrganisation = "organisation"  // STS_P12_FILE: the municipality's FOCES/OCES3 certificate
	certTokenService = "token_service" // STS_TOKEN_CERT_FILE: KOMBIT's token service (ADG_*)
	certService      = "service"       // STS_SERVICE_CERT_FILE: STS Organisation (ORG_*)
)

// loadedCertificate is a certificate the daemon loaded and what it is for.
type loadedCertificate struct {
	role string // certOrganisation, certTokenService or certService
	cert *x509.Certificate
}

// serialHex returns a certificate's serial number as openssl x509 -serial prints it: upper-case
// hexadecimal with an even number of digits.
func serialHex(c *x509.Certificate) string {
	s := strings.ToUpper(c.SerialNumber.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// warnKOMBITExpiry logs what an operator must act on among KOMBIT's certificates in a file
// (setting names it): a certificate that has expired (harmless once KOMBIT signs with its
// successor, which the same file must then hold), and a file whose certificates all expire
// within certificateWarning (KOMBIT's next certificate is missing from it).
func warnKOMBITExpiry(logger *slog.Logger, setting string, certs []*x509.Certificate, now time.Time) {
	var last *x509.Certificate
	for _, c := range certs {
		if now.After(c.NotAfter) {
			logger.Warn("a certificate in "+setting+" has expired; remove it once KOMBIT signs with its successor",
				"subject", c.Subject.String(), "serial", serialHex(c), "not_after", c.NotAfter)
		}
		if last == nil || c.NotAfter.After(last.NotAfter) {
			last = c
		}
	}
	if last != nil && !last.NotAfter.After(now.Add(certificateWarning)) {
		logger.Warn("every certificate in "+setting+" expires within 30 days; add KOMBIT's next certificate to the file (OPERATIONS.md: certificates)",
			"subject", last.Subject.String(), "serial", serialHex(last), "not_after", last.NotAfter)
	}
}

// newSTSSecurity loads the organisation certificate and the trusted certificates and builds the
// token client and request security; with STS_SECURITY=false it returns NoSecurity.
func newSTSSecurity(cfg Config, httpClient *http.Client, logger *slog.Logger, now time.Time) (stsSecurity, error) {
	if !cfg.STSSecurity {
		logger.Warn("STS_SECURITY is false: requests to STS Organisation are unsigned; only a fake STS accepts them")
		return stsSecurity{security: stsclient.NoSecurity{}}, nil
	}
	creds, err := stsclient.LoadCredentials(cfg.STSP12File, []byte(cfg.STSP12Password), now)
	if err != nil {
		hint := ""
		if errors.Is(err, stsclient.ErrWrongPassword) {
			hint = " (check STS_P12_PASSWORD or STS_P12_PASSWORD_FILE)"
		}
		return stsSecurity{}, configError{fmt.Errorf("STS_P12_FILE: %w%s", err, hint)}
	}
	if creds.ExpiresWithin(now, certificateWarning) {
		logger.Warn("the organisation certificate expires soon; renew it and replace STS_P12_FILE",
			"days_left", creds.DaysUntilExpiry(now), "certificate", creds)
	} else {
		logger.Info("organisation certificate loaded", "certificate", creds)
	}
	loaded := []loadedCertificate{{certOrganisation, creds.Certificate}}
	stsCerts, err := stsclient.LoadCertificates(cfg.STSTokenCertFile)
	if err != nil {
		return stsSecurity{}, configError{fmt.Errorf("STS_TOKEN_CERT_FILE: %w", err)}
	}
	warnKOMBITExpiry(logger, "STS_TOKEN_CERT_FILE", stsCerts, now)
	for _, c := range stsCerts {
		loaded = append(loaded, loadedCertificate{certTokenService, c})
	}
	var serviceCerts []*x509.Certificate
	if cfg.STSVerifyResponses {
		if serviceCerts, err = stsclient.LoadCertificates(cfg.STSServiceCertFile); err != nil {
			return stsSecurity{}, configError{fmt.Errorf("STS_SERVICE_CERT_FILE: %w", err)}
		}
		warnKOMBITExpiry(logger, "STS_SERVICE_CERT_FILE", serviceCerts, now)
		for _, c := range serviceCerts {
			loaded = append(loaded, loadedCertificate{certService, c})
		}
	} else {
		logger.Warn("STS_VERIFY_RESPONSES is false: responses from STS Organisation are not signature-checked")
	}
	tokens, err := stsclient.NewTokenClient(stsclient.TokenConfig{
		Endpoint:        cfg.STSTokenEndpoint,
		EntityID:        cfg.STSTokenEntityID,
		Credentials:     creds,
		STSCertificates: stsCerts,
		HTTPClient:      httpClient,
		Timeout:         cfg.STSTimeout,
		Logger:          logger.With("component", "ststoken"),
	})
	if err != nil {
		return stsSecurity{}, configError{fmt.Errorf("STS token client: %w", err)}
	}
	sec, err := stsclient.NewTokenSecurity(stsclient.SecurityConfig{
		Tokens:                   tokens,
		CVR:                      cfg.STSCVR,
		ServiceCertificates:      serviceCerts,
		SkipResponseVerification: !cfg.STSVerifyResponses,
	})
	if err != nil {
		return stsSecurity{}, configError{fmt.Errorf("STS security: %w", err)}
	}
	return stsSecurity{
		security: sec,
		token: func(ctx context.Context) error {
			_, err := tokens.Token(ctx, cfg.STSCVR)
			return err
		},
		certificates: loaded,
	}, nil
}
