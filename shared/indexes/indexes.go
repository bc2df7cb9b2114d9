// Package indexes builds the query indexes (schema.QueryIndexes) after the
// history backfill and reports them.
//
// Create builds the missing ones, one at a time: on TiDB with its fast
// index build (tidb_ddl_enable_fast_reorg, ingest mode, with
// tidb_ddl_reorg_worker_cnt workers), on MariaDB/MySQL with a plain ALTER
// TABLE … ADD INDEX (online in InnoDB). It is resumable: an index already
// present is skipped, a build already running (a TiDB DDL job, a MariaDB
// ALTER in the process list, e.g. left by a Create that was killed or whose
// connection was cut) is waited for, and running Create again after a crash
// finishes the rest. Status says, for each index, present, building (with
// the rows done) or missing.
package indexes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/schema"
)

// Defaults for Options.
const (
	// DefaultWorkers is TiDB's tidb_ddl_reorg_worker_cnt for a build: the
	// backfill's concurrency on the TiDB side (its own default is 4).
	DefaultWorkers = 8
	// DefaultPoll is how often a running build's progress is read and logged.
	DefaultPoll = 10 * time.Second
	// maxAttempts bounds the ALTERs issued for one index whose build keeps
	// ending without it (a cancelled DDL job).
	maxAttempts = 3
)

// Options configure a Builder.
type Options struct {
	// Indexes to build and report (default schema.QueryIndexes).
	Indexes []schema.Index
	// Workers is TiDB's tidb_ddl_reorg_worker_cnt (default DefaultWorkers);
	// where the server does not let a session set it (TiDB Cloud Starter),
	// its own value applies.
	Workers int
	// Poll is how often progress is read while a build runs (default DefaultPoll).
	Poll   time.Duration
	Logger *slog.Logger
}

// State is where an index stands.
type State string

// States of an index.
const (
	Missing  State = "missing"
	Building State = "building"
	Present  State = "present"
)

// Status is one index and where it stands.
type Status struct {
	schema.Index
	State State
	// Have is the present index's columns as the database reports them,
	// when they differ from Columns.
	Have []string
	// While building: the TiDB DDL job, the rows it has indexed (its
	// ROW_COUNT) and its mode (its comments, e.g. "ingest"); on MariaDB the
	// ALTER's progress in percent. Started is when the build started.
	JobID    int64
	Rows     int64
	Percent  float64
	Mode     string
	Started  time.Time
	building *build
}

// String is one line for `nectar indexes status`.
func (s Status) String() string {
	out := fmt.Sprintf("%-36s %-22s %-40s %s", s.Name, s.Table, "("+strings.Join(s.Columns, ", ")+")", s.State)
	switch {
	case s.State == Present && s.Have != nil:
		out += fmt.Sprintf(" with other columns (%s): drop it and create it again", strings.Join(s.Have, ", "))
	case s.State == Building:
		var parts []string
		if s.JobID != 0 {
			parts = append(parts, fmt.Sprintf("DDL job %d", s.JobID), fmt.Sprintf("%d rows", s.Rows))
		} else {
			parts = append(parts, fmt.Sprintf("%.1f%%", s.Percent))
		}
		if !s.Started.IsZero() {
			parts = append(parts, "for "+time.Since(s.Started).Round(time.Second).String())
		}
		if s.Mode != "" {
			parts = append(parts, s.Mode)
		}
		out += ": " + strings.Join(parts, ", ")
	}
	return out
}

// Result is what Create did about one index.
type Result struct {
	schema.Index
	// Action: "present" (skipped), "created", or "waited" (a build already
	// running finished it).
	Action string
	// Rows is the table's row count as the server estimates it when the
	// build started (TiDB: the rows the DDL job indexed, when it says).
	Rows    int64
	Elapsed time.Duration
	Mode    string
}

// Builder builds and reports the query indexes of one database.
type Builder struct {
	db     *sql.DB
	opts   Options
	log    *slog.Logger
	engine engine
}

type engine int

const (
	unknown engine = iota
	tidb
	mariadb
	mysqlEngine
)

