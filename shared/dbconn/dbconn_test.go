package dbconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// writeCA writes a throwaway CA certificate (and, with leaf, a client
// certificate and key signed by it) into dir.
func writeCA(tb testing.TB, dir string) (caFile, certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Nectar throwaway test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	writePEM(tb, caFile, "CERTIFICATE", der)

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "nectar client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, tmpl, &leafKey.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writePEM(tb, certFile, "CERTIFICATE", leafDER)
	writePEM(tb, keyFile, "EC PRIVATE KEY", keyDER)
	return caFile, certFile, keyFile
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// remote is a config that validates but names a host that is not loopback.
// Tests never dial it.
func remote(tb testing.TB) config.DB {
	tb.Helper()
	caFile, _, _ := writeCA(tb, tb.TempDir())
	c := config.Default().DB
	c.Host, c.User, c.Password, c.SSLCA = "db.example.com", "nectar", "pw", caFile
	return c
}

func TestMySQLConfig(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCA(t, dir)

	t.Run("session settings", func(t *testing.T) {
		c := remote(t)
		c.Timeout, c.ReadTimeout, c.WriteTimeout = 3*time.Second, 4*time.Second, 5*time.Second
		cfg, err := MySQLConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Net != "tcp" || cfg.Addr != "db.example.com:4000" || cfg.User != "nectar" || cfg.Passwd != "pw" || cfg.DBName != "nectar" {
			t.Errorf("target = %s %s user %s db %s", cfg.Net, cfg.Addr, cfg.User, cfg.DBName)
		}
		if !cfg.InterpolateParams || !cfg.ParseTime || cfg.Loc != time.UTC || cfg.MultiStatements || cfg.AllowAllFiles {
			t.Errorf("flags: interpolate %v parseTime %v loc %v multi %v allfiles %v",
				cfg.InterpolateParams, cfg.ParseTime, cfg.Loc, cfg.MultiStatements, cfg.AllowAllFiles)
		}
		if cfg.Collation != Collation || cfg.Params["time_zone"] != "'+00:00'" || cfg.MaxAllowedPacket != 64<<20 {
			t.Errorf("collation %q params %v max packet %d", cfg.Collation, cfg.Params, cfg.MaxAllowedPacket)
		}
		if !strings.Contains(cfg.FormatDSN(), "charset=utf8mb4") {
			t.Errorf("charset not utf8mb4: %s", cfg.FormatDSN())
		}
		if cfg.Timeout != 3*time.Second || cfg.ReadTimeout != 4*time.Second || cfg.WriteTimeout != 5*time.Second {
			t.Errorf("timeouts %s %s %s", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout)
		}
	})

	t.Run("tls per mode", func(t *testing.T) {
		tests := []struct {
			mode       config.SSLMode
			host, name string
			skip       bool // InsecureSkipVerify
			customCA   bool // VerifyConnection checks the chain
			serverName string
		}{
			{config.SSLRequired, "db.example.com", "", true, false, "db.example.com"},
			{config.SSLVerifyCA, "db.example.com", "", true, true, "db.example.com"},
			{config.SSLVerifyIdentity, "db.example.com", "", false, false, "db.example.com"},
			{config.SSLVerifyIdentity, "10.1.2.3", "db.internal", false, false, "db.internal"},
			{config.SSLVerifyIdentity, "::1", "", false, false, "::1"},
		}
		for _, tc := range tests {
			t.Run(string(tc.mode)+"/"+tc.host, func(t *testing.T) {
				c := remote(t)
				c.SSLMode, c.Host, c.ServerName = tc.mode, tc.host, tc.name
				if tc.mode == config.SSLRequired {
					c.SSLCA = ""
				}
				cfg, err := MySQLConfig(c)
				if err != nil {
					t.Fatal(err)
				}
				tc2 := cfg.TLS
				if tc2 == nil {
					t.Fatal("no TLS")
				}
				if tc2.MinVersion != tls.VersionTLS12 {
					t.Errorf("MinVersion %x", tc2.MinVersion)
				}
				if tc2.InsecureSkipVerify != tc.skip || (tc2.VerifyConnection != nil) != tc.customCA {
					t.Errorf("InsecureSkipVerify %v VerifyConnection %v", tc2.InsecureSkipVerify, tc2.VerifyConnection != nil)
				}
				if tc2.ServerName != tc.serverName {
					t.Errorf("ServerName %q, want %q", tc2.ServerName, tc.serverName)
				}
				if tc.mode == config.SSLVerifyIdentity && tc2.RootCAs == nil {
					t.Error("VERIFY_IDENTITY without the configured CA")
				}
			})
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		c := remote(t)
		c.SSLCA, c.SSLCert, c.SSLKey = caFile, certFile, keyFile
		cfg, err := MySQLConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.TLS.Certificates) != 1 {
			t.Errorf("%d client certificates", len(cfg.TLS.Certificates))
		}
		c.SSLCert, c.SSLKey = keyFile, certFile // swapped: does not load
		if _, err := MySQLConfig(c); !hasField(err, "db.ssl_cert") {
			t.Errorf("swapped cert and key: %v", err)
		}
	})

	t.Run("ca file without a certificate", func(t *testing.T) {
		c := remote(t)
		c.SSLCA = keyFile
		if _, err := MySQLConfig(c); !hasField(err, "db.ssl_ca") {
			t.Errorf("err = %v, want a db.ssl_ca error", err)
		}
	})

	t.Run("dsn", func(t *testing.T) {
		c := remote(t)
		c.Host, c.User, c.Password = "", "", ""
		base := mysql.NewConfig()
		base.User, base.Passwd, base.Net, base.Addr, base.DBName = "dsnuser", "dsnpw", "tcp", "db.example.com:4100", "dsndb"
		base.Params = map[string]string{"autocommit": "1"}
		c.DSN = base.FormatDSN()
		cfg, err := MySQLConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.User != "dsnuser" || cfg.Passwd != "dsnpw" || cfg.Addr != "db.example.com:4100" || cfg.DBName != "dsndb" {
			t.Errorf("from DSN: %s@%s/%s", cfg.User, cfg.Addr, cfg.DBName)
		}
		if cfg.TLS == nil || cfg.TLS.ServerName != "db.example.com" || cfg.Params["autocommit"] != "1" || cfg.Params["time_zone"] != "'+00:00'" {
			t.Errorf("TLS %+v params %v", cfg.TLS, cfg.Params)
		}
		c.User, c.Password = "fielduser", "fieldpw" // the fields override the DSN
		if cfg, err = MySQLConfig(c); err != nil || cfg.User != "fielduser" || cfg.Passwd != "fieldpw" {
			t.Errorf("override: %v %v", cfg, err)
		}
	})

	t.Run("plaintext to loopback", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1", "localhost", "::1", "/run/mysqld/mysqld.sock"} {
			c := config.Default().DB
			c.Host, c.User, c.SSLMode = host, "root", config.SSLDisabled
			cfg, err := MySQLConfig(c)
			if err != nil {
				t.Fatalf("%s: %v", host, err)
			}
			if cfg.TLS != nil {
				t.Errorf("%s: TLS set for DISABLED", host)
			}
			if strings.HasPrefix(host, "/") && (cfg.Net != "unix" || cfg.Addr != host) {
				t.Errorf("socket: %s %s", cfg.Net, cfg.Addr)
			}
		}
	})
}

