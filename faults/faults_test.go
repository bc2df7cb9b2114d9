// Package faults_test is the part of Nectar's fault suite that needs more
// than one package: each scenario pushes real chain data (disjoint slices of
// the first mainnet Conway chunk, whose blocks fill 25 to 29 of the 39 chain
// tables) through the real ingest path while it injects a
// fault (a TiDB server killed and restarted, connections cut and slowed by
// toxiproxy, a FIFO message failed and retried, the ingest function killed
// under the Lambda runtime emulator), and ends with Store.Verify clean and
// chaindb.Checksums of every chain table equal to a clean pass: the same
// envelopes applied once, in order, through ingest.Applier into a fresh
// database. docs/faults.md lists every fault scenario of the repository.
//
// It needs the local services:
//
//	source "$(infra/local/services.sh env)"  # NECTAR_TEST_TIDB_*, NECTAR_TEST_CA
//	source "$(infra/local/sqs.sh env)"       # NECTAR_TEST_SQS_ENDPOINT
//	source "$(infra/local/lambda.sh env)"    # NECTAR_TEST_RIE
//
// and the tidb-server that services.sh builds (in ${NECTAR_CACHE}/bin).
// Missing, a scenario fails under CI=true and skips loudly elsewhere.
package faults_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

const (
	testdata    = "../testdata"
	conwayChunk = testdata + "/chains/mainnet/06189.chunk" // 1,054 Conway blocks, 6,846 txs
)

// buildDir holds what a run builds (the ingest bootstrap); removed at exit.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nectar-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if s := tally.summary(); s != "" {
		fmt.Println(s)
	}
	os.Exit(code)
}

// tally counts, per scenario, the faults injected, for the closing summary.
var tally faultTally

type faultTally struct {
	mu        sync.Mutex
	scenarios []string
	faults    map[string][]string
}

// injected records one fault of the running scenario (the top-level test).
func injected(tb testing.TB, what string) {
	tb.Helper()
	name, _, _ := strings.Cut(tb.Name(), "/")
	tally.mu.Lock()
	if tally.faults == nil {
		tally.faults = map[string][]string{}
	}
	if _, ok := tally.faults[name]; !ok {
		tally.scenarios = append(tally.scenarios, name)
	}
	tally.faults[name] = append(tally.faults[name], what)
	tally.mu.Unlock()
	tb.Logf("FAULT injected: %s", what)
}

// summary is the closing line: the faults each scenario injected (empty
// when none ran).
func (f *faultTally) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.scenarios) == 0 {
		return ""
	}
	var b strings.Builder
	total := 0
	for _, s := range f.scenarios {
		total += len(f.faults[s])
	}
	fmt.Fprintf(&b, "fault suite: %d scenario(s) injected %d fault(s)", len(f.scenarios), total)
	for _, s := range f.scenarios {
		counts := map[string]int{}
		var kinds []string
		for _, k := range f.faults[s] {
			if counts[k] == 0 {
				kinds = append(kinds, k)
			}
			counts[k]++
		}
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d× %s", counts[k], k))
		}
		fmt.Fprintf(&b, "\n  %s: %s", s, strings.Join(parts, "; "))
	}
	return b.String()
}

// missing fails the test under CI=true and skips it, loudly, elsewhere.
// sharedTiDB is the TiDB of infra/local/services.sh.
func sharedTiDB(tb testing.TB) dbtest.Server {
	tb.Helper()
	for _, s := range dbtest.Servers(tb) {
		if s.Name == "tidb" {
			return s
		}
	}
	testenv.Missing(tb, "TiDB is not configured (NECTAR_TEST_TIDB_HOST/PORT): run `make services`")
	return dbtest.Server{}
}

// testLogger logs to the test's log at level warn and above (the store's
// retries among them); NECTAR_TEST_LOG=1 shows everything.
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("NECTAR_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: level}))
}

