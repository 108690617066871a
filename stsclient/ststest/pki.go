package ststest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Identity is a certificate and its private key.
type Identity struct {
	Certificate *x509.Certificate
	Key         *rsa.PrivateKey
}

// PKI is the fake's own certificate authority and the identities it issues: the security
// token service's signing certificate (like KOMBIT's "ADG_*"), the Organisation service's
// signing certificate (like "ORG_*") and, on request, anvendersystem client certificates
// (like FOCES/OCES3 organisation certificates). The fake STS accepts requests signed with
// client certificates from this CA only.
type PKI struct {
	CA      *Identity
	STS     *Identity
	Service *Identity
	// NotBefore and NotAfter bound the validity of every certificate issued by default.
	NotBefore, NotAfter time.Time
}

// PKIConfig configures NewPKI. With fixed keys and times the certificates are byte-for-byte
// reproducible (tests, golden files).
type PKIConfig struct {
	// NotBefore defaults to the current time minus one day, NotAfter to NotBefore + 10 years.
	NotBefore, NotAfter time.Time
	// CAKey, STSKey and ServiceKey default to new RSA-2048 keys.
	CAKey, STSKey, ServiceKey *rsa.PrivateKey
}

// oidOrganizationIdentifier is X.520 organizationIdentifier, which OCES3 organisation
// certificates carry as "NTRDK-<CVR>".
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// NewPKI creates a CA and the STS and service identities.
func NewPKI(cfg PKIConfig) (*PKI, error) {
	if cfg.NotBefore.IsZero() {
		cfg.NotBefore = time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	}
	if cfg.NotAfter.IsZero() {
		cfg.NotAfter = cfg.NotBefore.AddDate(10, 0, 0)
	}
	p := &PKI{NotBefore: cfg.NotBefore, NotAfter: cfg.NotAfter}
	caKey, err := keyOrNew(cfg.CAKey)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Fake STS Organisation Test CA", Organization: []string{"stsorgsync fakests"}, Country: []string{"DK"}},
		NotBefore:             cfg.NotBefore,
		NotAfter:              cfg.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if p.CA, err = issue(caTmpl, caTmpl, &caKey.PublicKey, caKey); err != nil {
		return nil, fmt.Errorf("ststest: CA: %w", err)
	}
	if p.STS, err = p.issueLeaf(cfg.STSKey, pkix.Name{CommonName: "ADG_FAKE_Adgangsstyring_1", Organization: []string{"KOMBIT A/S (fake)"}, Country: []string{"DK"}},
		cfg.NotBefore, cfg.NotAfter); err != nil {
		return nil, fmt.Errorf("ststest: STS: %w", err)
	}
	if p.Service, err = p.issueLeaf(cfg.ServiceKey, pkix.Name{CommonName: "ORG_FAKE_Organisation_1", Organization: []string{"KOMBIT A/S (fake)"}, Country: []string{"DK"}},
		cfg.NotBefore, cfg.NotAfter); err != nil {
		return nil, fmt.Errorf("ststest: service: %w", err)
	}
	return p, nil
}

// ClientConfig configures an anvendersystem certificate.
type ClientConfig struct {
	// CVR is written into the subject as organizationIdentifier "NTRDK-<CVR>" (as in OCES3
	// organisation certificates). The fake treats certificates as opaque and does not read it.
	CVR string
	// Name is the subject's common name; default "stsorgsync (fake anvendersystem)".
	Name string
	// Key defaults to a new RSA-2048 key.
	Key *rsa.PrivateKey
	// NotBefore and NotAfter default to the PKI's validity.
	NotBefore, NotAfter time.Time
}

// NewClient issues an anvendersystem certificate from the CA.
func (p *PKI) NewClient(cfg ClientConfig) (*Identity, error) {
	if cfg.Name == "" {
		cfg.Name = "stsorgsync (fake anvendersystem)"
	}
	if cfg.NotBefore.IsZero() {
		cfg.NotBefore = p.NotBefore
	}
	if cfg.NotAfter.IsZero() {
		cfg.NotAfter = p.NotAfter
	}
	subject := pkix.Name{CommonName: cfg.Name, Organization: []string{"Fake Kommune"}, Country: []string{"DK"}}
	if cfg.CVR != "" {
		subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "NTRDK-" + cfg.CVR}}
	}
	id, err := p.issueLeaf(cfg.Key, subject, cfg.NotBefore, cfg.NotAfter)
	if err != nil {
		return nil, fmt.Errorf("ststest: client certificate: %w", err)
	}
	return id, nil
}

