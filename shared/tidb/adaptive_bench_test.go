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
// chunk 06189 in 50-block batches (about 48,000 distinct rows). It is small
// enough that fixed 50-row statements finish in about a minute and a half at
// 80 ms, and long enough (5 batches) that the sizer has to learn quickly to
// keep up with the best fixed size.
const (
	adaptiveBlocks = 250
	adaptiveBatch  = 50
	// adaptiveRunTimeout bounds one run of one case.
	adaptiveRunTimeout = 4 * time.Minute
)

// adaptiveLatencies are the delays toxiproxy adds to every round trip.
var adaptiveLatencies = []time.Duration{0, 20 * time.Millisecond, 80 * time.Millisecond}

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
// one run as it would in one Lambda container. It reports rows/s per case and
// prints, per latency, each rate and adaptive / best fixed.
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
		b.Run(fmt.Sprintf("latency=%dms", lat.Milliseconds()), func(b *testing.B) {
			proxy.SetLatency(b, lat)
			rates := make([]float64, len(adaptiveCases))
			var trace []int
			for i, c := range adaptiveCases {
				b.Run(c.name, func(b *testing.B) {
					var total time.Duration
					var stats tidb.Stats
					runs := 0
					for b.Loop() {
						b.StopTimer()
						_, cfg := srv.Open(b)
						db := proxiedDB(b, cfg, proxy.Addr())
						store := tidb.New(db, c.opts)
						ctx, cancel := context.WithTimeout(context.Background(), adaptiveRunTimeout)
						trace = trace[:0]
						b.StartTimer()
						start := time.Now()
						for _, bt := range batches {
							if _, err := store.ApplyBatch(ctx, bt); err != nil {
								b.Fatalf("apply batch (slots %d-%d): %v", bt.First.Slot, bt.Last.Slot, err)
							}
							trace = append(trace, store.Stats().StatementRows)
						}
						total += time.Since(start)
						cancel()
						stats = store.Stats()
						runs++
					}
					rates[i] = float64(runs*rows) / total.Seconds()
					b.ReportMetric(rates[i], "rows/s")
					b.ReportMetric(float64(stats.Statements), "statements")
					b.ReportMetric(float64(stats.StatementRows), "final-size")
					if i < len(adaptiveCases)-1 {
						return
					}
					// The adaptive case runs last: compare it with the fixed ones.
					ratio := rates[i] / max(rates[0], rates[1])
					b.ReportMetric(ratio, "adaptive/best")
					b.Logf("latency %v, %d rows in %d batches of %d blocks through %s\n"+
						"| latency | fixed-50 rows/s | fixed-2000 rows/s | adaptive rows/s | adaptive / best fixed |\n"+
						"| %v | %.0f | %.0f | %.0f | %.2f |\n"+
						"adaptive size after each batch: %s",
						lat, rows, len(batches), adaptiveBatch, proxy, lat, rates[0], rates[1], rates[2], ratio, joinInts(trace))
				})
			}
		})
	}
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
