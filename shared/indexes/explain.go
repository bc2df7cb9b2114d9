package indexes

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Plan is a query's EXPLAIN, read the same way on TiDB and MariaDB/MySQL.
type Plan struct {
	// FullScans are the tables read whole: TiDB's TableFullScan (and
	// IndexFullScan) operators, MariaDB's access type ALL (and index).
	FullScans []string
	// Indexes are the indexes the plan reads through.
	Indexes []string
	// Text is the EXPLAIN output, one row a line, for messages.
	Text string
}

// Uses reports whether the plan reads through the named index.
func (p *Plan) Uses(index string) bool {
	for _, i := range p.Indexes {
		if strings.EqualFold(i, index) {
			return true
		}
	}
	return false
}

// Explain runs EXPLAIN on query with args.
func Explain(ctx context.Context, db *sql.DB, query string, args ...any) (*Plan, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	p := &Plan{}
	var text strings.Builder
	text.WriteString(strings.Join(cols, "\t") + "\n")
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		row := map[string]string{}
		line := make([]string, len(cols))
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
			line[i] = vals[i].String
		}
		text.WriteString(strings.Join(line, "\t") + "\n")
		if obj, ok := row["access object"]; ok {
			id := row["id"]
			// TiDB: id "TableFullScan_5", access object "table:tx_out" or
			// "table:tx_out, index:tx_out_address(address)".
			table, index := "", ""
			for _, part := range strings.Split(obj, ",") {
				part = strings.TrimSpace(part)
				if t, ok := strings.CutPrefix(part, "table:"); ok {
					table = t
				}
				if i, ok := strings.CutPrefix(part, "index:"); ok {
					index, _, _ = strings.Cut(i, "(")
				}
			}
			if strings.Contains(id, "TableFullScan") || strings.Contains(id, "IndexFullScan") {
				p.FullScans = append(p.FullScans, table)
			}
			if index != "" {
				p.Indexes = append(p.Indexes, index)
			}
			continue
		}
		// MariaDB/MySQL: table, type (ALL, index, ref, range, eq_ref, …), key.
		if t, ok := row["type"]; ok {
			if t == "ALL" || t == "index" {
				p.FullScans = append(p.FullScans, row["table"])
			}
			if k := row["key"]; k != "" && t != "ALL" {
				p.Indexes = append(p.Indexes, k)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	p.Text = text.String()
	return p, nil
}