func hasField(err error, field string) bool {
	for _, f := range config.Fields(err) {
		if f == field {
			return true
		}
	}
	return false
}

// TestPlaintextRefusedBeforeDial: DISABLED to a non-loopback host is refused
// by validation; nothing dials.
func TestPlaintextRefusedBeforeDial(t *testing.T) {
	var dials atomic.Int32
	fail := func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("test: dial attempted")
	}
	mysql.RegisterDialContext("tcp", fail)
	mysql.RegisterDialContext("unix", fail)
	t.Cleanup(func() {
		mysql.DeregisterDialContext("tcp")
		mysql.DeregisterDialContext("unix")
	})

	host := config.Default().DB
	host.Host, host.User, host.Password, host.SSLMode = "192.0.2.1", "nectar", "pw", config.SSLDisabled
	dsn := config.Default().DB
	dsn.User, dsn.SSLMode, dsn.DSN = "nectar", config.SSLDisabled, (&mysql.Config{User: "u", Passwd: "pw", Net: "tcp", Addr: "192.0.2.1:4000", DBName: "nectar"}).FormatDSN()
	name := host
	name.Host = "localhost.example.com" // a name is not trusted to be loopback
	for label, c := range map[string]config.DB{"host": host, "dsn": dsn, "name": name} {
		t.Run(label, func(t *testing.T) {
			if err := c.Validate(); !hasField(err, "db.ssl_mode") {
				t.Errorf("Validate: %v", err)
			}
			if _, err := MySQLConfig(c); !hasField(err, "db.ssl_mode") {
				t.Errorf("MySQLConfig: %v", err)
			}
			db, err := Open(context.Background(), c)
			if db != nil || !hasField(err, "db.ssl_mode") {
				t.Errorf("Open: %v", err)
			}
			if _, err := Check(context.Background(), c); !hasField(err, "db.ssl_mode") || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("Check: %v", err)
			}
			var ce *ConnectError
			if errors.As(err, &ce) {
				t.Errorf("a connection was attempted: %v", err)
			}
		})
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials", n)
	}
}

