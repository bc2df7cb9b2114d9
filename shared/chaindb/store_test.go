package chaindb_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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

const testdata = "../../testdata"

// fixtureBatches returns the 161 single fixture blocks, one batch each, and the
// mainnet Conway chunk cut into batches of 50 blocks.
func fixtureBatches(tb testing.TB) []*chaindb.Batch {
	tb.Helper()
	f, err := os.Open(filepath.Join(testdata, "blocks", "index.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []*chaindb.Batch
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		bt, _ := strconv.Atoi(cols[1])
		raw, err := os.ReadFile(filepath.Join(testdata, "blocks", cols[0]))
		if err != nil {
			tb.Fatal(err)
		}
		net, err := chain.NetworkByName(cols[3])
		if err != nil {
			net = chain.UnknownNetwork(cols[3], cols[3] != "unknown")
		}
		b := ingest.DecodeBlocks(net, ingesttest.NewBlocks(net.Name, nil, nil, []batch.Block{{Type: uint(bt), CBOR: raw}}))
		if len(b.Quarantine) > 0 {
			tb.Fatalf("fixture %s did not decode: %v", cols[0], b.Quarantine[0].Err)
		}
		out = append(out, b)
	}
	return append(out, chunkBatches(tb, chain.Mainnet, []string{filepath.Join(testdata, "chains", "mainnet", "06189.chunk")}, 50)...)
}

// chunkBatches reads chunk files and cuts their blocks into batches of size n.
func chunkBatches(tb testing.TB, net chain.Network, chunks []string, n int) []*chaindb.Batch {
	tb.Helper()
	var raw []batch.Block
	for _, c := range chunks {
		blocks, err := immutable.ReadFile(c)
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range blocks {
			raw = append(raw, batch.Block{Type: b.Type, CBOR: b.CBOR})
		}
	}
	return cut(tb, net, nil, raw, n)
}

func cut(tb testing.TB, net chain.Network, prev []byte, raw []batch.Block, n int) []*chaindb.Batch {
	tb.Helper()
	var out []*chaindb.Batch
	for i := 0; i < len(raw); i += n {
		b := ingest.DecodeBlocks(net, ingesttest.NewBlocks(net.Name, prev, nil, raw[i:min(i+n, len(raw))]))
		if len(b.Quarantine) > 0 {
			tb.Fatalf("block at slot %d did not decode: %v", b.Quarantine[0].Err.Slot, b.Quarantine[0].Err)
		}
		prev = b.Last.Hash
		out = append(out, b)
	}
	return out
}

func apply(tb testing.TB, s *chaindb.Store, batches []*chaindb.Batch) {
	tb.Helper()
	ctx := context.Background()
	for _, b := range batches {
		if _, err := s.ApplyBatch(ctx, b); err != nil {
			tb.Fatalf("apply batch %x (slots %d-%d): %v", b.ID[:6], b.First.Slot, b.Last.Slot, err)
		}
	}
}

// expectedCounts is the number of distinct rows per table the decoder produced.
func expectedCounts(batches []*chaindb.Batch) map[string]int64 {
	var all chain.Rows
	for _, b := range batches {
		for _, d := range b.Blocks {
			all.Append(&d.Rows)
		}
	}
	all.Dedup()
	out := map[string]int64{}
	for t, rows := range all {
		out[chain.Tables[t].Name] = int64(len(rows))
	}
	return out
}

func countRows(tb testing.TB, db *sql.DB, table string) int64 {
	tb.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// orphanQueries each count rows whose parent row is missing.
var orphanQueries = map[string]string{
	"tx without block":             "SELECT COUNT(*) FROM tx LEFT JOIN block b ON b.hash = tx.block_hash WHERE b.hash IS NULL",
	"tx_out without tx":            "SELECT COUNT(*) FROM tx_out o LEFT JOIN tx ON tx.hash = o.tx_hash WHERE tx.hash IS NULL",
	"collateral_tx_out without tx": "SELECT COUNT(*) FROM collateral_tx_out o LEFT JOIN tx ON tx.hash = o.tx_hash WHERE tx.hash IS NULL",
	"tx_in without tx":             "SELECT COUNT(*) FROM tx_in i LEFT JOIN tx ON tx.hash = i.tx_in_hash WHERE tx.hash IS NULL",
	"collateral_tx_in without tx":  "SELECT COUNT(*) FROM collateral_tx_in i LEFT JOIN tx ON tx.hash = i.tx_in_hash WHERE tx.hash IS NULL",
	"reference_tx_in without tx":   "SELECT COUNT(*) FROM reference_tx_in i LEFT JOIN tx ON tx.hash = i.tx_in_hash WHERE tx.hash IS NULL",
	"ma_tx_out without output":     "SELECT COUNT(*) FROM ma_tx_out m LEFT JOIN tx_out o ON o.tx_hash = m.tx_hash AND o.`index` = m.`index` WHERE o.tx_hash IS NULL",
	"ma_tx_out without asset":      "SELECT COUNT(*) FROM ma_tx_out m LEFT JOIN multi_asset a ON a.policy = m.policy AND a.name = m.name WHERE a.policy IS NULL",
	"ma_tx_mint without tx":        "SELECT COUNT(*) FROM ma_tx_mint m LEFT JOIN tx ON tx.hash = m.tx_hash WHERE tx.hash IS NULL",
	"tx_metadata without tx":       "SELECT COUNT(*) FROM tx_metadata m LEFT JOIN tx ON tx.hash = m.tx_hash WHERE tx.hash IS NULL",
	"redeemer without tx":          "SELECT COUNT(*) FROM redeemer r LEFT JOIN tx ON tx.hash = r.tx_hash WHERE tx.hash IS NULL",
	"withdrawal without address":   "SELECT COUNT(*) FROM withdrawal w LEFT JOIN stake_address s ON s.view = w.stake_address WHERE s.view IS NULL",
	"delegation without pool":      "SELECT COUNT(*) FROM delegation d LEFT JOIN pool_hash p ON p.hash_raw = d.pool_hash WHERE p.hash_raw IS NULL",
	"inline datum without datum":   "SELECT COUNT(*) FROM tx_out o LEFT JOIN datum d ON d.hash = o.inline_datum_hash WHERE o.inline_datum_hash IS NOT NULL AND d.hash IS NULL",
	"reference script missing":     "SELECT COUNT(*) FROM tx_out o LEFT JOIN script s ON s.hash = o.reference_script_hash WHERE o.reference_script_hash IS NOT NULL AND s.hash IS NULL",
	"extra_key_witness without tx": "SELECT COUNT(*) FROM extra_key_witness w LEFT JOIN tx ON tx.hash = w.tx_hash WHERE tx.hash IS NULL",
	"voting_procedure without tx":  "SELECT COUNT(*) FROM voting_procedure v LEFT JOIN tx ON tx.hash = v.tx_hash WHERE tx.hash IS NULL",
	"proposal without tx":          "SELECT COUNT(*) FROM gov_action_proposal g LEFT JOIN tx ON tx.hash = g.tx_hash WHERE tx.hash IS NULL",
}

func checksums(tb testing.TB, db *sql.DB) map[string]string {
	tb.Helper()
	sums, err := chaindb.Checksums(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return sums
}

func sameChecksums(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	for table, w := range want {
		if got[table] != w {
			tb.Errorf("table %s: checksum %s, want %s (rows:sha256)", table, got[table], w)
		}
	}
}

// Test 1: every fixture block and the Conway chunk load; counts equal the
// decoder's; no orphans.
func TestLoadFixtures(t *testing.T) {
	batches := fixtureBatches(t)
	want := expectedCounts(batches)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		apply(t, chaindb.New(db, chaindb.Options{}), batches)
		for table, n := range want {
			if got := countRows(t, db, table); got != n {
				t.Errorf("%s: %d rows, decoder produced %d", table, got, n)
			}
		}
		for name, q := range orphanQueries {
			var n int64
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if n != 0 {
				t.Errorf("%s: %d orphan rows", name, n)
			}
		}
		if got := countRows(t, db, "ingest_batch"); got != int64(len(batches)) {
			t.Errorf("ingest_batch: %d rows, want %d", got, len(batches))
		}
	})
}

// Test 2: shuffled, duplicated batches with one connection killed mid-batch
// leave every table byte-identical to one clean in-order pass.
func TestIdempotentShuffledLoad(t *testing.T) {
	batches := fixtureBatches(t)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		apply(t, chaindb.New(clean, chaindb.Options{}), batches)
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		// Small statements make a batch long enough to be killed half-way.
		store := chaindb.New(db, chaindb.Options{StatementRows: 100, BackoffBase: 10 * time.Millisecond})
		order := append(append([]*chaindb.Batch{}, batches...), batches...)
		rng := rand.New(rand.NewPCG(1, 2))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

		// Find the biggest batch and kill its connection while it is being written.
		big := 0
		for i, b := range order {
			if b.Blocks[0].Rows.Count()*len(b.Blocks) > order[big].Blocks[0].Rows.Count()*len(order[big].Blocks) {
				big = i
			}
		}
		var killed atomic.Int32
		for i, b := range order {
			if i == big && killed.Load() == 0 {
				stop := killWhileWriting(t, srv, db, &killed)
				if _, err := store.ApplyBatch(context.Background(), b); err != nil {
					t.Logf("batch failed after kill, redelivering: %v", err)
					if _, err := store.ApplyBatch(context.Background(), b); err != nil {
						t.Fatalf("redelivered batch: %v", err)
					}
				}
				stop()
				continue
			}
			if _, err := store.ApplyBatch(context.Background(), b); err != nil {
				t.Fatalf("apply batch %d: %v", i, err)
			}
		}
		if killed.Load() != 1 {
			t.Fatalf("killed %d connections mid-batch, want 1", killed.Load())
		}
		sameChecksums(t, checksums(t, db), want)
	})
}

