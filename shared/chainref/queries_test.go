package chainref

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/dialect"
	"github.com/nectar-indexer/nectar/shared/indexes"
	"github.com/nectar-indexer/nectar/shared/schema"
)

// docQuery is one query of db-sync's docs (testdata/queries).
type docQuery struct {
	ID, Question, SQL string
}

// readDocQueries reads testdata/queries/dbsync-interesting-queries.sql: blocks
// of "-- id:", "-- question:" and the query, verbatim.
func readDocQueries(tb testing.TB) []docQuery {
	tb.Helper()
	f, err := os.Open(filepath.Join(testdata, "queries", "dbsync-interesting-queries.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []docQuery
	var cur *docQuery
	var body strings.Builder
	flush := func() {
		if cur != nil {
			cur.SQL = strings.TrimSuffix(strings.TrimSpace(body.String()), ";")
			out = append(out, *cur)
		}
		body.Reset()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "-- id: "):
			flush()
			cur = &docQuery{ID: strings.TrimPrefix(line, "-- id: ")}
		case strings.HasPrefix(line, "-- question: ") && cur != nil:
			cur.Question = strings.TrimPrefix(line, "-- question: ")
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// question is a doc query that concerns block data, with the same question
// asked of Nectar's own tables.
type question struct {
	// subst replaces the doc's sample literals (mainnet examples) with
	// {sample} names, expanded with the samples picked from the loaded data.
	subst map[string]string
	// native asks the same question of Nectar's tables; {sample} names are
	// expanded (raw: hex for bytes), so it quotes them itself.
	native string
	// project compares only the native query's columns, by name: for the
	// doc's `select *`, whose other columns are the views' own.
	project bool
	// sharedSlots: the question joins blocks by id over the whole chain.
	// block.id is unique within a network (slot_no*2 + 1), and the test
	// database holds preview and mainnet, whose slots 0-64,800 both have
	// blocks: there the views join a transaction to two blocks. The _dbsync
	// answer must then hold every native row, and its extra rows are counted.
	sharedSlots bool
	// notOn names the engines ("tidb", "mariadb") that cannot run the doc's
	// query after the mechanical changes, and why.
	notOn map[string]string
}

// questions are the doc queries about block data. Each runs through
// <database>_dbsync after dialect.Rewrite only, and its answer is compared
// with native's.
var questions = map[string]question{
	"IQ02": {native: "SELECT SUM(o.value) / 1000000 AS current_supply FROM tx_out o WHERE NOT EXISTS (SELECT 1 FROM tx_in i WHERE i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.`index`)"},
	"IQ03": {native: "SELECT slot_no FROM block WHERE block_no IS NOT NULL ORDER BY block_no DESC LIMIT 1"},
	"IQ06": {native: "SELECT 100 * (UNIX_TIMESTAMP(MAX(time)) - UNIX_TIMESTAMP(MIN(time))) / (UNIX_TIMESTAMP(NOW()) - UNIX_TIMESTAMP(MIN(time))) AS sync_percent FROM block"},
	"IQ07": {native: "SELECT TIMESTAMPDIFF(SECOND, MAX(time), NOW()) AS behind_by FROM block"},
	// The doc keeps an update whose tx id is any pool's latest (IN the set
	// of maxima), and so does the native query.
	"IQ08": {project: true, native: `SELECT u.id, u.cert_index, u.pledge, u.tx_id AS registered_tx_id FROM pool_update u
		WHERE u.tx_id IN (SELECT MAX(t.id) FROM pool_update u2 JOIN tx t ON t.hash = u2.tx_hash GROUP BY u2.pool_hash)
		  AND NOT EXISTS (SELECT 1 FROM pool_retire r WHERE r.pool_hash = u.pool_hash AND r.retiring_epoch <= (SELECT MAX(epoch_no) FROM block))`},
	"IQ09": {project: true, native: `SELECT u.cert_index, u.pledge, p.view, p.hash_raw, u.tx_id AS registered_tx_id FROM pool_update u JOIN pool_hash p ON p.hash_raw = u.pool_hash
		WHERE u.tx_id IN (SELECT MAX(t.id) FROM pool_update u2 JOIN tx t ON t.hash = u2.tx_hash GROUP BY u2.pool_hash)
		  AND NOT EXISTS (SELECT 1 FROM pool_retire r WHERE r.pool_hash = u.pool_hash AND r.retiring_epoch <= (SELECT MAX(epoch_no) FROM block))`},
	"IQ10": {subst: map[string]string{"addr1qx2kd28nq8ac5pr...08ly3tu9sy0f4qd": "{address}"},
		native: "SELECT s.id AS stake_address_id, o.address, s.view AS stake_address FROM tx_out o JOIN stake_address s ON s.view = o.stake_address WHERE o.address = '{address}'"},
	"IQ11": {subst: map[string]string{"f9c0997afc8159dbe0568eadf0823112e0cc29cd097c8dc939ff44c372388bc0": "{tx}"},
		native: "SELECT t.id, f.fee FROM tx t JOIN tx_fee f ON f.tx_hash = t.hash WHERE t.hash = X'{tx}'"},
	"IQ12": {project: true, subst: map[string]string{"f9c0997afc8159dbe0568eadf0823112e0cc29cd097c8dc939ff44c372388bc0": "{tx}"},
		native: "SELECT o.id, t.id AS tx_id, o.`index`, o.address, o.address_has_script, o.payment_cred, o.value, o.data_hash FROM tx_out o JOIN tx t ON t.hash = o.tx_hash WHERE o.tx_hash = X'{tx}'"},
	"IQ13": {project: true, subst: map[string]string{"f9c0997afc8159dbe0568eadf0823112e0cc29cd097c8dc939ff44c372388bc0": "{tx}"},
		native: "SELECT o.id, o.`index`, o.address, o.value FROM tx_in i JOIN tx_out o ON o.tx_hash = i.tx_out_hash AND o.`index` = i.tx_out_index WHERE i.tx_in_hash = X'{tx}'"},
	"IQ15": {project: true, subst: map[string]string{"0b8c5be678209bb051a02904dd18896a929f9aca8aecd48850939a590175f7e8": "{withdrawal_tx}"},
		native: "SELECT w.id, w.tx_id, s.id AS addr_id, w.amount FROM withdrawal w JOIN stake_address s ON s.view = w.stake_address WHERE w.tx_hash = X'{withdrawal_tx}'"},
	"IQ18": {subst: map[string]string{"stake1u8gsndukzghdukmqdsd7r7wd6kvamvjv2pzcgag8v6jd69qfqyl5h": "{stake_address}"},
		native: "SELECT b.epoch_no + 2 AS active_epoch_no, p.view FROM delegation d JOIN tx t ON t.hash = d.tx_hash JOIN block b ON b.hash = t.block_hash JOIN pool_hash p ON p.hash_raw = d.pool_hash WHERE d.stake_address = '{stake_address}'"},
	"IQ20": {subst: map[string]string{"block.epoch_no = 220": "block.epoch_no = {pool_epoch}", "pool137x32lrkprphrd0aa8x4jqz98z6lc0wawlc88hdjeps4qe408ad": "{pool}"},
		native: "SELECT b.block_no, b.epoch_no, p.view AS pool_view FROM block b JOIN pool_hash p ON p.hash_raw = b.slot_leader WHERE b.epoch_no = {pool_epoch} AND p.view = '{pool}'"},
	"IQ21": {subst: map[string]string{"pool1nux6acnlx0du7ss9fhg2phjlaqe87l4wcurln5r6f0k8xreluez": "{pool}"},
		native: "SELECT b.epoch_no, COUNT(*) AS block_count FROM block b JOIN pool_hash p ON p.hash_raw = b.slot_leader WHERE p.view = '{pool}' GROUP BY b.epoch_no"},
	"IQ22": {subst: map[string]string{"9053a4cf0c6c9fb29792c78e688c5915a02909d0073371d8fff1abba0bed3065": "{vote_tx}"},
		native: "SELECT t.id AS tx_id, b.id AS tx_block_id, o.address AS tx_out_address FROM tx t JOIN block b ON b.hash = t.block_hash JOIN tx_out o ON o.tx_hash = t.hash WHERE t.hash = X'{vote_tx}'"},
	"IQ25": {sharedSlots: true, subst: map[string]string{"2020-10-10 17:00:00": "{time}"},
		native: `SELECT o.address, o.value AS lovelace, gb.time AS timestamp FROM tx_out o
		JOIN tx gt ON gt.hash = o.tx_hash JOIN block gb ON gb.hash = gt.block_hash
		LEFT JOIN tx_in i ON i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.` + "`index`" + `
		LEFT JOIN tx ct ON ct.hash = i.tx_in_hash LEFT JOIN block cb ON cb.hash = ct.block_hash
		WHERE ('{time}' < '2020-12-16 21:44:00' OR gb.epoch_no IS NOT NULL)
		  AND '{time}' >= gb.time AND ('{time}' <= cb.time OR i.tx_in_hash IS NULL)`},
	"IQ27": {native: "SELECT SUM(o.value) / 1000000 AS script_locked FROM tx_out o WHERE o.address_has_script AND NOT EXISTS (SELECT 1 FROM tx_in i WHERE i.tx_out_hash = o.tx_hash AND i.tx_out_index = o.`index`)"},
	"IQ32": {native: `SELECT a.fingerprint, a.policy, a.name, a.id AS ident, COUNT(*) AS mints, SUM(m.quantity) AS quantity,
		(SELECT b.time FROM ma_tx_mint m2 JOIN tx t ON t.hash = m2.tx_hash JOIN block b ON b.hash = t.block_hash
		  WHERE m2.policy = a.policy AND m2.name = a.name ORDER BY t.id LIMIT 1) AS created
		FROM ma_tx_mint m JOIN multi_asset a ON a.policy = m.policy AND a.name = m.name GROUP BY a.policy, a.name, a.fingerprint, a.id`},
	"IQ34": {sharedSlots: true, notOn: map[string]string{"tidb": "TiDB: \"ON condition doesn't support subqueries yet\" (the doc's LEFT JOINs ON x.id = (SELECT max(id) …))"},
		native: `SELECT sa.view AS address, nh.view AS delegated_now_poolid, bn.epoch_no + 2 AS delegated_now_epoch,
		oh.view AS delegated_before_poolid, bo.epoch_no + 2 AS delegated_before_epoch, d.addr_id, br.time AS stake_key_registered
		FROM (SELECT d.*,
		        (SELECT MAX(x.id) FROM stake_deregistration x WHERE x.stake_address = d.stake_address) AS de_id,
		        (SELECT MAX(x.id) FROM stake_registration x WHERE x.stake_address = d.stake_address) AS re_id,
		        (SELECT MAX(x.id) FROM delegation x WHERE x.stake_address = d.stake_address AND x.pool_hash <> d.pool_hash) AS od_id
		      FROM (SELECT MAX(id) AS id FROM delegation GROUP BY stake_address) a JOIN delegation d ON d.id = a.id) d
		LEFT JOIN tx txn ON txn.hash = d.tx_hash LEFT JOIN block bn ON bn.hash = txn.block_hash
		LEFT JOIN stake_address sa ON sa.view = d.stake_address
		LEFT JOIN stake_deregistration de ON de.id = d.de_id
		LEFT JOIN stake_registration re ON re.id = d.re_id
		LEFT JOIN delegation od ON od.id = d.od_id
		LEFT JOIN tx txo ON txo.hash = od.tx_hash LEFT JOIN block bo ON bo.hash = txo.block_hash
		LEFT JOIN pool_hash nh ON nh.hash_raw = d.pool_hash LEFT JOIN pool_hash oh ON oh.hash_raw = od.pool_hash
		LEFT JOIN tx txr ON txr.hash = re.tx_hash LEFT JOIN block br ON br.hash = txr.block_hash
		WHERE de.tx_id < re.tx_id OR de.id IS NULL`},
	// The epoch view counts every block of an epoch, an EBB too; the doc's
	// query counts block numbers, which EBBs have none of.
	"IQ35": {native: `SELECT b.epoch_no, COUNT(*) AS epoch_blk_count,
		(SELECT COUNT(*) FROM tx t JOIN block k ON k.hash = t.block_hash WHERE k.epoch_no = b.epoch_no) AS epoch_tx_count,
		COUNT(b.block_no) AS block_block_count, SUM(b.tx_count) AS block_tx_count
		FROM block b WHERE b.epoch_no IS NOT NULL GROUP BY b.epoch_no
		HAVING epoch_blk_count <> block_block_count OR epoch_tx_count <> block_tx_count`},
	"MR1": {subst: map[string]string{"2026-03-01 00:00:00": "{time}"},
		native: "SELECT slot_no, block_no, time FROM block WHERE time >= '{time}' ORDER BY slot_no LIMIT 1"},
	"MR2": {subst: map[string]string{"12345678": "{block_no}"},
		native: "SELECT slot_no, block_no, epoch_no FROM block WHERE block_no = {block_no}"},
	"MR3": {native: "SELECT slot_no, block_no, epoch_no, time FROM block ORDER BY slot_no DESC, block_type <> 0 DESC LIMIT 1"},
}

// outOfScope are the doc queries not run, and why.
var outOfScope = map[string]string{
	"IQ01": "meta is db-sync's own record (its version, the network's start time and name), not chain data",
	"IQ04": "pg_size_pretty/pg_database_size read PostgreSQL's catalog (MySQL: information_schema.TABLES)",
	"IQ05": "pg_size_pretty/pg_total_relation_size read PostgreSQL's catalog (MySQL: information_schema.TABLES)",
	"IQ14": "reward, epoch_stake (ledger state) and epoch_sync_time (db-sync's own timings)",
	"IQ16": "epoch_stake is ledger state (the stake snapshot)",
	"IQ17": "epoch_stake is ledger state (the stake snapshot)",
	"IQ19": "reward is ledger state",
	"IQ23": "epoch_stake is ledger state (the stake snapshot)",
	"IQ24": "reward is ledger state",
	"IQ26": "the genesis distribution (db-sync's epoch_no NULL pseudo-blocks) comes from the genesis file, not from blocks",
	"IQ28": "redeemer.fee is the execution units priced by the protocol parameters in effect (ledger state)",
	"IQ29": "the doc's query joins tx_in.tx_out_id (a tx id) to tx_out.id (an output id): wrong on db-sync too; the corrected question is in the cookbook",
	"IQ30": "redeemer.fee is priced by the protocol parameters in effect (ledger state)",
	"IQ31": "redeemer.fee is priced by the protocol parameters in effect (ledger state)",
	"IQ33": "offchain_pool_data is fetched off chain; pool_update.meta_id and DISTINCT ON",
}

// testQueries asks the questions of docs/queries.md of the loaded database:
// db-sync's doc queries (testDocQueries) and the cookbook (testCookbook).
func testQueries(t *testing.T, srv dbtest.Server, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	// The query indexes these questions use first, as a database that
	// answers them has them, built as `nectar indexes create` builds them.
	start := time.Now()
	res, err := indexes.New(db, indexes.Options{Indexes: questionIndexes(t)}).Create(ctx)
	if err != nil {
		t.Fatalf("create the query indexes: %v", err)
	}
	t.Logf("%s: %d query indexes built or present in %s", srv.Name, len(res), time.Since(start).Round(time.Millisecond))
	native, dbsync := sessions(t, srv, db)
	smp := pickSamples(t, native)
	t.Logf("%s: samples %v", srv.Name, smp)
	t.Run("doc", func(t *testing.T) { testDocQueries(t, srv, native, dbsync, smp) })
	t.Run("cookbook", func(t *testing.T) { testCookbook(t, srv, db, native, dbsync, smp) })
}

// usedIndexes are the query indexes (schema.QueryIndexes) the plans of the
// cookbook and of the doc queries use. The test builds these only: all of
// them take minutes on the local TiDB, and what these questions need is
// what EXPLAIN checks.
var usedIndexes = []string{
	"tx_out_address", "tx_out_stake_address", "tx_out_id", "tx_out_tx_id", "tx_out_stake_address_id",
	"ma_tx_out_policy_name", "ma_tx_out_ident", "ma_tx_out_tx_out_id", "ma_tx_mint_policy_name", "ma_tx_mint_ident", "ma_tx_mint_tx_id",
	"stake_registration_stake_address", "stake_deregistration_stake_address", "delegation_stake_address",
	"stake_registration_addr_id", "stake_deregistration_addr_id", "delegation_addr_id", "delegation_tx_id",
	"block_slot_leader", "block_slot_leader_id", "tx_block_id",
	"delegation_vote_drep_hash", "delegation_vote_drep_hash_id", "delegation_vote_addr_id",
	"voting_procedure_voter", "voting_procedure_tx_id", "gov_action_proposal_id", "tx_in_tx_in_id",
	"block_id", "tx_id", "slot_leader_id", "slot_leader_pool_hash_id", "multi_asset_id", "stake_address_id",
	"pool_hash_id", "pool_hash_view", "drep_hash_id", "drep_hash_raw", "voting_procedure_drep_voter_id",
}

func questionIndexes(t *testing.T) []schema.Index {
	t.Helper()
	var out []schema.Index
	for _, name := range usedIndexes {
		i := slices.IndexFunc(schema.QueryIndexes, func(ix schema.Index) bool { return ix.Name == name })
		if i < 0 {
			t.Fatalf("no query index %s in schema.QueryIndexes", name)
		}
		out = append(out, schema.QueryIndexes[i])
	}
	return out
}

// testDocQueries asks every doc question about block data twice: the doc's
// query, rewritten by dialect.Rewrite only, through <database>_dbsync, and
// the hand-written native query on Nectar's own tables, and compares the
// answers as sorted rows of text.
func testDocQueries(t *testing.T, srv dbtest.Server, native, dbsync *sql.Conn, smp samples) {
	t.Helper()
	ctx := context.Background()
	docs := readDocQueries(t)
	if len(docs) != 38 {
		t.Fatalf("%d doc queries, want 38", len(docs))
	}
	for _, d := range docs {
		_, in := questions[d.ID]
		_, out := outOfScope[d.ID]
		if in == out {
			t.Errorf("%s: must be either a question or out of scope", d.ID)
		}
	}
	// Block ids two networks of the test database share (sharedSlots).
	var shared int
	if err := native.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT id FROM block GROUP BY id HAVING COUNT(*) > 1) s").Scan(&shared); err != nil {
		t.Fatal(err)
	}
	ran, differ, notRun := 0, 0, 0
	for _, d := range docs {
		q, ok := questions[d.ID]
		if !ok {
			continue
		}
		if why, ok := q.notOn[srv.Name]; ok {
			notRun++
			t.Logf("%s: not run on %s: %s", d.ID, srv.Name, why)
			continue
		}
		t.Run(d.ID, func(t *testing.T) {
			pg := d.SQL
			for lit, name := range q.subst {
				if !strings.Contains(pg, lit) {
					t.Fatalf("the doc's query has no %q", lit)
				}
				pg = strings.ReplaceAll(pg, lit, smp.expand(name))
			}
			start := time.Now()
			my, applied, err := dialect.Rewrite(pg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := queryText(ctx, native, smp.expand(q.native))
			if err != nil {
				t.Fatalf("native: %v", err)
			}
			got, err := queryText(ctx, dbsync, my)
			if err != nil {
				t.Fatalf("%s through _dbsync (rules %v): %v\n%s", d.ID, applied, err, my)
			}
			if q.project {
				if got, err = got.project(want.cols); err != nil {
					t.Fatal(err)
				}
			}
			if len(want.rows) == 0 {
				t.Fatalf("the native answer is empty: the samples prove nothing")
			}
			if diff := want.diff(got); diff != "" && q.sharedSlots {
				extra, ok := want.within(got)
				if !ok || shared == 0 {
					t.Fatalf("%s (%s): the _dbsync answer lacks native rows (blocks sharing an id: %d):\n%s", d.ID, d.Question, shared, diff)
				}
				differ++
				t.Logf("%s: every one of the %d native rows is in the _dbsync answer, which has %d more from the %d block ids two networks share (rules %v)",
					d.ID, len(want.rows), extra, shared, applied)
				return
			} else if diff != "" {
				t.Fatalf("%s (%s): _dbsync and native answers differ (rules %v):\n%s\n%s", d.ID, d.Question, applied, diff, my)
			}
			ran++
			t.Logf("%s: %d rows agree in %s (rules %v)", d.ID, len(want.rows), time.Since(start).Round(time.Millisecond), applied)
		})
	}
	t.Logf("%s: %d of %d doc queries run through _dbsync with only the documented changes: %d agree with Nectar's tables, %d hold every native row "+
		"and more from the block ids two networks share in the test database; %d not run on %s; %d out of scope",
		srv.Name, ran+differ, len(docs), ran, differ, notRun, srv.Name, len(outOfScope))
}

// sessions returns two connections of db: one in its database, one in
// <database>_dbsync. Both run with the same fixed NOW(), so that questions
// about the time agree. On TiDB the _dbsync session lets join reorder pass
// a filter on an outer join's column (ViewSessionTiDB).
func sessions(t *testing.T, srv dbtest.Server, db *sql.DB) (native, dbsync *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	var name string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	conn := func(database string, set ...string) *sql.Conn {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The session's database and clock are this test's: the connection
		// is discarded, not returned to the pool.
		t.Cleanup(func() {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
			c.Close()
		})
		for _, s := range append([]string{"USE `" + database + "`", fmt.Sprintf("SET timestamp = %d", now)}, set...) {
			if _, err := c.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return c
	}
	var tidb []string
	if srv.Name == "tidb" {
		tidb = viewSessionTiDB
	}
	return conn(name), conn(name+"_dbsync", tidb...)
}

// viewSessionTiDB is what a TiDB session that queries the _dbsync views sets
// (docs/queries.md). A filter on tx_out.consumed_by_tx_id (`IS NULL`: the
// unspent outputs) sits above the view's outer join to tx_in; without this
// switch TiDB's join reorder stops at that filter and reads tx_out whole
// when the query reaches tx_out from another table (a stake address's or an
// asset's unspent outputs) instead of through an index.
var viewSessionTiDB = []string{"SET tidb_opt_join_reorder_through_sel = ON"}

// samples are values picked from the loaded data to replace the doc's
// mainnet examples, by name.
type samples map[string]string

func (s samples) expand(text string) string {
	for k, v := range s {
		text = strings.ReplaceAll(text, "{"+k+"}", v)
	}
	return text
}

// sampleQueries pick each sample by SQL from Nectar's own tables. Samples
// lie in a slot no other block of the test database has: the database holds
// several networks and chain-position ids are unique within one.
var sampleQueries = []struct{ name, query string }{
	// A transaction with two outputs or more, a fee, and every input's
	// output in the database.
	{"tx", `SELECT LOWER(HEX(t.hash)) FROM tx t WHERE t.fee IS NOT NULL AND t.valid_contract
		AND EXISTS (SELECT 1 FROM tx_out o WHERE o.tx_hash = t.hash AND o.` + "`index`" + ` = 1)
		AND (SELECT COUNT(*) FROM tx_in i WHERE i.tx_in_hash = t.hash) >= 2
		AND NOT EXISTS (SELECT 1 FROM tx_in i LEFT JOIN tx_out o ON o.tx_hash = i.tx_out_hash AND o.` + "`index`" + ` = i.tx_out_index
		                 WHERE i.tx_in_hash = t.hash AND o.tx_hash IS NULL)
		AND (SELECT COUNT(*) FROM block b WHERE b.slot_no = t.slot_no) = 1
		ORDER BY t.slot_no, t.block_index LIMIT 1`},
	{"withdrawal_tx", `SELECT LOWER(HEX(w.tx_hash)) FROM withdrawal w WHERE (SELECT COUNT(*) FROM block b WHERE b.slot_no = w.slot_no) = 1
		ORDER BY w.slot_no, w.tx_hash LIMIT 1`},
	// A voting registration (CIP-15 label 61284) when there is one, else the tx sample's kind.
	{"vote_tx", `SELECT LOWER(HEX(h)) FROM (
		SELECT m.tx_hash AS h, 0 AS k, m.slot_no FROM tx_metadata m WHERE m.` + "`key`" + ` = 61284
		UNION ALL SELECT o.tx_hash, 1, o.slot_no FROM tx_out o WHERE o.` + "`index`" + ` = 1) c
		WHERE (SELECT COUNT(*) FROM block b WHERE b.slot_no = c.slot_no) = 1 ORDER BY k, slot_no LIMIT 1`},
	// The stake address with the most delegations among those with outputs.
	{"stake_address", `SELECT d.stake_address FROM delegation d JOIN (SELECT DISTINCT stake_address FROM tx_out) o ON o.stake_address = d.stake_address
		GROUP BY d.stake_address ORDER BY COUNT(*) DESC, d.stake_address LIMIT 1`},
	{"address", `SELECT address FROM tx_out WHERE stake_address IS NOT NULL GROUP BY address ORDER BY COUNT(*) DESC, address LIMIT 1`},
	{"pool", `SELECT p.view FROM block b JOIN pool_hash p ON p.hash_raw = b.slot_leader GROUP BY p.view ORDER BY COUNT(*) DESC, p.view LIMIT 1`},
	{"pool_epoch", `SELECT b.epoch_no FROM block b JOIN pool_hash p ON p.hash_raw = b.slot_leader WHERE p.view = '{pool}'
		GROUP BY b.epoch_no ORDER BY COUNT(*) DESC, b.epoch_no LIMIT 1`},
	// The time of the block in the middle of the preview chain's slots.
	{"time", `SELECT DATE_FORMAT(time, '%Y-%m-%d %H:%i:%s') FROM block WHERE era = 'Babbage' AND time > '2022-10-25' AND time < '2024-01-01'
		ORDER BY slot_no LIMIT 1 OFFSET 10000`},
	{"block_no", `SELECT block_no FROM block WHERE era = 'Conway' AND block_no IS NOT NULL ORDER BY block_no LIMIT 1`},
}

func pickSamples(t *testing.T, c *sql.Conn) samples {
	t.Helper()
	s := samples{}
	for _, q := range sampleQueries {
		var v sql.NullString
		if err := c.QueryRowContext(context.Background(), s.expand(q.query)).Scan(&v); err != nil || !v.Valid {
			t.Fatalf("sample %s: %v (valid %v)", q.name, err, v.Valid)
		}
		s[q.name] = v.String
	}
	return s
}

// answer is a query's result as text: binary columns in hex, NULL as NULL.
type answer struct {
	cols []string
	rows [][]string
}

func queryText(ctx context.Context, c *sql.Conn, q string) (*answer, error) {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	a := &answer{}
	binary := make([]bool, len(types))
	for i, ct := range types {
		a.cols = append(a.cols, ct.Name())
		switch ct.DatabaseTypeName() {
		case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
			binary[i] = true
		}
	}
	vals := make([]sql.RawBytes, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			switch {
			case v == nil:
				r[i] = "NULL"
			case binary[i]:
				r[i] = hex.EncodeToString(v)
			default:
				r[i] = string(v)
			}
		}
		a.rows = append(a.rows, r)
	}
	return a, rows.Err()
}

// project keeps the named columns, in that order (the first of each name).
func (a *answer) project(cols []string) (*answer, error) {
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, have := range a.cols {
			if strings.EqualFold(have, c) {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("no column %s in %v", c, a.cols)
		}
	}
	out := &answer{cols: cols}
	for _, r := range a.rows {
		p := make([]string, len(idx))
		for i, j := range idx {
			p[i] = r[j]
		}
		out.rows = append(out.rows, p)
	}
	return out, nil
}

// sorted returns the rows joined by tabs, sorted.
func (a *answer) sorted() []string {
	out := make([]string, len(a.rows))
	for i, r := range a.rows {
		out[i] = strings.Join(r, "\t")
	}
	sort.Strings(out)
	return out
}

// within reports whether every row of a is in b (as a multiset), and how
// many more rows b has.
func (a *answer) within(b *answer) (int, bool) {
	n := map[string]int{}
	for _, r := range b.sorted() {
		n[r]++
	}
	for _, r := range a.sorted() {
		if n[r]--; n[r] < 0 {
			return 0, false
		}
	}
	return len(b.rows) - len(a.rows), true
}

// diff compares two answers by content (sorted rows) and describes the first
// differences, or returns "".
func (a *answer) diff(b *answer) string {
	x, y := a.sorted(), b.sorted()
	var d []string
	if len(a.cols) != len(b.cols) {
		d = append(d, fmt.Sprintf("columns %v vs %v", a.cols, b.cols))
	}
	if len(x) != len(y) {
		d = append(d, fmt.Sprintf("%d rows vs %d", len(x), len(y)))
	}
	inX := map[string]int{}
	for _, r := range x {
		inX[r]++
	}
	for _, r := range y {
		inX[r]--
	}
	shown := 0
	for _, r := range append(x, y...) {
		if n := inX[r]; n != 0 && shown < 6 {
			side := "native only"
			if n < 0 {
				side = "_dbsync only"
			}
			d = append(d, side+": "+clip(r))
			inX[r] = 0
			shown++
		}
	}
	return strings.Join(d, "\n")
}
