package faults_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// TiDB restarted mid-ingest: three writers apply 240 mainnet Conway blocks
// (20 history batches) through ingest.Applier into a private tidb-server,
// which goes down twice while batch transactions are writing and comes back
// on the same port and data. The writers reach it through a proxy, and each
// restart is what a crash of the TiDB node looks like from the writers' side:
// every connection is dropped at once (the proxy goes down), the
// transactions being written are cut, new connections are refused while the
// server is down (SIGTERM, then a start: see privateTiDB.stop for why not
// SIGKILL), and then a fresh server answers. The store's retries (dropped
// and refused connections are Retry) carry the writes across the restart,
// or the batch fails and is redelivered as the queue would. The end state
// equals the clean pass.
func TestTiDBRestartMidIngest(t *testing.T) {
	const (
		restarts = 2
		down     = 300 * time.Millisecond // how long the server stays down
		// settle is how long the cut sessions' commits get to finish their
		// background work (secondary keys) once the sessions are gone.
		settle = 300 * time.Millisecond
	)
	p := startPrivateTiDB(t)
	direct := p.Server()
	envs := cut(chain.Mainnet.Name, nil, nil, conwayBlocks(t, 0, 240), 12)
	want := cleanPass(t, direct, chain.Mainnet, envs)

	front := startCutter(t, net.JoinHostPort(direct.Host, direct.Port))
	srv := direct
	_, srv.Port, _ = net.SplitHostPort(front.Addr())
	db, cfg := srv.Open(t)
	watch := openPool(t, direct.Config(t, ""))
	var midTx atomic.Int64
	log := slog.New(midTxCounter{testLogger(t).Handler(), &midTx})
	store := chaindb.New(db, chaindb.Options{BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second, Logger: log})
	d := &deliveries{Applier: &ingest.Applier{Net: chain.Mainnet, Store: store}, Workers: 3,
		RetryAfter: 500 * time.Millisecond, MaxDeliveries: 5, Log: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var runErr error
	finished := make(chan struct{})
	go func() { runErr = d.run(ctx, envs); close(finished) }()
	defer func() { cancel(); <-finished }() // no writer outlives the test

	for i := range restarts {
		// A share of the batches in, then a restart while one is being written.
		target := int64(len(envs) * (i + 1) / (restarts + 2))
		for d.applied.Load() < target {
			select {
			case <-finished:
				t.Fatalf("ingest ended before restart %d: %v", i+1, runErr)
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
		writing, err := inTransaction(ctx, watch, cfg.DBName)
		if err != nil {
			t.Fatal(err)
		}
		front.disable()
		cutAt := time.Now()
		// The server notices the dropped connections and ends their sessions.
		testenv.WaitFor(t, 30*time.Second, "the cut sessions gone", func() bool {
			left, err := sessionIDs(ctx, watch, "SELECT ID FROM information_schema.processlist WHERE DB = ?", cfg.DBName)
			return err == nil && !slices.ContainsFunc(writing, func(id uint64) bool { return slices.Contains(left, id) })
		})
		gone := time.Since(cutAt)
		time.Sleep(settle)
		if err := p.stop(); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		injected(t, "TiDB down and restarted: every connection dropped, batch transactions cut mid-write")
		time.Sleep(down)
		if err := p.restart(t); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		if err := front.enable(); err != nil {
			t.Fatal(err)
		}
		t.Logf("restart %d: %d transaction(s) cut, their sessions gone after %s; writers cut off for %s; %d of %d batches in",
			i+1, len(writing), gone.Round(time.Millisecond), time.Since(cutAt).Round(time.Millisecond), d.applied.Load(), len(envs))
	}
	<-finished
	if runErr != nil {
		t.Fatal(runErr)
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