func TestClassify(t *testing.T) {
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	verify := func(err error) error {
		return fmt.Errorf("wrapped: %w", &tls.CertificateVerificationError{Err: err})
	}
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, KindUnknown},
		{"dns", dialErr(&net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}), KindDNS},
		{"dns timeout is dns", dialErr(&net.DNSError{Err: "timeout", Name: "db.example", IsTimeout: true}), KindDNS},
		{"refused", dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), KindRefused},
		{"dial timeout", dialErr(os.ErrDeadlineExceeded), KindTimeout},
		{"context deadline", context.DeadlineExceeded, KindTimeout},
		{"canceled", context.Canceled, KindCanceled},
		{"hostname", verify(x509.HostnameError{Host: "wrong.example", Certificate: &x509.Certificate{}}), KindTLSIdentity},
		{"unknown authority", verify(x509.UnknownAuthorityError{}), KindTLSUnknownCA},
		{"expired", verify(x509.CertificateInvalidError{Reason: x509.Expired}), KindTLSCertificate},
		{"other verification", verify(errors.New("x")), KindTLSCertificate},
		{"alert", tls.AlertError(42), KindTLSHandshake},
		{"no tls", mysql.ErrNoTLS, KindNoTLS},
		{"auth", &mysql.MySQLError{Number: 1045}, KindAuth},
		{"db access", &mysql.MySQLError{Number: 1044}, KindAuth},
		{"no database", fmt.Errorf("x: %w", &mysql.MySQLError{Number: 1049}), KindNoDatabase},
		{"other mysql", &mysql.MySQLError{Number: 1146}, KindUnknown},
		{"message text is ignored", errors.New("Access denied for user; x509: certificate signed by unknown authority; connection refused"), KindUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// loopbackDB is a config for a server on 127.0.0.1 at port.
func loopbackDB(port int) config.DB {
	c := config.Default().DB
	c.Host, c.Port, c.User, c.Password, c.SSLMode = "127.0.0.1", port, "nectar", "pw", config.SSLDisabled
	return c
}

func TestConnectFailuresWithoutServer(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		_, err = Open(context.Background(), loopbackDB(port))
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Kind != KindRefused || !ce.Kind.Transient() {
			t.Fatalf("err = %v, want a refused ConnectError", err)
		}
		for _, want := range []string{"127.0.0.1:" + strconv.Itoa(port), "DISABLED", "refused"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A server that accepts and never speaks.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { conn.Close() })
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err = Open(ctx, loopbackDB(ln.Addr().(*net.TCPAddr).Port))
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Kind != KindTimeout {
			t.Fatalf("err = %v, want a timeout ConnectError", err)
		}
	})
}

// ---------------------------------------------------------------- real servers

