package e2e_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

// BenchmarkEndToEnd moves the mainnet Conway chunk (1,054 blocks) through the
// whole pipeline — follower (chunk source) → SQS (fauxqs) → the event-source
// poller → the ingest handler (in-process: the runtime emulator serialises
// invocations, a real event source does not) → TiDB — and, in the same run,
// through a Nectar-style baseline that decodes the blocks and writes one
// database transaction per Cardano transaction. It reports blocks/s of both
// and the speed-up.
func BenchmarkEndToEnd(b *testing.B) {
	servers := dbtest.Servers(b)
	if len(servers) == 0 {
		return
	}
	srv := servers[0]
	endpoint := sqstest.Endpoint(b)
	if endpoint == "" {
		return
	}
	chunk := filepath.Join("..", "..", "testdata", "chains", "mainnet")
	raw, err := immutable.ReadFile(filepath.Join(chunk, "06189.chunk"))
	if err != nil {
		b.Fatal(err)
	}
	var pipeline, baseline time.Duration
	for range b.N {
		b.StopTimer()
		db, _ := srv.Open(b)
		store := chaindb.New(db, chaindb.Options{})
		client := sqstest.NewClient(b)
		ctx, cancel := context.WithCancel(context.Background())
		history, tip, err := sqs.CreateQueues(ctx, client, sqstest.QueueName(b), sqs.QueueOptions{MaxMessageBytes: 256 << 10})
		if err != nil {
			b.Fatal(err)
		}
		h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Mainnet, Store: store}}
		b.StartTimer()
		start := time.Now()
		for _, q := range []string{history, tip} {
			p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: h.Handle, BatchSize: 10, Wait: time.Second}
			go func() { _ = p.Run(ctx) }()
		}
		f, err := follower.New(follower.Options{Network: chain.Mainnet,
			Sources: []follower.Source{&follower.ChunkSource{Dir: chunk}},
			Sink:    &follower.SQSSink{Sender: sqs.NewSender(client, sqs.SenderOptions{}), Network: "mainnet", HistoryURL: history, TipURL: tip},
			Cursor:  &followertest.MemCursor{},
			Batch:   follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 500, MaxWait: time.Second}})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Run(ctx); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Minute)
		for n := 0; n < len(raw); {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d blocks applied after 10 minutes", n, len(raw))
			}
			time.Sleep(50 * time.Millisecond)
			if err := db.QueryRow("SELECT COUNT(*) FROM block").Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
		pipeline += time.Since(start)
		cancel()

		b.StopTimer()
		db2, _ := srv.Open(b)
		b.StartTimer()
		start = time.Now()
		if err := nectarStyle(db2, raw); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(start)
	}
	n := float64(b.N * len(raw))
	b.ReportMetric(n/pipeline.Seconds(), "pipeline-blocks/s")
	b.ReportMetric(n/baseline.Seconds(), "per-tx-baseline-blocks/s")
	b.ReportMetric(baseline.Seconds()/pipeline.Seconds(), "pipeline-speedup")
}

// nectarStyle decodes each block and writes it the old Nectar's way: one
// transaction per Cardano transaction (its rows), one for the block row.
func nectarStyle(db *sql.DB, raw []immutable.Block) error {
	ctx := context.Background()
	for _, blk := range raw {
		d, err := chain.DecodeBlock(chain.Mainnet, blk.Type, blk.CBOR)
		if err != nil {
			return err
		}
		if err := dbtest.PerTransaction(ctx, db, dbtest.ByFirstKey(&d.Rows)); err != nil {
			return err
		}
	}
	return nil
}
