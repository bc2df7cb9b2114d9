package faults_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest/toxitest"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

// Connections cut mid-transaction and latency spikes: three writers apply
// 180 mainnet Conway blocks (15 history batches) to the shared TiDB through
// two in-process toxiproxy proxies (store → cutter → toxitest → TiDB), and
// each fault below is injected while a batch transaction is writing: TCP
// resets both ways, a latency spike, connections stalled and then closed, and
// the proxy down (open connections closed, new ones refused). Failed applies
// are retried by the store or redelivered; the end state equals the clean
// pass.
func TestConnectionCutsAndLatency(t *testing.T) {
	srv := sharedTiDB(t)
	envs := cut(chain.Mainnet.Name, nil, nil, conwayBlocks(t, 240, 420), 12)
	want := cleanPass(t, srv, chain.Mainnet, envs)

	direct, cfg := srv.Open(t) // also watches the processlist
	slow := toxitest.Start(t, cfg.Addr)
	cuts := startCutter(t, slow.Addr())
	pcfg := cfg.Clone()
	pcfg.Addr = cuts.Addr()
	db := openPool(t, pcfg)
	var midTx atomic.Int64
	log := slog.New(midTxCounter{testLogger(t).Handler(), &midTx})
	store := chaindb.New(db, chaindb.Options{BackoffBase: 20 * time.Millisecond, BackoffMax: 500 * time.Millisecond, Logger: log})
	d := &deliveries{Applier: &ingest.Applier{Net: chain.Mainnet, Store: store}, Workers: 3,
		RetryAfter: 300 * time.Millisecond, MaxDeliveries: 6, Log: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var runErr error
	finished := make(chan struct{})
	go func() { runErr = d.run(ctx, envs); close(finished) }()
	defer func() { cancel(); <-finished }() // no writer outlives the test

	faults := []struct {
		name         string
		inject, undo func() error
		hold         time.Duration
	}{
		{
			name: "connections reset (TCP RST both ways) mid-transaction",
			inject: func() error {
				if err := cuts.add("reset_up", "reset_peer", "upstream", map[string]any{"timeout": 0}); err != nil {
					return err
				}
				return cuts.add("reset_down", "reset_peer", "downstream", map[string]any{"timeout": 0})
			},
			undo: func() error {
				if err := cuts.remove(t, "reset_up"); err != nil {
					return err
				}
				return cuts.remove(t, "reset_down")
			},
			hold: 200 * time.Millisecond,
		},
		{
			name:   "latency spike: +150 ms on every round trip for 1.5 s",
			inject: func() error { slow.SetLatency(t, 150*time.Millisecond); return nil },
			undo:   func() error { slow.SetLatency(t, 0); return nil },
			hold:   1500 * time.Millisecond,
		},
		{
			name:   "connections stalled mid-transaction, closed after 400 ms (timeout toxic)",
			inject: func() error { return cuts.add("stall", "timeout", "upstream", map[string]any{"timeout": 400}) },
			undo:   func() error { return cuts.remove(t, "stall") },
			hold:   700 * time.Millisecond,
		},
		{
			name:   "proxy down for 500 ms: open connections closed mid-transaction, new ones refused",
			inject: func() error { cuts.disable(); return nil },
			undo:   cuts.enable,
			hold:   500 * time.Millisecond,
		},
	}
	for i, f := range faults {
		target := int64(len(envs) * (i + 1) / (len(faults) + 2))
		for d.applied.Load() < target {
			select {
			case <-finished:
				t.Fatalf("ingest ended before fault %q: %v", f.name, runErr)
			case <-time.After(10 * time.Millisecond):
			}
		}
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := waitWriting(wctx, direct, cfg.DBName)
		wcancel()
		if err != nil {
			t.Fatalf("fault %q: %v", f.name, err)
		}
		retries := store.Stats().Retries
		if err := f.inject(); err != nil {
			t.Fatal(err)
		}
		injected(t, f.name)
		time.Sleep(f.hold)
		if err := f.undo(); err != nil {
			t.Fatal(err)
		}
		t.Logf("after %q: %d of %d batches in, %d store retries during it", f.name, d.applied.Load(), len(envs),
			store.Stats().Retries-retries)
	}
	<-finished
	if runErr != nil {
		t.Fatal(runErr)
	}
	st := store.Stats()
	t.Logf("%d batches applied; the store retried %d times (%d batch transactions cut while writing), %d deliveries failed and were redelivered",
		len(envs), st.Retries, midTx.Load(), d.redelivered.Load())
	if midTx.Load() == 0 {
		t.Errorf("no batch transaction was cut while writing")
	}
	if n := count(t, direct, "SELECT COUNT(*) FROM ingest_batch"); n != int64(len(envs)) {
		t.Errorf("%d batches recorded, want %d", n, len(envs))
	}
	assertEndState(t, direct, chain.Mainnet, want, blockCount(envs))
}
