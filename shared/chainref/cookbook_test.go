package chainref

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/indexes"
)

// recipe is an everyday question of docs/queries.md, asked of Nectar's own
// tables and of the _dbsync views; both must give the same answer, and on
// TiDB neither may read a table or index whole once the query indexes are
// built.
type recipe struct {
	name           string
	native, dbsync string
	// noRows says why the shipped blocks give this question no answer
	// (it is then still run, compared and explained).
	noRows string
	// aggregate: a question over the whole chain, not a lookup; EXPLAIN is
	// not checked.
	aggregate bool
	// small names the tables (as EXPLAIN's access object shows them:
	// "table:<name or alias>") a plan may read whole, or whose index it may
	// read whole, and why.
	small map[string]string
}

// recipes are docs/queries.md's cookbook, in its order; {sample} names as in
// sampleQueries.
var recipes = []recipe{
	{name: "address UTxOs",
		native: "SELECT LOWER(HEX(tx_out.tx_hash)) AS tx_hash, tx_out.`index`, tx_out.value FROM tx_out" +
			" LEFT JOIN tx_in ON tx_in.tx_out_hash = tx_out.tx_hash AND tx_in.tx_out_index = tx_out.`index`" +
			" WHERE tx_out.address = '{utxo_address}' AND tx_in.tx_in_hash IS NULL",
		dbsync: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, tx_out.`index`, tx_out.value FROM tx_out" +
			" JOIN tx ON tx.id = tx_out.tx_id" +
			" WHERE tx_out.address = '{utxo_address}' AND tx_out.consumed_by_tx_id IS NULL"},
	{name: "address history",
		native: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, tx.slot_no FROM (" +
			" SELECT tx_out.tx_hash AS h FROM tx_out WHERE tx_out.address = '{utxo_address}'" +
			" UNION SELECT tx_in.tx_in_hash FROM tx_out JOIN tx_in ON tx_in.tx_out_hash = tx_out.tx_hash AND tx_in.tx_out_index = tx_out.`index`" +
			"  WHERE tx_out.address = '{utxo_address}') touched JOIN tx ON tx.hash = touched.h",
		dbsync: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, block.slot_no FROM (" +
			" SELECT tx_out.tx_id AS id FROM tx_out WHERE tx_out.address = '{utxo_address}'" +
			" UNION SELECT tx_out.consumed_by_tx_id FROM tx_out WHERE tx_out.address = '{utxo_address}' AND tx_out.consumed_by_tx_id IS NOT NULL) touched" +
			" JOIN tx ON tx.id = touched.id JOIN block ON block.id = tx.block_id"},
	{name: "stake address balance (its UTxOs)",
		native: "SELECT SUM(tx_out.value) AS lovelace, COUNT(*) AS outputs FROM tx_out" +
			" LEFT JOIN tx_in ON tx_in.tx_out_hash = tx_out.tx_hash AND tx_in.tx_out_index = tx_out.`index`" +
			" WHERE tx_out.stake_address = '{cb_stake}' AND tx_in.tx_in_hash IS NULL",
		dbsync: "SELECT SUM(tx_out.value) AS lovelace, COUNT(*) AS outputs FROM stake_address" +
			" JOIN tx_out ON tx_out.stake_address_id = stake_address.id" +
			" WHERE stake_address.view = '{cb_stake}' AND tx_out.consumed_by_tx_id IS NULL"},
	{name: "stake address delegations",
		native: "SELECT LOWER(HEX(delegation.tx_hash)) AS tx_hash, delegation.cert_index, pool_hash.view AS pool FROM delegation" +
			" JOIN pool_hash ON pool_hash.hash_raw = delegation.pool_hash WHERE delegation.stake_address = '{cb_stake}'",
		dbsync: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, delegation.cert_index, pool_hash.view AS pool FROM stake_address" +
			" JOIN delegation ON delegation.addr_id = stake_address.id JOIN pool_hash ON pool_hash.id = delegation.pool_hash_id" +
			" JOIN tx ON tx.id = delegation.tx_id WHERE stake_address.view = '{cb_stake}'"},
	{name: "asset holders",
		native: "SELECT tx_out.address, SUM(ma_tx_out.quantity) AS quantity FROM ma_tx_out" +
			" JOIN tx_out ON tx_out.tx_hash = ma_tx_out.tx_hash AND tx_out.`index` = ma_tx_out.`index`" +
			" LEFT JOIN tx_in ON tx_in.tx_out_hash = tx_out.tx_hash AND tx_in.tx_out_index = tx_out.`index`" +
			" WHERE ma_tx_out.policy = X'{asset_policy}' AND ma_tx_out.name = X'{asset_name}' AND tx_in.tx_in_hash IS NULL GROUP BY tx_out.address",
		dbsync: "SELECT tx_out.address, SUM(ma_tx_out.quantity) AS quantity FROM multi_asset" +
			" JOIN ma_tx_out ON ma_tx_out.ident = multi_asset.id JOIN tx_out ON tx_out.id = ma_tx_out.tx_out_id" +
			" WHERE multi_asset.policy = X'{asset_policy}' AND multi_asset.name = X'{asset_name}' AND tx_out.consumed_by_tx_id IS NULL GROUP BY tx_out.address"},
	{name: "asset mints",
		native: "SELECT LOWER(HEX(ma_tx_mint.tx_hash)) AS tx_hash, ma_tx_mint.quantity FROM ma_tx_mint" +
			" WHERE ma_tx_mint.policy = X'{mint_policy}' AND ma_tx_mint.name = X'{mint_name}'",
		dbsync: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, ma_tx_mint.quantity FROM multi_asset" +
			" JOIN ma_tx_mint ON ma_tx_mint.ident = multi_asset.id JOIN tx ON tx.id = ma_tx_mint.tx_id" +
			" WHERE multi_asset.policy = X'{mint_policy}' AND multi_asset.name = X'{mint_name}'"},
	{name: "pool blocks per epoch",
		native: "SELECT block.epoch_no, COUNT(*) AS blocks FROM pool_hash JOIN block ON block.slot_leader = pool_hash.hash_raw" +
			" WHERE pool_hash.view = '{pool}' GROUP BY block.epoch_no",
		dbsync: "SELECT block.epoch_no, COUNT(*) AS blocks FROM pool_hash JOIN slot_leader ON slot_leader.pool_hash_id = pool_hash.id" +
			" JOIN block ON block.slot_leader_id = slot_leader.id WHERE pool_hash.view = '{pool}' GROUP BY block.epoch_no"},
	{name: "DRep delegators",
		native: "SELECT delegation_vote.stake_address, LOWER(HEX(delegation_vote.tx_hash)) AS tx_hash FROM delegation_vote" +
			" WHERE delegation_vote.drep_hash = '{drep}'",
		dbsync: "SELECT stake_address.view AS stake_address, LOWER(HEX(tx.hash)) AS tx_hash FROM drep_hash" +
			" JOIN delegation_vote ON delegation_vote.drep_hash_id = drep_hash.id JOIN stake_address ON stake_address.id = delegation_vote.addr_id" +
			" JOIN tx ON tx.id = delegation_vote.tx_id WHERE drep_hash.view = '{drep}'"},
	{name: "DRep votes", noRows: "the shipped blocks hold one vote, an SPO's", small: map[string]string{
		"table:g":                   "gov_action_proposal in the voting_procedure view: one row per proposal (3 here, hundreds on mainnet)",
		"table:gov_action_proposal": "gov_action_proposal: one row per proposal (3 here, hundreds on mainnet)"},
		native: "SELECT LOWER(HEX(voting_procedure.tx_hash)) AS tx_hash, LOWER(HEX(voting_procedure.gov_action_tx_hash)) AS action_tx," +
			" voting_procedure.gov_action_index, voting_procedure.vote FROM drep_hash" +
			" JOIN voting_procedure ON voting_procedure.voter_hash = drep_hash.raw AND voting_procedure.voter_is_script = drep_hash.has_script" +
			" WHERE drep_hash.view = '{drep}' AND voting_procedure.voter_role = 'DRep'",
		dbsync: "SELECT LOWER(HEX(tx.hash)) AS tx_hash, LOWER(HEX(gtx.hash)) AS action_tx, gov_action_proposal.`index` AS gov_action_index," +
			" voting_procedure.vote FROM drep_hash JOIN voting_procedure ON voting_procedure.drep_voter = drep_hash.id" +
			" JOIN tx ON tx.id = voting_procedure.tx_id JOIN gov_action_proposal ON gov_action_proposal.id = voting_procedure.gov_action_proposal_id" +
			" JOIN tx gtx ON gtx.id = gov_action_proposal.tx_id WHERE drep_hash.view = '{drep}'"},
	{name: "collateral lost by invalid transactions", aggregate: true,
		native: "SELECT SUM(tx_out.value) / 1000000 AS lost_amount FROM tx JOIN tx_in ON tx_in.tx_in_hash = tx.hash" +
			" JOIN tx_out ON tx_out.tx_hash = tx_in.tx_out_hash AND tx_out.`index` = tx_in.tx_out_index WHERE tx.valid_contract = FALSE",
		dbsync: "SELECT SUM(tx_out.value) / 1000000 AS lost_amount FROM tx JOIN tx_in ON tx.id = tx_in.tx_in_id" +
			" JOIN tx_out ON tx_in.tx_out_id = tx_out.tx_id AND tx_in.tx_out_index = tx_out.`index` WHERE tx.valid_contract = FALSE"},
}

// cookbookSamples are the cookbook's own samples: ordinary ones (a few rows
// each), as lookups are, so that the plans are those of a lookup.
var cookbookSamples = []struct{ name, query string }{
	// An address with 2-20 unspent outputs.
	{"utxo_address", `SELECT o.address FROM tx_out o LEFT JOIN tx_in i ON i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.` + "`index`" + `
		WHERE i.tx_in_hash IS NULL AND o.stake_address IS NOT NULL GROUP BY o.address HAVING COUNT(*) BETWEEN 2 AND 20
		ORDER BY COUNT(*) DESC, o.address LIMIT 1`},
	// A stake address with 2-20 delegations and unspent outputs.
	{"cb_stake", `SELECT d.stake_address FROM delegation d JOIN (SELECT DISTINCT o.stake_address FROM tx_out o
		LEFT JOIN tx_in i ON i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.` + "`index`" + ` WHERE i.tx_in_hash IS NULL) u ON u.stake_address = d.stake_address
		GROUP BY d.stake_address HAVING COUNT(*) BETWEEN 2 AND 20 ORDER BY COUNT(*) DESC, d.stake_address LIMIT 1`},
	// An asset in 2-20 unspent outputs.
	{"asset", `SELECT CONCAT(LOWER(HEX(m.policy)), '.', LOWER(HEX(m.name))) FROM ma_tx_out m
		LEFT JOIN tx_in i ON i.tx_out_hash = m.tx_hash AND i.tx_out_index = m.` + "`index`" + `
		WHERE i.tx_in_hash IS NULL GROUP BY m.policy, m.name HAVING COUNT(*) BETWEEN 2 AND 20 ORDER BY COUNT(*) DESC, m.policy, m.name LIMIT 1`},
	// An asset minted or burnt 2-20 times.
	{"mint", `SELECT CONCAT(LOWER(HEX(policy)), '.', LOWER(HEX(name))) FROM ma_tx_mint GROUP BY policy, name HAVING COUNT(*) BETWEEN 2 AND 20
		ORDER BY COUNT(*) DESC, policy, name LIMIT 1`},
	// A DRep (a key or script, not a predefined one) with 2-20 vote delegations.
	{"drep", `SELECT v.drep_hash FROM delegation_vote v JOIN drep_hash d ON d.view = v.drep_hash WHERE d.raw IS NOT NULL
		GROUP BY v.drep_hash HAVING COUNT(*) BETWEEN 2 AND 20 ORDER BY COUNT(*) DESC, v.drep_hash LIMIT 1`},
}

// testCookbook asks every recipe both ways and compares the answers; on TiDB
// it builds the query indexes (shared/indexes, as `nectar indexes create`)
// and fails on a full scan in any recipe's plan.
func testCookbook(t *testing.T, srv dbtest.Server, db *sql.DB, native, dbsync *sql.Conn, smp samples) {
	t.Helper()
	ctx := context.Background()
	for _, q := range cookbookSamples {
		var v sql.NullString
		if err := native.QueryRowContext(ctx, smp.expand(q.query)).Scan(&v); err != nil || !v.Valid {
			t.Fatalf("sample %s: %v", q.name, err)
		}
		smp[q.name] = v.String
	}
	for _, a := range []string{"asset", "mint"} {
		policy, name, _ := strings.Cut(smp[a], ".")
		smp[a+"_policy"], smp[a+"_name"] = policy, name
	}
	for _, r := range recipes {
		t.Run(r.name, func(t *testing.T) {
			want, err := queryText(ctx, native, smp.expand(r.native))
			if err != nil {
				t.Fatalf("native: %v", err)
			}
			if (len(want.rows) == 0) != (r.noRows != "") {
				t.Fatalf("native answer has %d rows (no rows expected: %q)", len(want.rows), r.noRows)
			}
			got, err := queryText(ctx, dbsync, smp.expand(r.dbsync))
			if err != nil {
				t.Fatalf("_dbsync: %v", err)
			}
			if d := want.diff(got); d != "" {
				t.Fatalf("_dbsync and native answers differ:\n%s", d)
			}
			t.Logf("%s: %d rows agree", r.name, len(want.rows))
		})
	}
	if srv.Name != "tidb" {
		return
	}
	t.Run("explain", func(t *testing.T) {
		// The query indexes the questions use are built (testQueries).
		st, err := indexes.New(db, indexes.Options{Indexes: questionIndexes(t)}).Status(ctx)
		if err != nil {
			t.Fatalf("query indexes status: %v", err)
		}
		for _, s := range st {
			if s.State != indexes.Present {
				t.Fatalf("query index %s on %s: %s", s.Name, s.Table, s.State)
			}
		}
		analyzeLargeTables(t, db)
		for _, r := range recipes {
			if r.aggregate {
				continue
			}
			for _, side := range []struct {
				name string
				c    *sql.Conn
				q    string
			}{{"native", native, r.native}, {"_dbsync", dbsync, r.dbsync}} {
				plan, scans, err := explain(ctx, side.c, smp.expand(side.q))
				if err != nil {
					t.Errorf("%s %s: explain: %v", r.name, side.name, err)
					continue
				}
				t.Logf("EXPLAIN %s (%s):\n%s", r.name, side.name, plan)
				for _, s := range scans {
					_, access, _ := strings.Cut(s, " ")
					table, _, _ := strings.Cut(access, ",")
					if why, ok := r.small[table]; ok {
						t.Logf("%s (%s): full scan %s: %s", r.name, side.name, s, why)
					} else {
						t.Errorf("%s (%s): full scan %s", r.name, side.name, s)
					}
				}
			}
		}
	})
}

// explain returns a query's TiDB plan as text (operator, access object,
// operator info) and each full scan (TableFullScan, IndexFullScan) in it.
func explain(ctx context.Context, c *sql.Conn, q string) (string, []string, error) {
	a, err := queryText(ctx, c, "EXPLAIN "+q)
	if err != nil {
		return "", nil, err
	}
	var plan strings.Builder
	var scans []string
	for _, r := range a.rows {
		if len(r) < 5 {
			return "", nil, fmt.Errorf("explain row %v", r)
		}
		op, access, info := r[0], r[3], r[4]
		if len(info) > 90 {
			info = info[:90] + "…"
		}
		fmt.Fprintf(&plan, "  %-44s %-48s %s\n", op, access, info)
		if strings.Contains(op, "TableFullScan") || strings.Contains(op, "IndexFullScan") {
			scans = append(scans, strings.TrimSpace(strings.TrimLeft(op, "│└─ "))+" "+access)
		}
	}
	return plan.String(), scans, nil
}

// analyzeLargeTables gives the large tables statistics, so that their plans
// are the ones a loaded database gets (a pooled test database may hold
// another load's, or partial ones). The small ones (a few hundred
// certificates or votes here) keep TiDB's pseudo statistics, which model a
// table too large to read whole, as they are on mainnet: with real ones
// TiDB rightly reads 85 rows whole instead of using an index.
func analyzeLargeTables(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, tab := range []string{"tx", "tx_out", "tx_in", "block", "ma_tx_out", "ma_tx_mint", "multi_asset"} {
		if _, err := db.ExecContext(context.Background(), "ANALYZE TABLE `"+tab+"`"); err != nil {
			t.Fatalf("analyze %s: %v", tab, err)
		}
	}
}
