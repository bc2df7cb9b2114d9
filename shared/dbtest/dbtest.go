// Package dbtest gives tests real databases: the TiDB and MariaDB servers
// that infra/local/services.sh starts on loopback with TLS. Each test gets a
// migrated, empty database of its own (see Server.Open).
//
// When a server is not configured, tests fail under CI=true and skip loudly
// elsewhere.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/schema"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// Server is one configured database server.
type Server struct {
	Name string // "tidb" or "mariadb"
	Host string
	Port string
	User string
	Pass string
}

// Servers returns the servers the environment configures, in a fixed order.
// Under CI=true a missing server fails the test.
func Servers(tb testing.TB) []Server {
	tb.Helper()
	var out []Server
	for _, name := range []string{"tidb", "mariadb"} {
		p := "NECTAR_TEST_" + strings.ToUpper(name) + "_"
		s := Server{Name: name, Host: os.Getenv(p + "HOST"), Port: os.Getenv(p + "PORT"),
			User: os.Getenv(p + "USER"), Pass: os.Getenv(p + "PASSWORD")}
		if s.Host == "" || s.Port == "" {
			testenv.MissingPart(tb, fmt.Sprintf("%s is not configured (%sHOST/%sPORT): run `make services` or `make test`", name, p, p))
			continue
		}
		out = append(out, s)
	}
	return out
}

// Config returns the driver configuration for a server: TLS verified against
// the test CA and server name, parameters interpolated client-side.
func (s Server) Config(tb testing.TB, database string) *mysql.Config {
	tb.Helper()
	caFile := os.Getenv("NECTAR_TEST_CA")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatalf("read test CA %q (NECTAR_TEST_CA): %v", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatalf("test CA %q holds no certificate", caFile)
	}
	name := os.Getenv("NECTAR_TEST_SERVER_NAME")
	if name == "" {
		name = "localhost"
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = s.Host + ":" + s.Port
	cfg.User = s.User
	cfg.Passwd = s.Pass
	cfg.DBName = database
	cfg.TLS = &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12}
	cfg.InterpolateParams = true
	cfg.ParseTime = true
	cfg.MultiStatements = false
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	return cfg
}

// Open gives the test a migrated, empty database of its own and returns a
// pool bound to it.
//
// Migrating takes seconds on TiDB (its DDL runs one job at a time for the
// whole server), so databases are kept between tests and runs: Open takes
// the first free database of a pool named after the migrations' content
// (nectar_pool_<fingerprint>_NN), held by an advisory lock (GET_LOCK) for the
// test's length, so tests in parallel processes never share one. A pooled
// database is emptied (every table but schema_migrations) before it is
// handed out, and dropped at the end of a test that changed its schema
// (indexes, columns), so the next test migrates a fresh one. With every
// pooled database taken, Open creates a fresh one and drops it at the end.
func (s Server) Open(tb testing.TB) (*sql.DB, *mysql.Config) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := s.connect(tb, "")
	lock, err := admin.Conn(ctx)
	if err != nil {
		tb.Fatalf("%s: admin connection: %v", s.Name, err)
	}
	fp := fingerprint(tb)
	dropOtherPools(ctx, tb, s, admin, lock, fp)
	name := ""
	for i := range poolSize {
		n := fmt.Sprintf("nectar_pool_%s_%02d", fp, i)
		var got sql.NullInt64
		if err := lock.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", n).Scan(&got); err != nil {
			tb.Fatalf("%s: lock %s: %v", s.Name, n, err)
		}
		if got.Int64 == 1 {
			name = n
			break
		}
	}
	pooled := name != ""
	if !pooled {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		name = "nectar_test_" + hex.EncodeToString(rnd[:])
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range []string{schema.DBSyncDatabase(name), name} {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+n+"`"); err != nil {
				tb.Errorf("%s: drop database %s: %v", s.Name, n, err)
			}
		}
	}
	cfg := s.Config(tb, name)
	var db *sql.DB
	var want string
	if pooled {
		db, want = s.reuse(ctx, tb, admin, name)
	}
	if db == nil {
		drop()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			tb.Fatalf("%s: create database: %v", s.Name, err)
		}
		db = s.connect(tb, name)
		// A shared local TiDB runs the DDL of every test's migrations one job
		// at a time: migrating takes minutes when many tests start at once.
		mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer mcancel()
		if _, err := schema.Migrate(mctx, db, nil); err != nil {
			tb.Fatalf("%s: migrate: %v", s.Name, err)
		}
		if pooled {
			want = shape(mctx, tb, admin, name)
			if _, err := db.ExecContext(mctx, "CREATE TABLE "+shapeTable+" (shape VARCHAR(64) NOT NULL)"); err != nil {
				tb.Fatalf("%s: %v", s.Name, err)
			}
			if _, err := db.ExecContext(mctx, "INSERT INTO "+shapeTable+" VALUES (?)", want); err != nil {
				tb.Fatalf("%s: %v", s.Name, err)
			}
		}
	}
	tb.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if !pooled || shape(ctx, tb, admin, name) != want {
			drop()
		}
		lock.Close() // releases the lock
		admin.Close()
	})
	return db, cfg
}

