package chain_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/immutable"
)

// loadChunk decodes a shipped chunk and writes its rows with plain inserts
// (shared rows repeat across blocks: INSERT IGNORE).
func loadChunk(t *testing.T, db *sql.DB, net chain.Network, path string) {
	t.Helper()
	blocks, err := immutable.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows chain.Rows
	for i, b := range blocks {
		d, err := chain.DecodeBlock(net, b.Type, b.CBOR)
		if err != nil {
			t.Fatalf("%s block %d: %v", filepath.Base(path), i, err)
		}
		rows.Append(&d.Rows)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := dbtest.InsertRows(ctx, db, "INSERT IGNORE", &rows, 500); err != nil {
		t.Fatal(err)
	}
}

// The mainnet Shelley chunk in SQL, on TiDB and MariaDB: 701 transactions
// paying 168,985,399 lovelace, in tx.fee and in the tx_fee view; the Byron
// chunk: no stated fee, the genesis EBB without a block number, and fees the
// view computes from the outputs the chunk holds (never negative; NULL for
// spends of the genesis distribution).
func TestChunkFeesInDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		loadChunk(t, db, chain.Mainnet, "../../testdata/chains/mainnet-shelley/00500.chunk")
		var n int
		var sum, viewSum sql.NullInt64
		if err := db.QueryRow("SELECT COUNT(*), SUM(t.fee), SUM(f.fee) FROM tx t JOIN tx_fee f ON f.tx_hash = t.hash").Scan(&n, &sum, &viewSum); err != nil {
			t.Fatal(err)
		}
		if n != 701 || sum.Int64 != 168985399 || viewSum.Int64 != 168985399 {
			t.Errorf("Shelley chunk: %d txs, SUM(fee) %v, SUM(tx_fee.fee) %v; want 701, 168985399", n, sum, viewSum)
		}

		loadChunk(t, db, chain.Mainnet, "../../testdata/chains/mainnet-byron/00000.chunk")
		var ebbs, noBlockNo int
		if err := db.QueryRow("SELECT SUM(block_type = 0), SUM(block_no IS NULL) FROM block WHERE era = 'Byron'").Scan(&ebbs, &noBlockNo); err != nil {
			t.Fatal(err)
		}
		if ebbs != 1 || noBlockNo != 1 {
			t.Errorf("Byron chunk: %d EBBs, %d blocks without a number; want 1 and 1", ebbs, noBlockNo)
		}
		var txs, stated, computed, negative int
		if err := db.QueryRow(`SELECT COUNT(*), COUNT(t.fee), COUNT(f.fee), COALESCE(SUM(f.fee < 0), 0)
			FROM tx t JOIN block b ON b.hash = t.block_hash JOIN tx_fee f ON f.tx_hash = t.hash WHERE b.era = 'Byron'`).Scan(&txs, &stated, &computed, &negative); err != nil {
			t.Fatal(err)
		}
		t.Logf("Byron chunk: %d txs, %d fees computed by tx_fee", txs, computed)
		if txs != 33 || stated != 0 || computed == 0 || negative != 0 {
			t.Errorf("Byron chunk: %d txs, %d stated fees, %d computed, %d negative; want 33, 0, some, 0", txs, stated, computed, negative)
		}
	})
}
