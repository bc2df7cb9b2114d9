package chaindb_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/indexes"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// era is the chain data of one era in testdata/chains.
type era struct {
	name   string
	net    chain.Network
	chunks []string
}

// eras returns the chunks of testdata/chains by era: mainnet's Byron epoch
// 0, a Shelley chunk and the first Conway chunk, and the 300 preview chunks
// (Alonzo and Babbage).
func eras(tb testing.TB) []era {
	tb.Helper()
	preview, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		tb.Fatal(err)
	}
	return []era{
		{"byron", chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet-byron", "00000.chunk")}},
		{"shelley", chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet-shelley", "00500.chunk")}},
		{"preview", chain.Preview, preview},
		{"conway", chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}},
	}
}

func allRows(batches []*chaindb.Batch) *chain.Rows {
	var all chain.Rows
	for _, b := range batches {
		for _, d := range b.Blocks {
			all.Append(&d.Rows)
		}
	}
	all.Dedup()
	return &all
}

func blockCount(batches []*chaindb.Batch) int {
	n := 0
	for _, b := range batches {
		n += len(b.Blocks)
	}
	return n
}

// adminPool opens a pool on cfg's server without a default database, so
// that its own statements stay out of the statement summary of cfg's.
func adminPool(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	c := cfg.Clone()
	c.DBName = ""
	return openConfig(tb, c)
}

// insertsByTable sums what the statement summary's INSERT rows of database
// schema added since before, by table.
func insertsByTable(tb testing.TB, admin *sql.DB, schema string, before dbtest.Snapshot) map[string]dbtest.Statements {
	tb.Helper()
	now := snap(tb, admin, schema)
	out := map[string]dbtest.Statements{}
	for k, r := range now {
		if r.StmtType != "Insert" {
			continue
		}
		t := r.Tables[strings.IndexByte(r.Tables, '.')+1:]
		s := out[t]
		s.Add(dbtest.Snapshot{k: r}.Since(before))
		out[t] = s
	}
	return out
}

