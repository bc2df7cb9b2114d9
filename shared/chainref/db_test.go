package chainref

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

// TestDatabaseMatchesReference loads every shipped block (the chunks of
// testdata/chains and the fixture blocks) through ingest into TiDB and
// MariaDB, and compares every compared table with what the reference derives
// from the same bytes, row by row and field by field, with the ledger's
// semantics for invalid transactions. A disagreement names the table, the row's
// key, the field, both values, and the block and transaction it comes from.
func TestDatabaseMatchesReference(t *testing.T) {
	s := readShipped(t)
	exp := newExpected()
	for _, c := range s.Chunks {
		for _, b := range c.Blocks {
			if err := exp.expect(c.Network, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range s.Fixtures {
		if err := exp.expect(f.Network, f.Block); err != nil {
			t.Fatal(err)
		}
	}
	var all []*Block
	for _, c := range s.Chunks {
		all = append(all, c.Blocks...)
	}
	for _, f := range s.Fixtures {
		all = append(all, f.Block)
	}
	if err := exp.expectFees(all); err != nil {
		t.Fatal(err)
	}
	envs := shippedEnvelopes(t, s)
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		t.Parallel()
		db, _ := srv.Open(t)
		start := time.Now()
		load(t, db, envs)
		t.Logf("%s: loaded the shipped blocks in %s", srv.Name, time.Since(start).Round(time.Millisecond))
		compare(t, db, exp)
		checkDBSyncViews(t, db, srv, exp)
		testQueries(t, srv, db)
	})
}

// netEnvelopes are the envelopes of one network.
type netEnvelopes struct {
	net  chain.Network
	envs []*batch.Envelope
}

// shippedEnvelopes cuts each chunk into envelopes of 400 blocks and makes each
// fixture block an envelope of its own, under its network.
func shippedEnvelopes(tb testing.TB, s *Shipped) []netEnvelopes {
	tb.Helper()
	byNet := map[string]*netEnvelopes{}
	get := func(name string) *netEnvelopes {
		if n, ok := byNet[name]; ok {
			return n
		}
		net, err := chain.NetworkByName(name)
		if err != nil {
			net = chain.UnknownNetwork(name, name != "mainnet")
		}
		byNet[name] = &netEnvelopes{net: net}
		return byNet[name]
	}
	for _, c := range s.Chunks {
		n := get(c.Network)
		n.envs = append(n.envs, ingesttest.ChunkEnvelopes(tb, n.net.Name, filepath.Join(testdata, "chains", c.Dir, c.Name), 400)...)
	}
	for _, f := range s.Fixtures {
		raw, err := os.ReadFile(filepath.Join(testdata, "blocks", f.File))
		if err != nil {
			tb.Fatal(err)
		}
		n := get(f.Network)
		n.envs = append(n.envs, ingesttest.NewBlocks(n.net.Name, nil, nil, []batch.Block{{Type: f.BlockType, CBOR: raw}}))
	}
	var out []netEnvelopes
	for _, n := range byNet {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].net.Name < out[j].net.Name })
	return out
}

// load applies every envelope, four at a time (history batches land in any order).
func load(tb testing.TB, db *sql.DB, nets []netEnvelopes) {
	tb.Helper()
	store := chaindb.New(db, chaindb.Options{})
	type job struct {
		a   *ingest.Applier
		env *batch.Envelope
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				res, err := j.a.Apply(context.Background(), j.env)
				if err == nil && res.Quarantined > 0 {
					err = fmt.Errorf("%d blocks quarantined", res.Quarantined)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s envelope %s..%s: %v", j.env.Network, j.env.First, j.env.Last, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range nets {
		a := &ingest.Applier{Net: n.net, Store: store}
		for _, e := range n.envs {
			jobs <- job{a, e}
		}
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		tb.Fatalf("loading the shipped blocks: %d envelopes failed, first: %s", len(errs), errs[0])
	}
}

// compare reads every compared table and reports each disagreement: rows the
// reference derives that the database lacks, rows the database holds that
// the reference does not derive (for tables whose every row it derives), and
// fields that differ.
func compare(t *testing.T, db *sql.DB, exp *expected) {
	t.Helper()
	ctx := context.Background()
	for _, name := range exp.order {
		tab := exp.tables[name]
		t.Run(name, func(t *testing.T) {
			got, err := readTable(ctx, db, tab)
			if err != nil {
				t.Fatal(err)
			}
			// Up to three examples of each kind of disagreement, and every count.
			const show = 3
			var missing, extra int
			differ := map[string]int{}
			for _, k := range tab.sortedKeys() {
				want := tab.rows[k]
				have, ok := got[k]
				if !ok {
					if missing++; missing <= show {
						t.Errorf("%s %s (%s): in the chain, not in the database", name, k, want.where)
					}
					continue
				}
				for _, c := range tab.cols {
					if w := want.cols[c]; w != anyValue && w != have[c] {
						if differ[c]++; differ[c] <= show {
							t.Errorf("%s %s field %s: database %q, chain %q (%s)", name, k, c, clip(have[c]), clip(w), want.where)
						}
					}
				}
			}
			if !tab.subset {
				for _, k := range sortedKeys(got) {
					if _, ok := tab.rows[k]; !ok {
						if extra++; extra <= show {
							t.Errorf("%s %s: in the database, not in the chain", name, k)
						}
					}
				}
			}
			if missing+extra+len(differ) > 0 {
				t.Errorf("%s: %d rows compared, %d missing, %d extra, fields that differ: %v", name, len(tab.rows), missing, extra, differ)
			} else {
				t.Logf("%s: %d rows agree", name, len(tab.rows))
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func sortedKeys(m map[string]map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readTable reads a table's key and compared columns, rendered as the
// expectations are: binary columns in hex, everything else as its text.
func readTable(ctx context.Context, db *sql.DB, tab *table) (map[string]map[string]string, error) {
	cols := append(append([]string{}, tab.key...), tab.cols...)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "`" + c + "`"
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM `"+tab.name+"`")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tab.name, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	binary := make([]bool, len(cols))
	for i, ct := range types {
		switch ct.DatabaseTypeName() {
		case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
			binary[i] = true
		}
	}
	out := map[string]map[string]string{}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", tab.name, err)
		}
		r := map[string]string{}
		for i, c := range cols {
			switch {
			case !vals[i].Valid:
				r[c] = null
			case binary[i]:
				r[c] = hex.EncodeToString([]byte(vals[i].String))
			default:
				r[c] = vals[i].String
			}
		}
		var key []string
		for _, k := range tab.key {
			key = append(key, r[k])
		}
		out[strings.Join(key, "|")] = r
	}
	return out, rows.Err()
}

// Every chunk's blocks are what the chunk reader gives: the loader and the
// reference read the same bytes.
func TestEnvelopesCarryTheReferenceBlocks(t *testing.T) {
	s := readShipped(t)
	for _, c := range s.Chunks {
		raw, err := immutable.ReadFile(filepath.Join(testdata, "chains", c.Dir, c.Name))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(c.Blocks) {
			t.Fatalf("%s/%s: chunk reader %d blocks, reference %d", c.Dir, c.Name, len(raw), len(c.Blocks))
		}
	}
}
