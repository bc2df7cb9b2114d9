package chaindb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// TableChecksum returns a SHA-256 over every row of a chain table, read in
// primary-key order, and the number of rows. Two databases holding the same
// rows give the same checksum: it is how tests and operators compare loads.
func TableChecksum(ctx context.Context, db *sql.DB, t chain.TableID) (sum string, rows int64, err error) {
	tab := chain.Tables[t]
	quote := func(cols []string) string {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = "`" + c + "`"
		}
		return strings.Join(q, ",")
	}
	query := "SELECT " + quote(tab.Columns) + " FROM `" + tab.Name + "` ORDER BY " + quote(tab.Key)
	rs, err := db.QueryContext(ctx, query)
	if err != nil {
		return "", 0, fmt.Errorf("checksum %s: %w", tab.Name, err)
	}
	defer rs.Close()
	h := sha256.New()
	vals := make([]sql.RawBytes, len(tab.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var lenBuf [8]byte
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return "", 0, fmt.Errorf("checksum %s: %w", tab.Name, err)
		}
		for _, v := range vals {
			if v == nil {
				h.Write([]byte{0})
				continue
			}
			binary.BigEndian.PutUint64(lenBuf[:], uint64(len(v)))
			h.Write([]byte{1})
			h.Write(lenBuf[:])
			h.Write(v)
		}
		rows++
	}
	if err := rs.Err(); err != nil {
		return "", 0, fmt.Errorf("checksum %s: %w", tab.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), rows, nil
}

// Checksums returns TableChecksum for every chain table, keyed by table name.
func Checksums(ctx context.Context, db *sql.DB) (map[string]string, error) {
	out := make(map[string]string, chain.NumTables)
	for t := range chain.NumTables {
		sum, n, err := TableChecksum(ctx, db, t)
		if err != nil {
			return nil, err
		}
		out[chain.Tables[t].Name] = fmt.Sprintf("%d:%s", n, sum)
	}
	return out, nil
}