func snap(tb testing.TB, admin *sql.DB, schema string) dbtest.Snapshot {
	tb.Helper()
	s, err := dbtest.Snap(context.Background(), admin, schema)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// tidbServer returns the configured TiDB: the statement summary is TiDB's.
func tidbServer(b *testing.B) (dbtest.Server, bool) {
	for _, s := range dbtest.Servers(b) {
		if s.Name == "tidb" {
			return s, true
		}
	}
	b.Skip("no TiDB configured: request units and written bytes are TiDB's statement summary")
	return dbtest.Server{}, false
}

// raiseSummaryCapacity keeps the statement summary from evicting what a
// benchmark measures (see dbtest.RaiseSummaryCapacity).
func raiseSummaryCapacity(b *testing.B, srv dbtest.Server) {
	b.Helper()
	_, cfg := srv.Open(b)
	was, err := dbtest.RaiseSummaryCapacity(context.Background(), adminPool(b, cfg))
	if err != nil {
		b.Fatal(err)
	}
	if was < dbtest.SummaryCapacity {
		b.Logf("tidb_stmt_summary_max_stmt_count raised from %d to %d", was, dbtest.SummaryCapacity)
	}
}

// BenchmarkBytesPerRow measures what every chain table writes per row, as
// TiDB records it: each era's distinct rows are loaded into a fresh TiDB
// database with plain autocommit INSERTs of at most 200 rows, so that each
// statement's write size (the keys and values of the row and of its
// secondary indexes) lands on its table's digest in the statement summary.
// It prints, per era and table, the rows, TiDB's bytes and keys per row and
// chaindb.PayloadBytes' estimate against them, and reports each era's bytes
// per row and per block; on the Conway chunk also with the query indexes
// (schema.QueryIndexes) built before the load, for what they add.
func BenchmarkBytesPerRow(b *testing.B) {
	srv, ok := tidbServer(b)
	if !ok {
		return
	}
	raiseSummaryCapacity(b, srv)
	ctx := context.Background()
	type bytesCase struct {
		era
		indexed bool
	}
	var cases []bytesCase
	for _, e := range eras(b) {
		cases = append(cases, bytesCase{e, false})
		if e.name == "conway" {
			// What the query indexes add: built before the load, so that
			// their keys land on the INSERTs that write them.
			cases = append(cases, bytesCase{era{"conway-indexed", e.net, e.chunks}, true})
		}
	}
	for _, c := range cases {
		e := c.era
		batches := chunkBatches(b, e.net, e.chunks, 500)
		rows := allRows(batches)
		blocks := blockCount(batches)
		b.Run(e.name, func(b *testing.B) {
			for range b.N {
				db, cfg := srv.Open(b)
				if c.indexed {
					for _, ix := range schema.QueryIndexes {
						if _, err := db.ExecContext(ctx, indexes.DDL(ix)); err != nil {
							b.Fatal(err)
						}
					}
					// A pooled database goes back as the migrations left it.
					b.Cleanup(func() {
						for _, ix := range schema.QueryIndexes {
							_, _ = db.ExecContext(ctx, "DROP INDEX IF EXISTS `"+ix.Name+"` ON `"+ix.Table+"`")
						}
					})
				}
				admin := adminPool(b, cfg)
				before := snap(b, admin, cfg.DBName)
				if err := dbtest.InsertRows(ctx, db, "INSERT", rows, 200); err != nil {
					b.Fatal(err)
				}
				byTable := insertsByTable(b, admin, cfg.DBName, before)
				var lines []string
				var total dbtest.Statements
				var estimate, n int
				for t, tab := range chain.Tables {
					if len(rows[t]) == 0 {
						continue
					}
					var one chain.Rows
					one[t] = rows[t]
					est := chaindb.PayloadBytes(&one)
					s := byTable[tab.Name]
					total.Add(s)
					estimate += est
					n += len(rows[t])
					lines = append(lines, fmt.Sprintf("%-24s %9d %8.1f %6.2f %8.1f %6.2f %12.0f", tab.Name, len(rows[t]),
						s.WriteBytes/float64(len(rows[t])), s.WriteKeys/float64(len(rows[t])), float64(est)/float64(len(rows[t])),
						float64(est)/s.WriteBytes, s.WriteBytes))
				}
				slices.Sort(lines)
				fmt.Printf("%s: %d blocks, %d rows, %.0f bytes written by TiDB (%.1f per row, %.2f keys per row, %.0f per block), estimate/TiDB %.3f\n"+
					"%-24s %9s %8s %6s %8s %6s %12s\n%s", e.name, blocks, n, total.WriteBytes, total.WriteBytes/float64(n),
					total.WriteKeys/float64(n), total.WriteBytes/float64(blocks), float64(estimate)/total.WriteBytes,
					"table", "rows", "B/row", "keys", "est/row", "est/B", "bytes", strings.Join(lines, "\n")+"\n")
				b.ReportMetric(total.WriteBytes/float64(n), "bytes/row")
				b.ReportMetric(total.WriteBytes/float64(blocks), "bytes/block")
				b.ReportMetric(float64(estimate)/total.WriteBytes, "estimate/tidb")
			}
		})
	}
}

// lambdaPayload is Lambda's limit on an invocation's payload, which bounds
// the messages an SQS event source hands one invocation.
const lambdaPayload = 6 << 20

// historyMessage is one history batch as the follower sends it.
type historyMessage struct {
	batch *chaindb.Batch
	bytes int // its share of an invocation's payload: the base64 body and the record around it
}

// historyMessages cuts an era's blocks as the follower's batcher does by
// default (config.DefaultBatchBytes of raw blocks, at most maxBlocks:
// config.DefaultBatchBlocks for history, 1 for the tip's one-block batches)
// into envelopes and decodes them.
func historyMessages(tb testing.TB, e era, maxBlocks int) []historyMessage {
	tb.Helper()
	var raw []batch.Block
	for _, c := range e.chunks {
		blocks, err := immutable.ReadFile(c)
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range blocks {
			raw = append(raw, batch.Block{Type: b.Type, CBOR: b.CBOR})
		}
	}
	var out []historyMessage
	var prev []byte
	for start := 0; start < len(raw); {
		end, size := start, 0
		for end < len(raw) && end-start < maxBlocks && (end == start || size+len(raw[end].CBOR) <= config.DefaultBatchBytes) {
			size += len(raw[end].CBOR)
			end++
		}
		env := ingesttest.NewBlocks(e.net.Name, prev, nil, raw[start:end])
		enc, err := batch.Encode(env)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, historyMessage{batch: ingest.DecodeBlocks(e.net, env), bytes: base64.StdEncoding.EncodedLen(len(enc)) + 1024})
		prev, start = env.Last.Hash, end
	}
	return out
}

