package lambdafn_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/emf"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

// The scheduled verify: a chain with a batch missing in the middle answers
// not OK with one gap and emits ChainGaps 1; once the batch lands, OK and 0.
func TestVerifyHandler(t *testing.T) {
	envs := previewEnvelopes(t, 20) // 11 envelopes
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		ctx := context.Background()
		a := &ingest.Applier{Net: chain.Preview, Store: chaindb.New(db, chaindb.Options{})}
		for i, e := range envs {
			if i == 5 {
				continue // lost, for now
			}
			if _, err := a.Apply(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		var metrics bytes.Buffer
		h := &lambdafn.VerifyHandler{Open: func(context.Context) (*sql.DB, error) { return db, nil }, Network: "preview",
			Logger: slog.New(slog.DiscardHandler), Metrics: emf.New(&metrics, "Nectar", map[string]string{"Function": "verify"})}

		res, err := h.Handle(ctx, json.RawMessage(`{"source": "aws.events"}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Gaps != 1 || res.Blocks != 216-20 || !strings.Contains(res.Report, "FAILED") {
			t.Fatalf("with a batch missing: %+v", res)
		}
		if got := emitted(t, metrics.String(), "ChainGaps"); got != 1 {
			t.Fatalf("ChainGaps %v, want 1\n%s", got, metrics.String())
		}

		if _, err := a.Apply(ctx, envs[5]); err != nil {
			t.Fatal(err)
		}
		metrics.Reset()
		if res, err = h.Handle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.Gaps != 0 || res.Blocks != 216 {
			t.Fatalf("whole chain: %+v", res)
		}
		if got := emitted(t, metrics.String(), "ChainGaps"); got != 0 {
			t.Fatalf("ChainGaps %v, want 0", got)
		}
		if got := emitted(t, metrics.String(), "ChainBlocks"); got != 216 {
			t.Fatalf("ChainBlocks %v, want 216", got)
		}
		if got := emitted(t, metrics.String(), "ChainForks"); got != 0 {
			t.Fatalf("ChainForks %v, want 0", got)
		}

		// A block left from an abandoned fork: a second child of block 10.
		if _, err := db.Exec("INSERT INTO block (hash, slot_no, block_no, era, block_type, prev_hash, size, tx_count) " +
			"SELECT UNHEX(REPEAT('ab', 32)), slot_no, block_no, era, block_type, prev_hash, size, tx_count FROM block ORDER BY slot_no LIMIT 1 OFFSET 11"); err != nil {
			t.Fatal(err)
		}
		metrics.Reset()
		if res, err = h.Handle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Forks != 1 || !strings.Contains(res.Report, "has 2 children") {
			t.Fatalf("with a fork: %+v", res)
		}
		if got := emitted(t, metrics.String(), "ChainForks"); got != 1 {
			t.Fatalf("ChainForks %v, want 1\n%s", got, metrics.String())
		}
	})
}

// emitted returns the value of the metric name in the last EMF line.
func emitted(t *testing.T, lines, name string) float64 {
	t.Helper()
	all := strings.Split(strings.TrimSpace(lines), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(all[len(all)-1]), &line); err != nil {
		t.Fatalf("EMF line %q: %v", all[len(all)-1], err)
	}
	v, ok := line[name].(float64)
	if !ok {
		t.Fatalf("no %s in %s", name, all[len(all)-1])
	}
	return v
}
