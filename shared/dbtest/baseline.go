package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// The plain loads the benchmarks compare Nectar's store with: the same rows
// written without its batching, ledger or adaptive sizing.

// Execer is a pool, a connection or a transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// TxBeginner is a pool or a connection.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// InsertRows writes g table by table as multi-row statements of at most
// perStatement rows; verb is "INSERT" or "INSERT IGNORE".
func InsertRows(ctx context.Context, ex Execer, verb string, g *chain.Rows, perStatement int) error {
	for t, tab := range chain.Tables {
		cols := "`" + strings.Join(tab.Columns, "`,`") + "`"
		tuple := "(" + strings.Repeat("?,", len(tab.Columns)-1) + "?)"
		for i := 0; i < len(g[t]); i += perStatement {
			part := g[t][i:min(i+perStatement, len(g[t]))]
			args := make([]any, 0, len(part)*len(tab.Columns))
			for _, r := range part {
				args = append(args, r...)
			}
			q := verb + " INTO `" + tab.Name + "` (" + cols + ") VALUES " + strings.Repeat(tuple+",", len(part)-1) + tuple
			if _, err := ex.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("%s %s: %w", strings.ToLower(verb), tab.Name, err)
			}
		}
	}
	return nil
}

// ByFirstKey groups g's rows by their first column, in first-seen order: the
// transaction (or, for the block row, the block) each belongs to.
func ByFirstKey(g *chain.Rows) []*chain.Rows {
	index := map[string]*chain.Rows{}
	var out []*chain.Rows
	for t, rs := range g {
		for _, r := range rs {
			k := fmt.Sprint(r[0])
			grp, ok := index[k]
			if !ok {
				grp = &chain.Rows{}
				index[k] = grp
				out = append(out, grp)
			}
			grp[t] = append(grp[t], r)
		}
	}
	return out
}

// PerTransaction writes each group in a database transaction of its own with
// INSERT IGNORE: the old Nectar's way, one transaction per Cardano
// transaction.
func PerTransaction(ctx context.Context, db TxBeginner, groups []*chain.Rows) error {
	for _, g := range groups {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := InsertRows(ctx, tx, "INSERT IGNORE", g, 1<<30); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