// midTxCounter is a slog.Handler that counts the store's retries of a batch
// transaction cut while it was writing (op "apply batch", failed on an
// insert or the commit) and passes every record on.
type midTxCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h midTxCounter) Handle(ctx context.Context, r slog.Record) error {
	var op, msg string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "op":
			op = a.Value.String()
		case "err":
			msg = a.Value.String()
		}
		return true
	})
	if op == "apply batch" && (strings.HasPrefix(msg, "insert ") || strings.HasPrefix(msg, "commit: ")) {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h midTxCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return midTxCounter{h.Handler.WithAttrs(as), h.n}
}

func (h midTxCounter) WithGroup(name string) slog.Handler {
	return midTxCounter{h.Handler.WithGroup(name), h.n}
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ---------------------------------------------------------------- chain data

var conway struct {
	once   sync.Once
	blocks []batch.Block
	err    error
}

// conwayBlocks returns blocks [from, to) of mainnet chunk 06189.
func conwayBlocks(tb testing.TB, from, to int) []batch.Block {
	tb.Helper()
	conway.once.Do(func() { conway.blocks, conway.err = readChunk(conwayChunk) })
	if conway.err != nil {
		tb.Fatal(conway.err)
	}
	if to > len(conway.blocks) {
		tb.Fatalf("want blocks up to %d of %s, it has %d", to, conwayChunk, len(conway.blocks))
	}
	return conway.blocks[from:to]
}

func readChunk(path string) ([]batch.Block, error) {
	blocks, err := immutable.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]batch.Block, len(blocks))
	for i, b := range blocks {
		out[i] = batch.Block{Type: b.Type, CBOR: b.CBOR}
	}
	return out, nil
}

// cut cuts contiguous blocks into envelopes of n blocks, as the follower
// does: each names the previous one's last block, and tip batches after a
// rollback carry its id (after).
func cut(network string, prev, after []byte, raw []batch.Block, n int) []*batch.Envelope {
	var out []*batch.Envelope
	for i := 0; i < len(raw); i += n {
		e := ingesttest.NewBlocks(network, prev, after, raw[i:min(i+n, len(raw))])
		prev = e.Last.Hash
		out = append(out, e)
	}
	return out
}

// blockCount is the number of distinct blocks the envelopes leave in the
// database when applied in order (a rollback removes those above it).
func blockCount(envs []*batch.Envelope) int64 {
	var slots []uint64
	for _, e := range envs {
		switch e.Kind {
		case batch.KindRollback:
			slots = slices.DeleteFunc(slots, func(s uint64) bool { return s > e.Point.Slot })
		case batch.KindBlocks:
			for _, b := range e.Blocks {
				h, err := chain.ReadHeader(b.Type, b.CBOR)
				if err == nil && !slices.Contains(slots, h.Point.Slot) {
					slots = append(slots, h.Point.Slot)
				}
			}
		}
	}
	return int64(len(slots))
}

// ---------------------------------------------------------------- clean pass and end state

