package chainref

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// dbsyncColumns are db-sync's columns (its doc/schema.md) that each view of
// <database>_dbsync must have, by the same names.
var dbsyncColumns = map[string][]string{
	"block": {"id", "hash", "epoch_no", "slot_no", "epoch_slot_no", "block_no", "previous_id", "slot_leader_id", "size",
		"time", "tx_count", "proto_major", "proto_minor", "vrf_key", "op_cert", "op_cert_counter"},
	"slot_leader": {"id", "hash", "pool_hash_id", "description"},
	"tx": {"id", "hash", "block_id", "block_index", "out_sum", "fee", "deposit", "size", "invalid_before", "invalid_hereafter",
		"valid_contract", "script_size", "treasury_donation"},
	"tx_out": {"id", "tx_id", "index", "address", "address_has_script", "payment_cred", "stake_address_id", "value",
		"data_hash", "inline_datum_id", "reference_script_id", "consumed_by_tx_id"},
	"collateral_tx_out": {"id", "tx_id", "index", "address", "address_has_script", "payment_cred", "stake_address_id", "value",
		"data_hash", "multi_assets_descr", "inline_datum_id", "reference_script_id"},
	"tx_in":                {"id", "tx_in_id", "tx_out_id", "tx_out_index", "redeemer_id"},
	"collateral_tx_in":     {"id", "tx_in_id", "tx_out_id", "tx_out_index"},
	"reference_tx_in":      {"id", "tx_in_id", "tx_out_id", "tx_out_index"},
	"multi_asset":          {"id", "policy", "name", "fingerprint"},
	"ma_tx_out":            {"id", "quantity", "tx_out_id", "ident"},
	"ma_tx_mint":           {"id", "quantity", "tx_id", "ident"},
	"tx_metadata":          {"id", "key", "json", "bytes", "tx_id"},
	"stake_address":        {"id", "hash_raw", "view", "script_hash"},
	"stake_registration":   {"id", "addr_id", "cert_index", "epoch_no", "tx_id", "deposit", "redeemer_id"},
	"stake_deregistration": {"id", "addr_id", "cert_index", "epoch_no", "tx_id", "redeemer_id"},
	"delegation":           {"id", "addr_id", "cert_index", "pool_hash_id", "active_epoch_no", "tx_id", "slot_no", "redeemer_id"},
	"withdrawal":           {"id", "addr_id", "amount", "redeemer_id", "tx_id"},
	"pool_hash":            {"id", "hash_raw", "view"},
	"pool_update": {"id", "hash_id", "cert_index", "vrf_key_hash", "pledge", "active_epoch_no", "meta_id", "margin",
		"fixed_cost", "deposit", "registered_tx_id", "reward_addr_id"},
	"pool_owner":        {"id", "addr_id", "pool_update_id"},
	"pool_relay":        {"id", "update_id", "ipv4", "ipv6", "dns_name", "dns_srv_name", "port"},
	"pool_retire":       {"id", "hash_id", "cert_index", "announced_tx_id", "retiring_epoch"},
	"pool_metadata_ref": {"id", "pool_id", "url", "hash", "registered_tx_id"},
	"reserve":           {"id", "addr_id", "cert_index", "amount", "tx_id"},
	"treasury":          {"id", "addr_id", "cert_index", "amount", "tx_id"},
	"pot_transfer":      {"id", "cert_index", "treasury", "reserves", "tx_id"},
	"datum":             {"id", "hash", "tx_id", "value", "bytes"},
	"redeemer": {"id", "tx_id", "unit_mem", "unit_steps", "fee", "purpose", "index", "script_hash",
		"redeemer_data_id"},
	"redeemer_data":            {"id", "hash", "tx_id", "value", "bytes"},
	"script":                   {"id", "tx_id", "hash", "type", "json", "bytes", "serialised_size"},
	"extra_key_witness":        {"id", "hash", "tx_id"},
	"epoch":                    {"id", "out_sum", "fee", "tx_count", "blk_count", "no", "start_time", "end_time"},
	"drep_hash":                {"id", "raw", "view", "has_script"},
	"drep_registration":        {"id", "tx_id", "cert_index", "deposit", "voting_anchor_id", "drep_hash_id"},
	"delegation_vote":          {"id", "addr_id", "cert_index", "drep_hash_id", "tx_id", "redeemer_id"},
	"committee_registration":   {"id", "tx_id", "cert_index", "cold_key", "hot_key"},
	"committee_deregistration": {"id", "tx_id", "cert_index", "voting_anchor_id", "cold_key"},
	"voting_procedure": {"id", "tx_id", "index", "gov_action_proposal_id", "voter_role", "committee_voter", "drep_voter",
		"pool_voter", "vote", "voting_anchor_id", "invalid"},
	"gov_action_proposal": {"id", "tx_id", "index", "prev_gov_action_proposal", "deposit", "return_address", "expiration",
		"voting_anchor_id", "type", "description", "param_proposal", "ratified_epoch", "enacted_epoch", "dropped_epoch",
		"expired_epoch"},
	"voting_anchor": {"id", "block_id", "data_hash", "url", "type"},
}

