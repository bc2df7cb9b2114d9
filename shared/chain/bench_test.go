package chain

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/ledger"

	"github.com/nectar-indexer/nectar/shared/immutable"
)

// BenchmarkDecodeConwayChunk decodes the 1,054 blocks of mainnet chunk 06189
// twice per iteration: once with bare gouroboros (ledger.NewBlockFromCbor, the
// baseline) and once into rows with DecodeBlock. It reports both rates and
// their ratio, measured in the same process on the same blocks.
func BenchmarkDecodeConwayChunk(b *testing.B) {
	blocks, err := immutable.ReadFile(filepath.Join(fixtureDir, "chains", "mainnet", "06189.chunk"))
	if err != nil {
		b.Fatal(err)
	}
	var bare, ours time.Duration
	rows := 0
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for _, blk := range blocks {
			if _, err := ledger.NewBlockFromCbor(blk.Type, blk.CBOR); err != nil {
				b.Fatal(err)
			}
		}
		bare += time.Since(start)
		start = time.Now()
		for _, blk := range blocks {
			d, err := DecodeBlock(Mainnet, blk.Type, blk.CBOR)
			if err != nil {
				b.Fatal(err)
			}
			rows += d.Rows.Count()
		}
		ours += time.Since(start)
	}
	n := float64(b.N * len(blocks))
	b.ReportMetric(n/bare.Seconds(), "gouroboros-blocks/s")
	b.ReportMetric(n/ours.Seconds(), "nectar-blocks/s")
	b.ReportMetric(float64(rows)/ours.Seconds(), "nectar-rows/s")
	b.ReportMetric(ours.Seconds()/bare.Seconds(), "nectar/gouroboros-time")
}
