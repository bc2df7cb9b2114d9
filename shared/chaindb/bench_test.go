package chaindb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
)

// BenchmarkWriteConwayChunk writes the rows of mainnet chunk 06189 (1,054
// blocks) per iteration two ways, each into a fresh database: the baseline is
// the same distinct rows loaded as fast as the database allows (plain
// 1,000-row INSERTs on one connection, autocommit, no idempotency); Nectar is
// Store.ApplyBatch over 50-block batches. It reports both rates and the ratio.
func BenchmarkWriteConwayChunk(b *testing.B) {
	batches, all := conwayChunk(b)
	blocks := 0
	for _, bt := range batches {
		blocks += len(bt.Blocks)
	}
	rows := all.Count()
	for _, srv := range dbtest.Servers(b) {
		b.Run(srv.Name, func(b *testing.B) {
			var plain, ours time.Duration
			for range b.N {
				b.StopTimer()
				db1, _ := srv.Open(b)
				db2, _ := srv.Open(b)
				b.StartTimer()
				start := time.Now()
				plainLoad(b, db1, all)
				plain += time.Since(start)
				start = time.Now()
				store := chaindb.New(db2, chaindb.Options{})
				for _, bt := range batches {
					if _, err := store.ApplyBatch(context.Background(), bt); err != nil {
						b.Fatal(err)
					}
				}
				ours += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(n*float64(rows)/plain.Seconds(), "plain-rows/s")
			b.ReportMetric(n*float64(rows)/ours.Seconds(), "nectar-rows/s")
			b.ReportMetric(n*float64(blocks)/ours.Seconds(), "nectar-blocks/s")
			b.ReportMetric(plain.Seconds()/ours.Seconds(), "nectar/plain-rate")
		})
	}
}

// conwayChunk returns mainnet chunk 06189 as 50-block batches and all their
// rows, deduplicated as the store writes them.
func conwayChunk(b *testing.B) ([]*chaindb.Batch, *chain.Rows) {
	batches := chunkBatches(b, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)
	var all chain.Rows
	for _, bt := range batches {
		for _, d := range bt.Blocks {
			all.Append(&d.Rows)
		}
	}
	all.Dedup()
	return batches, &all
}

// plainLoad inserts rows with plain 1,000-row statements on one connection.
func plainLoad(tb testing.TB, db *sql.DB, rows *chain.Rows) {
	tb.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := dbtest.InsertRows(ctx, conn, "INSERT", rows, 1000); err != nil {
		tb.Fatalf("plain load: %v", err)
	}
}

// BenchmarkConcurrentWriters applies the Conway chunk's 50-block history
// batches with 1, 2 and 4 concurrent writers (as parallel Lambdas would),
// each run into a fresh database, and reports rows/s and the speed-up over
// one writer measured in the same run.
func BenchmarkConcurrentWriters(b *testing.B) {
	batches := chunkBatches(b, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)
	rows := 0
	for _, bt := range batches {
		for _, d := range bt.Blocks {
			rows += d.Rows.Count()
		}
	}
	for _, srv := range dbtest.Servers(b) {
		b.Run(srv.Name, func(b *testing.B) {
			var base float64
			for _, workers := range []int{1, 2, 4} {
				var took time.Duration
				for range b.N {
					b.StopTimer()
					db, _ := srv.Open(b)
					db.SetMaxOpenConns(2 * workers)
					store := chaindb.New(db, chaindb.Options{})
					work := make(chan *chaindb.Batch)
					errs := make(chan error, workers)
					b.StartTimer()
					start := time.Now()
					for range workers {
						go func() {
							for bt := range work {
								if _, err := store.ApplyBatch(context.Background(), bt); err != nil {
									errs <- err
									return
								}
							}
							errs <- nil
						}()
					}
					for _, bt := range batches {
						work <- bt
					}
					close(work)
					for range workers {
						if err := <-errs; err != nil {
							b.Fatal(err)
						}
					}
					took += time.Since(start)
					st := store.Stats()
					b.Logf("%d workers: %d statements, %d retries, %d throttles, statement size %d", workers, st.Statements, st.Retries, st.Throttles, st.StatementRows)
				}
				rate := float64(b.N*rows) / took.Seconds()
				if workers == 1 {
					base = rate
				}
				b.ReportMetric(rate, fmt.Sprintf("rows/s-%dw", workers))
				b.ReportMetric(rate/base, fmt.Sprintf("speedup-%dw", workers))
			}
		})
	}
}

// BenchmarkNectarStyleBaseline compares Nectar's batch writes with the old
// Nectar's way: one database transaction per Cardano transaction (and one per
// block for the block row), each with its rows in multi-row INSERTs, on one
// connection. Same rows, same run, fresh databases.
func BenchmarkNectarStyleBaseline(b *testing.B) {
	batches, all := conwayChunk(b)
	// Group every row by the transaction (or block) it belongs to: its first key column.
	groups := dbtest.ByFirstKey(all)
	rows := all.Count()
	for _, srv := range dbtest.Servers(b) {
		b.Run(srv.Name, func(b *testing.B) {
			var old, ours time.Duration
			for range b.N {
				b.StopTimer()
				db1, _ := srv.Open(b)
				db2, _ := srv.Open(b)
				b.StartTimer()
				start := time.Now()
				conn, err := db1.Conn(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if err := dbtest.PerTransaction(context.Background(), conn, groups); err != nil {
					b.Fatal(err)
				}
				conn.Close()
				old += time.Since(start)
				start = time.Now()
				store := chaindb.New(db2, chaindb.Options{})
				for _, bt := range batches {
					if _, err := store.ApplyBatch(context.Background(), bt); err != nil {
						b.Fatal(err)
					}
				}
				ours += time.Since(start)
			}
			n := float64(b.N * rows)
			b.ReportMetric(n/old.Seconds(), "per-tx-rows/s")
			b.ReportMetric(n/ours.Seconds(), "nectar-rows/s")
			b.ReportMetric(old.Seconds()/ours.Seconds(), "nectar-speedup")
		})
	}
}
