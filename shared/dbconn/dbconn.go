// Package dbconn builds database connections the way every Nectar component
// makes them: from a config.DB, through go-sql-driver/mysql's Config (never a
// DSN assembled from strings), with TLS per the SSL mode, UTC and utf8mb4_bin
// sessions, and a pool sized and aged for TiDB Cloud Serverless.
//
// TLS per config.SSLMode:
//
//   - DISABLED: plaintext. Refused unless the host is loopback (checked by
//     config validation and again here on the final address), so a password
//     never crosses a network in clear.
//   - REQUIRED: encrypted but UNAUTHENTICATED. The server's certificate is
//     not checked at all, exactly like MySQL's --ssl-mode=REQUIRED: anyone
//     who can intercept the connection can read and change it. Only an
//     explicit choice in the configuration selects it; nothing falls back to
//     it.
//   - VERIFY_CA: the certificate chain is verified against db.ssl_ca (or the
//     system roots); the name in the certificate is not.
//   - VERIFY_IDENTITY (the default): chain and name, the name being
//     db.server_name or else db.host.
//
// Connection failures come back as *ConnectError, whose Kind says in plain
// words what went wrong (DNS, refused, timeout, TLS identity, unknown CA,
// authentication, missing database), decided on typed errors with
// errors.As/errors.Is, never on message text.
package dbconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/config"
)

// Session settings every connection gets.
const (
	Charset   = "utf8mb4"
	Collation = "utf8mb4_bin"
	// MaxAllowedPacket is the client's packet limit; the servers' own
	// max_allowed_packet (64 MiB on TiDB) still applies.
	MaxAllowedPacket = 64 << 20
	// HandshakeTimeout bounds TLS and login after the dial: Open's ping
	// waits at most db.timeout plus this.
	HandshakeTimeout = 10 * time.Second
)

// MySQLConfig returns the driver configuration for c. It validates c first
// (config.DB.Validate) and refuses plaintext to a non-loopback address again
// on the final address, before anything dials.
func MySQLConfig(c config.DB) (*mysql.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	var cfg *mysql.Config
	if c.DSN != "" {
		var err error
		if cfg, err = config.ParseDSN(c.DSN); err != nil {
			return nil, &config.FieldError{Field: "db.dsn", Err: err}
		}
		if cfg.DBName == "" {
			cfg.DBName = c.Database
		}
	} else {
		cfg = mysql.NewConfig()
		if isSocket(c.Host) {
			cfg.Net, cfg.Addr = "unix", c.Host
		} else {
			cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(c.Host, fmt.Sprint(c.Port))
		}
		cfg.DBName = c.Database
	}
	if c.User != "" {
		cfg.User = c.User
	}
	if c.Password != "" {
		cfg.Passwd = c.Password
	}

	host := cfg.Addr
	if cfg.Net != "unix" {
		h, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return nil, &config.FieldError{Field: "db.host", Err: fmt.Errorf("address %q is not host:port", cfg.Addr)}
		}
		host = h
	}
	if c.SSLMode == config.SSLDisabled && !(cfg.Net == "unix" || config.IsLoopback(host)) {
		return nil, &config.FieldError{Field: "db.ssl_mode", Err: fmt.Errorf("DISABLED is allowed only to a loopback host, not %s", host)}
	}
	tc, err := tlsConfig(c, host)
	if err != nil {
		return nil, err
	}
	cfg.TLS = tc // nil for DISABLED
	cfg.TLSConfig = ""
	cfg.AllowFallbackToPlaintext = false

	cfg.InterpolateParams = true
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.MultiStatements = false
	cfg.AllowAllFiles = false
	cfg.MaxAllowedPacket = MaxAllowedPacket
	cfg.Timeout = c.Timeout
	cfg.ReadTimeout = c.ReadTimeout
	cfg.WriteTimeout = c.WriteTimeout
	if err := cfg.Apply(mysql.Charset(Charset, Collation)); err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}

func isSocket(host string) bool { return len(host) > 0 && host[0] == '/' }

// Open returns a pool for c: limits and lifetimes from c, and one
// connection made and pinged before it returns, within db.timeout plus
// HandshakeTimeout (or ctx's deadline, if sooner). A failure to connect is a
// *ConnectError.
func Open(ctx context.Context, c config.DB) (*sql.DB, error) {
	cfg, err := MySQLConfig(c)
	if err != nil {
		return nil, err
	}
	db, _, err := open(ctx, c, cfg)
	return db, err
}

// open builds the pool from cfg and pings it; it is shared by Open and Check
// so that check-db connects exactly as everything else does.
func open(ctx context.Context, c config.DB, cfg *mysql.Config) (*sql.DB, time.Duration, error) {
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("database connector: %w", err)
	}
	db := sql.OpenDB(&Connector{Connector: connector, c: c, cfg: cfg})
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	db.SetConnMaxIdleTime(c.ConnMaxIdleTime)

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = config.DefaultDBTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout+HandshakeTimeout)
	defer cancel()
	start := time.Now()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, 0, newConnectError(c, cfg, err)
	}
	return db, time.Since(start), nil
}

// Connector is the pool's connector: every new connection that fails, not
// only the first, is a *ConnectError, so that callers can tell a login the
// server refused from a statement that failed (chaindb.Classify).
type Connector struct {
	driver.Connector
	c   config.DB
	cfg *mysql.Config
}

// Connect dials and logs in.
func (k *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.Connector.Connect(ctx)
	if err != nil {
		return nil, newConnectError(k.c, k.cfg, err)
	}
	return conn, nil
}

// Addr describes where cfg connects: "tcp 127.0.0.1:4000" or "unix /path".
func Addr(cfg *mysql.Config) string { return cfg.Net + " " + cfg.Addr }

func newConnectError(c config.DB, cfg *mysql.Config, err error) *ConnectError {
	e := &ConnectError{
		Addr:     Addr(cfg),
		Mode:     c.SSLMode,
		User:     cfg.User,
		Database: cfg.DBName,
		Kind:     Classify(err),
		Err:      err,
	}
	if cfg.TLS != nil {
		e.ServerName = cfg.TLS.ServerName
	}
	return e
}
