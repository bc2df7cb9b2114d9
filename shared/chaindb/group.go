package chaindb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
)

// Large history transactions.
//
// TiDB Cloud Starter bills the write payload of a transaction of 16 MiB or
// more (optimistic or autocommit) per 16 KiB instead of per 2 KiB. One
// history batch of the default size writes about 1 MiB, so ApplyBatches
// writes the history batches a caller holds together (the messages of one
// Lambda invocation) in transactions of at least TxnBytes, each an
// optimistic transaction on TiDB with every batch's ingest_batch row in it.

// Defaults for Options.TxnBytes and MaxTxnBytes, and the limits of one
// transaction of several batches.
const (
	// LargeTxnBytes is TiDB Cloud Starter's threshold for its cheaper write
	// rate, in TiDB's measure of a transaction (the keys and values it writes).
	LargeTxnBytes = 16 << 20
	// DefaultTxnBytes is the estimated payload ApplyBatches gathers into one
	// transaction (PayloadBytes of the rows but the shared ones, which are
	// upserted before it). PayloadBytes errs by up to a tenth against TiDB's
	// measure across the eras (BenchmarkBytesPerRow), so the default is a
	// quarter above LargeTxnBytes.
	DefaultTxnBytes = 20 << 20
	// DefaultMaxTxnBytes caps one transaction's estimated payload: TiDB holds
	// a transaction's writes in memory, several times their size, until it
	// commits, and counts them in the session's memory quota.
	DefaultMaxTxnBytes = 64 << 20
	// MaxTxnTime bounds one transaction of several batches: TiDB Cloud
	// Starter ends transactions after 30 minutes.
	MaxTxnTime = 10 * time.Minute
	// txnTimeMargin is the time a transaction of several batches leaves
	// before its context's deadline (the Lambda function's): a group that
	// would not finish by then is cut in halves first.
	txnTimeMargin = 5 * time.Second
)

// BatchResult is what ApplyBatches did with one batch.
type BatchResult struct {
	// Applied is false when the batch was recorded already, or was an
	// earlier batch of the same call again.
	Applied bool
	Err     error
}

// ApplyBatches applies batches received together, each atomically with its
// ingest_batch row like ApplyBatch, and returns a result per batch in the
// order of bs. History batches (no After) that are not recorded yet are
// written together: their shared rows first in short autocommit upserts, then
// every other row and their ingest_batch rows in transactions of at least
// Options.TxnBytes of estimated payload and at most MaxTxnBytes (a batch
// larger than that alone), optimistic on TiDB, at most parallel of them at
// once. A transaction that is too large for the database (TooLarge) is cut
// in halves, down to single batches; one that fails otherwise is applied
// again batch by batch, so that only the batches that fail alone report an
// error. Tip batches (After set) are applied one by one, in order, after the
// history batches, as ApplyBatch does.
func (s *Store) ApplyBatches(ctx context.Context, bs []*Batch, parallel int) []BatchResult {
	res := make([]BatchResult, len(bs))
	var history, tips []int
	seen := map[string]bool{}
	for i, b := range bs {
		switch {
		case len(b.Blocks)+len(b.Quarantine) == 0:
			res[i].Err = ErrEmptyBatch
		case len(b.After) > 0:
			tips = append(tips, i)
		case seen[string(b.ID)]:
			// The same batch twice in one call: the first applies it.
		default:
			seen[string(b.ID)] = true
			history = append(history, i)
		}
	}
	if len(history) > 0 {
		s.applyHistory(ctx, bs, history, max(parallel, 1), res)
	}
	for _, i := range tips {
		res[i].Applied, res[i].Err = s.ApplyBatch(ctx, bs[i])
	}
	return res
}

