//go:build unix

package kubetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is what the control plane's parts and its clients authenticate with, all made for one
// cluster: a CA, a serving certificate for 127.0.0.1 signed by it (the API server, the controller
// manager and the scheduler serve with it), and the service-account signing key.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	CAFile string // PEM
	// CAKeyFile is the CA's key, for the controller manager's CSR signer.
	CAKeyFile string
	// ServingCertFile and ServingKeyFile serve 127.0.0.1 and localhost.
	ServingCertFile, ServingKeyFile string
	// ServiceAccountKeyFile is an RSA key: the API server signs and checks service-account tokens
	// with it.
	ServiceAccountKeyFile string
}

// newPKI writes a fresh pki under dir.
func newPKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "orca-kubetest-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	p.caKey = caKey
	if p.CAFile, err = writePEM(dir, "ca.crt", "CERTIFICATE", der); err != nil {
		return nil, err
	}
	if p.CAKeyFile, err = writeKey(dir, "ca.key", caKey); err != nil {
		return nil, err
	}

	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	if p.ServingCertFile, p.ServingKeyFile, err = p.issue("serving", serving); err != nil {
		return nil, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}
	if p.ServiceAccountKeyFile, err = writeKey(dir, "sa.key", saKey); err != nil {
		return nil, err
	}
	return p, nil
}

// clientCert issues a client certificate for user name in groups (system:masters: RBAC lets it
// do anything), writes it as client-<name>.crt and .key, and returns it in PEM.
func (p *pki) clientCert(name string, groups ...string) (certPEM, keyPEM []byte, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certFile, keyFile, err := p.issue("client-"+name, tmpl)
	if err != nil {
		return nil, nil, err
	}
	if certPEM, err = os.ReadFile(certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// peerCert issues a certificate that serves 127.0.0.1, localhost and dnsNames and is a client
// certificate too (KEDA's operator and metrics server authenticate each other with one), and
// writes it as name.crt and name.key.
func (p *pki) peerCert(name string, dnsNames ...string) (certFile, keyFile string, err error) {
	return p.issue(name, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    append([]string{"localhost"}, dnsNames...),
	})
}

// issue signs tmpl with the CA (adding serial, validity and key usage) for a new key, and writes
// both as name.crt and name.key.
func (p *pki) issue(name string, tmpl *x509.Certificate) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate %s key: %w", name, err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		return "", "", fmt.Errorf("serial for %s: %w", name, err)
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		return "", "", fmt.Errorf("create %s certificate: %w", name, err)
	}
	if certFile, err = writePEM(p.dir, name+".crt", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if keyFile, err = writeKey(p.dir, name+".key", key); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func writeKey(dir, name string, key any) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("marshal %s: %w", name, err)
	}
	return writePEM(dir, name, "PRIVATE KEY", der)
}

func writePEM(dir, name, typ string, der []byte) (string, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return path, nil
}