// servers returns the configured test servers with the test CA; under
// CI=true a missing one fails the test, elsewhere it is skipped loudly.
func servers(t *testing.T) ([]dbtest.Server, string) {
	t.Helper()
	list := dbtest.Servers(t)
	ca := os.Getenv("NECTAR_TEST_CA")
	if ca == "" && len(list) > 0 {
		msg := "NECTAR_TEST_CA is not set: run `make services` and source \"$(infra/local/services.sh env)\""
		testenv.MissingPart(t, msg)
		return nil, ""
	}
	for _, s := range list {
		if s.Host != "127.0.0.1" {
			t.Fatalf("%s: test server host %q: these tests only ever connect to 127.0.0.1", s.Name, s.Host)
		}
	}
	return list, ca
}

func serverName() string {
	if n := os.Getenv("NECTAR_TEST_SERVER_NAME"); n != "" {
		return n
	}
	return "localhost"
}

// dbFor is the database section for a test server: verified TLS with the
// test CA and server name.
func dbFor(t *testing.T, s dbtest.Server, ca string) config.DB {
	t.Helper()
	port, err := strconv.Atoi(s.Port)
	if err != nil {
		t.Fatalf("%s port %q: %v", s.Name, s.Port, err)
	}
	c := config.Default().DB
	c.Host, c.Port, c.User, c.Password, c.Database = s.Host, port, s.User, s.Pass, "mysql"
	c.SSLMode, c.SSLCA, c.ServerName = config.SSLVerifyIdentity, ca, serverName()
	return c
}

func checkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantKind(t *testing.T, err error, want Kind) *ConnectError {
	t.Helper()
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *ConnectError of kind %s", err, err, want)
	}
	if ce.Kind != want {
		t.Fatalf("kind %s, want %s: %v", ce.Kind, want, err)
	}
	return ce
}