func (p *PKI) issueLeaf(key *rsa.PrivateKey, subject pkix.Name, notBefore, notAfter time.Time) (*Identity, error) {
	key, err := keyOrNew(key)
	if err != nil {
		return nil, err
	}
	// A serial derived from the key keeps certificates reproducible with fixed keys.
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(sum[:16]),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SubjectKeyId: sum[:20],
	}
	return issue(tmpl, p.CA.Certificate, &key.PublicKey, p.CA.Key, withKey(key))
}

type issueOpt func(*Identity)

func withKey(k *rsa.PrivateKey) issueOpt { return func(id *Identity) { id.Key = k } }

func issue(tmpl, parent *x509.Certificate, pub any, signer *rsa.PrivateKey, opts ...issueOpt) (*Identity, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	id := &Identity{Certificate: cert, Key: signer}
	for _, o := range opts {
		o(id)
	}
	return id, nil
}

func keyOrNew(k *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if k != nil {
		return k, nil
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

// P12 encodes the identity with the CA certificate as a PKCS#12 file (modern encryption:
// PBES2/AES-256, PBKDF2-SHA-256, SHA-256 MAC), as MitID Erhverv exports certificates.
func (p *PKI) P12(id *Identity, password []byte) ([]byte, error) {
	data, err := pkcs12.Modern.Encode(id.Key, id.Certificate, []*x509.Certificate{p.CA.Certificate}, string(password))
	if err != nil {
		return nil, fmt.Errorf("ststest: encode PKCS#12: %w", err)
	}
	return data, nil
}

// WriteClientP12 issues a new anvendersystem certificate for cvr and writes it with its key
// and the CA certificate to path as a PKCS#12 file protected by password (mode 0600). It
// returns the identity.
func (p *PKI) WriteClientP12(path string, password []byte, cvr string) (*Identity, error) {
	id, err := p.NewClient(ClientConfig{CVR: cvr})
	if err != nil {
		return nil, err
	}
	data, err := p.P12(id, password)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("ststest: %w", err)
	}
	return id, nil
}

// CertificatePEM returns certificates PEM-encoded.
func CertificatePEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// File names used by SaveTo and LoadOrCreatePKI.
const (
	FileCACert      = "ca.pem"
	FileSTSCert     = "sts.pem"
	FileServiceCert = "service.pem"
	fileCAKey       = "ca.key.pem"
	fileSTSKey      = "sts.key.pem"
	fileServiceKey  = "service.key.pem"
)

// SaveTo writes the CA, STS and service certificates (FileCACert, FileSTSCert,
// FileServiceCert; mode 0644) and their keys (mode 0600) to dir, which must exist.
func (p *PKI) SaveTo(dir string) error {
	for _, f := range []struct {
		name string
		id   *Identity
		key  string
	}{{FileCACert, p.CA, fileCAKey}, {FileSTSCert, p.STS, fileSTSKey}, {FileServiceCert, p.Service, fileServiceKey}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), CertificatePEM(f.id.Certificate), 0o644); err != nil {
			return fmt.Errorf("ststest: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(f.id.Key)
		if err != nil {
			return fmt.Errorf("ststest: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.key), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("ststest: %w", err)
		}
	}
	return nil
}

// LoadOrCreatePKI loads the PKI SaveTo wrote to dir, or, if dir holds none, creates one with
// cfg and saves it there (creating dir), so that a restarted fake keeps its identities and
// client certificates issued earlier stay valid. created reports which happened.
func LoadOrCreatePKI(dir string, cfg PKIConfig) (p *PKI, created bool, err error) {
	p, err = loadPKI(dir)
	if err == nil {
		return p, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if p, err = NewPKI(cfg); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("ststest: %w", err)
	}
	if err := p.SaveTo(dir); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func loadPKI(dir string) (*PKI, error) {
	load := func(certFile, keyFile string) (*Identity, error) {
		certPEM, err := os.ReadFile(filepath.Join(dir, certFile))
		if err != nil {
			return nil, err
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
		if err != nil {
			return nil, err
		}
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		if cb == nil || kb == nil {
			return nil, fmt.Errorf("ststest: %s or %s is not PEM", certFile, keyFile)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ststest: %s: %w", certFile, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ststest: %s: %w", keyFile, err)
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("ststest: %s is not an RSA key", keyFile)
		}
		return &Identity{Certificate: cert, Key: key}, nil
	}
	p := &PKI{}
	var err error
	if p.CA, err = load(FileCACert, fileCAKey); err != nil {
		return nil, err
	}
	if p.STS, err = load(FileSTSCert, fileSTSKey); err != nil {
		return nil, err
	}
	if p.Service, err = load(FileServiceCert, fileServiceKey); err != nil {
		return nil, err
	}
	p.NotBefore, p.NotAfter = p.CA.Certificate.NotBefore, p.CA.Certificate.NotAfter
	return p, nil
}