// joinIndexes are the id query indexes the joins of checkDBSyncViews use.
var joinIndexes = []string{"tx_block_id", "block_slot_leader_id", "tx_out_id", "tx_out_tx_id", "tx_out_stake_address_id",
	"tx_in_tx_in_id", "ma_tx_out_tx_out_id", "ma_tx_out_ident", "ma_tx_mint_ident", "delegation_tx_id", "delegation_addr_id",
	"delegation_pool_hash_id", "pool_owner_pool_update_id", "pool_relay_update_id", "pool_update_id", "redeemer_id",
	"delegation_vote_drep_hash_id", "block_id", "tx_id", "slot_leader_id", "slot_leader_pool_hash_id", "multi_asset_id",
	"stake_address_id", "pool_hash_id", "pool_hash_view", "datum_id", "script_id", "drep_hash_id", "drep_hash_raw", "voting_anchor_id"}

// checkDBSyncViews checks <database>_dbsync on a loaded database: every view
// is there with db-sync's columns and answers; db-sync's key joins find the
// row every Nectar row points at; the links the views compute (an output's
// spender, a withdrawal's or certificate's redeemer) are the reference's;
// and on TiDB, with the id query indexes built, each join is an index
// lookup (EXPLAIN shows no TableFullScan).
func checkDBSyncViews(t *testing.T, db *sql.DB, srv dbtest.Server, exp *expected) {
	ctx := context.Background()
	var database string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		t.Fatal(err)
	}
	dbsync := schema.DBSyncDatabase(database)
	t.Run("dbsync_columns", func(t *testing.T) {
		views := schema.DBSyncViews()
		for name := range dbsyncColumns {
			if !slices.Contains(views, name) {
				t.Errorf("no view %s", name)
			}
		}
		for _, v := range views {
			rows, err := db.QueryContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?", dbsync, v)
			if err != nil {
				t.Fatal(err)
			}
			var have []string
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				have = append(have, strings.ToLower(c))
			}
			rows.Close()
			for _, c := range dbsyncColumns[v] {
				if !slices.Contains(have, c) {
					t.Errorf("%s.%s: no column %s (has %v)", dbsync, v, c, have)
				}
			}
			if _, err := db.ExecContext(ctx, "SELECT * FROM `"+dbsync+"`.`"+v+"` LIMIT 1"); err != nil {
				t.Errorf("%s.%s: %v", dbsync, v, err)
			}
		}
	})
	// The id query indexes (as `nectar indexes create` builds them after a
	// backfill): the joins below count whole tables through them.
	start := time.Now()
	for _, ix := range schema.QueryIndexes {
		if !slices.Contains(joinIndexes, ix.Name) {
			continue
		}
		stmt := fmt.Sprintf("CREATE INDEX IF NOT EXISTS `%s` ON `%s` (%s)", ix.Name, ix.Table, strings.Join(ix.Columns, ", "))
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Logf("%s: built %d id query indexes in %s", srv.Name, len(joinIndexes), time.Since(start).Round(time.Millisecond))
	// Each join finds the row for every row that names one (the ids agree
	// across tables), counted both through the view and in Nectar's tables.
	t.Run("dbsync_joins", func(t *testing.T) {
		q := func(query string) int64 {
			var n int64
			query = strings.NewReplacer("D.", "`"+dbsync+"`.", "N.", "`"+database+"`.").Replace(query)
			if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		}
		for _, c := range []struct{ what, view, nectar string }{
			{"tx.id = tx_out.tx_id", "SELECT COUNT(*) FROM D.tx JOIN D.tx_out ON tx_out.tx_id = tx.id", "SELECT COUNT(*) FROM N.tx_out"},
			// The shipped fixture blocks of several networks share this
			// database, and a few of them share slots (so block ids): the
			// count is the id join's in Nectar's tables; the check below
			// shows every transaction's block_id is its own block's id.
			{"tx.block_id = block.id", "SELECT COUNT(*) FROM D.tx JOIN D.block ON block.id = tx.block_id", "SELECT COUNT(*) FROM N.tx t JOIN N.block b ON b.id = t.block_id"},
			{"ma_tx_out.tx_out_id = tx_out.id", "SELECT COUNT(*) FROM D.ma_tx_out JOIN D.tx_out ON tx_out.id = ma_tx_out.tx_out_id", "SELECT COUNT(*) FROM N.ma_tx_out"},
			{"ma_tx_out.ident = multi_asset.id", "SELECT COUNT(*) FROM D.ma_tx_out JOIN D.multi_asset ON multi_asset.id = ma_tx_out.ident", "SELECT COUNT(*) FROM N.ma_tx_out"},
			{"ma_tx_mint.ident = multi_asset.id", "SELECT COUNT(*) FROM D.ma_tx_mint JOIN D.multi_asset ON multi_asset.id = ma_tx_mint.ident", "SELECT COUNT(*) FROM N.ma_tx_mint"},
			{"delegation.addr_id = stake_address.id", "SELECT COUNT(*) FROM D.delegation JOIN D.stake_address ON stake_address.id = delegation.addr_id", "SELECT COUNT(*) FROM N.delegation"},
			{"delegation.pool_hash_id = pool_hash.id", "SELECT COUNT(*) FROM D.delegation JOIN D.pool_hash ON pool_hash.id = delegation.pool_hash_id", "SELECT COUNT(*) FROM N.delegation"},
			{"tx_out.stake_address_id = stake_address.id", "SELECT COUNT(*) FROM D.tx_out JOIN D.stake_address ON stake_address.id = tx_out.stake_address_id", "SELECT COUNT(*) FROM N.tx_out WHERE stake_address IS NOT NULL"},
			{"block.slot_leader_id = slot_leader.id", "SELECT COUNT(*) FROM D.block JOIN D.slot_leader ON slot_leader.id = block.slot_leader_id", "SELECT COUNT(*) FROM N.block WHERE era <> 'Byron' OR block_type = 0"},
			{"slot_leader.pool_hash_id = pool_hash.id", "SELECT COUNT(*) FROM D.slot_leader JOIN D.pool_hash ON pool_hash.id = slot_leader.pool_hash_id", "SELECT COUNT(*) FROM N.slot_leader WHERE pool_hash IS NOT NULL"},
			{"tx_in.tx_out_id = tx.id", "SELECT COUNT(*) FROM D.tx_in JOIN D.tx ON tx.id = tx_in.tx_out_id", "SELECT COUNT(*) FROM N.tx_in i JOIN N.tx s ON s.hash = i.tx_out_hash"},
			{"tx_in.redeemer_id = redeemer.id", "SELECT COUNT(*) FROM D.tx_in JOIN D.redeemer ON redeemer.id = tx_in.redeemer_id", "SELECT COUNT(*) FROM N.redeemer WHERE purpose = 'spend'"},
			{"pool_owner.pool_update_id = pool_update.id", "SELECT COUNT(*) FROM D.pool_owner JOIN D.pool_update ON pool_update.id = pool_owner.pool_update_id", "SELECT COUNT(*) FROM N.pool_owner"},
			{"pool_owner.addr_id = stake_address.id", "SELECT COUNT(*) FROM D.pool_owner JOIN D.stake_address ON stake_address.id = pool_owner.addr_id", "SELECT COUNT(*) FROM N.pool_owner"},
			{"pool_relay.update_id = pool_update.id", "SELECT COUNT(*) FROM D.pool_relay JOIN D.pool_update ON pool_update.id = pool_relay.update_id", "SELECT COUNT(*) FROM N.pool_relay"},
			{"delegation_vote.drep_hash_id = drep_hash.id", "SELECT COUNT(*) FROM D.delegation_vote JOIN D.drep_hash ON drep_hash.id = delegation_vote.drep_hash_id", "SELECT COUNT(*) FROM N.delegation_vote"},
			{"redeemer.redeemer_data_id = redeemer_data.id", "SELECT COUNT(*) FROM D.redeemer JOIN D.redeemer_data ON redeemer_data.id = redeemer.redeemer_data_id", "SELECT COUNT(*) FROM N.redeemer"},
			{"epoch.tx_count", "SELECT SUM(tx_count) FROM D.epoch", "SELECT COUNT(*) FROM N.tx t JOIN N.block b ON b.hash = t.block_hash WHERE b.epoch_no IS NOT NULL"},
			{"delegation.active_epoch_no", "SELECT COUNT(*) FROM D.delegation d WHERE d.active_epoch_no <=> (SELECT b.epoch_no + 2 FROM N.delegation n " +
				"JOIN N.tx t ON t.hash = n.tx_hash JOIN N.block b ON b.hash = t.block_hash WHERE n.id = d.id)", "SELECT COUNT(*) FROM N.delegation"},
		} {
			if v, n := q(c.view), q(c.nectar); v != n || n == 0 {
				t.Errorf("%s: %d rows through %s, %d in Nectar's tables", c.what, v, dbsync, n)
			} else {
				t.Logf("%s: %d rows", c.what, n)
			}
		}
		if n := q("SELECT COUNT(*) FROM N.tx t JOIN N.block b ON b.hash = t.block_hash WHERE b.id = t.block_id"); n != q("SELECT COUNT(*) FROM N.tx") {
			t.Errorf("%d transactions' block_id is their block's id", n)
		}
		// The redeemers' scripts: every redeemer of the shipped (valid)
		// transactions ran a script the views can name, spend ones through
		// the output they spend when it is loaded.
		if n := q("SELECT COUNT(*) FROM D.redeemer WHERE script_hash IS NULL AND purpose <> 'spend'"); n != 0 {
			t.Errorf("%d non-spend redeemers without a script hash", n)
		}
		spend := q("SELECT COUNT(*) FROM N.redeemer r JOIN N.tx_out o ON o.tx_hash = r.tx_out_hash AND o.`index` = r.tx_out_index")
		if n := q("SELECT COUNT(*) FROM D.redeemer WHERE purpose = 'spend' AND script_hash IS NOT NULL"); n != spend {
			t.Errorf("%d spend redeemers name a script, %d spend a loaded output", n, spend)
		}
	})
	t.Run("dbsync_links", func(t *testing.T) { checkViewLinks(t, db, database, dbsync, exp) })
	if srv.Name != "tidb" {
		return
	}
	t.Run("dbsync_explain", func(t *testing.T) {
		analyzeLargeTables(t, db)
		explainDBSyncJoins(t, db, database, dbsync)
	})
}

