package dbtest_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
)

// The benchmarks' plain loads write exactly the decoder's rows: a Conway
// block loaded in one plain pass, and loaded one transaction group at a time,
// both hold the decoder's row count in every table.
func TestPlainLoads(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "blocks", "conway", "mainnet_conway_slot133692570_253b65488d3b.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := chain.DecodeBlock(chain.Mainnet, chain.BlockTypeConway, raw)
	if err != nil {
		t.Fatal(err)
	}
	d.Rows.Dedup()
	groups := dbtest.ByFirstKey(&d.Rows)
	if want := len(d.Rows[chain.Tx]) + 1; len(groups) < want { // each transaction, the block (and shared rows' own keys)
		t.Fatalf("%d groups for %d transactions and a block", len(groups), len(d.Rows[chain.Tx]))
	}
	for _, s := range dbtest.Servers(t) {
		t.Run(s.Name, func(t *testing.T) {
			ctx := context.Background()
			plain, _ := s.Open(t)
			perTx, _ := s.Open(t)
			if err := dbtest.InsertRows(ctx, plain, "INSERT", &d.Rows, 7); err != nil {
				t.Fatal(err)
			}
			if err := dbtest.PerTransaction(ctx, perTx, groups); err != nil {
				t.Fatal(err)
			}
			for id, tab := range chain.Tables {
				for name, db := range map[string]*sql.DB{"plain": plain, "per transaction": perTx} {
					var n int
					if err := db.QueryRow("SELECT COUNT(*) FROM `" + tab.Name + "`").Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n != len(d.Rows[id]) {
						t.Errorf("%s load: %s has %d rows, the decoder %d", name, tab.Name, n, len(d.Rows[id]))
					}
				}
			}
		})
	}
}
