package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// What TiDB itself recorded about the statements run in one database, read
// from its statement summary (information_schema.statements_summary_history:
// one row per statement digest and time window of
// tidb_stmt_summary_refresh_interval, the current window included, keyed by
// the session's database), and what TiDB Cloud Starter charges for it. The benchmarks that report request units run each case in a database
// of its own, so a database's rows are that case's statements.

// Statements sums the statement summary rows of one database.
type Statements struct {
	Executions int64
	// Commits counts executions of COMMIT: explicit transactions. An
	// autocommit statement commits inside its own execution.
	Commits int64
	// WriteBytes and WriteKeys are the key-value bytes (keys and values of
	// the committed mutations, indexes included) and keys the transactions
	// wrote: TiDB's write size, recorded on the statement that commits.
	WriteBytes, WriteKeys float64
	// CommitWriteBytes is the part of WriteBytes committed by COMMIT.
	CommitWriteBytes float64
	// WriteRU and ReadRU are TiDB's own request units (its resource
	// control model with the default costs, on the replicas it wrote: one
	// on the local unistore TiDB): per write RPC 1 + 0.7 (batch) + 1 per KiB
	// written; per read RPC 1/8 + 0.35, 1 per 64 KiB read and 1 per 3 ms of
	// TiKV CPU.
	WriteRU, ReadRU float64
	// SQLTime is TiDB's time outside the storage layer: latency minus time
	// waiting for TiKV (2PC phases, KV requests), PD and backoffs. It bounds
	// the SQL CPU from above: on a busy machine it includes time waiting for
	// a core.
	SQLTime time.Duration
	// Latency is the statements' time, as the client waited for them.
	Latency time.Duration
	// ParseCompile is TiDB's time parsing and compiling the statements: CPU
	// alone, a lower bound of the SQL CPU.
	ParseCompile time.Duration
	// KVCPU is TiKV's CPU time for reads (unistore's, in process).
	KVCPU time.Duration
	// ResultRows are the rows returned to the client.
	ResultRows float64
}

// Add adds o to s.
func (s *Statements) Add(o Statements) {
	s.Executions += o.Executions
	s.Commits += o.Commits
	s.WriteBytes += o.WriteBytes
	s.WriteKeys += o.WriteKeys
	s.CommitWriteBytes += o.CommitWriteBytes
	s.WriteRU += o.WriteRU
	s.ReadRU += o.ReadRU
	s.SQLTime += o.SQLTime
	s.ParseCompile += o.ParseCompile
	s.Latency += o.Latency
	s.KVCPU += o.KVCPU
	s.ResultRows += o.ResultRows
}

// Sub returns s minus o: what happened between two readings.
func (s Statements) Sub(o Statements) Statements {
	return Statements{Executions: s.Executions - o.Executions, Commits: s.Commits - o.Commits,
		WriteBytes: s.WriteBytes - o.WriteBytes, WriteKeys: s.WriteKeys - o.WriteKeys,
		CommitWriteBytes: s.CommitWriteBytes - o.CommitWriteBytes, WriteRU: s.WriteRU - o.WriteRU,
		ReadRU: s.ReadRU - o.ReadRU, SQLTime: s.SQLTime - o.SQLTime, ParseCompile: s.ParseCompile - o.ParseCompile, Latency: s.Latency - o.Latency, KVCPU: s.KVCPU - o.KVCPU,
		ResultRows: s.ResultRows - o.ResultRows}
}

