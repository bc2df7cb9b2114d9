package chaindb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbtest"
)

// BenchmarkGrowth measures how the cost of writing grows with the data
// already written: the last tenth of the preview chain (in its history
// messages, written as the ingest function does by default: invocations of
// the template's HistoryBatchSize together in large transactions) into an
// empty database, and into one that holds the other nine tenths, on each
// server, in the same run. It reports the write rate of both and their
// ratio, and the same for the shared rows' upserts alone (the time TiDB's
// statement summary records for the INSERTs into the shared tables; on
// MariaDB the whole write only), and on TiDB the request units of both.
func BenchmarkGrowth(b *testing.B) {
	e := eras(b)[2] // preview
	msgs := historyMessages(b, e, config.DefaultBatchBlocks)
	blocks := 0
	for _, m := range msgs {
		blocks += len(m.batch.Blocks)
	}
	cut, seen := 0, 0
	for cut < len(msgs) && seen < blocks*9/10 {
		seen += len(msgs[cut].batch.Blocks)
		cut++
	}
	head, tail := msgs[:cut], msgs[cut:]
	tailBlocks := blocks - seen
	for _, srv := range dbtest.Servers(b) {
		b.Run(srv.Name, func(b *testing.B) {
			if srv.Name == "tidb" {
				raiseSummaryCapacity(b, srv)
			}
			for range b.N {
				var empty, full growthRun
				// Empty first, then full: each loads the tail into a database of its own.
				empty = runGrowth(b, srv, nil, tail)
				full = runGrowth(b, srv, head, tail)
				rate := func(r growthRun) float64 { return float64(tailBlocks) / r.took.Seconds() }
				var lines []string
				for _, c := range []struct {
					name string
					r    growthRun
				}{{"empty", empty}, {"nine tenths", full}} {
					lines = append(lines, fmt.Sprintf("%-12s %8.1f %10.0f %9.2f %9.2f %9.0f", c.name, rate(c.r),
						float64(c.r.rows)/c.r.took.Seconds(), c.r.shared.Seconds(), c.r.other.Seconds(), c.r.ru.Total()/(float64(tailBlocks)/1000)))
				}
				fmt.Printf("%s: the last tenth of the preview chain (%d blocks, %d messages) into an empty database and into one holding the "+
					"other nine tenths (%d blocks):\n%-12s %8s %10s %9s %9s %9s\n%s\n"+
					"nine tenths / empty: write rate %.2f×%s\n",
					srv.Name, tailBlocks, len(tail), seen, "database", "blocks/s", "rows/s", "shared s", "other s", "RU/kblk", strings.Join(lines, "\n"),
					rate(full)/rate(empty), statementRatios(srv, empty, full))
				b.ReportMetric(rate(full)/rate(empty), "rate-ratio")
				if srv.Name == "tidb" {
					b.ReportMetric(full.shared.Seconds()/empty.shared.Seconds(), "shared-time-ratio")
					b.ReportMetric(full.ru.Total()/empty.ru.Total(), "RU-ratio")
				}
			}
		})
	}
}

// statementRatios compares what TiDB's statement summary recorded for the
// two loads; MariaDB has no statement summary (its columns read 0).
func statementRatios(srv dbtest.Server, empty, full growthRun) string {
	if srv.Name != "tidb" {
		return ""
	}
	return fmt.Sprintf(", shared-row upserts' time %.2f×, the other statements' time %.2f×, request units (all at the small rate) %.2f×",
		full.shared.Seconds()/empty.shared.Seconds(), full.other.Seconds()/empty.other.Seconds(), full.ru.Total()/empty.ru.Total())
}

type growthRun struct {
	took          time.Duration
	rows          int
	shared, other time.Duration // TiDB's statement time: shared-table INSERTs, everything else
	ru            dbtest.StarterRU
}

// runGrowth loads head into a fresh database, untimed, then writes tail and
// measures it.
func runGrowth(b *testing.B, srv dbtest.Server, head, tail []historyMessage) growthRun {
	b.Helper()
	b.StopTimer()
	ctx := context.Background()
	db, cfg := srv.Open(b)
	store := chaindb.New(db, chaindb.Options{})
	write := func(msgs []historyMessage) {
		for _, inv := range invocations(msgs, historyBatchSize) {
			for i, r := range store.ApplyBatches(ctx, inv, 1) {
				if r.Err != nil || !r.Applied {
					b.Fatalf("batch %d: applied %v, %v", i, r.Applied, r.Err)
				}
			}
		}
	}
	write(head)
	var admin = adminPool(b, cfg)
	var before dbtest.Snapshot
	if srv.Name == "tidb" {
		before = snap(b, admin, cfg.DBName)
	}
	b.StartTimer()
	start := time.Now()
	write(tail)
	r := growthRun{took: time.Since(start)}
	b.StopTimer()
	for _, m := range tail {
		for _, d := range m.batch.Blocks {
			r.rows += d.Rows.Count()
		}
	}
	if srv.Name == "tidb" {
		now := snap(b, admin, cfg.DBName)
		var all dbtest.Statements
		for k, row := range now {
			d := dbtest.Snapshot{k: row}.Since(before)
			all.Add(d)
			t := row.Tables[strings.IndexByte(row.Tables, '.')+1:]
			if id, ok := chain.TableByName(t); ok && chain.Tables[id].Shared && row.StmtType == "Insert" {
				r.shared += d.Latency
			} else {
				r.other += d.Latency
			}
		}
		r.ru = dbtest.Starter(all, 0, 0)
	}
	b.StartTimer()
	return r
}