// poolSize bounds the pooled databases of one schema on a server.
const poolSize = 16

// shapeTable holds a pooled database's schema shape as migrated.
const shapeTable = "dbtest_pool_shape"

// fingerprint names the migrations' content (and the db-sync views').
func fingerprint(tb testing.TB) string {
	ms, err := schema.Migrations()
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s\n", m.Version, strings.Join(m.Statements, ";\n"))
	}
	fmt.Fprint(h, strings.Join(schema.DBSyncViews(), ";\n"))
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// reuse opens the pooled database name if it is there, migrated, with the
// shape it had then, and empties it (rows and, on TiDB, statistics); otherwise it returns nil.
func (s Server) reuse(ctx context.Context, tb testing.TB, admin *sql.DB, name string) (*sql.DB, string) {
	tb.Helper()
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", name, shapeTable).Scan(&n); err != nil || n == 0 {
		return nil, ""
	}
	var want string
	if err := admin.QueryRowContext(ctx, "SELECT shape FROM `"+name+"`."+shapeTable).Scan(&want); err != nil || shape(ctx, tb, admin, name) != want {
		return nil, ""
	}
	rows, err := admin.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", name)
	if err != nil {
		tb.Fatalf("%s: list tables of %s: %v", s.Name, name, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			tb.Fatal(err)
		}
		if t != "schema_migrations" && t != shapeTable {
			tables = append(tables, t)
		}
	}
	rows.Close()
	db := s.connect(tb, name)
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, "DELETE FROM `"+t+"`"); err != nil {
			tb.Fatalf("%s: empty %s.%s: %v", s.Name, name, t, err)
		}
		// A fresh table has no statistics; an emptied one keeps those of an
		// earlier test's rows (TiDB's auto-analyze), and plans would differ
		// with them.
		if s.Name == "tidb" {
			if _, err := db.ExecContext(ctx, "DROP STATS `"+t+"`"); err != nil {
				tb.Fatalf("%s: drop the statistics of %s.%s: %v", s.Name, name, t, err)
			}
		}
	}
	return db, want
}

// shape hashes a database's tables, columns and indexes, and its db-sync
// views' names.
func shape(ctx context.Context, tb testing.TB, admin *sql.DB, name string) string {
	tb.Helper()
	h := sha256.New()
	for _, q := range []string{
		"SELECT CONCAT_WS(' ', table_name, column_name, column_type, is_nullable, IFNULL(column_default, '')) FROM information_schema.columns WHERE table_schema = ? AND table_name <> '" + shapeTable + "' ORDER BY table_name, ordinal_position",
		"SELECT CONCAT_WS(' ', table_name, index_name, seq_in_index, column_name) FROM information_schema.statistics WHERE table_schema = ? ORDER BY table_name, index_name, seq_in_index",
		"SELECT table_name FROM information_schema.tables WHERE table_schema = CONCAT(?, '_dbsync') ORDER BY table_name",
	} {
		rows, err := admin.QueryContext(ctx, q, name)
		if err != nil {
			tb.Fatalf("shape of %s: %v", name, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintln(h, line)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dropOtherPools drops, once per process and server, pooled databases of
// other schemas that no test holds (left by earlier versions of the code).
func dropOtherPools(ctx context.Context, tb testing.TB, s Server, admin *sql.DB, lock *sql.Conn, fp string) {
	tb.Helper()
	if _, done := droppedPools.LoadOrStore(s.Name+s.Host+s.Port, true); done {
		return
	}
	rows, err := admin.QueryContext(ctx, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'nectar\\_pool\\_%' AND schema_name NOT LIKE '%\\_dbsync'")
	if err != nil {
		tb.Fatalf("%s: list pooled databases: %v", s.Name, err)
	}
	var stale []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if !strings.HasPrefix(n, "nectar_pool_"+fp+"_") {
			stale = append(stale, n)
		}
	}
	rows.Close()
	for _, n := range stale {
		var got sql.NullInt64
		if err := lock.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", n).Scan(&got); err != nil || got.Int64 != 1 {
			continue
		}
		for _, d := range []string{schema.DBSyncDatabase(n), n} {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+d+"`"); err != nil {
				tb.Logf("%s: drop stale pooled database %s: %v", s.Name, d, err)
			}
		}
		_, _ = lock.ExecContext(ctx, "DO RELEASE_LOCK(?)", n)
	}
}

var droppedPools sync.Map

func (s Server) connect(tb testing.TB, database string) *sql.DB {
	tb.Helper()
	return OpenConfig(tb, s.Config(tb, database))
}

// OpenConfig opens a pool with cfg (a Server's Config, perhaps pointed at a
// proxy), checks that it connects, and closes it when the test ends.
func OpenConfig(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatalf("connector for %s: %v", cfg.Addr, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(8)
	db.SetConnMaxLifetime(5 * time.Minute)
	tb.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("%s: %v", cfg.Addr, err)
	}
	return db
}

// Each runs f as a subtest for every configured server.
func Each(t *testing.T, f func(t *testing.T, s Server)) {
	t.Helper()
	for _, s := range Servers(t) {
		t.Run(s.Name, func(t *testing.T) { f(t, s) })
	}
}