// invocations packs messages as an SQS event source would for the template's
// history function: at most batchSize messages and lambdaPayload bytes each.
func invocations(msgs []historyMessage, batchSize int) [][]*chaindb.Batch {
	var out [][]*chaindb.Batch
	var cur []*chaindb.Batch
	size := 0
	for _, m := range msgs {
		if len(cur) > 0 && (len(cur) == batchSize || size+m.bytes > lambdaPayload) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m.batch)
		size += m.bytes
	}
	return append(out, cur)
}

// costCase is one way of writing an era's history.
type costCase struct {
	name string
	// txnBytes 0: every message in a transaction of its own (ApplyBatch);
	// else invocations of batchSize messages written together, in
	// transactions of txnBytes (ApplyBatches).
	txnBytes, batchSize int
	// msgs, when set, are the case's messages instead of the era's history
	// messages (the tip's one-block batches).
	msgs []historyMessage
	// verify runs the hourly verify on the loaded database and measures it.
	verify bool
}

// costResult is what TiDB recorded for one case, and Starter's price of it.
type costResult struct {
	took       time.Duration
	stmts      dbtest.Statements
	egress     int64
	commits    int
	large      int     // commits of StarterLargeTxnBytes or more, optimistic
	largeBytes float64 // their write size
	minCommit  float64 // the smallest optimistic commit
	ru         dbtest.StarterRU
	// evicted counts the digests TiDB evicted from its statement summary
	// (any database's) during the run.
	evicted int64
	// full and fullBlocks are the request units and blocks of the full
	// invocations (all but the last) of a large case.
	full       dbtest.StarterRU
	fullBlocks int
	// verifyRU is what one verify of the loaded database cost (costCase.verify).
	verifyRU dbtest.StarterRU
}

