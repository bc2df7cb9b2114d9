package secrets

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbconn"
)

// OpenFunc opens and pings a pool for a database config; dbconn.Open is one.
type OpenFunc func(ctx context.Context, c config.DB) (*sql.DB, error)

var _ OpenFunc = dbconn.Open

// OpenWithRotation opens a pool with open (dbconn.Open when nil) using base
// with the secret's credentials applied. When that fails with an
// authentication error (dbconn.KindAuth: MySQL 1045 or 1044) it re-reads the
// secret once (Provider.Refresh) and, if the secret now holds different
// credentials, opens once more; a second failure is returned as it is. It
// never loops.
//
// The pool it returns keeps the credentials it was opened with: a long-lived
// pool that must survive a later rotation is a Pool.
func OpenWithRotation(ctx context.Context, base config.DB, p *Provider, open OpenFunc) (*sql.DB, error) {
	if open == nil {
		open = dbconn.Open
	}
	creds, err := p.Get(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := p.apply(creds, base)
	if err != nil {
		return nil, err
	}
	db, err := open(ctx, cfg)
	if err == nil || dbconn.Classify(err) != dbconn.KindAuth {
		return db, err
	}
	p.log.Warn("database login refused; re-reading the secret once (rotation?)",
		"secret", p.arn, "user", creds.Username, "kind", dbconn.KindAuth.String())
	fresh, rerr := p.Refresh(ctx)
	if rerr != nil {
		return nil, errors.Join(err, fmt.Errorf("re-read after the login was refused: %w", rerr))
	}
	if fresh.same(creds) {
		return nil, fmt.Errorf("%w (the secret still holds the same credentials)", err)
	}
	if cfg, err = p.apply(fresh, base); err != nil {
		return nil, err
	}
	return open(ctx, cfg)
}

// Pool is a long-lived database pool whose logins follow the secret, for a
// Lambda container (build it once, outside the handler) or any process that
// outlives a rotation.
//
// DB returns one *sql.DB for the Pool's whole life: keep it (in a
// tidb.Store, say). It is never swapped or closed under its users. Instead,
// every new connection logs in with the credentials the Pool currently
// holds, and connections already open stay as they are (MySQL and TiDB do
// not end sessions when a password changes).
//
// Rotation is handled where it shows: when a new connection's login fails
// with an authentication error, the Pool re-reads the secret once and logs
// in again with what it holds now; concurrent failures share one re-read,
// and re-reads made this way are at least Options.MinRefreshInterval apart,
// so a secret that stays wrong costs one re-read per interval, not one per
// query. When that second login fails too, the query gets the
// authentication error.
//
// Reopen does the same on demand: it re-reads the secret (always) and
// checks that a new login works. Callers rarely need it; a query that failed
// with an authentication error has already had its re-read.
type Pool struct {
	db   *sql.DB
	conn *rotatingConnector
}

// OpenPool opens a Pool for base (pool sizes and lifetimes, TLS, timeouts)
// with the secret's credentials, and checks that a login works, re-reading
// the secret once if it is refused.
func OpenPool(ctx context.Context, base config.DB, p *Provider) (*Pool, error) {
	creds, err := p.Get(ctx)
	if err != nil {
		return nil, err
	}
	l, err := newLogin(p, base, creds, 1)
	if err != nil {
		return nil, err
	}
	rc := &rotatingConnector{p: p, base: base}
	rc.cur.Store(l)
	db := sql.OpenDB(rc)
	db.SetMaxOpenConns(base.MaxOpenConns)
	db.SetMaxIdleConns(base.MaxIdleConns)
	db.SetConnMaxLifetime(base.ConnMaxLifetime)
	db.SetConnMaxIdleTime(base.ConnMaxIdleTime)

	pctx, cancel := context.WithTimeout(ctx, loginTimeout(base))
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, rc.cur.Load().connectError(err)
	}
	return &Pool{db: db, conn: rc}, nil
}

// DB returns the pool. It is the same *sql.DB for the Pool's whole life.
func (p *Pool) DB() *sql.DB { return p.db }

// Credentials returns the credentials new connections log in with.
func (p *Pool) Credentials() Credentials { return p.conn.cur.Load().creds }

// Reopen re-reads the secret (Provider.Refresh) and makes new connections
// log in with what it holds, after checking that such a login works. On
// failure new connections keep the credentials they had, and the error says
// why (a *dbconn.ConnectError for a refused login). Safe for concurrent use.
func (p *Pool) Reopen(ctx context.Context) error {
	rc := p.conn
	rc.mu.Lock()
	defer rc.mu.Unlock()
	creds, err := rc.p.Refresh(ctx)
	rc.last = time.Now()
	if err != nil {
		return err
	}
	cur := rc.cur.Load()
	l, err := newLogin(rc.p, rc.base, creds, cur.gen+1)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, loginTimeout(rc.base))
	defer cancel()
	c, err := l.conn.Connect(cctx)
	if err != nil {
		return l.connectError(err)
	}
	c.Close()
	rc.cur.Store(l)
	return nil
}

// Close closes the pool.
func (p *Pool) Close() error { return p.db.Close() }

