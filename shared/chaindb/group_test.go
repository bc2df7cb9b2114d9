package chaindb_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
)

func conwayBatches(tb testing.TB) []*chaindb.Batch {
	return chunkBatches(tb, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)
}

// applyAll applies batches together and fails the test on any error.
func applyAll(tb testing.TB, s *chaindb.Store, bs []*chaindb.Batch, parallel int) []chaindb.BatchResult {
	tb.Helper()
	res := s.ApplyBatches(context.Background(), bs, parallel)
	for i, r := range res {
		if r.Err != nil {
			tb.Fatalf("batch %d (%x): %v", i, bs[i].ID[:6], r.Err)
		}
	}
	return res
}

// History batches applied together (shuffled, each twice, in several
// transactions two at a time) leave every table byte-identical to one clean
// pass batch by batch, each batch recorded once; applied again, nothing
// changes and every batch reports that it was recorded.
func TestApplyBatchesMatchesOneByOne(t *testing.T) {
	batches := fixtureBatches(t)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		apply(t, chaindb.New(clean, chaindb.Options{}), batches)
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{TxnBytes: 4 << 20})
		order := append(append([]*chaindb.Batch{}, batches...), batches...)
		rng := rand.New(rand.NewPCG(3, 4))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		res := applyAll(t, store, order, 2)
		applied := map[string]int{}
		for i, r := range res {
			if r.Applied {
				applied[string(order[i].ID)]++
			}
		}
		for _, b := range batches {
			if applied[string(b.ID)] != 1 {
				t.Errorf("batch %x applied %d times, want once", b.ID[:6], applied[string(b.ID)])
			}
		}
		st := store.Stats()
		if st.GroupTxns < 2 || st.GroupBatches != int64(len(batches))-st.GroupFallbacks {
			t.Errorf("%d transactions of %d batches, want several holding all %d", st.GroupTxns, st.GroupBatches, len(batches))
		}
		sameChecksums(t, checksums(t, db), want)
		if got := countRows(t, db, "ingest_batch"); got != int64(len(batches)) {
			t.Errorf("ingest_batch: %d rows, want %d", got, len(batches))
		}

		for i, r := range applyAll(t, store, batches, 2) {
			if r.Applied {
				t.Errorf("batch %d applied again", i)
			}
		}
		if got := store.Stats().GroupTxns; got != st.GroupTxns {
			t.Errorf("recorded batches were written again: %d transactions, was %d", got, st.GroupTxns)
		}
		sameChecksums(t, checksums(t, db), want)
	})
}

// A transaction of several batches that fails in the middle (a row of the
// twelfth batch's outputs is too long for its column, after the blocks and
// transactions of every batch were written in it) writes nothing; the
// batches are applied again one by one, so that only the bad one fails, and
// it leaves no row behind but its shared rows (written before, as
// ApplyBatch writes them: they converge whenever it applies).
func TestApplyBatchesFailureInTheMiddle(t *testing.T) {
	batches := conwayBatches(t)
	bad := 11
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		good := append(append([]*chaindb.Batch{}, batches[:bad]...), batches[bad+1:]...)
		apply(t, chaindb.New(clean, chaindb.Options{}), good)
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{TxnBytes: chaindb.DefaultMaxTxnBytes, BackoffBase: time.Millisecond})
		order := append([]*chaindb.Batch{}, batches...)
		order[bad] = corruptOutput(t, batches[bad])
		res := store.ApplyBatches(context.Background(), order, 2)
		for i, r := range res {
			switch {
			case i == bad && (r.Err == nil || chaindb.Classify(r.Err) != chaindb.Data):
				t.Errorf("the bad batch: %v, want a data error", r.Err)
			case i != bad && (r.Err != nil || !r.Applied):
				t.Errorf("batch %d: applied %v, %v", i, r.Applied, r.Err)
			}
		}
		if st := store.Stats(); st.GroupFallbacks != 1 {
			t.Errorf("%d fallbacks to one batch at a time, want 1", st.GroupFallbacks)
		}
		sameChecksums(t, unshared(checksums(t, db)), unshared(want))
		for _, d := range batches[bad].Blocks {
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM block WHERE hash = ?", d.Hash).Scan(&n); err != nil || n != 0 {
				t.Fatalf("block %x of the failed batch: %d rows (%v)", d.Hash[:6], n, err)
			}
		}
		if got := countRows(t, db, "ingest_batch"); got != int64(len(good)) {
			t.Errorf("ingest_batch: %d rows, want %d", got, len(good))
		}
	})
}

