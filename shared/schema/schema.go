// Package schema holds Nectar's versioned SQL migrations, embedded in the
// binary, and applies them in order, recording each in schema_migrations.
// Applying them again is a no-op. The same DDL runs on TiDB and MySQL/MariaDB:
// TiDB-only options sit in /*T![feature] ... */ comments.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql dbsync/views.sql
var files embed.FS

// Migration is one versioned SQL file.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	var out []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: file name must start with a version number", base)
		}
		raw, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: v, Name: base, Statements: splitStatements(string(raw))})
	}
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// splitStatements splits a migration on semicolons that end a line, dropping
// "--" comment lines. Migrations keep one statement per semicolon-terminated block.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate applies every migration not yet recorded in schema_migrations and
// returns the versions it applied. DDL is not transactional on TiDB or MySQL,
// so each statement is idempotent (IF NOT EXISTS) and a migration is recorded
// only after all its statements ran: an interrupted run is safe to repeat.
func Migrate(ctx context.Context, db *sql.DB, log *slog.Logger) ([]int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INT NOT NULL PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	var database string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return nil, fmt.Errorf("read database name: %w", err)
	}
	names := strings.NewReplacer("{{db}}", database, "{{dbsync}}", DBSyncDatabase(database))
	var applied []int
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if strings.Contains(stmt, "{{") {
				if database == "" || strings.ContainsAny(database, "`") {
					return applied, fmt.Errorf("migration %s: the connection names no usable database (%q)", m.Name, database)
				}
				stmt = names.Replace(stmt)
			}
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name); err != nil {
			return applied, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		log.Info("applied migration", "version", m.Version, "name", m.Name)
		applied = append(applied, m.Version)
	}
	if err := ensureDBSyncViews(ctx, db, database, len(applied) > 0, log); err != nil {
		return applied, err
	}
	return applied, nil
}

// ensureDBSyncViews creates (or replaces) the views of the db-sync-named
// database (dbsync/views.sql) when a migration was just applied, or when
// that database lacks any of them (it was dropped, or a run was
// interrupted): Migrate keeps them. A release that changes a view ships a
// migration too, so that every database replaces it. The views are DDL
// (a schema change each on TiDB): a run with nothing to do reads
// information_schema once and changes nothing.
func ensureDBSyncViews(ctx context.Context, db *sql.DB, database string, force bool, log *slog.Logger) error {
	raw, err := files.ReadFile("dbsync/views.sql")
	if err != nil {
		return fmt.Errorf("read db-sync views: %w", err)
	}
	if database == "" || strings.ContainsAny(database, "`") {
		return fmt.Errorf("db-sync views: the connection names no usable database (%q)", database)
	}
	stmts := splitStatements(string(raw))
	views := 0
	for _, s := range stmts {
		if strings.HasPrefix(s, "CREATE OR REPLACE VIEW") {
			views++
		}
	}
	dbsync := DBSyncDatabase(database)
	if !force {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = ?", dbsync).Scan(&n); err != nil {
			return fmt.Errorf("count db-sync views: %w", err)
		}
		if n == views {
			return nil
		}
	}
	names := strings.NewReplacer("{{db}}", database, "{{dbsync}}", dbsync)
	for i, s := range stmts {
		if _, err := db.ExecContext(ctx, names.Replace(s)); err != nil {
			return fmt.Errorf("db-sync views statement %d: %w", i+1, err)
		}
	}
	log.Info("created db-sync views", "database", dbsync, "views", views)
	return nil
}

// DBSyncViews lists the views of the db-sync-named database, in creation order.
func DBSyncViews() []string {
	raw, _ := files.ReadFile("dbsync/views.sql")
	var out []string
	for _, s := range splitStatements(string(raw)) {
		if rest, ok := strings.CutPrefix(s, "CREATE OR REPLACE VIEW `{{dbsync}}`.`"); ok {
			out = append(out, rest[:strings.IndexByte(rest, '`')])
		}
	}
	return out
}

// DBSyncDatabase is the name of the database that holds the db-sync-named
// views over database's tables (migration 0005): database + "_dbsync".
// Migrations write {{db}} and {{dbsync}} where these names go.
func DBSyncDatabase(database string) string { return database + "_dbsync" }
