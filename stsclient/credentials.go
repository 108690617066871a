package stsclient

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Errors wrapped by LoadCredentials and ParseCredentials (match with errors.Is).
var (
	ErrCredentialsUnreadable  = errors.New("credentials: PKCS#12 file missing or unreadable")
	ErrCredentialsMalformed   = errors.New("credentials: not a PKCS#12 (DER) file")
	ErrWrongPassword          = errors.New("credentials: wrong PKCS#12 password")
	ErrNoPrivateKey           = errors.New("credentials: PKCS#12 holds no private key")
	ErrUnsupportedKey         = errors.New("credentials: private key is not RSA")
	ErrKeyMismatch            = errors.New("credentials: no certificate matches the private key")
	ErrCertificateExpired     = errors.New("credentials: certificate has expired")
	ErrCertificateNotYetValid = errors.New("credentials: certificate is not yet valid")
)

// Credentials are the anvendersystem's OCES organisation certificate (FOCES/OCES3) and its
// private key: the key signs token requests and, as holder of the token, every service request.
// The zero value is not usable; use LoadCredentials or ParseCredentials.
type Credentials struct {
	// Certificate is the certificate whose public key matches Key.
	Certificate *x509.Certificate
	// Chain holds the other certificates of the file (issuing CAs), possibly empty.
	Chain []*x509.Certificate
	key   *rsa.PrivateKey
}

