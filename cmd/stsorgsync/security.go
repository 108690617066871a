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
	stsCerts, err := stsclient.LoadCertificates(cfg.STSTokenCertFile)
	if err != nil {
		return stsSecurity{}, configError{fmt.Errorf("STS_TOKEN_CERT_FILE: %w", err)}
	}
	var serviceCerts []*x509.Certificate
	if cfg.STSVerifyResponses {
		if serviceCerts, err = stsclient.LoadCertificates(cfg.STSServiceCertFile); err != nil {
			return stsSecurity{}, configError{fmt.Errorf("STS_SERVICE_CERT_FILE: %w", err)}
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
	}, nil
}
