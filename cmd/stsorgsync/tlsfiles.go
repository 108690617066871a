package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// fileSetting is a setting that names a file, for error messages.
type fileSetting struct{ name, path string }

// clientTLSFiles reads the PEM files of a TLS client: the CAs that replace the system's roots
// (nil when ca.path is empty) and the client certificate with its key (none when cert.path is
// empty). Errors are configErrors naming the setting.
func clientTLSFiles(ca, cert, key fileSetting) (*x509.CertPool, []tls.Certificate, error) {
	var pool *x509.CertPool
	if ca.path != "" {
		pem, err := os.ReadFile(ca.path)
		if err != nil {
			return nil, nil, configError{fmt.Errorf("%s: %w", ca.name, err)}
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, configError{fmt.Errorf("%s %s: no PEM certificates found", ca.name, ca.path)}
		}
	}
	if cert.path == "" {
		return pool, nil, nil
	}
	pair, err := tls.LoadX509KeyPair(cert.path, key.path)
	if err != nil {
		return nil, nil, configError{fmt.Errorf("%s %s / %s %s: %w (both PEM; the key unencrypted and belonging to the certificate)", cert.name, cert.path, key.name, key.path, err)}
	}
	return pool, []tls.Certificate{pair}, nil
}