// LoadCredentials reads a PKCS#12 file (.p12/.pfx, DER; legacy 3DES/RC2 and modern
// PBES2/AES encryption) and returns its certificate and private key. The certificate is the one
// whose public key matches the private key, wherever it sits in the file; it must be valid at
// now. password is the file's password (see ReadPassword); it is neither kept nor logged.
// Errors wrap ErrCredentialsUnreadable, ErrCredentialsMalformed, ErrWrongPassword,
// ErrNoPrivateKey, ErrUnsupportedKey, ErrKeyMismatch, ErrCertificateExpired or
// ErrCertificateNotYetValid and name the file.
func LoadCredentials(path string, password []byte, now time.Time) (*Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentialsUnreadable, err)
	}
	c, err := ParseCredentials(data, password, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials is LoadCredentials on the file's content.
func ParseCredentials(data, password []byte, now time.Time) (*Credentials, error) {
	pw := string(password)
	key, leaf, chain, err := pkcs12.DecodeChain(data, pw)
	if err != nil {
		return nil, classifyP12Error(err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: found %T", ErrUnsupportedKey, key)
	}
	c := &Credentials{key: rsaKey}
	// DecodeChain calls the first certificate the leaf; pick the one matching the key.
	for _, cert := range append([]*x509.Certificate{leaf}, chain...) {
		if c.Certificate == nil && publicKeyMatches(cert, &rsaKey.PublicKey) {
			c.Certificate = cert
		} else {
			c.Chain = append(c.Chain, cert)
		}
	}
	if c.Certificate == nil {
		return nil, fmt.Errorf("%w (the file holds %d certificates: %s)", ErrKeyMismatch, 1+len(chain), subjects(leaf, chain))
	}
	if err := checkValidity(c.Certificate, now); err != nil {
		return nil, err
	}
	return c, nil
}

func classifyP12Error(err error) error {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
		return fmt.Errorf("%w: %w", ErrWrongPassword, err)
	}
	// go-pkcs12 has no sentinel for a file without a key bag; its message is all there is.
	if strings.Contains(err.Error(), "private key missing") {
		return fmt.Errorf("%w: %w", ErrNoPrivateKey, err)
	}
	return fmt.Errorf("%w: %w", ErrCredentialsMalformed, err)
}

func publicKeyMatches(cert *x509.Certificate, pub *rsa.PublicKey) bool {
	p, ok := cert.PublicKey.(*rsa.PublicKey)
	return ok && p.Equal(pub)
}

func subjects(leaf *x509.Certificate, chain []*x509.Certificate) string {
	names := []string{leaf.Subject.String()}
	for _, c := range chain {
		names = append(names, c.Subject.String())
	}
	return strings.Join(names, "; ")
}

func checkValidity(cert *x509.Certificate, now time.Time) error {
	switch {
	case now.After(cert.NotAfter):
		return fmt.Errorf("%w: %q expired %s", ErrCertificateExpired, cert.Subject.String(), cert.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(cert.NotBefore):
		return fmt.Errorf("%w: %q is valid from %s", ErrCertificateNotYetValid, cert.Subject.String(), cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// NewCredentials returns credentials for an RSA key and its certificate (tests, or keys held
// elsewhere). The certificate must match the key and be valid at now.
func NewCredentials(cert *x509.Certificate, key *rsa.PrivateKey, now time.Time) (*Credentials, error) {
	if cert == nil || key == nil {
		return nil, errors.New("credentials: certificate and key are required")
	}
	if !publicKeyMatches(cert, &key.PublicKey) {
		return nil, fmt.Errorf("%w: %q", ErrKeyMismatch, cert.Subject.String())
	}
	if err := checkValidity(cert, now); err != nil {
		return nil, err
	}
	return &Credentials{Certificate: cert, key: key}, nil
}

// Signer returns the private key as a crypto.Signer.
func (c *Credentials) Signer() crypto.Signer { return c.key }

// Thumbprint returns the hex SHA-256 of the certificate (DER), which identifies it in logs and
// in token cache keys.
func (c *Credentials) Thumbprint() string {
	sum := sha256.Sum256(c.Certificate.Raw)
	return hex.EncodeToString(sum[:])
}

// NotAfter returns the end of the certificate's validity.
func (c *Credentials) NotAfter() time.Time { return c.Certificate.NotAfter }

// DaysUntilExpiry returns the whole days from now until the certificate expires (0 on its last
// day, negative once expired). The daemon warns when it is below 30.
func (c *Credentials) DaysUntilExpiry(now time.Time) int {
	return int(math.Floor(c.Certificate.NotAfter.Sub(now).Hours() / 24))
}

// ExpiresWithin reports whether the certificate expires within d of now.
func (c *Credentials) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !c.Certificate.NotAfter.After(now.Add(d))
}

// LogValue identifies the certificate (subject, issuer, serial, thumbprint, expiry) for
// structured logs; the key never appears.
func (c *Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("subject", c.Certificate.Subject.String()),
		slog.String("issuer", c.Certificate.Issuer.String()),
		slog.String("serial", c.Certificate.SerialNumber.String()),
		slog.String("sha256", c.Thumbprint()),
		slog.Time("not_after", c.Certificate.NotAfter),
	)
}

// String identifies the certificate; the key never appears.
func (c *Credentials) String() string {
	return fmt.Sprintf("certificate %q (sha256 %s, expires %s)", c.Certificate.Subject.String(), c.Thumbprint(),
		c.Certificate.NotAfter.UTC().Format(time.DateOnly))
}

// ReadPassword returns a secret from the file at path, or, if path is empty, from the
// environment variable env (looked up with getenv, e.g. os.Getenv). One trailing newline ("\n"
// or "\r\n") is removed from a file's content. An empty path and an unset variable yield an
// error; the secret itself never appears in errors.
func ReadPassword(path, env string, getenv func(string) string) ([]byte, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read password file: %w", err)
		}
		data = bytes.TrimSuffix(data, []byte("\n"))
		data = bytes.TrimSuffix(data, []byte("\r"))
		return data, nil
	}
	if env != "" && getenv != nil {
		if v := getenv(env); v != "" {
			return []byte(v), nil
		}
	}
	return nil, fmt.Errorf("no password: neither a password file nor the environment variable %s is set", env)
}

// LoadCertificates reads one or more X.509 certificates from a PEM file (any number of
// CERTIFICATE blocks) or a DER file (.cer/.crt), e.g. KOMBIT's STS and service certificates.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates is LoadCertificates on the file's content.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("neither PEM certificates nor DER: %w", err)
	}
	if len(c) == 0 {
		return nil, errors.New("no certificate found")
	}
	return c, nil
}