// countingDial dials TCP and counts the bytes the server sends (TLS
// included): what TiDB Cloud Starter bills as egress.
func countingDial(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, n: n}, nil
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// runCost writes msgs as c says into a fresh database and reads what TiDB
// recorded for it from the statement summary, before and after (a pooled
// test database keeps the summary of its earlier tests), and after each
// transaction of several batches, for its size.
func runCost(b *testing.B, srv dbtest.Server, msgs []historyMessage, c costCase) costResult {
	b.Helper()
	ctx := context.Background()
	_, cfg := srv.Open(b)
	schema := cfg.DBName
	var egress atomic.Int64
	counted := cfg.Clone()
	counted.DialFunc = countingDial(&egress)
	db := openConfig(b, counted)
	db.SetMaxOpenConns(4)
	admin := adminPool(b, cfg)
	store := chaindb.New(db, chaindb.Options{TxnBytes: c.txnBytes})
	read := func() dbtest.Snapshot { return snap(b, admin, schema) }
	var r costResult
	evicted := func() int64 {
		n, err := dbtest.Evicted(ctx, admin, time.Now().Add(-time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	evictedBefore := evicted()
	before := read()
	start := time.Now()
	if c.txnBytes == 0 {
		for _, m := range msgs {
			if _, err := store.ApplyBatch(ctx, m.batch); err != nil {
				b.Fatal(err)
			}
		}
		r.took = time.Since(start)
	} else {
		last := before
		r.minCommit = -1
		invs := invocations(msgs, c.batchSize)
		for k, inv := range invs {
			invStart, invEgress, invLarge := last, egress.Load(), 0.0
			for _, g := range store.Groups(inv) {
				t0 := time.Now()
				for i, res := range store.ApplyBatches(ctx, g, 1) {
					if res.Err != nil || !res.Applied {
						b.Fatalf("batch %d: applied %v, %v", i, res.Applied, res.Err)
					}
				}
				r.took += time.Since(t0)
				now := read()
				d := now.Since(last)
				last = now

				// One group is one optimistic transaction (one batch alone: ApplyBatch's).
				if len(g) > 1 && d.Commits == 1 {
					if d.CommitWriteBytes >= dbtest.StarterLargeTxnBytes {
						r.large++
						r.largeBytes += d.CommitWriteBytes
						invLarge += d.CommitWriteBytes
					}
					if r.minCommit < 0 || d.CommitWriteBytes < r.minCommit {
						r.minCommit = d.CommitWriteBytes
					}
				}
			}
			// Every invocation but the last is full (BatchSize messages or
			// 6 MB), as in a sync that goes on past these blocks.
			if k < len(invs)-1 {
				r.full.Add(dbtest.Starter(last.Since(invStart), invLarge, float64(egress.Load()-invEgress)))
				for _, bt := range inv {
					r.fullBlocks += len(bt.Blocks)
				}
			}
		}
		if st := store.Stats(); st.GroupFallbacks+st.GroupSplits != 0 {
			b.Fatalf("%d fallbacks, %d splits", st.GroupFallbacks, st.GroupSplits)
		}
	}
	r.stmts = read().Since(before)
	r.commits = int(r.stmts.Commits)
	r.egress = egress.Load()
	if c.verify {
		vBefore, vEgress := read(), egress.Load()
		rep, err := store.Verify(ctx, msgs[0].batch.Network, 10)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("verify of the loaded database: %s", rep)
		}
		r.verifyRU = dbtest.Starter(read().Since(vBefore), 0, float64(egress.Load()-vEgress))
	}
	r.evicted = evicted() - evictedBefore
	r.ru = dbtest.Starter(r.stmts, r.largeBytes, float64(r.egress))
	if r.fullBlocks == 0 {
		r.full, r.fullBlocks = r.ru, 0
		for _, m := range msgs {
			r.fullBlocks += len(m.batch.Blocks)
		}
	}
	return r
}

// BenchmarkRequestUnits loads each era of testdata/chains (mainnet Byron,
// Shelley and Conway chunks, the preview chain) into fresh TiDB databases
// both ways in the same run: every history message in a transaction of its
// own, as the follower cuts them by default (per-message), and the
// template's history invocations (HistoryBatchSize messages, at most 6 MB)
// written together in transactions of DefaultTxnBytes (large; on the Conway
// chunk also of 8, 16 and 32 MiB). From what TiDB recorded (statement
// summary: write size and keys, its own request units, time outside the
// storage layer; the bytes the server sent, counted on the client's
// connections) it prints TiDB Cloud Starter's request units by its pricing
// page (dbtest.Starter), per 1,000 blocks and per million, and the ratio
// between the two ways. On the Conway chunk it also writes every block as a
// batch of its own (tip), as at the tip; after each era's large load it runs
// the hourly verify once and prints its request units.
func BenchmarkRequestUnits(b *testing.B) {
	srv, ok := tidbServer(b)
	if !ok {
		return
	}
	raiseSummaryCapacity(b, srv)
	for _, e := range eras(b) {
		msgs := historyMessages(b, e, config.DefaultBatchBlocks)
		blocks := 0
		for _, m := range msgs {
			blocks += len(m.batch.Blocks)
		}
		cases := []costCase{{name: "per-message"}, {name: "large", txnBytes: chaindb.DefaultTxnBytes, batchSize: historyBatchSize, verify: true}}
		if e.name == "conway" {
			for _, mib := range []int{8, 16, 32} {
				cases = append(cases, costCase{name: fmt.Sprintf("large-%dMiB", mib), txnBytes: mib << 20, batchSize: historyBatchSize})
			}
			// At the tip every block is a batch of its own, written alone.
			cases = append(cases, costCase{name: "tip", msgs: historyMessages(b, e, 1)})
		}
		b.Run(e.name, func(b *testing.B) {
			for range b.N {
				results := map[string]costResult{}
				var lines []string
				for _, c := range cases {
					cm := msgs
					if c.msgs != nil {
						cm = c.msgs
					}
					r := runCost(b, srv, cm, c)
					results[c.name] = r
					k := float64(blocks) / 1000
					fk := float64(r.fullBlocks) / 1000
					lines = append(lines, fmt.Sprintf("%-12s %7.0f %9.0f %8.0f %6.0f %6.0f %6.0f %5.0f %10.1f %8.2f %8.0f %6d %5d %8.1f %6.0f",
						c.name, r.ru.Total()/k, r.ru.Write/k, r.ru.WriteAtSmallRate/k, r.ru.Read/k, r.ru.CPU/k, r.ru.CPULow/k, r.ru.Egress/k,
						r.ru.Total()/k*1000/1e6, r.ru.Total()/k*1000/1e6*0.1, r.full.Total()/fk, r.commits, r.large, max(r.minCommit, 0)/(1<<20),
						float64(blocks)/r.took.Seconds()))
					b.ReportMetric(r.ru.Total()/k, c.name+"-RU/kblock")
				}
				per, large := results["per-message"], results["large"]
				// Every case writes the same rows, but for shared rows seen
				// again in later batches, which one at a time upserts
				// again (TiDB writes them unchanged: 2.6 % more keys on
				// preview): TiDB's count of keys written tells whether the
				// summary lost statements (an evicted digest is summed under
				// no database).
				for _, c := range cases {
					r := results[c.name]
					if c.msgs != nil {
						continue // the tip's batches upsert their shared rows again block by block
					}
					if d := r.stmts.WriteKeys/per.stmts.WriteKeys - 1; d > 0.05 || d < -0.05 {
						b.Errorf("%s: %.0f keys written, per-message %.0f: the statement summary lost statements (%d digests evicted meanwhile)",
							c.name, r.stmts.WriteKeys, per.stmts.WriteKeys, r.evicted)
					}
				}
				v := large.verifyRU
				fmt.Printf("%s: one verify of the loaded database (%d blocks): %.0f RU (write %.0f, read %.0f, SQL CPU %.0f, egress %.0f), %.1f per 1,000 blocks\n",
					e.name, blocks, v.Total(), v.Write, v.Read, v.CPU, v.Egress, v.Total()/(float64(blocks)/1000))
				b.ReportMetric(v.Total()/(float64(blocks)/1000), "verify-RU/kblock")
				ratio := per.ru.Total() / large.ru.Total()
				fmt.Printf("%s: %d blocks in %d messages; %.1f MB written (TiDB's write size), %.0f keys\n"+
					"Starter RU per 1,000 blocks: total, write (at the rate Starter bills), small (the write were no transaction large), read, "+
					"SQL CPU (upper bound: TiDB's time outside storage; lower: parsing and compiling), egress; M RU and $ per million blocks; "+
					"RU per 1,000 blocks of the full invocations (all but the last); commits, commits of 16 MiB or more, the smallest "+
					"optimistic commit (MiB), blocks/s:\n"+
					"%-12s %7s %9s %8s %6s %6s %6s %5s %10s %8s %8s %6s %5s %8s %6s\n%s\n"+
					"per-message / large: %.2f× the request units (%.2f× in full invocations), %.2f× the write RU, %.2f× the time\n",
					e.name, blocks, len(msgs), large.stmts.WriteBytes/1e6, large.stmts.WriteKeys,
					"case", "total", "write", "small", "read", "cpu", "cpu-lo", "egr", "M RU/Mblk", "$/Mblk", "full", "commit", "large", "min MiB", "blk/s",
					strings.Join(lines, "\n"), ratio, (per.full.Total()/float64(per.fullBlocks))/(large.full.Total()/float64(large.fullBlocks)),
					per.ru.Write/large.ru.Write, per.took.Seconds()/large.took.Seconds())
				b.ReportMetric(ratio, "RU-ratio")
			}
		})
	}
}

// historyBatchSize is the template's HistoryBatchSize default.
const historyBatchSize = 100
