package indexes_test

import (
	"context"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/indexes"
)

// BenchmarkWriteWithQueryIndexes loads mainnet chunk 06189 (1,054 blocks,
// 50-block batches through chaindb.Store.ApplyBatch) into two fresh
// databases in the same run: one without the query indexes, one with them
// built before the load. It reports both write rates and their ratio, then
// builds the indexes on the first database (the backfill's way: indexes
// after the load) and reports that build's time, alone and as a fraction of
// the load's.
func BenchmarkWriteWithQueryIndexes(b *testing.B) {
	batches := conway(b)
	rows, blocks := 0, 0
	for _, bt := range batches {
		blocks += len(bt.Blocks)
		for _, d := range bt.Blocks {
			rows += d.Rows.Count()
		}
	}
	ctx := context.Background()
	for _, srv := range dbtest.Servers(b) {
		b.Run(srv.Name, func(b *testing.B) {
			var without, with, build time.Duration
			for range b.N {
				b.StopTimer()
				plain, _ := srv.Open(b)
				indexed, _ := srv.Open(b)
				if _, err := indexes.New(indexed, indexes.Options{}).Create(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				load(b, plain, batches)
				without += time.Since(start)
				start = time.Now()
				load(b, indexed, batches)
				with += time.Since(start)
				start = time.Now()
				res, err := indexes.New(plain, indexes.Options{Poll: 100 * time.Millisecond}).Create(ctx)
				if err != nil {
					b.Fatal(err)
				}
				build += time.Since(start)
				for _, r := range res {
					b.Logf("%s: %s in %s (%d rows, %s)", r.Name, r.Action, r.Elapsed.Round(time.Millisecond), r.Rows, r.Mode)
				}
			}
			n := float64(b.N)
			b.ReportMetric(n*float64(rows)/without.Seconds(), "rows/s-without")
			b.ReportMetric(n*float64(rows)/with.Seconds(), "rows/s-with")
			b.ReportMetric(n*float64(blocks)/without.Seconds(), "blocks/s-without")
			b.ReportMetric(n*float64(blocks)/with.Seconds(), "blocks/s-with")
			b.ReportMetric(without.Seconds()/with.Seconds(), "with/without-rate")
			b.ReportMetric(build.Seconds()/n, "build-s")
			b.ReportMetric(build.Seconds()/without.Seconds(), "build/load-time")
		})
	}
}
