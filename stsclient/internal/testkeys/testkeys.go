// Package testkeys holds fixed RSA-2048 keys for tests, so that certificates, signatures and
// golden files are deterministic and tests need not spend time generating keys. The keys are
// published test material with no value; import this package from _test.go files only.
package testkeys

import (
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
)

//go:embed *.key.pem
var files embed.FS

// Names of the embedded keys.
const (
	CA      = "ca"      // the fake's certificate authority
	STS     = "sts"     // the fake security token service
	Service = "service" // the fake Organisation service ("ORG" certificate)
	Client1 = "client1" // an anvendersystem
	Client2 = "client2" // a second anvendersystem
	Foreign = "foreign" // a key nobody trusts
)

// Key returns the named key; it panics if the name is unknown (a bug in the test).
func Key(name string) *rsa.PrivateKey {
	data, err := files.ReadFile(name + ".key.pem")
	if err != nil {
		panic(fmt.Sprintf("testkeys: %v", err))
	}
	block, _ := pem.Decode(data)
	if block == nil {
		panic("testkeys: no PEM block in " + name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(fmt.Sprintf("testkeys: %s: %v", name, err))
	}
	return k.(*rsa.PrivateKey)
}