// New returns a Builder over db with opts' defaults filled in.
func New(db *sql.DB, opts Options) *Builder {
	if opts.Indexes == nil {
		opts.Indexes = schema.QueryIndexes
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Builder{db: db, opts: opts, log: opts.Logger}
}

func (b *Builder) detect(ctx context.Context) error {
	if b.engine != unknown {
		return nil
	}
	var v string
	if err := b.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	switch {
	case strings.Contains(v, "TiDB"):
		b.engine = tidb
	case strings.Contains(v, "MariaDB"):
		b.engine = mariadb
	default:
		b.engine = mysqlEngine
	}
	return nil
}

// Status reports every index, in the order of Options.Indexes.
func (b *Builder) Status(ctx context.Context) ([]Status, error) {
	if err := b.detect(ctx); err != nil {
		return nil, err
	}
	have, err := b.present(ctx)
	if err != nil {
		return nil, err
	}
	running, err := b.running(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(b.opts.Indexes))
	for i, ix := range b.opts.Indexes {
		out[i] = b.status(ix, have, running)
	}
	return out, nil
}

func (b *Builder) status(ix schema.Index, have map[key][]string, running []build) Status {
	s := Status{Index: ix, State: Missing}
	if cols, ok := have[key{ix.Table, ix.Name}]; ok {
		s.State = Present
		if !slices.Equal(cols, normalColumns(ix.Columns)) {
			s.Have = cols
		}
		return s
	}
	for i := range running {
		r := &running[i]
		if r.table == ix.Table && mentions(r.query, ix.Name) {
			s.State, s.JobID, s.Rows, s.Percent, s.Mode, s.Started, s.building = Building, r.jobID, r.rows, r.percent, r.mode, r.started, r
			break
		}
	}
	return s
}

type key struct{ table, index string }

// present returns the columns of every secondary index of the database,
// written as Index.Columns writes them.
func (b *Builder) present(ctx context.Context) (map[key][]string, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`)
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	out := map[key][]string{}
	for rows.Next() {
		var t, i, c string
		var sub sql.NullInt64
		if err := rows.Scan(&t, &i, &c, &sub); err != nil {
			return nil, fmt.Errorf("read indexes: %w", err)
		}
		if sub.Valid {
			c += "(" + strconv.FormatInt(sub.Int64, 10) + ")"
		}
		k := key{strings.ToLower(t), strings.ToLower(i)}
		out[k] = append(out[k], strings.ToLower(c))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	return out, nil
}

func normalColumns(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = strings.ToLower(strings.ReplaceAll(c, " ", ""))
	}
	return out
}

// build is an index build the server is running.
type build struct {
	table   string
	query   string
	jobID   int64
	rows    int64
	percent float64
	mode    string
	started time.Time
}

// running lists the index builds the server is running on this database:
// TiDB's unfinished DDL jobs, MariaDB's and MySQL's ALTER statements.
func (b *Builder) running(ctx context.Context) ([]build, error) {
	var db string
	if err := b.db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
		return nil, fmt.Errorf("read database name: %w", err)
	}
	if b.engine == tidb {
		return b.runningJobs(ctx, db)
	}
	return b.runningAlters(ctx)
}

// finished are the states of a TiDB DDL job that is over.
var finished = []string{"synced", "cancelled", "rollback done"}

func (b *Builder) runningJobs(ctx context.Context, db string) ([]build, error) {
	// ADMIN SHOW DDL JOBS lists every running job (and the newest history
	// ones, which the WHERE leaves out); information_schema.DDL_JOBS reads
	// the whole history and is slow. ADMIN takes no placeholders: the
	// database name is quoted as a literal.
	q := "ADMIN SHOW DDL JOBS 1 WHERE DB_NAME = " + quoteString(db) + " AND STATE NOT IN ('" + strings.Join(finished, "','") + "')"
	rows, err := b.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("admin show ddl jobs: %w", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("admin show ddl jobs: %w", err)
	}
	var out []build
	for _, j := range jobs {
		if !strings.Contains(j.jobType, "index") && !strings.Contains(j.jobType, "multi") {
			continue
		}
		var query string
		if err := b.db.QueryRowContext(ctx, "ADMIN SHOW DDL JOB QUERIES "+strconv.FormatInt(j.jobID, 10)).Scan(&query); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue // finished meanwhile
			}
			return nil, fmt.Errorf("admin show ddl job queries %d: %w", j.jobID, err)
		}
		j.query = query
		out = append(out, j.build)
	}
	return out, nil
}

type job struct {
	build
	jobType string
}

// scanJobs reads ADMIN SHOW DDL JOBS by column name: its columns vary
// between TiDB versions.
func scanJobs(rows *sql.Rows) ([]job, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []job
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var j job
		for i, c := range cols {
			v := vals[i].String
			switch strings.ToUpper(c) {
			case "JOB_ID":
				j.jobID, _ = strconv.ParseInt(v, 10, 64)
			case "TABLE_NAME":
				j.table = strings.ToLower(v)
			case "JOB_TYPE":
				j.jobType = strings.ToLower(v)
			case "ROW_COUNT":
				j.rows, _ = strconv.ParseInt(v, 10, 64)
			case "COMMENTS":
				j.mode = v
			case "START_TIME":
				if t, err := time.Parse("2006-01-02 15:04:05.000000", v); err == nil {
					j.started = t
				}
			}
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (b *Builder) runningAlters(ctx context.Context) ([]build, error) {
	progress := "0"
	if b.engine == mariadb {
		progress = "PROGRESS"
	}
	rows, err := b.db.QueryContext(ctx, `SELECT INFO, TIME, `+progress+` FROM information_schema.PROCESSLIST
WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("read process list: %w", err)
	}
	defer rows.Close()
	var out []build
	for rows.Next() {
		var info string
		var secs int64
		var pct float64
		if err := rows.Scan(&info, &secs, &pct); err != nil {
			return nil, fmt.Errorf("read process list: %w", err)
		}
		m := alterTable.FindStringSubmatch(info)
		if m == nil {
			continue
		}
		out = append(out, build{table: strings.ToLower(m[1]), query: info, percent: pct,
			started: time.Now().Add(-time.Duration(secs) * time.Second)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read process list: %w", err)
	}
	return out, nil
}

var alterTable = regexp.MustCompile("(?is)^\\s*(?:ALTER\\s+TABLE|CREATE\\s+INDEX\\s+\\S+\\s+ON)\\s+`?([A-Za-z0-9_$]+)`?")

// mentions reports whether query names the identifier name.
func mentions(query, name string) bool {
	re, err := regexp.Compile("(?i)(^|[^A-Za-z0-9_$])" + regexp.QuoteMeta(name) + "([^A-Za-z0-9_$]|$)")
	return err == nil && re.MatchString(query)
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// DDL is the statement that adds ix.
func DDL(ix schema.Index) string {
	cols := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		name, prefix, _ := strings.Cut(c, "(")
		cols[i] = "`" + strings.TrimSpace(name) + "`"
		if prefix != "" {
			cols[i] += "(" + prefix
		}
	}
	return "ALTER TABLE `" + ix.Table + "` ADD INDEX IF NOT EXISTS `" + ix.Name + "` (" + strings.Join(cols, ", ") + ")"
}

// IndexError is a failure to build one index.
type IndexError struct {
	Index schema.Index
	Err   error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("index %s on %s (%s): %v", e.Index.Name, e.Index.Table, strings.Join(e.Index.Columns, ", "), e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

// Create builds every missing index, one at a time, and returns what it did
// about each. A failure stops it with an *IndexError naming the index and
// its table; what was built stays, and running Create again finishes the rest.
func (b *Builder) Create(ctx context.Context) ([]Result, error) {
	if err := b.detect(ctx); err != nil {
		return nil, err
	}
	if b.engine == tidb {
		b.checkFastReorg(ctx)
	}
	var out []Result
	for _, ix := range b.opts.Indexes {
		r, err := b.create(ctx, ix)
		if err != nil {
			return out, &IndexError{Index: ix, Err: err}
		}
		out = append(out, r)
	}
	return out, nil
}

// checkFastReorg logs whether TiDB builds indexes in ingest mode, and turns
// it on where it is off and the user may (TiDB Cloud Starter manages it).
func (b *Builder) checkFastReorg(ctx context.Context) {
	var name, v string
	if err := b.db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'tidb_ddl_enable_fast_reorg'").Scan(&name, &v); err != nil {
		b.log.Warn("read tidb_ddl_enable_fast_reorg", "err", err)
		return
	}
	if strings.EqualFold(v, "ON") || v == "1" {
		return
	}
	if _, err := b.db.ExecContext(ctx, "SET GLOBAL tidb_ddl_enable_fast_reorg = ON"); err != nil {
		b.log.Warn("TiDB's fast index build (tidb_ddl_enable_fast_reorg) is off and cannot be turned on: indexes build in the slower transactional mode", "err", err)
		return
	}
	b.log.Info("turned on TiDB's fast index build (SET GLOBAL tidb_ddl_enable_fast_reorg = ON)")
}

func (b *Builder) one(ctx context.Context, ix schema.Index) (Status, error) {
	have, err := b.present(ctx)
	if err != nil {
		return Status{}, err
	}
	running, err := b.running(ctx)
	if err != nil {
		return Status{}, err
	}
	return b.status(ix, have, running), nil
}

func (b *Builder) create(ctx context.Context, ix schema.Index) (Result, error) {
	start := time.Now()
	res := Result{Index: ix, Action: "present"}
	for attempt := 0; ; {
		s, err := b.one(ctx, ix)
		if err != nil {
			return res, err
		}
		switch s.State {
		case Present:
			if s.Have != nil {
				return res, fmt.Errorf("present with other columns (%s): drop it (ALTER TABLE %s DROP INDEX %s) and run again",
					strings.Join(s.Have, ", "), ix.Table, ix.Name)
			}
			if res.Action == "present" {
				b.log.Info("index present", "index", ix.Name, "table", ix.Table)
				return res, nil
			}
			res.Elapsed = time.Since(start)
			b.log.Info("index built", "index", ix.Name, "table", ix.Table, "rows", res.Rows,
				"elapsed", res.Elapsed.Round(time.Millisecond), "how", res.Action, "mode", res.Mode)
			return res, nil
		case Building:
			if res.Action == "present" {
				res.Action = "waited"
			}
			b.log.Info("index build already running: waiting for it", "index", ix.Name, "table", ix.Table,
				"job", s.JobID, "rows", s.Rows, "started", s.Started)
			if err := b.wait(ctx, ix); err != nil {
				return res, err
			}
		case Missing:
			if attempt == maxAttempts {
				return res, fmt.Errorf("%d builds ended without the index (on TiDB see ADMIN SHOW DDL JOBS)", attempt)
			}
			attempt++
			res.Action = "created"
			if err := b.alter(ctx, ix, &res); err != nil {
				return res, err
			}
		}
	}
}

// wait polls until ix is no longer being built, logging its progress.
func (b *Builder) wait(ctx context.Context, ix schema.Index) error {
	t := time.NewTicker(b.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		s, err := b.one(ctx, ix)
		if err != nil {
			return err
		}
		if s.State != Building {
			return nil
		}
		b.logProgress(s)
	}
}

func (b *Builder) logProgress(s Status) {
	attrs := []any{"index", s.Name, "table", s.Table}
	if s.JobID != 0 {
		attrs = append(attrs, "job", s.JobID, "rows", s.Rows)
	} else {
		attrs = append(attrs, "percent", s.Percent)
	}
	if !s.Started.IsZero() {
		attrs = append(attrs, "elapsed", time.Since(s.Started).Round(time.Second))
	}
	b.log.Info("index building", attrs...)
}

// alter runs ix's DDL on a connection of its own while progress is polled
// on others. A connection that breaks (a read timeout, the gateway's 30
// minute cut) does not stop the build on the server: the caller looks for
// it again and waits.
func (b *Builder) alter(ctx context.Context, ix schema.Index, res *Result) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if b.engine == tidb {
		if _, err := conn.ExecContext(ctx, "SET SESSION tidb_ddl_reorg_worker_cnt = "+strconv.Itoa(b.opts.Workers)); err != nil {
			b.log.Debug("set tidb_ddl_reorg_worker_cnt", "err", err)
		}
	}
	var est sql.NullInt64
	_ = b.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", ix.Table).Scan(&est)
	res.Rows = est.Int64
	b.log.Info("building index", "index", ix.Name, "table", ix.Table, "columns", strings.Join(ix.Columns, ","), "table_rows_estimate", est.Int64)
	done := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(ctx, DDL(ix))
		done <- err
	}()
	t := time.NewTicker(b.opts.Poll)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			var me *mysql.MySQLError
			switch {
			case err == nil:
			case errors.As(err, &me) && me.Number == 1061: // duplicate key name: another build made it
			case errors.As(err, &me):
				return fmt.Errorf("%s: %w", DDL(ix), err)
			case ctx.Err() != nil:
				return ctx.Err()
			default:
				b.log.Warn("the connection building the index failed: looking for the build on the server", "index", ix.Name, "table", ix.Table, "err", err)
			}
			if b.engine == tidb {
				b.lastJob(ctx, ix, res)
			}
			return nil
		case <-t.C:
			if s, err := b.one(ctx, ix); err == nil && s.State == Building {
				b.logProgress(s)
				if s.JobID != 0 {
					res.Rows, res.Mode = s.Rows, s.Mode
				}
			}
		}
	}
}

// lastJob fills in the rows and mode of the finished DDL job that built ix.
func (b *Builder) lastJob(ctx context.Context, ix schema.Index, res *Result) {
	var db string
	if err := b.db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
		return
	}
	rows, err := b.db.QueryContext(ctx, "ADMIN SHOW DDL JOBS 20 WHERE DB_NAME = "+quoteString(db)+" AND TABLE_NAME = "+quoteString(ix.Table))
	if err != nil {
		return
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return
	}
	for _, j := range jobs {
		if !strings.Contains(j.jobType, "index") {
			continue
		}
		var q string
		if err := b.db.QueryRowContext(ctx, "ADMIN SHOW DDL JOB QUERIES "+strconv.FormatInt(j.jobID, 10)).Scan(&q); err != nil || !mentions(q, ix.Name) {
			continue
		}
		res.Rows, res.Mode = j.rows, j.mode
		return
	}
}