// killWhileWriting kills the first connection of this database seen running an
// INSERT inside a transaction. It returns a function that stops watching.
func killWhileWriting(tb testing.TB, srv dbtest.Server, db *sql.DB, killed *atomic.Int32) (stop func()) {
	tb.Helper()
	admin, _ := srv.Open(tb)
	var dbName string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&dbName); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil && killed.Load() == 0 {
			var id int64
			err := admin.QueryRowContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = ? AND info LIKE 'INSERT INTO `tx%' LIMIT 1", dbName).Scan(&id)
			if err == nil {
				if _, err := admin.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10)); err == nil {
					killed.Add(1)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

// Test 3: load preview chunks 0-19 plus an abandoned fork above a point, roll
// back to the point, load the rest again: identical to a clean pass.
func TestRollback(t *testing.T) {
	chunks, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	chunks = chunks[:20] // 00000-00019: 4,320 blocks
	final := chunkBatches(t, chain.Preview, chunks, 100)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		apply(t, chaindb.New(clean, chaindb.Options{}), final)
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		apply(t, store, final)
		// The abandoned fork: real preview blocks from later slots, not part of the final chain.
		var fork []batch.Block
		for _, name := range []string{"preview_babbage_slot259215_447cc9cf7c5d.cbor", "preview_babbage_slot1011925_32db2f361cf9.cbor"} {
			raw, err := os.ReadFile(filepath.Join(testdata, "blocks", "babbage", name))
			if err != nil {
				t.Fatal(err)
			}
			fork = append(fork, batch.Block{Type: chain.BlockTypeBabbage, CBOR: raw})
		}
		apply(t, store, cut(t, chain.Preview, nil, fork, 1))

		// Roll back to the last block of batch 17 (inside chunk 7).
		point := final[17].Last
		rb := &chaindb.Rollback{ID: []byte("rollback"), Network: "preview", Point: point, From: chain.Point{Slot: chaindb.Unbounded}, At: 1}
		if out, err := store.Rollback(context.Background(), rb); err != nil || out != chaindb.Applied {
			t.Fatalf("rollback: %v %v", out, err)
		}
		for _, tab := range append(chain.Tables[:], chain.Table{Name: "quarantine"}, chain.Table{Name: "ingest_batch"}) {
			col := "slot_no"
			if tab.Name == "ingest_batch" {
				col = "last_slot"
			}
			var n int64
			if err := db.QueryRow("SELECT COUNT(*) FROM `"+tab.Name+"` WHERE "+col+" > ?", point.Slot).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s: %d rows above the rollback point", tab.Name, n)
			}
		}
		// Re-cut the rest differently, as a follower resuming would.
		var rest []batch.Block
		for _, c := range chunks {
			blocks, err := immutable.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range blocks {
				rest = append(rest, batch.Block{Type: b.Type, CBOR: b.CBOR})
			}
		}
		rest = rest[18*100:]
		apply(t, store, cut(t, chain.Preview, point.Hash, rest, 37))
		sameChecksums(t, checksums(t, db), want)
	})
}

