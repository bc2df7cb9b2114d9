package tidb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/tidb"
)

// BenchmarkWriteConwayChunk writes the rows of mainnet chunk 06189 (1,054
// blocks) per iteration two ways, each into a fresh database: the baseline is
// the same distinct rows loaded as fast as the database allows (plain
// 1,000-row INSERTs on one connection, autocommit, no idempotency); Nectar is
// Store.ApplyBatch over 50-block batches. It reports both rates and the ratio.
func BenchmarkWriteConwayChunk(b *testing.B) {
	batches := chunkBatches(b, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)
	var all chain.Rows
	blocks := 0
	for _, bt := range batches {
		blocks += len(bt.Blocks)
		for _, d := range bt.Blocks {
			all.Append(&d.Rows)
		}
	}
	all.Dedup()
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
				plainLoad(b, db1, &all)
				plain += time.Since(start)
				start = time.Now()
				store := tidb.New(db2, tidb.Options{})
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

// plainLoad inserts rows with plain 1,000-row statements on one connection.
func plainLoad(tb testing.TB, db *sql.DB, rows *chain.Rows) {
	tb.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	for t, tab := range chain.Tables {
		cols := "`" + strings.Join(tab.Columns, "`,`") + "`"
		tuple := "(" + strings.Repeat("?,", len(tab.Columns)-1) + "?)"
		for i := 0; i < len(rows[t]); i += 1000 {
			part := rows[t][i:min(i+1000, len(rows[t]))]
			args := make([]any, 0, len(part)*len(tab.Columns))
			for _, r := range part {
				args = append(args, r...)
			}
			q := "INSERT INTO `" + tab.Name + "` (" + cols + ") VALUES " + strings.Repeat(tuple+",", len(part)-1) + tuple
			if _, err := conn.ExecContext(ctx, q, args...); err != nil {
				tb.Fatalf("plain insert %s: %v", tab.Name, err)
			}
		}
	}
}
