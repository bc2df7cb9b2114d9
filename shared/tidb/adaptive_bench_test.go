package tidb_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/dbtest/toxitest"
	"github.com/nectar-indexer/nectar/shared/tidb"
)

// The adaptive-size workload: the first adaptiveBlocks blocks of mainnet
// chunk 06189 in 50-block batches (40,457 distinct rows). It is small enough
// that fixed 50-row statements finish in about 80 s at 80 ms, and short
// enough (4 batches) that the sizer has to learn within the first batch to
// keep up with the best fixed size.
const (
	adaptiveBlocks = 200
	adaptiveBatch  = 50
	// adaptiveRunTimeout bounds one run of one case.
	adaptiveRunTimeout = 4 * time.Minute
)

// adaptiveLatencies are the delays toxiproxy adds to every round trip, with
// the number of interleaved rounds of the cases run at each. The database's
// own time moves with whatever else the machine runs; rounds in rotated order
// even that out. A case slower than half the best in the first round cannot
// be the best fixed size and is not repeated (fixed 50-row statements at 20
// and 80 ms), which keeps the whole benchmark near four minutes.
var adaptiveLatencies = []struct {
	delay  time.Duration
	rounds int
}{{0, 3}, {20 * time.Millisecond, 2}, {80 * time.Millisecond, 2}}

// adaptiveCases are the statement sizings compared at each latency.
var adaptiveCases = []struct {
	name string
	opts tidb.Options
}{
	{"fixed-50", tidb.Options{StatementRows: 50, MinStatementRows: 50, MaxStatementRows: 50}},
	{"fixed-2000", tidb.Options{StatementRows: 2000, MinStatementRows: 2000, MaxStatementRows: 2000}},
	{"adaptive", tidb.Options{StatementRows: 100, MinStatementRows: 16, MaxStatementRows: 4096}},
}

// BenchmarkAdaptiveStatementSize writes the same workload through
// Store.ApplyBatch with fixed small, fixed large and adaptive statement sizes,
// connecting to TiDB through an in-process toxiproxy that adds 0, 20 and 80 ms
// to each round trip (TLS still verified end to end). Each run uses a fresh
// database and one Store, so the adaptive sizer learns across the batches of
// one run as it would in one Lambda container. Each run reports its rows/s;
// the last run at each latency also reports adaptive / best fixed and prints
// the rates over all rounds with the adaptive size after each batch.
func BenchmarkAdaptiveStatementSize(b *testing.B) {
	var srv *dbtest.Server
	for _, s := range dbtest.Servers(b) {
		if s.Name == "tidb" {
			srv = &s
		}
	}
	if srv == nil {
		b.Skip("SKIPPING: TiDB is not configured (see above)")
	}
	all := chunkBatches(b, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, adaptiveBatch)
	batches := all[:adaptiveBlocks/adaptiveBatch]
	rows := 0
	for _, n := range expectedCounts(batches) {
		rows += int(n)
	}
	proxy := toxitest.Start(b, net.JoinHostPort(srv.Host, srv.Port))

	for _, lat := range adaptiveLatencies {
		b.Run(fmt.Sprintf("latency=%dms", lat.delay.Milliseconds()), func(b *testing.B) {
			proxy.SetLatency(b, lat.delay)
			n := len(adaptiveCases)
			took := make([]time.Duration, n) // over all rounds
			runs := make([]int, n)
			sizes := make([][]int, lat.rounds) // adaptive size after each batch, per round
			for round := range lat.rounds {
				var order []int
				for k := range n {
					i := (round + k) % n
					if round == 0 || runs[i] == 0 || 2*rateOf(took[i], runs[i], rows) >= bestRate(took, runs, rows) {
						order = append(order, i)
					}
				}
				for k, i := range order {
					last := round == lat.rounds-1 && k == len(order)-1
					b.Run(adaptiveCases[i].name, func(b *testing.B) {
						var d, sum time.Duration
						var stats tidb.Stats
						var trace []int
						r := 0
						for b.Loop() {
							d, stats, trace = adaptiveRun(b, srv, proxy.Addr(), adaptiveCases[i].opts, batches)
							sum += d
							r++
						}
						took[i] += sum
						runs[i] += r
						b.ReportMetric(float64(r*rows)/sum.Seconds(), "rows/s")
						b.ReportMetric(float64(stats.Statements), "statements")
						b.ReportMetric(float64(stats.StatementRows), "final-size")
						if adaptiveCases[i].opts.MinStatementRows != adaptiveCases[i].opts.MaxStatementRows {
							sizes[round] = trace
						}
						if last {
							adaptiveReport(b, lat.delay, rows, len(batches), took, runs, sizes)
						}
					})
				}
			}
		})
	}
}

