package indexes_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/indexes"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/schema"
)

const testdata = "../../testdata"

// conway is the mainnet Conway chunk decoded into 50-block batches, as ingest would.
func conway(tb testing.TB) []*chaindb.Batch {
	tb.Helper()
	var out []*chaindb.Batch
	for _, e := range ingesttest.ChunkEnvelopes(tb, chain.Mainnet.Name, filepath.Join(testdata, "chains", "mainnet", "06189.chunk"), 50) {
		b := ingest.DecodeBlocks(chain.Mainnet, e)
		if len(b.Quarantine) > 0 {
			tb.Fatalf("block at slot %d did not decode: %v", b.Quarantine[0].Err.Slot, b.Quarantine[0].Err)
		}
		out = append(out, b)
	}
	return out
}

func load(tb testing.TB, db *sql.DB, batches []*chaindb.Batch) {
	tb.Helper()
	store := chaindb.New(db, chaindb.Options{})
	for _, b := range batches {
		if _, err := store.ApplyBatch(context.Background(), b); err != nil {
			tb.Fatalf("apply batch at slot %d: %v", b.First.Slot, err)
		}
	}
}

func states(tb testing.TB, b *indexes.Builder) map[indexes.State]int {
	tb.Helper()
	st, err := b.Status(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[indexes.State]int{}
	for _, s := range st {
		out[s.State]++
		if s.Have != nil {
			tb.Errorf("%s", s)
		}
	}
	return out
}

// A lookup of an address's outputs reads tx_out whole before the indexes
// and through tx_out_address after; create builds every index on a loaded
// database, status then reports all present, and a second create skips them.
func TestCreateStatusExplain(t *testing.T) {
	batches := conway(t)[:4] // 200 blocks: 4,623 outputs, 14,976 asset rows
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		load(t, db, batches)
		ctx := context.Background()
		var addr, stake string
		if err := db.QueryRow("SELECT address, stake_address FROM tx_out WHERE stake_address IS NOT NULL ORDER BY tx_hash LIMIT 1").Scan(&addr, &stake); err != nil {
			t.Fatal(err)
		}
		const lookup = "SELECT tx_hash, `index`, value FROM tx_out WHERE address = ?"
		before, err := indexes.Explain(ctx, db, lookup, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(before.FullScans) == 0 {
			t.Errorf("before the indexes, an address lookup reads no table whole:\n%s", before.Text)
		}

		var logs logbuf.Buffer
		b := indexes.New(db, indexes.Options{Poll: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if got := states(t, b); got[indexes.Missing] != len(schema.QueryIndexes) {
			t.Errorf("before create: %v, want all %d missing", got, len(schema.QueryIndexes))
		}
		res, err := b.Create(ctx)
		if err != nil {
			t.Fatalf("create: %v\n%s", err, logs.String())
		}
		for _, r := range res {
			if r.Action != "created" {
				t.Errorf("%s: %s, want created", r.Name, r.Action)
			}
		}
		if got := states(t, b); got[indexes.Present] != len(schema.QueryIndexes) {
			t.Errorf("after create: %v, want all %d present", got, len(schema.QueryIndexes))
		}
		for _, want := range []string{"building index", "index built", "index=tx_out_address", "table=tx_out"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log lacks %q:\n%s", want, logs.String())
			}
		}

		after, err := indexes.Explain(ctx, db, lookup, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.FullScans) > 0 || !after.Uses("tx_out_address") {
			t.Errorf("after the indexes, an address lookup reads %v whole, through %v:\n%s", after.FullScans, after.Indexes, after.Text)
		}
		for _, q := range []struct {
			index, query string
			args         []any
		}{
			// An address's UTxOs: its outputs no tx_in spends.
			{"tx_out_address", "SELECT o.tx_hash, o.`index`, o.value FROM tx_out o LEFT JOIN tx_in i ON i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.`index` WHERE o.address = ? AND i.tx_in_hash IS NULL", []any{addr}},
			// An asset's holders.
			{"ma_tx_out_policy_name", "SELECT o.address, SUM(m.quantity) FROM ma_tx_out m JOIN tx_out o ON o.tx_hash = m.tx_hash AND o.`index` = m.`index` LEFT JOIN tx_in i ON i.tx_out_hash = m.tx_hash AND i.tx_out_index = m.`index` WHERE m.policy = ? AND m.name = ? AND i.tx_in_hash IS NULL GROUP BY o.address", []any{bytes.Repeat([]byte{1}, 28), []byte("x")}},
			{"tx_out_stake_address", "SELECT SUM(value) FROM tx_out WHERE stake_address = ?", []any{stake}},
			{"tx_out_payment_cred", "SELECT COUNT(*) FROM tx_out WHERE payment_cred = ?", []any{bytes.Repeat([]byte{1}, 28)}},
			{"ma_tx_out_policy_name", "SELECT tx_hash, `index`, quantity FROM ma_tx_out WHERE policy = ? AND name = ?", []any{bytes.Repeat([]byte{1}, 28), []byte("x")}},
			{"delegation_stake_address", "SELECT pool_hash FROM delegation WHERE stake_address = ? ORDER BY slot_no DESC LIMIT 1", []any{stake}},
			{"block_slot_leader", "SELECT epoch_no, COUNT(*) FROM block WHERE slot_leader = ? GROUP BY epoch_no", []any{bytes.Repeat([]byte{1}, 28)}},
		} {
			p, err := indexes.Explain(ctx, db, q.query, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.FullScans) > 0 || !p.Uses(q.index) {
				t.Errorf("%s reads %v whole, through %v, want %s:\n%s", q.query, p.FullScans, p.Indexes, q.index, p.Text)
			}
		}

		mark := len(logs.String())
		res, err = b.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Action != "present" {
				t.Errorf("second create: %s %s, want present (skipped)", r.Name, r.Action)
			}
		}
		if again := logs.String()[mark:]; strings.Contains(again, "building index") {
			t.Errorf("second create built something:\n%s", again)
		}
	})
}

