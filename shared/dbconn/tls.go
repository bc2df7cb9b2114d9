package dbconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nectar-indexer/nectar/shared/config"
)

// tlsConfig returns the TLS configuration for c's SSL mode (nil for
// DISABLED). host is the server's host from the final address.
func tlsConfig(c config.DB, host string) (*tls.Config, error) {
	if c.SSLMode == config.SSLDisabled {
		return nil, nil
	}
	name := c.ServerName
	if name == "" && !isSocket(host) {
		name = host
	}
	if name == "" && c.SSLMode == config.SSLVerifyIdentity {
		return nil, &config.FieldError{Field: "db.server_name", Err: errors.New("required for VERIFY_IDENTITY over a unix socket")}
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: name, // the identity checked by VERIFY_IDENTITY; SNI in every mode
	}
	if c.SSLCert != "" {
		cert, err := tls.LoadX509KeyPair(c.SSLCert, c.SSLKey)
		if err != nil {
			return nil, &config.FieldError{Field: "db.ssl_cert", Err: fmt.Errorf("load client certificate and key: %w", err)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	var roots *x509.CertPool // nil: the system roots
	if c.SSLCA != "" {
		pem, err := os.ReadFile(c.SSLCA)
		if err != nil {
			return nil, &config.FieldError{Field: "db.ssl_ca", Err: err}
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, &config.FieldError{Field: "db.ssl_ca", Err: fmt.Errorf("%s holds no PEM certificate", c.SSLCA)}
		}
	}
	switch c.SSLMode {
	case config.SSLRequired:
		// REQUIRED is MySQL's "encrypt, do not authenticate": the server's
		// certificate is deliberately not checked. It is reached only when
		// the configuration names this mode; see the package doc.
		tc.InsecureSkipVerify = true
	case config.SSLVerifyCA:
		// crypto/tls can only skip the name check by skipping all of its
		// checks; verifyChain then does the chain check itself (the pattern
		// of crypto/tls's Config.VerifyConnection example). Every connection
		// is still verified: VerifyConnection runs on every handshake,
		// resumed ones included.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = verifyChain(roots)
	case config.SSLVerifyIdentity:
		tc.RootCAs = roots
	default:
		return nil, &config.FieldError{Field: "db.ssl_mode", Err: fmt.Errorf("%q is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY", string(c.SSLMode))}
	}
	return tc, nil
}

// verifyChain verifies the server's certificate chain against roots (the
// system roots when nil) for server authentication, ignoring the name.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
}