func (s *Store) applyHistory(ctx context.Context, bs []*Batch, idx []int, parallel int, res []BatchResult) {
	ids := make([][]byte, len(idx))
	for k, i := range idx {
		ids[k] = bs[i].ID
	}
	done, err := s.recordedIDs(ctx, ids)
	if err != nil {
		for _, i := range idx {
			res[i].Err = err
		}
		return
	}
	var fresh []int
	for _, i := range idx {
		if !done[string(bs[i].ID)] {
			fresh = append(fresh, i)
		}
	}
	groups := s.cutGroups(bs, fresh)
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(parallel, len(groups)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				part := make([]*Batch, len(g))
				for k, i := range g {
					part[k] = bs[i]
				}
				for k, r := range s.applyGroup(ctx, part) {
					res[g[k]] = r
				}
			}
		}()
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
}

// Groups returns how ApplyBatches cuts history batches that are not
// recorded yet into transactions, in order.
func (s *Store) Groups(bs []*Batch) [][]*Batch {
	idx := make([]int, len(bs))
	for i := range bs {
		idx[i] = i
	}
	var out [][]*Batch
	for _, g := range s.cutGroups(bs, idx) {
		part := make([]*Batch, len(g))
		for k, i := range g {
			part[k] = bs[i]
		}
		out = append(out, part)
	}
	return out
}

// cutGroups cuts the batches bs[idx] into groups of at least TxnBytes of
// estimated payload where they hold that much, each at most MaxTxnBytes
// unless one batch alone is larger, in the order given.
func (s *Store) cutGroups(bs []*Batch, idx []int) [][]int {
	var groups [][]int
	var cur []int
	size := 0
	for _, i := range idx {
		n := batchPayload(bs[i])
		if len(cur) > 0 && size+n > s.opts.MaxTxnBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += n
		if size >= s.opts.TxnBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
	}
	if len(cur) > 0 {
		// A remainder below TxnBytes joins the last group while that stays within MaxTxnBytes.
		if k := len(groups) - 1; k >= 0 && size < s.opts.TxnBytes && groupPayload(bs, groups[k])+size <= s.opts.MaxTxnBytes {
			groups[k] = append(groups[k], cur...)
		} else {
			groups = append(groups, cur)
		}
	}
	return groups
}

func groupPayload(bs []*Batch, idx []int) int {
	n := 0
	for _, i := range idx {
		n += batchPayload(bs[i])
	}
	return n
}

// applyGroup writes batches in one transaction, or falls back as
// ApplyBatches says.
func (s *Store) applyGroup(ctx context.Context, g []*Batch) []BatchResult {
	out := make([]BatchResult, len(g))
	if len(g) == 1 {
		out[0].Applied, out[0].Err = s.ApplyBatch(ctx, g[0])
		return out
	}
	payload := 0
	var rows chain.Rows
	for _, b := range g {
		payload += batchPayload(b)
		for _, d := range b.Blocks {
			rows.Append(&d.Rows)
		}
	}
	if !s.fits(ctx, payload) {
		s.log.Info("batches would not finish before the deadline in one transaction, halving", "batches", len(g), "payload", payload)
		s.stats.groupSplits.Add(1)
		return s.halves(ctx, g)
	}
	earliestFirst(&rows)
	rows.Dedup()
	err := s.retry(ctx, "write shared rows", func(ctx context.Context) error { return s.writeShared(ctx, &rows) })
	var fresh []bool
	if err == nil {
		start := time.Now()
		err = s.retryWhen(ctx, "apply batches", func(ctx context.Context) error {
			var e error
			fresh, e = s.groupTx(ctx, g, &rows)
			return e
		}, func(err error) bool { return !TooLarge(err) })
		if err == nil {
			s.observeGroup(payload, time.Since(start))
			for k := range g {
				out[k].Applied = fresh[k]
			}
			return out
		}
	}
	switch c := Classify(err); {
	case TooLarge(err):
		s.log.Warn("batches too large for one transaction, halving", "batches", len(g), "payload", payload, "err", err)
		s.stats.groupSplits.Add(1)
		return s.halves(ctx, g)
	case c == Refused || ctx.Err() != nil:
		for k := range out {
			out[k].Err = err
		}
		return out
	}
	// Apply them one by one: only the batches that fail alone fail.
	s.log.Warn("transaction of several batches failed, applying them one by one", "batches", len(g), "err", err)
	s.stats.groupFallbacks.Add(1)
	for k, b := range g {
		out[k].Applied, out[k].Err = s.ApplyBatch(ctx, b)
	}
	return out
}