// summaryColumns reads one summary row's sums (the table stores averages).
const summaryColumns = `stmt_type, COALESCE(table_names, ''), exec_count,
	exec_count * avg_write_size, exec_count * avg_write_keys,
	exec_count * avg_request_unit_write, exec_count * avg_request_unit_read,
	exec_count * GREATEST(0, CAST(avg_latency AS SIGNED) - CAST(avg_kv_time AS SIGNED) - CAST(avg_pd_time AS SIGNED)
		- CAST(avg_backoff_total_time AS SIGNED) - CAST(avg_prewrite_time AS SIGNED) - CAST(avg_commit_time AS SIGNED)
		- CAST(avg_get_commit_ts_time AS SIGNED) - CAST(avg_resolve_lock_time AS SIGNED) - CAST(avg_local_latch_wait_time AS SIGNED)),
	exec_count * (avg_parse_latency + avg_compile_latency), sum_latency, exec_count * avg_tikv_cpu_time, exec_count * avg_result_rows`

// SummaryRow is one digest's sums in one window; Tables is TiDB's
// table_names ("db.table,db.table").
type SummaryRow struct {
	Key      string // the window, digest, plan and (for COMMIT) previous statement
	StmtType string
	Tables   string
	Statements
}

// Summary reads the statement summary rows of database schema, from every
// window the history keeps (tidb_stmt_summary_history_size), the current one
// included.
func Summary(ctx context.Context, db *sql.DB, schema string) ([]SummaryRow, error) {
	rows, err := db.QueryContext(ctx, "SELECT CONCAT_WS('/', summary_begin_time, digest, plan_digest, COALESCE(prev_sample_text, ''), resource_group), "+
		summaryColumns+" FROM information_schema.statements_summary_history WHERE schema_name = ?", schema)
	if err != nil {
		return nil, fmt.Errorf("read statements_summary_history: %w", err)
	}
	defer rows.Close()
	var out []SummaryRow
	for rows.Next() {
		var r SummaryRow
		var sqlNs, pcNs, latNs, kvNs float64
		if err := rows.Scan(&r.Key, &r.StmtType, &r.Tables, &r.Executions, &r.WriteBytes, &r.WriteKeys, &r.WriteRU, &r.ReadRU,
			&sqlNs, &pcNs, &latNs, &kvNs, &r.ResultRows); err != nil {
			return nil, fmt.Errorf("read statements_summary_history: %w", err)
		}
		r.SQLTime, r.ParseCompile, r.Latency, r.KVCPU = time.Duration(sqlNs), time.Duration(pcNs), time.Duration(latNs), time.Duration(kvNs)
		if strings.EqualFold(r.StmtType, "Commit") {
			r.Commits = r.Executions
			r.CommitWriteBytes = r.WriteBytes
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read statements_summary_history: %w", err)
	}
	return out, nil
}

// Snapshot is a reading of one database's statement summary, by row.
type Snapshot map[string]SummaryRow

// Snap reads the statement summary of database schema.
func Snap(ctx context.Context, db *sql.DB, schema string) (Snapshot, error) {
	rows, err := Summary(ctx, db, schema)
	s := Snapshot{}
	for _, r := range rows {
		s[r.Key] = r
	}
	return s, err
}

// Since returns what the rows of s added after the reading before. A row
// TiDB evicted between the readings (the summary holds
// tidb_stmt_summary_max_stmt_count rows for all databases) counts nothing,
// and one evicted after changing loses its change: RaiseSummaryCapacity
// before measuring.
func (s Snapshot) Since(before Snapshot) Statements {
	var t Statements
	for k, r := range s {
		if b, ok := before[k]; ok {
			t.Add(r.Statements.Sub(b.Statements))
		} else {
			t.Add(r.Statements)
		}
	}
	return t
}

// Total reads the sums of every statement run in database schema.
func Total(ctx context.Context, db *sql.DB, schema string) (Statements, error) {
	s, err := Snap(ctx, db, schema)
	return s.Since(nil), err
}

// SummaryCapacity is the statement summary size the cost benchmarks need on
// a TiDB shared by test suites, each database with its own rows.
const SummaryCapacity = 20000

// RaiseSummaryCapacity raises tidb_stmt_summary_max_stmt_count to
// SummaryCapacity where it is lower, so that the rows a benchmark reads are
// not evicted while it runs (only more is kept: nothing else changes). It
// returns the capacity before.
func RaiseSummaryCapacity(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT @@global.tidb_stmt_summary_max_stmt_count").Scan(&n); err != nil {
		return 0, fmt.Errorf("read tidb_stmt_summary_max_stmt_count: %w", err)
	}
	if n < SummaryCapacity {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL tidb_stmt_summary_max_stmt_count = %d", SummaryCapacity)); err != nil {
			return n, fmt.Errorf("raise tidb_stmt_summary_max_stmt_count: %w", err)
		}
	}
	return n, nil
}

