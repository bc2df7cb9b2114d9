package ingest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
)

// previewBlocks returns the 432 blocks of preview chunks 00000 and 00001.
func previewBlocks(tb testing.TB) []batch.Block {
	tb.Helper()
	var out []batch.Block
	for _, c := range []string{"00000.chunk", "00001.chunk"} {
		blocks, err := immutable.ReadFile(filepath.Join("..", "..", "testdata", "chains", "preview", c))
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range blocks {
			out = append(out, batch.Block{Type: b.Type, CBOR: b.CBOR})
		}
	}
	return out
}

// envelopes cuts raw into envelopes of n blocks, the first following prev,
// tip batches after the rollback whose id is after.
func envelopes(network string, prev, after []byte, raw []batch.Block, n int) []*batch.Envelope {
	var out []*batch.Envelope
	for i := 0; i < len(raw); i += n {
		e := ingesttest.NewBlocks(network, prev, after, raw[i:min(i+n, len(raw))])
		prev = e.Last.Hash
		out = append(out, e)
	}
	return out
}

// point is the chain point of a raw block.
func point(tb testing.TB, b batch.Block) chain.Point {
	tb.Helper()
	h, err := chain.ReadHeader(b.Type, b.CBOR)
	if err != nil {
		tb.Fatal(err)
	}
	return h.Point
}

func rollbackTo(to, from chain.Point, at time.Time) *batch.Envelope {
	return &batch.Envelope{Kind: batch.KindRollback, Network: chain.Preview.Name, Point: to, From: from, At: at.UnixNano()}
}

func applyAll(tb testing.TB, a *ingest.Applier, envs ...*batch.Envelope) {
	tb.Helper()
	for i, e := range envs {
		if _, err := a.Apply(context.Background(), e); err != nil {
			tb.Fatalf("envelope %d (%s): %v", i, e.Kind, err)
		}
	}
}