// unshared drops the shared tables' checksums.
func unshared(sums map[string]string) map[string]string {
	out := map[string]string{}
	for t, sum := range sums {
		if id, ok := chain.TableByName(t); !ok || !chain.Tables[id].Shared {
			out[t] = sum
		}
	}
	return out
}

// corruptOutput returns a copy of b whose first output's payment credential
// is longer than its column allows.
func corruptOutput(tb testing.TB, b *chaindb.Batch) *chaindb.Batch {
	tb.Helper()
	c := *b
	c.Blocks = append([]*chain.Decoded{}, b.Blocks...)
	for k, d := range c.Blocks {
		if len(d.Rows[chain.TxOut]) == 0 {
			continue
		}
		dd := *d
		dd.Rows[chain.TxOut] = append([][]any{}, d.Rows[chain.TxOut]...)
		row := append([]any{}, dd.Rows[chain.TxOut][0]...)
		for i, col := range chain.Tables[chain.TxOut].Columns {
			if col == "payment_cred" {
				row[i] = bytes.Repeat([]byte{7}, 40)
			}
		}
		dd.Rows[chain.TxOut][0] = row
		c.Blocks[k] = &dd
		return &c
	}
	tb.Fatal("no output in the batch")
	return nil
}

// A connection killed in the middle of a transaction of several batches:
// the transaction is retried whole, and the database ends byte-identical to
// a clean pass.
func TestApplyBatchesKilledConnection(t *testing.T) {
	batches := conwayBatches(t)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		apply(t, chaindb.New(clean, chaindb.Options{}), batches)
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{StatementRows: 100, MinStatementRows: 100, MaxStatementRows: 100, TxnBytes: chaindb.DefaultMaxTxnBytes,
			BackoffBase: 10 * time.Millisecond})
		var killed atomic.Int32
		stop := killWhileWriting(t, srv, db, &killed)
		applyAll(t, store, batches, 1)
		stop()
		if killed.Load() != 1 {
			t.Fatalf("killed %d connections mid-transaction, want 1", killed.Load())
		}
		if st := store.Stats(); st.Retries == 0 || st.GroupFallbacks != 0 {
			t.Errorf("%d retries, %d fallbacks: want the transaction retried whole", st.Retries, st.GroupFallbacks)
		}
		sameChecksums(t, checksums(t, db), want)
	})
}

// A transaction of several batches that exceeds the session's memory quota
// (TiDB counts a transaction's buffered writes in it) is cut in halves until
// the parts pass. MariaDB has no such quota.
func TestApplyBatchesSplitsOnMemoryQuota(t *testing.T) {
	batches := conwayBatches(t)
	for _, srv := range dbtest.Servers(t) {
		if srv.Name != "tidb" {
			t.Logf("%s: no transaction memory quota to exceed", srv.Name)
			continue
		}
		t.Run(srv.Name, func(t *testing.T) {
			clean, _ := srv.Open(t)
			apply(t, chaindb.New(clean, chaindb.Options{}), batches)
			want := checksums(t, clean)

			_, cfg := srv.Open(t)
			cfg.Params["tidb_mem_quota_query"] = "50331648" // 48 MiB: one batch passes, the whole chunk does not
			db := openConfig(t, cfg)
			store := chaindb.New(db, chaindb.Options{TxnBytes: chaindb.DefaultMaxTxnBytes, MaxTxnBytes: 1 << 30})
			res := applyAll(t, store, batches, 1)
			for i, r := range res {
				if !r.Applied {
					t.Errorf("batch %d not applied", i)
				}
			}
			st := store.Stats()
			if st.GroupSplits == 0 || st.GroupFallbacks != 0 {
				t.Errorf("%d splits, %d fallbacks: want the transaction cut in halves", st.GroupSplits, st.GroupFallbacks)
			}
			t.Logf("%d transactions after %d splits", st.GroupTxns, st.GroupSplits)
			sameChecksums(t, checksums(t, db), want)
		})
	}
}

func openConfig(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	tb.Cleanup(func() { db.Close() })
	return db
}

// When the caller's context ends, every batch of the call fails with it,
// none falls back to one batch at a time.
func TestApplyBatchesCanceled(t *testing.T) {
	batches := conwayBatches(t)[:4]
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for i, r := range store.ApplyBatches(ctx, batches, 2) {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("batch %d: %v, want canceled", i, r.Err)
			}
		}
		if st := store.Stats(); st.GroupFallbacks != 0 {
			t.Errorf("%d fallbacks after the context ended", st.GroupFallbacks)
		}
	})
}