// Evicted returns how many digests TiDB evicted from the statement summary
// since the given time (tidb_stmt_summary_max_stmt_count was reached: the
// evicted statements are summed under no database, and a Summary misses
// them).
func Evicted(ctx context.Context, db *sql.DB, since time.Time) (int64, error) {
	var n sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT SUM(evicted_count) FROM information_schema.statements_summary_evicted WHERE end_time >= ?",
		since.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read statements_summary_evicted: %w", err)
	}
	return n.Int64, nil
}

// TiDB Cloud Starter's request units, by its pricing page
// (https://www.pingcap.com/tidb-cloud-starter-pricing-details/, read
// 2026-12): writes 1 RU per 2 storage write batches, per 2 write requests and
// per 2 KiB of write payload, each times 3 replicas, but per 16 KiB of payload
// in transactions of 16 MiB or more (optimistic or autocommit); reads 1 RU
// per 2 read batches, per 8 read requests and per 64 KiB read; SQL CPU 1 RU
// per 3 ms; egress 1 RU per KiB returned on the public endpoint.
const (
	StarterLargeTxnBytes = 16 << 20
	starterReplicas      = 3
)

// StarterRU is what TiDB Cloud Starter charges for statements TiDB recorded.
type StarterRU struct {
	Write, Read, CPU, Egress float64
	// CPULow is CPU from the lower bound of the SQL CPU (ParseCompile).
	CPULow float64
	// WriteAtSmallRate is what Write would be were no transaction large.
	WriteAtSmallRate float64
}

// Total is every part.
func (r StarterRU) Total() float64 { return r.Write + r.Read + r.CPU + r.Egress }

// Add adds o to r.
func (r *StarterRU) Add(o StarterRU) {
	r.Write += o.Write
	r.Read += o.Read
	r.CPU += o.CPU
	r.Egress += o.Egress
	r.CPULow += o.CPULow
	r.WriteAtSmallRate += o.WriteAtSmallRate
}

// Starter converts what TiDB recorded into Starter's request units.
// largeBytes is the write size of the transactions of StarterLargeTxnBytes
// or more among s (optimistic or autocommit ones only), egressBytes the
// bytes returned to the client.
//
// TiDB's own write RU per write RPC is (1 + 0.7 + b/1 KiB) × r for r replicas
// (1 here); Starter's is (0.5 + 0.35 + b/2 KiB) × 3 = 1.5 × TiDB's. In a large
// transaction the payload part is b/16 KiB × 3 instead of b/2 KiB × 3: 21/16
// RU less per KiB. The payload TiDB's model counts is the mutations' keys
// and values (the write size) plus the keys of the commit requests; taking
// the write size alone for largeBytes leaves those keys at the higher rate,
// so the figure errs high.
func Starter(s Statements, largeBytes, egressBytes float64) StarterRU {
	small := float64(starterReplicas) / 2 * s.WriteRU
	return StarterRU{
		WriteAtSmallRate: small,
		Write:            small - starterReplicas*largeBytes*(1.0/2048-1.0/16384),
		Read:             s.ReadRU,
		CPU:              float64(s.SQLTime) / float64(3*time.Millisecond),
		CPULow:           float64(s.ParseCompile) / float64(3*time.Millisecond),
		Egress:           egressBytes / 1024,
	}
}