func loginTimeout(c config.DB) time.Duration {
	t := c.Timeout
	if t <= 0 {
		t = config.DefaultDBTimeout
	}
	return t + dbconn.HandshakeTimeout
}

// login is one set of credentials turned into a driver connector.
type login struct {
	gen   uint64 // increases with every change of credentials
	creds Credentials
	cfg   config.DB
	mc    *mysql.Config
	conn  driver.Connector
}

func newLogin(p *Provider, base config.DB, creds Credentials, gen uint64) (*login, error) {
	cfg, err := p.apply(creds, base)
	if err != nil {
		return nil, err
	}
	mc, err := dbconn.MySQLConfig(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("database connector: %w", err)
	}
	return &login{gen: gen, creds: creds, cfg: cfg, mc: mc, conn: conn}, nil
}

// connectError describes a failed login like dbconn.Open does.
func (l *login) connectError(err error) error {
	var ce *dbconn.ConnectError
	if errors.As(err, &ce) {
		return err
	}
	ce = &dbconn.ConnectError{
		Addr: dbconn.Addr(l.mc), Mode: l.cfg.SSLMode, User: l.mc.User, Database: l.mc.DBName,
		Kind: dbconn.Classify(err), Err: err,
	}
	if l.mc.TLS != nil {
		ce.ServerName = l.mc.TLS.ServerName
	}
	return ce
}

// rotatingConnector is the Pool's driver.Connector: it dials with the
// current login and, on an authentication failure, re-reads the secret once.
type rotatingConnector struct {
	p    *Provider
	base config.DB
	cur  atomic.Pointer[login]

	mu   sync.Mutex // serialises re-reads; guards last
	last time.Time  // the last re-read
}

var _ driver.Connector = (*rotatingConnector)(nil)

// Connect logs in with the current credentials. When the login is refused
// (KindAuth), it re-reads the secret (see rotate) and, if that brought new
// credentials, logs in once more with them.
func (rc *rotatingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	l := rc.cur.Load()
	c, err := l.conn.Connect(ctx)
	if err == nil {
		return c, nil
	}
	if dbconn.Classify(err) != dbconn.KindAuth {
		return nil, l.connectError(err)
	}
	nl := rc.rotate(ctx, l)
	if nl == nil {
		return nil, l.connectError(err)
	}
	if c, err = nl.conn.Connect(ctx); err != nil {
		return nil, nl.connectError(err)
	}
	return c, nil
}

// rotate returns a login with credentials newer than seen's, or nil when
// there are none to try. If another connection already rotated past seen,
// that login is returned without a re-read; otherwise the secret is re-read,
// unless the last re-read is less than MinRefreshInterval ago.
func (rc *rotatingConnector) rotate(ctx context.Context, seen *login) *login {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if cur := rc.cur.Load(); cur.gen != seen.gen {
		return cur
	}
	log := rc.p.log.With("secret", rc.p.arn, "user", seen.creds.Username)
	if !rc.last.IsZero() && time.Since(rc.last) < rc.p.minInterval {
		log.Warn("database login refused; the secret was re-read moments ago, not again yet",
			"min_refresh_interval", rc.p.minInterval.String())
		return nil
	}
	log.Warn("database login refused; re-reading the secret once (rotation?)")
	rc.last = time.Now()
	creds, err := rc.p.Refresh(ctx)
	if err != nil {
		log.Error("re-read the secret", "err", err)
		return nil
	}
	if creds.same(seen.creds) {
		log.Warn("the secret still holds the credentials the database refused")
		return nil
	}
	nl, err := newLogin(rc.p, rc.base, creds, seen.gen+1)
	if err != nil {
		log.Error("use the re-read secret", "err", err)
		return nil
	}
	rc.cur.Store(nl)
	return nl
}

// Driver returns the MySQL driver.
func (rc *rotatingConnector) Driver() driver.Driver { return rc.cur.Load().conn.Driver() }

// Open opens the database the way every Nectar binary does: with the
// credentials of the secret c.SecretARN names when it is set (a Pool, so
// that logins follow a rotation; region is the secret's AWS region, empty:
// the SDK's default), else with c's own, validated first. Close the *sql.DB
// when done.
func Open(ctx context.Context, c config.DB, region string, log *slog.Logger) (*sql.DB, error) {
	if c.SecretARN == "" {
		return dbconn.Open(ctx, c)
	}
	p, err := New(ctx, Options{SecretARN: c.SecretARN, Region: region, Logger: log})
	if err != nil {
		return nil, err
	}
	pool, err := OpenPool(ctx, c, p)
	if err != nil {
		return nil, err
	}
	return pool.DB(), nil
}

// Resolve returns c with the credentials of the secret c.SecretARN names
// applied (Provider.Config; c itself when it names none): what a one-off
// connection, such as `nectar check-db`, dials with.
func Resolve(ctx context.Context, c config.DB, region string, log *slog.Logger) (config.DB, error) {
	if c.SecretARN == "" {
		return c, nil
	}
	p, err := New(ctx, Options{SecretARN: c.SecretARN, Region: region, Logger: log})
	if err != nil {
		return c, err
	}
	return p.Config(ctx, c)
}
