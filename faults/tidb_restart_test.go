package faults_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/tidb"
)

// TiDB restarted mid-ingest: three writers apply 240 mainnet Conway blocks
// (20 history batches) through ingest.Applier into a private tidb-server,
// which goes down twice while batch transactions are writing (they are cut
// mid-write, then SIGTERM: see privateTiDB.stop for why not SIGKILL), stays
// down for a moment (connections refused) and starts again on the same port
// and data. The store's retries (dropped and refused connections
// are Retry) carry the writes across the restart, or the batch fails and is
// redelivered as the queue would. The end state equals the clean pass.
func TestTiDBRestartMidIngest(t *testing.T) {
	const (
		restarts = 2
		down     = 300 * time.Millisecond // how long the server stays down
	)
	p := startPrivateTiDB(t)
	srv := p.Server()
	envs := cut(chain.Mainnet.Name, nil, nil, conwayBlocks(t, 0, 240), 12)
	want := cleanPass(t, srv, chain.Mainnet, envs)

	db, cfg := srv.Open(t)
	watch := openPool(t, srv.Config(t, ""))
	var midTx atomic.Int64
	log := slog.New(midTxCounter{testLogger(t).Handler(), &midTx})
	store := tidb.New(db, tidb.Options{BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second, Logger: log})
	d := &deliveries{Applier: &ingest.Applier{Net: chain.Mainnet, Store: store}, Workers: 3,
		RetryAfter: 500 * time.Millisecond, MaxDeliveries: 5, Log: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, envs) }()

	for i := range restarts {
		// A share of the batches in, then a kill while one is being written.
		target := int64(len(envs) * (i + 1) / (restarts + 2))
		for d.applied.Load() < target {
			select {
			case err := <-done:
				t.Fatalf("ingest ended before restart %d: %v", i+1, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := waitWriting(wctx, watch, cfg.DBName)
		wcancel()
		if err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		time.Sleep(rand.N(20 * time.Millisecond))
		cut, err := p.stop(watch, cfg.DBName)
		if err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		if cut == 0 {
			t.Errorf("restart %d: no transaction was cut", i+1)
		}
		injected(t, "tidb-server restarted, its batch transactions cut mid-write")
		t.Logf("restart %d: tidb-server down, %d transaction(s) cut", i+1, cut)
		time.Sleep(down)
		if err := p.restart(t); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		t.Logf("restart %d: tidb-server back after %d of %d batches", i+1, d.applied.Load(), len(envs))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := store.Stats()
	t.Logf("%d batches applied; the store retried %d times (%d batch transactions cut while writing), %d deliveries failed and were redelivered",
		len(envs), st.Retries, midTx.Load(), d.redelivered.Load())
	if midTx.Load()+d.redelivered.Load() == 0 {
		t.Errorf("the restarts cut no batch transaction while it was writing")
	}
	if n := count(t, db, "SELECT COUNT(*) FROM ingest_batch"); n != int64(len(envs)) {
		t.Errorf("%d batches recorded, want %d", n, len(envs))
	}
	assertEndState(t, db, chain.Mainnet, want, blockCount(envs))
}