// Verify finds the chain's start, a missing block, a batch whose blocks are
// gone and a cursor that points nowhere.
func TestVerify(t *testing.T) {
	chunks, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	batches := chunkBatches(t, chain.Preview, chunks[:2], 50)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		apply(t, store, batches)
		ctx := context.Background()
		if err := store.SaveCursor(ctx, "preview", []chain.Point{batches[len(batches)-1].Last}); err != nil {
			t.Fatal(err)
		}
		r, err := store.Verify(ctx, "preview", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || r.Blocks != 432 || r.Start == nil || r.Start.Slot != 0 {
			t.Fatalf("clean load: %s", r)
		}
		// Lose one block in the middle of batch 3 and the last block of batch 5.
		missing := batches[3].Blocks[10]
		for _, h := range [][]byte{missing.Hash, batches[5].Last.Hash} {
			if _, err := db.Exec("DELETE FROM block WHERE hash = ?", h); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.SaveCursor(ctx, "preview", []chain.Point{{Slot: 999999, Hash: bytes.Repeat([]byte{1}, 32)}}); err != nil {
			t.Fatal(err)
		}
		r, err = store.Verify(ctx, "preview", 10)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() || len(r.Gaps) != 2 || !bytes.Equal(r.Gaps[0].PrevHash, missing.Hash) ||
			len(r.IncompleteBatches) != 1 || r.CursorMissing == nil {
			t.Errorf("after losing blocks: %s", r)
		}
	})
}

