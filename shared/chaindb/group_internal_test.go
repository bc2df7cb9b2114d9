package chaindb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/dbtest"
)

// The payload estimate counts each chain table's secondary indexes: they
// must be the migrated schema's.
func TestIndexCounts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, srv dbtest.Server) {
		db, _ := srv.Open(t)
		for tab, def := range chain.Tables {
			var n int
			err := db.QueryRow("SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics "+
				"WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY'", def.Name).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if indexes[tab] != n {
				t.Errorf("%s: %d secondary indexes, the payload estimate counts %d", def.Name, n, indexes[tab])
			}
		}
	})
}

// A transaction of several batches is started whole only when, at twice the
// time per byte seen so far, it ends txnTimeMargin before the deadline.
func TestFits(t *testing.T) {
	s := New(nil, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !s.fits(ctx, 1<<30) {
		t.Error("with no rate seen yet, any transaction fits")
	}
	s.observeGroup(10<<20, time.Second) // 10 MiB/s
	for _, tt := range []struct {
		payload int
		want    bool
	}{{100 << 20, true}, {250 << 20, true}, {300 << 20, false}} {
		if got := s.fits(ctx, tt.payload); got != tt.want {
			t.Errorf("%d MiB with 60 s left at 10 MiB/s: fits %v, want %v", tt.payload>>20, got, tt.want)
		}
	}
	if !s.fits(context.Background(), 1<<30) {
		t.Error("without a deadline, any transaction fits")
	}
}

// Groups hold at least TxnBytes where the batches have it, at most
// MaxTxnBytes unless one batch alone is larger, and a remainder below
// TxnBytes joins the last group.
func TestCutGroups(t *testing.T) {
	s := New(nil, Options{TxnBytes: 1000, MaxTxnBytes: 2500})
	var bs []*Batch
	var idx []int
	// A quarantined block's payload is its CBOR and 200 bytes.
	for i, n := range []int{600, 600, 600, 3000, 300, 900, 900, 250, 300} {
		bs = append(bs, &Batch{ID: []byte{byte(i)}, Quarantine: []chain.Quarantined{{CBOR: make([]byte, n-200)}}})
		idx = append(idx, i)
	}
	got := s.cutGroups(bs, idx)
	want := [][]int{{0, 1}, {2}, {3}, {4, 5}, {6, 7, 8}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups %v, want %v", got, want)
	}
}