// adaptiveRun applies batches through proxy into a fresh database with one
// Store; only the applying is timed. It returns the time taken, the store's
// stats and its statement size after each batch.
func adaptiveRun(b *testing.B, srv *dbtest.Server, proxy string, opts tidb.Options, batches []*tidb.Batch) (time.Duration, tidb.Stats, []int) {
	b.StopTimer()
	_, cfg := srv.Open(b)
	db := proxiedDB(b, cfg, proxy)
	store := tidb.New(db, opts)
	ctx, cancel := context.WithTimeout(context.Background(), adaptiveRunTimeout)
	defer cancel()
	var trace []int
	b.StartTimer()
	start := time.Now()
	for _, bt := range batches {
		if _, err := store.ApplyBatch(ctx, bt); err != nil {
			b.Fatalf("apply batch (slots %d-%d): %v", bt.First.Slot, bt.Last.Slot, err)
		}
		trace = append(trace, store.Stats().StatementRows)
	}
	return time.Since(start), store.Stats(), trace
}

// adaptiveReport reports adaptive / best fixed over all rounds and prints the
// latency's row of the results table.
func adaptiveReport(b *testing.B, delay time.Duration, rows, nbatches int, took []time.Duration, runs []int, sizes [][]int) {
	rate := make([]float64, len(took))
	for i := range took {
		rate[i] = rateOf(took[i], runs[i], rows)
	}
	ratio := rate[2] / max(rate[0], rate[1])
	b.ReportMetric(ratio, "adaptive/best")
	traces := make([]string, len(sizes))
	for i, t := range sizes {
		traces[i] = "[" + joinInts(t) + "]"
	}
	b.Logf("%d rows in %d batches of %d blocks, runs per case %v; rows/s over all runs:\n"+
		"| latency | fixed-50 | fixed-2000 | adaptive | adaptive / best fixed |\n"+
		"| %d ms | %.0f | %.0f | %.0f | %.2f |\n"+
		"adaptive size after each batch, per round: %s",
		rows, nbatches, adaptiveBatch, runs, delay.Milliseconds(), rate[0], rate[1], rate[2], ratio, strings.Join(traces, " "))
}

func rateOf(took time.Duration, runs, rows int) float64 {
	return float64(runs*rows) / took.Seconds()
}

func bestRate(took []time.Duration, runs []int, rows int) float64 {
	best := 0.0
	for i := range took {
		if runs[i] > 0 {
			best = max(best, rateOf(took[i], runs[i], rows))
		}
	}
	return best
}

// proxiedDB opens a one-connection pool to cfg's database through addr and
// opens its connection (TLS handshake included) before returning.
func proxiedDB(tb testing.TB, cfg *mysql.Config, addr string) *sql.DB {
	tb.Helper()
	cfg = cfg.Clone()
	cfg.Addr = addr
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	tb.Cleanup(func() { db.Close() })
	// ApplyBatch runs its statements one after another: one connection
	// serves them all and no handshake lands inside the measured time.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("connect through proxy %s: %v", addr, err)
	}
	return db
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