func TestServers(t *testing.T) {
	list, ca := servers(t)
	otherCA, _, _ := writeCA(t, t.TempDir())
	for _, s := range list {
		t.Run(s.Name, func(t *testing.T) {
			t.Run("verify identity", func(t *testing.T) {
				r, err := Check(checkCtx(t), dbFor(t, s, ca))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("check-db report:\n%s", r)
				if r.TLSVersion != "TLS 1.2" && r.TLSVersion != "TLS 1.3" {
					t.Errorf("TLS version %q", r.TLSVersion)
				}
				if r.CipherSuite == "" || r.SSLVersion == "" || r.SSLCipher == "" {
					t.Errorf("cipher %q, server ssl %q %q", r.CipherSuite, r.SSLVersion, r.SSLCipher)
				}
				// The server's view of the session agrees with the client's.
				if strings.ReplaceAll(r.TLSVersion, " ", "v") != r.SSLVersion {
					t.Errorf("client saw %s, server says %s", r.TLSVersion, r.SSLVersion)
				}
				if r.VerifiedName != serverName() || !r.ChainVerified {
					t.Errorf("verified name %q chain %v", r.VerifiedName, r.ChainVerified)
				}
				wantVersion := map[string]string{"tidb": "TiDB", "mariadb": "MariaDB"}[s.Name]
				if !strings.Contains(r.Version, wantVersion) {
					t.Errorf("server version %q, want %s", r.Version, wantVersion)
				}
				if r.Latency <= 0 || r.ConnectTime <= 0 {
					t.Errorf("latency %s connect %s", r.Latency, r.ConnectTime)
				}
			})

			t.Run("verify identity by IP", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.ServerName = "" // the certificate has the IP 127.0.0.1
				r, err := Check(checkCtx(t), c)
				if err != nil {
					t.Fatal(err)
				}
				if r.VerifiedName != "127.0.0.1" {
					t.Errorf("verified name %q", r.VerifiedName)
				}
			})

			t.Run("open", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.MaxOpenConns, c.MaxIdleConns = 3, 2
				db, err := Open(checkCtx(t), c)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if got := db.Stats().MaxOpenConnections; got != 3 {
					t.Errorf("max open %d", got)
				}
				var tz, charset, collation string
				var now time.Time
				err = db.QueryRowContext(checkCtx(t),
					"SELECT @@session.time_zone, @@character_set_connection, @@collation_connection, NOW()").Scan(&tz, &charset, &collation, &now)
				if err != nil {
					t.Fatal(err)
				}
				if tz != "+00:00" || charset != "utf8mb4" || collation != "utf8mb4_bin" {
					t.Errorf("session: time_zone %q charset %q collation %q", tz, charset, collation)
				}
				if now.Location() != time.UTC || time.Since(now).Abs() > time.Hour {
					t.Errorf("NOW() = %v", now)
				}
			})

			t.Run("dsn", func(t *testing.T) {
				c := dbFor(t, s, ca)
				m := mysql.NewConfig()
				m.User, m.Passwd, m.Net, m.Addr, m.DBName = c.User, c.Password, "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), "mysql"
				c.DSN, c.Host, c.User, c.Password = m.FormatDSN(), "", "", ""
				if _, err := Check(checkCtx(t), c); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("wrong server name", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.ServerName = "wrong.example"
				_, err := Check(checkCtx(t), c)
				ce := wantKind(t, err, KindTLSIdentity)
				var he x509.HostnameError
				if !errors.As(err, &he) || he.Host != "wrong.example" {
					t.Errorf("no x509.HostnameError for wrong.example in %v", err)
				}
				for _, want := range []string{"127.0.0.1:" + s.Port, "VERIFY_IDENTITY", "wrong.example", "identity"} {
					if !strings.Contains(ce.Error(), want) {
						t.Errorf("%q lacks %q", ce, want)
					}
				}
				if strings.Contains(err.Error(), s.Pass) {
					t.Error("error holds the password")
				}
			})

			for _, mode := range []config.SSLMode{config.SSLVerifyIdentity, config.SSLVerifyCA} {
				t.Run("unknown CA/"+string(mode), func(t *testing.T) {
					c := dbFor(t, s, ca)
					c.SSLMode, c.SSLCA = mode, otherCA
					_, err := Open(checkCtx(t), c)
					wantKind(t, err, KindTLSUnknownCA)
					var ua x509.UnknownAuthorityError
					if !errors.As(err, &ua) {
						t.Errorf("no x509.UnknownAuthorityError in %v", err)
					}
				})
			}

			t.Run("verify CA ignores the name", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.SSLMode, c.ServerName = config.SSLVerifyCA, "wrong.example"
				r, err := Check(checkCtx(t), c)
				if err != nil {
					t.Fatal(err)
				}
				if r.VerifiedName != NotVerified || !r.ChainVerified || r.TLSVersion == "" {
					t.Errorf("verified name %q chain %v tls %q", r.VerifiedName, r.ChainVerified, r.TLSVersion)
				}
			})

			t.Run("required is encrypted, not verified", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.SSLMode, c.SSLCA, c.ServerName = config.SSLRequired, "", "wrong.example"
				r, err := Check(checkCtx(t), c)
				if err != nil {
					t.Fatal(err)
				}
				if r.VerifiedName != NotVerified || r.ChainVerified || r.TLSVersion == "" || r.SSLVersion == "" {
					t.Errorf("verified name %q chain %v tls %q server %q", r.VerifiedName, r.ChainVerified, r.TLSVersion, r.SSLVersion)
				}
			})

			t.Run("disabled on loopback", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.SSLMode, c.SSLCA, c.ServerName = config.SSLDisabled, "", ""
				r, err := Check(checkCtx(t), c)
				if err != nil {
					t.Fatal(err)
				}
				if r.TLSVersion != "" || r.SSLVersion != "" {
					t.Errorf("plaintext session reports TLS %q / %q", r.TLSVersion, r.SSLVersion)
				}
			})

			t.Run("wrong password", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.Password = "not-" + c.Password
				_, err := Check(checkCtx(t), c)
				wantKind(t, err, KindAuth)
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != 1045 {
					t.Errorf("no MySQL error 1045 in %v", err)
				}
				if strings.Contains(err.Error(), c.Password) {
					t.Error("error holds the password")
				}
			})

			t.Run("missing database", func(t *testing.T) {
				c := dbFor(t, s, ca)
				c.Database = "nectar_missing_" + strconv.FormatInt(time.Now().UnixNano(), 36)
				_, err := Check(checkCtx(t), c)
				ce := wantKind(t, err, KindNoDatabase)
				if !strings.Contains(ce.Error(), c.Database) {
					t.Errorf("%q does not name the database", ce)
				}
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != 1049 {
					t.Errorf("no MySQL error 1049 in %v", err)
				}
			})
		})
	}
}
