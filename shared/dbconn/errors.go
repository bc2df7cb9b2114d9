package dbconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/config"
)

// Kind classifies why a connection failed.
type Kind int

// The kinds of connection failure.
const (
	KindUnknown        Kind = iota
	KindDNS                 // the host name does not resolve
	KindRefused             // TCP connection refused: nothing listens there
	KindTimeout             // no answer in time (dial, TLS or login)
	KindCanceled            // the caller's context was canceled
	KindNoTLS               // TLS wanted, the server does not offer it
	KindTLSIdentity         // the certificate is not for the expected name
	KindTLSUnknownCA        // the certificate chain does not lead to a trusted CA
	KindTLSCertificate      // another certificate problem (expired, wrong usage, ...)
	KindTLSHandshake        // the TLS handshake failed otherwise (alert, version)
	KindAuth                // MySQL 1045/1044: wrong user or password, or no access
	KindNoDatabase          // MySQL 1049: the database does not exist
)

var kindNames = map[Kind]string{
	KindUnknown:        "unknown",
	KindDNS:            "dns",
	KindRefused:        "refused",
	KindTimeout:        "timeout",
	KindCanceled:       "canceled",
	KindNoTLS:          "no-tls",
	KindTLSIdentity:    "tls-identity",
	KindTLSUnknownCA:   "tls-unknown-ca",
	KindTLSCertificate: "tls-certificate",
	KindTLSHandshake:   "tls-handshake",
	KindAuth:           "auth",
	KindNoDatabase:     "no-database",
}

// String is a short constant name, for logs and metrics labels.
func (k Kind) String() string { return kindNames[k] }

// Transient reports whether trying again later may succeed without any
// change of configuration (the server may be starting or unreachable for a
// moment). Authentication failures are not transient, but a caller holding
// rotated credentials should refresh them once and retry.
func (k Kind) Transient() bool {
	return k == KindRefused || k == KindTimeout || k == KindDNS
}

// Classify says why a connection attempt failed. It looks only at typed
// errors and error numbers, never at message text.
func Classify(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1044: // access denied for user / to database
			return KindAuth
		case 1049: // unknown database
			return KindNoDatabase
		}
		return KindUnknown
	}
	var (
		hostErr  x509.HostnameError
		caErr    x509.UnknownAuthorityError
		certErr  x509.CertificateInvalidError
		verifErr *tls.CertificateVerificationError
		alertErr tls.AlertError
		recErr   tls.RecordHeaderError
		dnsErr   *net.DNSError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &hostErr):
		return KindTLSIdentity
	case errors.As(err, &caErr):
		return KindTLSUnknownCA
	case errors.As(err, &certErr), errors.As(err, &verifErr):
		return KindTLSCertificate
	case errors.Is(err, mysql.ErrNoTLS):
		return KindNoTLS
	case errors.As(err, &alertErr), errors.As(err, &recErr):
		return KindTLSHandshake
	case errors.As(err, &dnsErr):
		return KindDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case errors.Is(err, context.Canceled):
		return KindCanceled
	}
	return KindUnknown
}

// ConnectError is a failure to connect, with where, how and why.
type ConnectError struct {
	Addr       string         // "tcp host:port" or "unix /path"
	Mode       config.SSLMode // db.ssl_mode
	ServerName string         // the TLS name, if TLS
	User       string
	Database   string
	Kind       Kind
	Err        error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect %s (ssl_mode %s): %s: %v", e.Addr, e.Mode, e.Explain(), e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Explain says in plain words what went wrong and what to check.
func (e *ConnectError) Explain() string {
	switch e.Kind {
	case KindDNS:
		return "DNS lookup failed: check db.host"
	case KindRefused:
		return "TCP connection refused: no server listens there; check db.host and db.port"
	case KindTimeout:
		return "timed out: the server did not answer (firewall, wrong host or port, server down)"
	case KindCanceled:
		return "canceled"
	case KindNoTLS:
		return "the server does not offer TLS"
	case KindTLSIdentity:
		return fmt.Sprintf("TLS identity mismatch: the server certificate is not for %q; check db.host or db.server_name", e.ServerName)
	case KindTLSUnknownCA:
		return "TLS: the server certificate is signed by an unknown authority; check db.ssl_ca"
	case KindTLSCertificate:
		return "TLS: the server certificate is not valid"
	case KindTLSHandshake:
		return "TLS handshake failed"
	case KindAuth:
		return fmt.Sprintf("authentication failed for user %q: check db.user and db.password (or the secret)", e.User)
	case KindNoDatabase:
		return fmt.Sprintf("database %q does not exist: check db.database or run the migrations", e.Database)
	}
	return "connection failed"
}