// earliestFirst orders each shared table's rows by slot, so that Dedup
// keeps a row's earliest: its slot_no is the first slot it was seen in,
// whichever batch of the group that was.
func earliestFirst(rows *chain.Rows) {
	for t, tab := range chain.Tables {
		if !tab.Shared || len(rows[t]) < 2 {
			continue
		}
		i := slotColumn[t]
		slices.SortStableFunc(rows[t], func(a, b []any) int { return cmpSlot(a[i], b[i]) })
	}
}

func cmpSlot(a, b any) int {
	x, _ := a.(uint64)
	y, _ := b.(uint64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// slotColumn holds each table's slot_no position.
var slotColumn = func() (idx [chain.NumTables]int) {
	for t, tab := range chain.Tables {
		idx[t] = slices.Index(tab.Columns, "slot_no")
	}
	return idx
}()

func (s *Store) halves(ctx context.Context, g []*Batch) []BatchResult {
	mid := len(g) / 2
	return append(s.applyGroup(ctx, g[:mid]), s.applyGroup(ctx, g[mid:])...)
}

// groupTx writes the batches' rows (shared rows excepted) and their
// ingest_batch rows in one transaction: optimistic on TiDB (TiDB Cloud
// Starter bills large transactions at its cheaper rate only when they are
// optimistic or autocommit), a plain one elsewhere. fresh[i] is false for a
// batch another writer recorded first; its rows, identical, are written
// again harmlessly.
func (s *Store) groupTx(ctx context.Context, g []*Batch, rows *chain.Rows) (fresh []bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, MaxTxnTime)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// MySQL and MariaDB read the comment as a comment: BEGIN.
	if _, err := conn.ExecContext(ctx, "BEGIN /*T! OPTIMISTIC */"); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(rctx, "ROLLBACK"); err != nil {
			// Never hand a connection in an unknown state back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	fresh = make([]bool, len(g))
	for k, b := range g {
		if fresh[k], err = s.recordBatch(ctx, conn, b); err != nil {
			return nil, err
		}
	}
	for t, tab := range chain.Tables {
		if tab.Shared || len(rows[t]) == 0 {
			continue
		}
		if err := s.insertRows(ctx, conn, chain.TableID(t), rows[t]); err != nil {
			return nil, err
		}
	}
	for _, b := range g {
		if err := insertQuarantine(ctx, conn, b); err != nil {
			return nil, err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	committed = true
	s.stats.groupTxns.Add(1)
	s.stats.groupBatches.Add(int64(len(g)))
	return fresh, nil
}

// recordedIDs returns which of ids ingest_batch holds.
func (s *Store) recordedIDs(ctx context.Context, ids [][]byte) (map[string]bool, error) {
	done := map[string]bool{}
	for part := range slices.Chunk(ids, 500) {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		err := s.retry(ctx, "check ingest_batch", func(ctx context.Context) error {
			rows, err := s.db.QueryContext(ctx, "SELECT id FROM ingest_batch WHERE id IN (?"+strings.Repeat(",?", len(part)-1)+")", args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id []byte
				if err := rows.Scan(&id); err != nil {
					return err
				}
				done[string(id)] = true
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	return done, nil
}

// fits reports whether a transaction of payload bytes is expected to
// finish txnTimeMargin before ctx's deadline, at twice the time per byte
// the store's transactions of several batches took so far.
func (s *Store) fits(ctx context.Context, payload int) bool {
	d, ok := ctx.Deadline()
	rate := math.Float64frombits(s.groupRate.Load()) // bytes per second
	if !ok || rate == 0 {
		return true
	}
	need := time.Duration(2 * float64(payload) / rate * float64(time.Second))
	return time.Until(d)-txnTimeMargin > need
}

// observeGroup keeps a moving average of the payload bytes per second of
// the transactions of several batches.
func (s *Store) observeGroup(payload int, d time.Duration) {
	s.stats.groupBytes.Add(int64(payload))
	if d <= 0 {
		return
	}
	r := float64(payload) / d.Seconds()
	for {
		old := s.groupRate.Load()
		v := r
		if o := math.Float64frombits(old); o > 0 {
			v = 0.7*o + 0.3*r
		}
		if s.groupRate.CompareAndSwap(old, math.Float64bits(v)) {
			return
		}
	}
}

// PayloadBytes estimates what rows write in TiDB's key-value form: per row
// its key (the primary key's values), its value (every column's value with a
// few bytes of framing) and one entry in each of its table's secondary
// indexes (the key columns again, as the entry's handle, with the index's
// own columns). BenchmarkBytesPerRow compares it with TiDB's own measure.
func PayloadBytes(rows *chain.Rows) int {
	n := 0
	for t := range rows {
		for _, r := range rows[t] {
			n += rowPayload(chain.TableID(t), r)
		}
	}
	return n
}

// batchPayload estimates what a batch writes in its transaction: every row
// but the shared ones (written before, in autocommit upserts).
func batchPayload(b *Batch) int {
	n := 0
	for _, d := range b.Blocks {
		for t := range d.Rows {
			if chain.Tables[t].Shared {
				continue
			}
			for _, r := range d.Rows[t] {
				n += rowPayload(chain.TableID(t), r)
			}
		}
	}
	for _, q := range b.Quarantine {
		n += len(q.CBOR) + 200
	}
	return n
}

// Framing of TiDB's key-value form: a row key's table prefix ("t", table
// id, "_r"), an index key's ("t", table id, "_i", index id), and per value
// a column id and an offset in the row's value.
const (
	rowKeyBytes   = 11
	indexKeyBytes = 19
	perColumn     = 3
)

func rowPayload(t chain.TableID, row []any) int {
	key := 0
	for _, i := range keyIndexes[t] {
		key += valueBytes(row[i])
	}
	n := rowKeyBytes + key + 6
	for _, v := range row {
		n += valueBytes(v) + perColumn
	}
	// Every chain table has its slot_no index; a few have more (shared/schema).
	n += indexes[t] * (indexKeyBytes + key + 9 + 1)
	return n
}

// valueBytes is roughly the size of a value in TiDB's row format: integers
// take 1 to 8 bytes, decimals (strings here) about half their digits.
func valueBytes(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case []byte:
		return len(x)
	case string:
		return len(x)
	case bool:
		return 1
	case int64:
		return intBytes(uint64(max(x, -x)))
	case uint64:
		return intBytes(x)
	}
	return 8
}

func intBytes(x uint64) int {
	switch {
	case x < 1<<8:
		return 1
	case x < 1<<16:
		return 2
	case x < 1<<32:
		return 4
	}
	return 8
}

// keyIndexes holds each table's key column positions.
var keyIndexes = func() (idx [chain.NumTables][]int) {
	for t, tab := range chain.Tables {
		for _, k := range tab.Key {
			idx[t] = append(idx[t], slices.Index(tab.Columns, k))
		}
	}
	return idx
}()

// indexes is each chain table's number of secondary indexes in the ingest
// schema (the query indexes come after the backfill). TestIndexCounts
// compares it with the migrated database.
var indexes = func() (n [chain.NumTables]int) {
	for t := range n {
		n[t] = 1 // slot_no
	}
	for _, t := range []chain.TableID{chain.TxIn, chain.Block, chain.Tx} {
		n[t] = 2 // tx_in_tx_out, block_block_no, tx_block_hash
	}
	return n
}()
