package schema_test

import (
	"database/sql"
	"testing"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// The tx_fee and tx_deposit views, on TiDB and MariaDB alike:
//   - a stated fee is the fee;
//   - a Byron transaction's fee is its inputs' value minus its outputs' once
//     every spent output is indexed, NULL before;
//   - a phase-2-invalid transaction without total_collateral pays its
//     collateral inputs (its tx_in rows) minus its collateral return (its
//     out_sum); with total_collateral, that;
//   - a Shelley-or-later valid row without a fee (written before migration
//     0003) stays NULL rather than becoming inputs minus outputs;
//   - a deposit the row states is the deposit, else the balance: inputs +
//     withdrawals - outputs - fee - donation.
func TestTxFeeView(t *testing.T) {
	for _, s := range dbtest.Servers(t) {
		t.Run(s.Name, func(t *testing.T) {
			db, _ := s.Open(t)
			block := func(hash string, blockType int) {
				t.Helper()
				mustExec(t, db, "INSERT INTO block (hash, slot_no, block_no, era, block_type, size, tx_count) VALUES (?, 1, 1, 'x', ?, 100, 1)", hash, blockType)
			}
			tx := func(hash, blockHash string, outSum int64, fee, deposit any, valid bool, donation int64) {
				t.Helper()
				mustExec(t, db, "INSERT INTO tx (hash, block_hash, slot_no, block_index, out_sum, fee, deposit, size, valid_contract, script_size, treasury_donation) "+
					"VALUES (?, ?, 1, 0, ?, ?, ?, 200, ?, 0, ?)", hash, blockHash, outSum, fee, deposit, valid, donation)
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
			block("byron-block", 1)
			block("shelley-block", 2)
			block("babbage-block", 6)
			// A Shelley transaction states its fee.
			tx("shelley", "shelley-block", 1000, 170000, 0, true, 0)
			// A Byron transaction spending two outputs (700 and 500) and paying 1,000.
			tx("byron", "byron-block", 1000, nil, 0, true, 0)
			in("byron", "funding", 0)
			in("byron", "funding", 1)
			out("funding", 0, 700)
			// Its second spent output is not indexed yet: no fee.
			wantFee(t, db, "byron", nil)
			out("funding", 1, 500)
			wantFee(t, db, "byron", int64(200))
			wantFee(t, db, "shelley", int64(170000))
			// A Byron transaction with no indexed input at all (the genesis distribution).
			tx("genesis-spend", "byron-block", 5, nil, 0, true, 0)
			wantFee(t, db, "genesis-spend", nil)

			// An invalid transaction without total_collateral: its tx_in rows are its
			// collateral (900 + 100), its out_sum its collateral return (600).
			tx("invalid", "babbage-block", 600, nil, 0, false, 0)
			in("invalid", "funding", 2)
			in("invalid", "funding", 3)
			out("funding", 2, 900)
			out("funding", 3, 100)
			wantFee(t, db, "invalid", int64(400))
			// With total_collateral the row states it.
			tx("invalid-total", "babbage-block", 600, 400, 0, false, 0)
			wantFee(t, db, "invalid-total", int64(400))

			// A Shelley-era row without its fee (before migration 0003) stays NULL.
			tx("old-shelley", "shelley-block", 300, nil, nil, true, 0)
			in("old-shelley", "funding", 4)
			out("funding", 4, 2_500_000)
			wantFee(t, db, "old-shelley", nil)
			wantDeposit(t, db, "old-shelley", nil)

			// Deposits: stated, or the balance. A stake registration paying the
			// key deposit (2,000,000) from an input of 5,000,000 and a withdrawal
			// of 1,000: outputs 2,830,000, fee 170,000, a donation of 1,000.
			wantDeposit(t, db, "shelley", int64(0))
			tx("register", "babbage-block", 2_830_000, 170000, nil, true, 1000)
			in("register", "funding", 5)
			wantDeposit(t, db, "register", nil) // its spent output is not indexed yet
			out("funding", 5, 5_000_000)
			mustExec(t, db, "INSERT INTO withdrawal (tx_hash, stake_address, slot_no, amount) VALUES ('register', 'stake1', 1, 1000)")
			wantDeposit(t, db, "register", int64(2_000_000))
			// A deregistration: the refund comes back as a negative deposit.
			tx("deregister", "babbage-block", 6_830_000, 170000, nil, true, 0)
			in("deregister", "funding", 6)
			out("funding", 6, 5_000_000)
			wantDeposit(t, db, "deregister", int64(-2_000_000))
		})
	}
}

func wantFee(t *testing.T, db *sql.DB, hash string, want any) {
	t.Helper()
	wantView(t, db, "SELECT fee FROM tx_fee WHERE tx_hash = ?", hash, want)
}

func wantDeposit(t *testing.T, db *sql.DB, hash string, want any) {
	t.Helper()
	wantView(t, db, "SELECT deposit FROM tx_deposit WHERE tx_hash = ?", hash, want)
}

// wantView checks a view's value for one transaction: want is an int64, or
// nil for NULL.
func wantView(t *testing.T, db *sql.DB, q, hash string, want any) {
	t.Helper()
	var got sql.NullInt64
	if err := db.QueryRow(q, hash).Scan(&got); err != nil {
		t.Fatalf("%s (%s): %v", q, hash, err)
	}
	switch w := want.(type) {
	case nil:
		if got.Valid {
			t.Errorf("%s: %d, want NULL", hash, got.Int64)
		}
	case int64:
		if !got.Valid || got.Int64 != w {
			t.Errorf("%s: %v, want %d", hash, got, w)
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Migration 0003 can run again (DDL is not transactional: an interrupted
// run repeats every statement), and it gives a Byron EBB db-sync's block
// columns: no block number, no slot within the epoch, protocol 0.0.
func TestMigration3Reruns(t *testing.T) {
	migrations, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var m3 *schema.Migration
	for i := range migrations {
		if migrations[i].Version == 3 {
			m3 = &migrations[i]
		}
	}
	if m3 == nil {
		t.Fatal("no migration 3")
	}
	for _, s := range dbtest.Servers(t) {
		t.Run(s.Name, func(t *testing.T) {
			db, _ := s.Open(t)
			mustExec(t, db, "INSERT INTO block (hash, slot_no, block_no, epoch_slot_no, era, block_type, size, tx_count) VALUES ('ebb', 21600, 21586, 0, 'Byron', 0, 700, 0)")
			mustExec(t, db, "INSERT INTO block (hash, slot_no, block_no, epoch_slot_no, era, block_type, size, tx_count, proto_major, proto_minor) VALUES ('main', 21600, 21587, 0, 'Byron', 1, 700, 0, 1, 0)")
			for i, stmt := range m3.Statements {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("statement %d again: %v", i+1, err)
				}
			}
			var blockNo, epochSlot, major, minor sql.NullInt64
			if err := db.QueryRow("SELECT block_no, epoch_slot_no, proto_major, proto_minor FROM block WHERE hash = 'ebb'").Scan(&blockNo, &epochSlot, &major, &minor); err != nil {
				t.Fatal(err)
			}
			if blockNo.Valid || epochSlot.Valid || major != (sql.NullInt64{Valid: true}) || minor != (sql.NullInt64{Valid: true}) {
				t.Errorf("EBB block_no %v epoch_slot_no %v proto %v.%v, want NULL NULL 0.0", blockNo, epochSlot, major, minor)
			}
			if err := db.QueryRow("SELECT block_no, proto_major FROM block WHERE hash = 'main'").Scan(&blockNo, &major); err != nil {
				t.Fatal(err)
			}
			if blockNo.Int64 != 21587 || major.Int64 != 1 {
				t.Errorf("main block changed: block_no %v proto_major %v", blockNo, major)
			}
		})
	}
}