// The operator's rollback deletes in bounded chunks, each committed on its
// own, and is resumable: killed half-way (its context cancelled while it
// deletes), it leaves the cursor where it was and refuses another point;
// run again, it finishes, with the database equal to a clean load up to
// the point, the ledger holding nothing above it, and the cursor on it.
func TestOperatorRollbackResumes(t *testing.T) {
	chunks, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	all := chunkBatches(t, chain.Preview, chunks[:5], 60) // 1,080 blocks
	point := all[4].Last
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		clean, _ := srv.Open(t)
		apply(t, chaindb.New(clean, chaindb.Options{}), all[:5])
		want := checksums(t, clean)

		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{DeleteChunkRows: 40})
		apply(t, store, all)
		ctx := context.Background()
		head := all[len(all)-1].Last
		if err := store.SaveCursor(ctx, "preview", []chain.Point{head, all[10].Last, all[2].Last}); err != nil {
			t.Fatal(err)
		}
		above := func() int64 {
			var n int64
			if err := db.QueryRow("SELECT COUNT(*) FROM block WHERE slot_no > ?", point.Slot).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := above()

		// Crash it half-way: cancel it once some blocks are gone, not all.
		rctx, cancel := context.WithCancel(ctx)
		watching := make(chan struct{})
		go func() {
			defer close(watching)
			for rctx.Err() == nil {
				if n := above(); n > 0 && n < before {
					cancel()
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		err := store.RollbackTo(rctx, "preview", point)
		cancel()
		<-watching
		if err == nil {
			t.Fatal("the rollback was not interrupted: it committed everything at once")
		}
		if n := above(); n == 0 || n == before {
			t.Fatalf("%d of %d blocks above the point left after the crash: want the chunks before it committed, not the rest", n, before)
		}
		if cur, err := store.LoadCursor(ctx, "preview"); err != nil || !bytes.Equal(cur[0].Hash, head.Hash) {
			t.Fatalf("cursor %v (%v) after the crash, want it unmoved at %s", cur, err, head)
		}
		if err := store.RollbackTo(ctx, "preview", all[3].Last); err == nil {
			t.Error("another rollback started while one is unfinished")
		}

		if err := store.RollbackTo(ctx, "preview", point); err != nil {
			t.Fatalf("run again: %v", err)
		}
		sameChecksums(t, checksums(t, db), want)
		var batches int
		if err := db.QueryRow("SELECT COUNT(*) FROM ingest_batch WHERE last_slot > ?", point.Slot).Scan(&batches); err != nil || batches != 0 {
			t.Errorf("%d ledger rows above the point (%v)", batches, err)
		}
		cur, err := store.LoadCursor(ctx, "preview")
		if err != nil || len(cur) != 2 || !bytes.Equal(cur[0].Hash, point.Hash) || !bytes.Equal(cur[1].Hash, all[2].Last.Hash) {
			t.Errorf("cursor %v (%v), want the point, then the saved point below it", cur, err)
		}
		if r, err := store.Verify(ctx, "preview", 10); err != nil || !r.OK() {
			t.Errorf("verify after the rollback (%v):\n%s", err, r)
		}
	})
}

// Verify proves the chain is one chain: with no gaps, no two blocks share a
// parent and nothing lies above the head, so every block is an ancestor of
// the head. A second child of a block (a fork left behind) and blocks above
// the cursor's head (published, then abandoned while the follower was down)
// each fail it, and are listed.
func TestVerifyOneChain(t *testing.T) {
	chunks, err := immutable.Chunks(filepath.Join(testdata, "chains", "preview"))
	if err != nil {
		t.Fatal(err)
	}
	batches := chunkBatches(t, chain.Preview, chunks[:2], 50)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		apply(t, store, batches)
		ctx := context.Background()
		head := batches[len(batches)-1].Last
		if err := store.SaveCursor(ctx, "preview", []chain.Point{head}); err != nil {
			t.Fatal(err)
		}
		verify := func() *chaindb.VerifyReport {
			t.Helper()
			r, err := store.Verify(ctx, "preview", 10)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := verify(); !r.OK() || r.Head == nil || !bytes.Equal(r.Head.Hash, head.Hash) {
			t.Fatalf("clean load: %s", r)
		}

		// A second child of block 100: a block of an abandoned fork.
		parent := batches[2].Blocks[0] // block 100
		child := batches[2].Blocks[1]
		sibling := bytes.Repeat([]byte{0xf0}, 32)
		cols := "`" + strings.Join(chain.Tables[chain.Block].Columns[1:], "`,`") + "`"
		if _, err := db.Exec("INSERT INTO block (`hash`,"+cols+") SELECT ?,"+cols+" FROM block WHERE hash = ?", sibling, child.Hash); err != nil {
			t.Fatal(err)
		}
		r := verify()
		if r.OK() || len(r.Forks) != 1 || !bytes.Equal(r.Forks[0].Parent, parent.Hash) || len(r.Forks[0].Children) != 2 {
			t.Errorf("with a second child of block %s: %s", chain.Point{Slot: parent.Slot, Hash: parent.Hash}, r)
		}
		if _, err := db.Exec("DELETE FROM block WHERE hash = ?", sibling); err != nil {
			t.Fatal(err)
		}

		// The cursor 10 blocks below the top: those 10 were abandoned.
		last := batches[len(batches)-1]
		below := last.Blocks[len(last.Blocks)-11]
		if err := store.SaveCursor(ctx, "preview", []chain.Point{{Slot: below.Slot, Hash: below.Hash}}); err != nil {
			t.Fatal(err)
		}
		r = verify()
		if r.OK() || len(r.AboveHead) != 10 || r.AboveHead[0].Slot <= below.Slot {
			t.Errorf("with 10 blocks above the cursor's head: %s", r)
		}
	})
}
