// Package dbtest gives tests real databases: the TiDB and MariaDB servers
// that infra/local/services.sh starts on loopback with TLS. Each test gets a
// fresh, migrated database of its own, dropped when the test ends.
//
// When a server is not configured, tests fail under CI=true and skip loudly
// elsewhere.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
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

// Open creates a fresh database on the server, migrates it, and returns a pool
// bound to it. The database is dropped when the test ends.
func (s Server) Open(tb testing.TB) (*sql.DB, *mysql.Config) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "nectar_test_" + hex.EncodeToString(rnd[:])
	admin := s.connect(tb, "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		tb.Fatalf("%s: create database: %v", s.Name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range []string{schema.DBSyncDatabase(name), name} {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+n+"`"); err != nil {
				tb.Errorf("%s: drop database %s: %v", s.Name, n, err)
			}
		}
		admin.Close()
	})
	cfg := s.Config(tb, name)
	db := s.connect(tb, name)
	tb.Cleanup(func() { db.Close() })
	// A shared local TiDB runs the DDL of every test's migrations one job at
	// a time (an ALTER adding three columns took 2.5 s with three databases
	// migrating at once): migrating takes minutes when many tests start at once.
	mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer mcancel()
	if _, err := schema.Migrate(mctx, db, nil); err != nil {
		tb.Fatalf("%s: migrate: %v", s.Name, err)
	}
	return db, cfg
}

func (s Server) connect(tb testing.TB, database string) *sql.DB {
	tb.Helper()
	conn, err := mysql.NewConnector(s.Config(tb, database))
	if err != nil {
		tb.Fatalf("%s: connector: %v", s.Name, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(8)
	db.SetConnMaxLifetime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("%s at %s:%s: %v", s.Name, s.Host, s.Port, err)
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
