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
// pollers (two history invocations at a time, historyConcurrency) → the
// ingest handler (in-process: the runtime emulator serialises invocations,
// a real event source does not) → TiDB — twice: with the
// template's history event source (HistoryBatchSize messages, a batching
// window, at most 6 MB) and the history messages of an invocation written
// together in large transactions (Handler.Combine, as the ingest function
// does by default), and with the earlier event source (batches of 10) and
// a transaction per message. In the same run it decodes the blocks and
// writes them the Nectar-style way: one database transaction per Cardano
// transaction. It reports blocks/s of each and the speed-ups.
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
	var large, perMessage, baseline time.Duration
	for range b.N {
		for _, combine := range []bool{true, false} {
			took := pipeline(b, srv, chunk, len(raw), combine)
			if combine {
				large += took
			} else {
				perMessage += took
			}
		}
		b.StopTimer()
		db2, _ := srv.Open(b)
		b.StartTimer()
		start := time.Now()
		if err := nectarStyle(db2, raw); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(start)
	}
	n := float64(b.N * len(raw))
	b.ReportMetric(n/large.Seconds(), "pipeline-blocks/s")
	b.ReportMetric(n/perMessage.Seconds(), "per-message-pipeline-blocks/s")
	b.ReportMetric(n/baseline.Seconds(), "per-tx-baseline-blocks/s")
	b.ReportMetric(baseline.Seconds()/large.Seconds(), "pipeline-speedup")
	b.ReportMetric(baseline.Seconds()/perMessage.Seconds(), "per-message-pipeline-speedup")
}

// The template's history event source (template.yaml: HistoryBatchSize and
// the batching window).
const (
	historyBatchSize = 100
	historyWindow    = 10 * time.Second
	// historyConcurrency is how many history invocations run at once: the
	// least an event source's MaximumConcurrency may be (the template's
	// MaxIngestConcurrency is 4; this machine has 2 cores). One Poller
	// invokes one batch at a time, so there are as many Pollers.
	historyConcurrency = 2
)

// pipeline runs the chunk's blocks from the follower to a fresh database
// and returns how long until every block is in it.
func pipeline(b *testing.B, srv dbtest.Server, chunk string, blocks int, combine bool) time.Duration {
	b.StopTimer()
	db, _ := srv.Open(b)
	store := chaindb.New(db, chaindb.Options{})
	client := sqstest.NewClient(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	history, tip, err := sqs.CreateQueues(ctx, client, sqstest.QueueName(b), sqs.QueueOptions{MaxMessageBytes: 256 << 10})
	if err != nil {
		b.Fatal(err)
	}
	h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Mainnet, Store: store}, Combine: combine}
	b.StartTimer()
	start := time.Now()
	pollers := []string{tip}
	for range historyConcurrency {
		pollers = append(pollers, history)
	}
	for _, q := range pollers {
		p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: h.Handle, BatchSize: 10, Wait: time.Second}
		if q == history && combine {
			p.BatchSize, p.BatchingWindow = historyBatchSize, historyWindow
		}
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
	for n := 0; n < blocks; {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d blocks applied after 10 minutes", n, blocks)
		}
		time.Sleep(50 * time.Millisecond)
		if err := db.QueryRow("SELECT COUNT(*) FROM block").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	if st := store.Stats(); combine {
		b.Logf("large transactions: %d of %d batches, %.1f MiB estimated, %d splits, %d fallbacks", st.GroupTxns, st.GroupBatches,
			float64(st.GroupBytes)/(1<<20), st.GroupSplits, st.GroupFallbacks)
	}
	return took
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