// cleanPass applies envs once each, in order, through ingest.Applier into a
// fresh database on srv and returns its checksums: what a scenario must end
// with.
func cleanPass(tb testing.TB, srv dbtest.Server, net chain.Network, envs []*batch.Envelope) map[string]string {
	tb.Helper()
	db, _ := srv.Open(tb)
	a := &ingest.Applier{Net: net, Store: chaindb.New(db, chaindb.Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	for i, e := range envs {
		if _, err := a.Apply(ctx, e); err != nil {
			tb.Fatalf("clean pass, envelope %d: %v", i, err)
		}
	}
	sums, err := chaindb.Checksums(ctx, db)
	if err != nil {
		tb.Fatalf("clean pass: %v", err)
	}
	tb.Logf("clean pass: %d envelopes in %s", len(envs), time.Since(start).Round(time.Millisecond))
	return sums
}

// assertEndState checks what every scenario ends with: verify finds one
// continuous chain of wantBlocks blocks, and every chain table's checksum
// equals the clean pass's.
func assertEndState(tb testing.TB, db *sql.DB, net chain.Network, want map[string]string, wantBlocks int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := chaindb.New(db, chaindb.Options{}).Verify(ctx, net.Name, 10)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	if !r.OK() || r.Blocks != wantBlocks || r.Start == nil {
		tb.Errorf("verify, want OK with %d blocks:\n%s", wantBlocks, r)
	}
	got, err := chaindb.Checksums(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	nonEmpty := 0
	for table, w := range want {
		if got[table] != w {
			tb.Errorf("table %s: %s after the faults, %s in the clean pass (rows:sha256)", table, got[table], w)
		}
		if !strings.HasPrefix(w, "0:") {
			nonEmpty++
		}
	}
	if nonEmpty < 5 {
		tb.Errorf("only %d chain tables hold rows: the scenario's data is too thin to prove anything", nonEmpty)
	}
	if !tb.Failed() {
		tb.Logf("end state: verify OK (%d blocks), %d tables (%d non-empty) equal to the clean pass", r.Blocks, len(want), nonEmpty)
	}
}

// ---------------------------------------------------------------- delivery

// deliveries applies every envelope with several workers, in whatever order
// they take them, as concurrent Lambda invocations of the history queue do.
// An apply that fails goes back on the queue and is redelivered after
// retryAfter (the visibility timeout), at most maxDeliveries times in all.
type deliveries struct {
	Applier       lambdafn.Applies
	Workers       int
	RetryAfter    time.Duration
	MaxDeliveries int
	Log           func(format string, args ...any)

	applied     atomic.Int64 // envelopes applied (or found applied)
	redelivered atomic.Int64
}

// run returns when every envelope is applied, ctx ends, or one has failed
// MaxDeliveries times.
func (d *deliveries) run(ctx context.Context, envs []*batch.Envelope) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan int, len(envs))
	for i := range envs {
		queue <- i
	}
	var (
		mu       sync.Mutex
		attempts = make([]int, len(envs))
		pending  = len(envs)
		failure  error
		done     = make(chan struct{})
	)
	finish := func(err error) {
		// mu held.
		if failure == nil && err != nil {
			failure = err
		}
		if err != nil || pending == 0 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	var wg sync.WaitGroup
	for range d.Workers {
		wg.Go(func() {
			for {
				var i int
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case i = <-queue:
				}
				_, err := d.Applier.Apply(ctx, envs[i])
				mu.Lock()
				attempts[i]++
				n := attempts[i]
				switch {
				case err == nil:
					pending--
					d.applied.Add(1)
					finish(nil)
					mu.Unlock()
					continue
				case n >= d.MaxDeliveries:
					finish(fmt.Errorf("envelope %d failed %d deliveries, the last: %w", i, n, err))
					mu.Unlock()
					return
				}
				mu.Unlock()
				d.redelivered.Add(1)
				if d.Log != nil {
					d.Log("delivery %d of envelope %d failed, redelivering in %s: %v", n, i, d.RetryAfter, err)
				}
				go func() {
					select {
					case <-time.After(d.RetryAfter):
						queue <- i
					case <-ctx.Done():
					}
				}()
			}
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if failure != nil {
		return failure
	}
	if pending > 0 {
		return fmt.Errorf("%d of %d envelopes not applied: %w", pending, len(envs), ctx.Err())
	}
	return nil
}

// ---------------------------------------------------------------- observing the database

// waitWriting waits until a session of database dbName, other than those in
// ignore, is inside a transaction running an INSERT (a batch being written),
// polling the processlist through admin, and returns its id.
func waitWriting(ctx context.Context, admin *sql.DB, dbName string, ignore ...uint64) (uint64, error) {
	for {
		ids, _ := sessionIDs(ctx, admin, "SELECT ID FROM information_schema.processlist WHERE DB = ? AND COMMAND = 'Query' "+
			"AND STATE LIKE 'in transaction%' AND INFO LIKE 'INSERT INTO%'", dbName)
		for _, id := range ids {
			if !slices.Contains(ignore, id) {
				return id, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no transaction of %s seen writing: %w", dbName, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// sessionIDs runs a query listing session ids.
func sessionIDs(ctx context.Context, db *sql.DB, query string, args ...any) ([]uint64, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// openPool opens a pool with cfg (a dbtest config, perhaps pointed
// elsewhere), closed when the test ends.
func openPool(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(8)
	db.SetConnMaxLifetime(5 * time.Minute)
	tb.Cleanup(func() { db.Close() })
	return db
}

func count(tb testing.TB, db *sql.DB, query string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}
