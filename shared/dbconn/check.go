package dbconn

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nectar-indexer/nectar/shared/config"
)

// NotVerified is Report.VerifiedName when the server's name was not checked.
const NotVerified = "not verified"

// LatencySamples is how many SELECT 1 round trips Describe times.
const LatencySamples = 5

// Server is what the server says about itself and the session.
type Server struct {
	Version    string        // SELECT VERSION()
	SSLVersion string        // SHOW STATUS Ssl_version; empty without TLS
	SSLCipher  string        // SHOW STATUS Ssl_cipher
	Latency    time.Duration // median round trip of SELECT 1
}

// Report is what Check found: how the connection was made and what the
// server is.
type Report struct {
	Addr     string // "tcp host:port" or "unix /path"
	User     string
	Database string
	SSLMode  config.SSLMode
	// TLS as the client saw the handshake; TLSVersion is empty without TLS.
	TLSVersion  string // "TLS 1.3"
	CipherSuite string
	// VerifiedName is the name the server certificate was verified for
	// (VERIFY_IDENTITY), else NotVerified.
	VerifiedName  string
	ChainVerified bool   // the chain was verified (VERIFY_CA, VERIFY_IDENTITY)
	PeerSubject   string // the server certificate's subject
	PeerNotAfter  time.Time
	ConnectTime   time.Duration // dial, TLS and login of the first connection
	Server
}

// String is the report as check-db prints it.
func (r Report) String() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-15s %s\n", k+":", v) }
	line("address", r.Addr)
	line("user", r.User)
	line("database", r.Database)
	line("ssl_mode", string(r.SSLMode))
	if r.TLSVersion == "" {
		line("tls", "none (plaintext)")
	} else {
		line("tls", r.TLSVersion+", "+r.CipherSuite)
		line("server name", r.VerifiedName)
		chain := "not verified"
		if r.ChainVerified {
			chain = "verified"
		}
		line("chain", chain)
		line("certificate", fmt.Sprintf("%s, valid until %s", r.PeerSubject, r.PeerNotAfter.UTC().Format(time.RFC3339)))
		line("server tls", strings.TrimSpace(r.SSLVersion+" "+r.SSLCipher))
	}
	line("server", r.Version)
	line("connect", r.ConnectTime.Round(time.Microsecond).String())
	line("latency", r.Latency.Round(time.Microsecond).String()+fmt.Sprintf(" (median of %d SELECT 1)", LatencySamples))
	return b.String()
}

// Check connects as Open does (the same driver configuration, pool and
// ping), then describes the connection and the server: TLS version and
// cipher as negotiated, the verified name, the server's version and its own
// view of TLS, and the round-trip latency. A failure to connect is a
// *ConnectError whose Kind and Explain say what went wrong.
func Check(ctx context.Context, c config.DB) (Report, error) {
	cfg, err := MySQLConfig(c)
	if err != nil {
		return Report{}, err
	}
	r := Report{Addr: Addr(cfg), User: cfg.User, Database: cfg.DBName, SSLMode: c.SSLMode, VerifiedName: NotVerified}

	// Observe the handshake: VerifyConnection sees the negotiated state of
	// every connection; the verification itself is unchanged (it runs first).
	var (
		mu    sync.Mutex
		state *tls.ConnectionState
	)
	if cfg.TLS != nil {
		inner := cfg.TLS.VerifyConnection
		cfg.TLS.VerifyConnection = func(cs tls.ConnectionState) error {
			if inner != nil {
				if err := inner(cs); err != nil {
					return err
				}
			}
			mu.Lock()
			state = &cs
			mu.Unlock()
			return nil
		}
	}
	db, connectTime, err := open(ctx, c, cfg)
	if err != nil {
		return r, err
	}
	defer db.Close()
	r.ConnectTime = connectTime
	if r.Server, err = Describe(ctx, db); err != nil {
		return r, err
	}

	mu.Lock()
	defer mu.Unlock()
	if state != nil {
		r.TLSVersion = tls.VersionName(state.Version)
		r.CipherSuite = tls.CipherSuiteName(state.CipherSuite)
		if len(state.PeerCertificates) > 0 {
			r.PeerSubject = state.PeerCertificates[0].Subject.String()
			r.PeerNotAfter = state.PeerCertificates[0].NotAfter
		}
		switch c.SSLMode {
		case config.SSLVerifyIdentity:
			r.VerifiedName, r.ChainVerified = cfg.TLS.ServerName, true
		case config.SSLVerifyCA:
			r.ChainVerified = true
		}
	}
	return r, nil
}

// Describe asks the server about itself over one connection of db: its
// version, its view of the session's TLS, and the median latency of
// LatencySamples round trips.
func Describe(ctx context.Context, db *sql.DB) (Server, error) {
	var s Server
	conn, err := db.Conn(ctx)
	if err != nil {
		return s, fmt.Errorf("describe server: %w", err)
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return s, fmt.Errorf("select version: %w", err)
	}
	rows, err := conn.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
	if err != nil {
		return s, fmt.Errorf("show ssl status: %w", err)
	}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return s, fmt.Errorf("show ssl status: %w", err)
		}
		switch strings.ToLower(name) {
		case "ssl_version":
			s.SSLVersion = value
		case "ssl_cipher":
			s.SSLCipher = value
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return s, fmt.Errorf("show ssl status: %w", err)
	}
	samples := make([]time.Duration, LatencySamples)
	for i := range samples {
		var one int
		start := time.Now()
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return s, fmt.Errorf("select 1: %w", err)
		}
		samples[i] = time.Since(start)
	}
	slices.Sort(samples)
	s.Latency = samples[len(samples)/2]
	return s, nil
}
