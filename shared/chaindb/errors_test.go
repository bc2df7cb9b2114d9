package chaindb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/dbconn"
)

func TestClassify(t *testing.T) {
	my := func(n uint16) error { return &mysql.MySQLError{Number: n, Message: "transaction too large"} }
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Fatal},
		{"lock wait", my(1205), Retry},
		{"deadlock", my(1213), Retry},
		{"tidb retry", my(8022), Retry},
		{"schema outdated", my(8027), Retry},
		{"info schema changed", my(8028), Retry},
		{"pd timeout", my(9001), Throttle},
		{"server busy", my(9003), Throttle},
		{"region unavailable", my(9005), Throttle},
		{"too many connections", my(1040), Throttle},
		{"transaction too large", my(8004), Split},
		{"packet too large", my(1153), Split},
		{"data too long", my(1406), Data},
		{"out of range", my(1264), Data},
		// The message says "transaction too large" but the number decides.
		{"syntax error with misleading text", my(1064), Fatal},
		{"wrapped deadlock", fmt.Errorf("insert tx_out: %w", my(1213)), Retry},
		{"bad conn", driver.ErrBadConn, Retry},
		{"invalid conn", mysql.ErrInvalidConn, Retry},
		{"eof", io.ErrUnexpectedEOF, Retry},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, Retry},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, Throttle},
		{"deadline", context.DeadlineExceeded, Throttle},
		{"canceled", context.Canceled, Fatal},
		{"other", errors.New("boom"), Fatal},
	}
	for _, tt := range tidbErrors {
		tests = append(tests, struct {
			name string
			err  error
			want Class
		}{tt.name, &mysql.MySQLError{Number: tt.number, Message: tt.message}, tt.want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	my := func(n uint16) error {
		return fmt.Errorf("insert tx_out: %w", &mysql.MySQLError{Number: n, Message: "x"})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"transaction too large", my(8004), true},
		{"entry too large", my(8025), true},
		{"packet too large", my(1153), true},
		{"gc life time", my(9006), true},
		{"memory quota of the session", my(8175), true},
		{"memory limit of the instance", my(8176), true},
		{"memory threshold", my(8001), true},
		{"write conflict", my(9007), false},
		{"server busy", my(9003), false},
		{"data too long", my(1406), false},
		{"bad conn", driver.ErrBadConn, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TooLarge(tt.err); got != tt.want {
				t.Errorf("TooLarge(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// tidbErrors are the errors TiDB Cloud Starter returns under load, quotas and
// maintenance, with their numbers and messages as TiDB v8.5.6 (the version
// the local tests run) defines them in pkg/errno/errcode.go and errname.go.
var tidbErrors = []struct {
	name    string
	number  uint16
	message string
	want    Class
}{
	{"write conflict in tidb", 8005, "Write conflict, txnStartTS 452613045178531841 is stale", Retry},
	{"write conflict", 9007, "Write conflict, txnStartTS=452613045178531841, conflictStartTS=452613045178531840, conflictCommitTS=452613045178531842, key={tableID=112, handle=1} primary={tableID=112, handle=1}, originalKey=7480000000000000705f728000000000000001, primary=7480000000000000705f728000000000000001, reason=Optimistic [try again later]", Retry},
	{"query interrupted", 1317, "Query execution was interrupted", Retry},
	{"lock ttl expired", 8229, "TTL manager has timed out, pessimistic locks may expire, please commit or rollback this transaction", Retry},
	{"tikv stale command", 9010, "TiKV server reports stale command", Retry},
	{"max timestamp not synced", 9011, "TiKV max timestamp is not synced", Retry},
	{"resource group config unavailable", 8251, "Resource group configuration is unavailable", Retry},
	// Too big for the time or memory it may take: smaller statements pass.
	{"memory quota of a query", 8175, "Your query has been cancelled due to exceeding the allowed memory limit for a single SQL query. Please try narrowing your query scope or increase the tidb_mem_quota_query limit and try again.[conn=2097154]", Throttle},
	{"memory limit of the instance", 8176, "Your query has been cancelled due to exceeding the allowed memory limit for the tidb-server instance and this query is currently using the most memory. Please try narrowing your query scope or increase the tidb_server_memory_limit and try again.[conn=2097154]", Throttle},
	{"memory threshold", 8001, "Query holds 1073741824B memory, exceeds threshold 536870912B.", Throttle},
	{"runaway query interrupted", 8253, "Query execution was interrupted, identified as runaway query [EXEC_ELAPSED = 30s(30s)]", Throttle},
	{"max execution time", 3024, "Query execution was interrupted, maximum statement execution time exceeded", Throttle},
	{"store limit", 9008, "Store token is up to the limit, store id = 1", Throttle},
	{"tiflash busy", 9013, "TiFlash server is busy", Throttle},
	// A transaction that outlives tidb_gc_life_time fails the same way again: split it.
	{"gc life time", 9006, "GC life time is shorter than transaction duration, transaction starts at 2026-03-01 12:00:00.000 +0000 UTC, GC safe point is 2026-03-01 12:10:00 +0000 UTC", Split},
	// Request units spent: the quota does not come back within a retry.
	{"resource group throttled", 8252, "Exceeded resource group quota limitation", Refused},
	{"runaway quarantine", 8254, "Quarantined and interrupted because of being in runaway watch list", Refused},
}

// Errors of connecting, as the pool's connector reports them (a
// *dbconn.ConnectError): a login the server answers with an error is
// refused service (TiDB Cloud Starter denies new connections at its
// spending limit), unless its number says it passes; a TLS alert from a
// server that restarts is retried; a certificate that does not verify is a
// configuration error.
func TestClassifyConnectErrors(t *testing.T) {
	connect := func(err error) error {
		return &dbconn.ConnectError{Addr: "tcp 127.0.0.1:4000", Kind: dbconn.Classify(err), Err: err}
	}
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"access denied", connect(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'nectar'@'127.0.0.1' (using password: YES)"}), Refused},
		{"account locked", connect(&mysql.MySQLError{Number: 3118, Message: "Access denied for user 'nectar'@'127.0.0.1'. Account is locked."}), Refused},
		{"unknown login error", connect(&mysql.MySQLError{Number: 1105, Message: "unknown error"}), Refused},
		{"too many connections at login", connect(&mysql.MySQLError{Number: 1040, Message: "Too many connections"}), Throttle},
		{"tls alert", connect(tlsAlert(t)), Retry},
		{"tcp refused", connect(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), Retry},
		{"unknown authority", connect(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), Fatal},
		{"wrapped", fmt.Errorf("insert tx: %w", connect(&mysql.MySQLError{Number: 1045})), Refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	// A bare TLS alert (not through the connector) is retried too.
	if got := Classify(tlsAlert(t)); got != Retry {
		t.Errorf("Classify(TLS alert) = %v, want retry", got)
	}
}

// tlsAlert returns the error a TLS client gets when the server aborts the
// handshake with an alert: a real handshake on loopback with a server that
// demands a client certificate.
func tlsAlert(tb testing.TB) error {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		s := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			ClientAuth: tls.RequireAnyClientCert, MaxVersion: tls.VersionTLS12})
		_ = s.Handshake()
	}()
	c := tls.Client(client, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	err = c.Handshake()
	if err == nil {
		tb.Fatal("the handshake succeeded; want a TLS alert")
	}
	return err
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