// A build already running (here an ALTER held back by an open transaction
// on its table, as a killed `nectar indexes create` leaves its build running
// on the server) is reported as building and waited for, not started again.
func TestCreateWaitsForRunningBuild(t *testing.T) {
	batches := conway(t)[:1]
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		load(t, db, batches)
		ctx := context.Background()
		list := schema.QueryIndexes[:2] // tx_out_address, tx_out_payment_cred
		b := indexes.New(db, indexes.Options{Indexes: list, Poll: 100 * time.Millisecond})

		hold, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := hold.QueryRowContext(ctx, "SELECT COUNT(*) FROM tx_out").Scan(&n); err != nil {
			t.Fatal(err)
		}
		other := make(chan error, 1)
		go func() { _, err := db.ExecContext(ctx, indexes.DDL(list[0])); other <- err }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := b.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st[0].State == indexes.Building {
				if !strings.Contains(st[0].String(), "building") {
					t.Errorf("status line %q", st[0].String())
				}
				break
			}
			if time.Now().After(deadline) {
				_ = hold.Rollback()
				t.Fatalf("the held-back build is not reported as building: %v", st[0])
			}
			time.Sleep(50 * time.Millisecond)
		}
		created := make(chan []indexes.Result, 1)
		go func() {
			res, err := b.Create(ctx)
			if err != nil {
				t.Error(err)
			}
			created <- res
		}()
		time.Sleep(500 * time.Millisecond)
		if err := hold.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-other; err != nil {
			t.Fatalf("the other build: %v", err)
		}
		res := <-created
		if len(res) != 2 || res[0].Action != "waited" || res[1].Action != "created" {
			t.Errorf("results %+v, want tx_out_address waited, tx_out_payment_cred created", res)
		}
		if got := states(t, b); got[indexes.Present] != 2 {
			t.Errorf("after create: %v", got)
		}

		// A build the server refuses names the index and its table.
		bad := schema.Index{Table: "tx_out", Name: "tx_out_nope", Columns: []string{"nope"}}
		_, err = indexes.New(db, indexes.Options{Indexes: []schema.Index{bad}}).Create(ctx)
		var ie *indexes.IndexError
		if !errors.As(err, &ie) || ie.Index.Name != bad.Name || !strings.Contains(err.Error(), "index tx_out_nope on tx_out") {
			t.Errorf("a build on a column that does not exist: %v", err)
		}
	})
}
