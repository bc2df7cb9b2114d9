package schema_test

import (
	"database/sql"
	"testing"

	"github.com/nectar-indexer/nectar/shared/dbtest"
)

// The tx_fee view: a stated fee as it is; a Byron transaction's fee is its
// inputs' value minus its outputs' once every spent output is indexed, NULL
// before; on TiDB and MariaDB alike.
func TestTxFeeView(t *testing.T) {
	for _, s := range dbtest.Servers(t) {
		t.Run(s.Name, func(t *testing.T) {
			db, _ := s.Open(t)
			tx := func(hash string, outSum int64, fee any) {
				t.Helper()
				mustExec(t, db, "INSERT INTO tx (hash, block_hash, slot_no, block_index, out_sum, fee, size, valid_contract, script_size, treasury_donation) "+
					"VALUES (?, 'b', 1, 0, ?, ?, 200, TRUE, 0, 0)", hash, outSum, fee)
			}
			out := func(hash string, index int, value int64) {
				t.Helper()
				mustExec(t, db, "INSERT INTO tx_out (tx_hash, `index`, slot_no, address, address_raw, address_has_script, value) "+
					"VALUES (?, ?, 1, 'addr', 'a', FALSE, ?)", hash, index, value)
			}
			in := func(hash, spent string, index int) {
				t.Helper()
				mustExec(t, db, "INSERT INTO tx_in (tx_in_hash, tx_out_hash, tx_out_index, slot_no) VALUES (?, ?, ?, 2)", hash, spent, index)
			}
			// A Shelley transaction states its fee.
			tx("shelley", 1000, 170000)
			// A Byron transaction spending two outputs (700 and 500) and paying 1,000.
			tx("byron", 1000, nil)
			in("byron", "funding", 0)
			in("byron", "funding", 1)
			out("funding", 0, 700)
			// Its second spent output is not indexed yet: no fee.
			if got := fee(t, db, "byron"); got.Valid {
				t.Fatalf("fee with a spent output missing = %d, want NULL", got.Int64)
			}
			out("funding", 1, 500)
			if got := fee(t, db, "byron"); !got.Valid || got.Int64 != 200 {
				t.Fatalf("Byron fee = %v, want 200", got)
			}
			if got := fee(t, db, "shelley"); !got.Valid || got.Int64 != 170000 {
				t.Fatalf("stated fee = %v, want 170000", got)
			}
			// A Byron transaction with no indexed input at all (the genesis distribution).
			tx("genesis-spend", 5, nil)
			if got := fee(t, db, "genesis-spend"); got.Valid {
				t.Fatalf("fee without inputs = %d, want NULL", got.Int64)
			}
		})
	}
}

func fee(t *testing.T, db *sql.DB, hash string) sql.NullInt64 {
	t.Helper()
	var f sql.NullInt64
	if err := db.QueryRow("SELECT fee FROM tx_fee WHERE tx_hash = ?", hash).Scan(&f); err != nil {
		t.Fatalf("tx_fee of %s: %v", hash, err)
	}
	return f
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