// checkViewLinks compares what the views compute from other rows with what
// the reference derives from the blocks: tx_out.consumed_by_tx_id (the id of
// the transaction whose tx_in row spends the output: a valid transaction's
// input, an invalid one's collateral; NULL if unspent) and the redeemer_id of
// withdrawals and of the certificate tables (the reward redeemer of a
// script's withdrawal, the cert redeemer of a certificate; NULL if none).
// Each view row is found by its id, transaction id and a field of its own
// (ids are unique within one network, and the test database holds several).
func checkViewLinks(t *testing.T, db *sql.DB, database, dbsync string, exp *expected) {
	ctx := context.Background()
	read := func(query string) map[string]string {
		query = strings.NewReplacer("D.", "`"+dbsync+"`.", "N.", "`"+database+"`.").Replace(query)
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var k1, k2, v sql.NullString
			if err := rows.Scan(&k1, &k2, &v); err != nil {
				t.Fatal(err)
			}
			k := k1.String + "|" + k2.String
			if _, dup := got[k]; dup {
				t.Fatalf("%s: two view rows for %s", query, k)
			}
			got[k] = null
			if v.Valid {
				got[k] = v.String
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(what string, want, got map[string]string) {
		t.Helper()
		bad, linked := 0, 0
		for k, w := range want {
			g, ok := got[k]
			if !ok || g != w {
				if bad++; bad <= 3 {
					t.Errorf("%s %s: view %q (row found: %v), reference %q", what, k, g, ok, w)
				}
			}
			if w != null {
				linked++
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d rows through the view, %d in the reference", what, len(got), len(want))
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d rows differ", what, bad, len(want))
		} else {
			t.Logf("%s: %d rows agree, %d of them linked", what, len(want), linked)
		}
	}

	spentBy := map[string]string{}
	for k, r := range exp.tables["tx_in"].rows {
		_, out, _ := strings.Cut(k, "|") // tx_in_hash|tx_out_hash|tx_out_index
		spentBy[out] = r.cols["tx_in_id"]
	}
	want := map[string]string{}
	for k := range exp.tables["tx_out"].rows {
		want[k] = null
		if id, ok := spentBy[k]; ok {
			want[k] = id
		}
	}
	check("tx_out.consumed_by_tx_id", want, read("SELECT LOWER(HEX(n.tx_hash)), n.`index`, v.consumed_by_tx_id FROM N.tx_out n"+
		" JOIN D.tx_out v ON v.id = n.id AND v.tx_id = n.tx_id AND v.`index` = n.`index` AND v.address = n.address"))

	for _, tab := range redeemerTables {
		key, match := "n.cert_index", "v.cert_index = n.cert_index"
		if tab == "withdrawal" {
			key, match = "n.stake_address", "v.amount = n.amount"
		}
		want := map[string]string{}
		for k := range exp.tables[tab].rows {
			want[k] = null
			if l, ok := exp.redeemers[tab][k]; ok {
				want[k] = l
			}
		}
		check(tab+".redeemer_id", want, read("SELECT LOWER(HEX(n.tx_hash)), "+key+", CONCAT(r.purpose, '|', r.`index`) FROM N."+tab+" n"+
			" JOIN D."+tab+" v ON v.id = n.id AND v.tx_id = n.tx_id AND "+match+
			" LEFT JOIN N.redeemer r ON r.id = v.redeemer_id AND r.tx_id = v.tx_id"))
	}
}

// explainDBSyncJoins checks, with the id query indexes built, that TiDB plans each db-sync join, from a row found by its key, as index
// lookups: no TableFullScan anywhere in the plan.
func explainDBSyncJoins(t *testing.T, db *sql.DB, database, dbsync string) {
	ctx := context.Background()
	one := func(query string) string {
		var v string
		if err := db.QueryRowContext(ctx, query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}
	n := func(query string) string {
		return strings.NewReplacer("N.", "`"+database+"`.").Replace(query)
	}
	// Sample keys from the loaded data: a transaction with outputs carrying
	// assets and stake addresses, one with a delegation, a Shelley block.
	txID := one(n("SELECT CAST(o.tx_id AS CHAR) FROM N.ma_tx_out m JOIN N.tx_out o ON o.tx_hash = m.tx_hash AND o.`index` = m.`index` WHERE o.stake_address IS NOT NULL LIMIT 1"))
	txHash := one(n("SELECT LOWER(HEX(hash)) FROM N.tx WHERE id = " + txID))
	outID := one(n("SELECT CAST(MIN(tx_out_id) AS CHAR) FROM N.ma_tx_out WHERE tx_id = " + txID))
	delegTx := one(n("SELECT CAST(tx_id AS CHAR) FROM N.delegation LIMIT 1"))
	blockHash := one(n("SELECT LOWER(HEX(hash)) FROM N.block WHERE slot_leader IS NOT NULL LIMIT 1"))
	leader := one(n("SELECT LOWER(HEX(slot_leader)) FROM N.block WHERE slot_leader IS NOT NULL LIMIT 1"))
	poolView := one(n("SELECT view FROM N.pool_hash WHERE hash_raw = X'" + leader + "'"))
	for _, c := range []struct{ what, query string }{
		{"tx.id = tx_out.tx_id", "SELECT tx_out.address, tx_out.value FROM tx JOIN tx_out ON tx_out.tx_id = tx.id WHERE tx.hash = X'" + txHash + "'"},
		{"tx.block_id = block.id", "SELECT block.block_no, block.time FROM tx JOIN block ON block.id = tx.block_id WHERE tx.hash = X'" + txHash + "'"},
		{"ma_tx_out.tx_out_id = tx_out.id", "SELECT ma_tx_out.quantity FROM tx_out JOIN ma_tx_out ON ma_tx_out.tx_out_id = tx_out.id WHERE tx_out.tx_id = " + txID},
		{"ma_tx_out.ident = multi_asset.id", "SELECT multi_asset.fingerprint, ma_tx_out.quantity FROM ma_tx_out JOIN multi_asset ON multi_asset.id = ma_tx_out.ident WHERE ma_tx_out.tx_out_id = " + outID},
		{"multi_asset.id = ma_tx_out.ident", "SELECT ma_tx_out.quantity FROM multi_asset JOIN ma_tx_out ON ma_tx_out.ident = multi_asset.id WHERE multi_asset.policy = (SELECT policy FROM `" + database + "`.ma_tx_out WHERE tx_out_id = " + outID + " LIMIT 1)"},
		{"tx_out.stake_address_id = stake_address.id", "SELECT stake_address.view FROM tx_out JOIN stake_address ON stake_address.id = tx_out.stake_address_id WHERE tx_out.tx_id = " + txID},
		{"delegation.addr_id = stake_address.id", "SELECT stake_address.view FROM delegation JOIN stake_address ON stake_address.id = delegation.addr_id WHERE delegation.tx_id = " + delegTx},
		{"delegation.pool_hash_id = pool_hash.id", "SELECT pool_hash.view, delegation.active_epoch_no FROM delegation JOIN pool_hash ON pool_hash.id = delegation.pool_hash_id WHERE delegation.tx_id = " + delegTx},
		{"block.slot_leader_id = slot_leader.id", "SELECT slot_leader.description FROM block JOIN slot_leader ON slot_leader.id = block.slot_leader_id WHERE block.hash = X'" + blockHash + "'"},
		{"slot_leader.pool_hash_id = pool_hash.id", "SELECT pool_hash.view FROM slot_leader JOIN pool_hash ON pool_hash.id = slot_leader.pool_hash_id WHERE slot_leader.hash = X'" + leader + "'"},
		{"a pool's blocks", "SELECT COUNT(*) FROM pool_hash JOIN slot_leader ON slot_leader.pool_hash_id = pool_hash.id JOIN block ON block.slot_leader_id = slot_leader.id WHERE pool_hash.hash_raw = X'" + leader + "'"},
		{"a pool's blocks, by its view", "SELECT COUNT(*) FROM pool_hash JOIN slot_leader ON slot_leader.pool_hash_id = pool_hash.id JOIN block ON block.slot_leader_id = slot_leader.id WHERE pool_hash.view = '" + poolView + "'"},
		{"tx_out.consumed_by_tx_id", "SELECT tx_out.`index`, tx_out.consumed_by_tx_id FROM tx JOIN tx_out ON tx_out.tx_id = tx.id WHERE tx.hash = X'" + txHash + "'"},
		{"tx_in.tx_out_id = tx.id", "SELECT tx.hash, tx_in.tx_out_index FROM tx_in JOIN tx ON tx.id = tx_in.tx_out_id WHERE tx_in.tx_in_id = " + txID},
		{"tx.fee", "SELECT tx.fee, tx.deposit FROM tx WHERE tx.hash = X'" + txHash + "'"},
	} {
		plan := explainIn(t, db, database, dbsync, c.query)
		if strings.Contains(plan, "TableFullScan") {
			t.Errorf("%s: a full table scan:\n%s\n%s", c.what, c.query, plan)
		} else {
			t.Logf("%s: index lookups only\n%s", c.what, plan)
		}
	}
}

// explainIn returns TiDB's plan of query run in database dbsync, one operator a
// line; the connection is left on database.
func explainIn(t *testing.T, db *sql.DB, database, dbsync, query string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The connection goes back to the pool on the database it came with.
	defer conn.Close()
	defer conn.ExecContext(ctx, "USE `"+database+"`")
	if _, err := conn.ExecContext(ctx, "USE `"+dbsync+"`"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+query)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		// id, estRows, task, access object, operator info
		fmt.Fprintf(&b, "%-50s %-12s %s\n", vals[0].String, vals[3].String, clip(vals[4].String))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