func checksumsOf(tb testing.TB, db *sql.DB) map[string]string {
	tb.Helper()
	sums, err := chaindb.Checksums(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return sums
}

func sameSums(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	for table, w := range want {
		if got[table] != w {
			tb.Errorf("table %s: checksum %s, want %s (rows:sha256)", table, got[table], w)
		}
	}
}

func count(tb testing.TB, db *sql.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func recorded(tb testing.TB, db *sql.DB, e *batch.Envelope) bool {
	tb.Helper()
	return count(tb, db, "SELECT COUNT(*) FROM ingest_batch WHERE id = ?", e.ID()) == 1
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// A rollback deletes (Point, From], not everything above Point: history
// batches above From, applied before a rollback that reached ingest late
// (the FIFO queue is slower than the history queue), keep their rows and
// their ledger rows. Nothing would ever re-send them.
func TestRollbackDeletesOnlyUpToFrom(t *testing.T) {
	raw := previewBlocks(t)
	s, f := point(t, raw[149]), point(t, raw[199])
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		applyAll(t, &ingest.Applier{Net: chain.Preview, Store: chaindb.New(clean, chaindb.Options{})}, envelopes("preview", nil, nil, raw, 24)...)
		want := checksumsOf(t, clean)

		db, _ := srv.Open(t)
		a := &ingest.Applier{Net: chain.Preview, Store: chaindb.New(db, chaindb.Options{})}
		applyAll(t, a, envelopes("preview", nil, nil, raw[:200], 25)...)
		// History batches above From, applied first.
		history := envelopes("preview", point(t, raw[299]).Hash, nil, raw[300:], 33)
		applyAll(t, a, history...)
		above := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no > ?", f.Slot)

		r := rollbackTo(s, f, t0)
		applyAll(t, a, r)
		if n := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no > ? AND slot_no <= ?", s.Slot, f.Slot); n != 0 {
			t.Errorf("%d blocks left in (S, From]", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no > ?", f.Slot); n != above {
			t.Errorf("the rollback deleted blocks above From: %d there, %d before", n, above)
		}
		for _, h := range history {
			if !recorded(t, db, h) {
				t.Errorf("history batch %d-%d above From lost its ledger row", h.First.Slot, h.Last.Slot)
			}
		}
		// The follower re-sends (S, From] and on to where history starts.
		applyAll(t, a, envelopes("preview", s.Hash, r.ID(), raw[150:300], 20)...)
		sameSums(t, checksumsOf(t, db), want)
	})
}

// Rollbacks are ordered operations. A rollback delivered again (its id is in
// the ledger) is skipped; a stale one is refused: seen by the follower before
// a rollback that is already applied (redriven from the DLQ an hour later), or
// arriving after the tip batches that follow it (it failed without a trace).
// Applied, either would delete what was written after it.
func TestStaleAndRepeatedRollbacks(t *testing.T) {
	raw := previewBlocks(t)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		applyAll(t, &ingest.Applier{Net: chain.Preview, Store: chaindb.New(clean, chaindb.Options{})}, envelopes("preview", nil, nil, raw, 24)...)
		want := checksumsOf(t, clean)

		db, _ := srv.Open(t)
		a := &ingest.Applier{Net: chain.Preview, Store: chaindb.New(db, chaindb.Options{})}
		applyAll(t, a, envelopes("preview", nil, nil, raw[:250], 25)...)
		// r1 fails and goes to the DLQ; the follower restarts and rolls back
		// again (r2), and re-sends from there.
		r1 := rollbackTo(point(t, raw[199]), point(t, raw[249]), t0)
		r2 := rollbackTo(point(t, raw[219]), point(t, raw[249]), t0.Add(time.Minute))
		applyAll(t, a, r2)
		applyAll(t, a, envelopes("preview", point(t, raw[219]).Hash, r2.ID(), raw[220:], 30)...)
		before := checksumsOf(t, db)
		sameSums(t, before, want)

		// r3 fails without reaching the database; the batches behind it go
		// ahead (they extend the head).
		r3 := rollbackTo(point(t, raw[399]), point(t, raw[431]), t0.Add(2*time.Minute))
		applyAll(t, a, envelopes("preview", point(t, raw[399]).Hash, r3.ID(), raw[400:], 16)...)

		// An hour later r1 and r3 are redriven, and r2 delivered once more.
		for _, r := range []*batch.Envelope{r1, r2, r3} {
			res, err := a.Apply(context.Background(), r)
			if err != nil {
				t.Fatalf("rollback to %s: %v", r.Point, err)
			}
			if res.Applied {
				t.Errorf("rollback to %s seen at %s applied again after rollbacks seen later", r.Point, time.Unix(0, r.At).UTC())
			}
		}
		sameSums(t, checksumsOf(t, db), want)
	})
}

// A tip batch follows its rollback and extends the head. It is refused (to
// be retried) while the rollback it follows has failed, or while blocks of
// another fork lie between its parent and its last block; a tip batch that a
// later rollback abandoned is skipped when it comes back; and one that
// follows its run's start (no rollback of that id was ever tried) is applied
// when it extends the head.
func TestTipBatchFollowsRollbackAndHead(t *testing.T) {
	raw := previewBlocks(t)
	s, f := point(t, raw[199]), point(t, raw[249])
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		a := &ingest.Applier{Net: chain.Preview, Store: chaindb.New(db, chaindb.Options{})}
		ctx := context.Background()
		r0 := rollbackTo(f, f, t0) // a restart at the head: nothing to delete
		applyAll(t, a, envelopes("preview", nil, nil, raw[:250], 25)...)
		applyAll(t, a, r0)
		// Sent after r0 and before r: the tip then, abandoned by r.
		abandoned := ingesttest.NewBlocks("preview", point(t, raw[239]).Hash, r0.ID(), raw[240:250])
		r := rollbackTo(s, f, t0.Add(time.Minute))

		// r fails (its invocation ran out of time): a batch following it waits.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := a.Apply(cancelled, r); err == nil {
			t.Fatal("a rollback applied with a cancelled context")
		}
		next := ingesttest.NewBlocks("preview", s.Hash, r.ID(), raw[200:230])
		if _, err := a.Apply(ctx, next); err == nil {
			t.Error("a tip batch following a rollback that was not applied was applied")
		}
		if recorded(t, db, next) {
			t.Error("the refused tip batch is in the ledger")
		}
		// A batch whose parent is not the head: blocks (S, From] of another
		// fork lie above its parent (here, after r0, as if r were lost).
		fork := ingesttest.NewBlocks("preview", s.Hash, r0.ID(), raw[300:310])
		if _, err := a.Apply(ctx, fork); err == nil {
			t.Error("a tip batch carried on over another fork")
		}
		if n := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no >= ?", fork.First.Slot); n != 0 {
			t.Errorf("%d blocks of the refused batch written", n)
		}

		applyAll(t, a, r, next)
		// The abandoned batch comes back (redriven): skipped, not written.
		res, err := a.Apply(ctx, abandoned)
		if err != nil {
			t.Fatalf("abandoned batch: %v", err)
		}
		if res.Applied {
			t.Error("a tip batch abandoned by a later rollback was applied")
		}
		if n := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no > ?", next.Last.Slot); n != 0 {
			t.Errorf("%d blocks above the head after the abandoned batch came back", n)
		}
		// A new run's first tip batches follow its start, not a rollback.
		start := []byte("a follower run's start id......")
		if _, err := a.Apply(ctx, ingesttest.NewBlocks("preview", next.Last.Hash, start, raw[230:260])); err != nil {
			t.Errorf("a tip batch extending the head after a start: %v", err)
		}
	})
}

