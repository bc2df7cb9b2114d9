package lambdafn_test

import (
	"io"
	"testing"

	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

// The ingest function learns its queues and their DLQs from the
// environment template.yaml sets, and so can act on failed messages itself.
func TestNewHandlerKnowsItsQueues(t *testing.T) {
	env := map[string]string{
		"NECTAR_NETWORK":               "preview",
		"NECTAR_SQS_REGION":            "eu-central-1",
		"NECTAR_SQS_HISTORY_QUEUE_URL": "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-preview-history",
		"NECTAR_SQS_TIP_QUEUE_URL":     "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-preview-tip.fifo",
		"NECTAR_SQS_HISTORY_DLQ_URL":   "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-preview-history-dlq",
		"NECTAR_SQS_TIP_DLQ_URL":       "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-preview-tip-dlq.fifo",
	}
	f, err := lambdafn.LoadFunction("ingest", func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h := f.NewHandler(lambdafn.DefaultConcurrency)
	if h.Queue == nil {
		t.Fatal("no SQS client: failed messages would wait for the visibility timeout")
	}
	want := map[string]lambdafn.QueueURLs{
		"nectar-preview-history":  {URL: env["NECTAR_SQS_HISTORY_QUEUE_URL"], DLQ: env["NECTAR_SQS_HISTORY_DLQ_URL"]},
		"nectar-preview-tip.fifo": {URL: env["NECTAR_SQS_TIP_QUEUE_URL"], DLQ: env["NECTAR_SQS_TIP_DLQ_URL"]},
	}
	if len(h.Queues) != len(want) {
		t.Fatalf("queues %v, want %v", h.Queues, want)
	}
	for name, q := range want {
		if h.Queues[name] != q {
			t.Errorf("queue %s: %+v, want %+v", name, h.Queues[name], q)
		}
	}
}

// History messages are written together by default, in transactions sized
// as chaindb's defaults say; ingest.history_txn_bytes = 0 writes each alone.
func TestNewHandlerCombinesHistory(t *testing.T) {
	if config.DefaultIngestHistoryTxnBytes != chaindb.DefaultTxnBytes || config.DefaultIngestMaxTxnBytes != chaindb.DefaultMaxTxnBytes {
		t.Errorf("config's defaults %d/%d differ from chaindb's %d/%d", config.DefaultIngestHistoryTxnBytes, config.DefaultIngestMaxTxnBytes,
			chaindb.DefaultTxnBytes, chaindb.DefaultMaxTxnBytes)
	}
	for _, tt := range []struct {
		env  string
		want bool
	}{{"", true}, {"32MiB", true}, {"0", false}} {
		env := map[string]string{"NECTAR_NETWORK": "preview", "NECTAR_INGEST_HISTORY_TXN_BYTES": tt.env}
		f, err := lambdafn.LoadFunction("ingest", func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if h := f.NewHandler(lambdafn.DefaultConcurrency); h.Combine != tt.want {
			t.Errorf("NECTAR_INGEST_HISTORY_TXN_BYTES=%q: Combine %v, want %v", tt.env, h.Combine, tt.want)
		}
	}
}