// Issue 11, found by the simulation: a run's first tip batches follow its
// start id, which no rollback ever recorded, so when one came back from the
// DLQ after a later run had rolled back below it, only the head decided: it
// was refused forever, or, holding the blocks the later run re-sent, written
// with its blocks above the head. Tip envelopes now carry At (when their run
// started); a rollback seen after it abandons the batch, and one into the
// batch keeps its blocks up to the rollback's point.
func TestRedrivenTipBatchesAfterTheChainMovedOn(t *testing.T) {
	raw := previewBlocks(t)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		a := &ingest.Applier{Net: chain.Preview, Store: store}
		ctx := context.Background()
		applyAll(t, a, envelopes("preview", nil, nil, raw[:200], 50)...)
		// Run 1 started at t0 and sent two tip batches; both went to the DLQ.
		run1 := []byte("run 1's start id.................")
		into := ingesttest.NewBlocks("preview", point(t, raw[199]).Hash, run1, raw[200:250])
		above := ingesttest.NewBlocks("preview", point(t, raw[249]).Hash, run1, raw[250:260])
		into.At, above.At = t0.UnixNano(), t0.UnixNano()
		// Run 2 re-intersected at block 219 a minute later, rolled back and
		// re-sent what follows it.
		r := rollbackTo(point(t, raw[219]), point(t, raw[259]), t0.Add(time.Minute))
		next := ingesttest.NewBlocks("preview", point(t, raw[219]).Hash, r.ID(), raw[220:240])
		next.At = r.At
		applyAll(t, a, r, next)

		// Redriven: the batch the rollback went into writes its blocks up to
		// the rollback's point; the one above it is skipped.
		res, err := a.Apply(ctx, into)
		if err != nil || !res.Applied || res.Blocks != 20 {
			t.Errorf("the batch the rollback went into: %+v, %v; want applied with its 20 blocks up to the point", res, err)
		}
		if res, err := a.Apply(ctx, above); err != nil || res.Applied || !res.Stale {
			t.Errorf("the batch above the rollback: %+v, %v; want skipped as stale", res, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM block"); n != 240 {
			t.Errorf("%d blocks, want the 240 of the chain up to block 239", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM block WHERE slot_no > ?", next.Last.Slot); n != 0 {
			t.Errorf("%d blocks above the head", n)
		}
		if err := store.SaveCursor(ctx, "preview", []chain.Point{next.Last}); err != nil {
			t.Fatal(err)
		}
		rep, err := store.Verify(ctx, "preview", 10)
		if err != nil || !rep.OK() {
			t.Errorf("verify: %v %v", rep, err)
		}
	})
}
