package lambdafn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/config"
	"github.com/nectar-indexer/nectar/shared/dbconn"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/emf"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/ingest/ingesttest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
)

// previewEnvelopes cuts preview chunk 00000 (216 blocks) into envelopes of n blocks.
func previewEnvelopes(tb testing.TB, n int) []*batch.Envelope {
	return ingesttest.ChunkEnvelopes(tb, "preview", filepath.Join("..", "..", "testdata", "chains", "preview", "00000.chunk"), n)
}

func record(tb testing.TB, id string, e *batch.Envelope, group string) events.SQSMessage {
	tb.Helper()
	raw, err := batch.Encode(e)
	if err != nil {
		tb.Fatal(err)
	}
	bid := hex.EncodeToString(e.ID())
	m := events.SQSMessage{MessageId: id, Body: base64.StdEncoding.EncodeToString(raw),
		Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]events.SQSMessageAttribute{batch.AttrBatchID: {StringValue: &bid, DataType: "String"}}}
	if group != "" {
		m.Attributes["MessageGroupId"] = group
	}
	return m
}

func failed(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestHandlerPartialFailure(t *testing.T) {
	envs := previewEnvelopes(t, 20)
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		var logs, metrics bytes.Buffer
		h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Preview, Store: store},
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: emf.New(&metrics, "Nectar", nil), Stats: store}

		// Standard queue: one poisoned message among ten good ones fails alone.
		var ev events.SQSEvent
		for i, e := range envs[:10] {
			ev.Records = append(ev.Records, record(t, "m"+string(rune('a'+i)), e, ""))
		}
		poison := ev.Records[4]
		poison.MessageId, poison.Body = "poison", poison.Body[:len(poison.Body)/2]
		ev.Records = append(ev.Records, poison)
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if ids := failed(resp); len(ids) != 1 || ids[0] != "poison" {
			t.Fatalf("failures %v, want only the poisoned message", ids)
		}
		if !strings.Contains(logs.String(), `"message_id":"poison"`) || !strings.Contains(logs.String(), hex.EncodeToString(envs[4].ID())) {
			t.Errorf("the log does not name the poisoned message and its batch: %s", logs.String())
		}
		var blocks int
		if err := db.QueryRow("SELECT COUNT(*) FROM block").Scan(&blocks); err != nil || blocks != 200 {
			t.Errorf("%d blocks applied (%v), want 200", blocks, err)
		}
		if !strings.Contains(metrics.String(), `"Blocks":200`) {
			t.Errorf("metrics line does not count 200 blocks: %s", metrics.String())
		}
		// Redelivery of the same good messages is skipped, not applied twice.
		resp, err = h.Handle(context.Background(), events.SQSEvent{Records: ev.Records[:10]})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %v %v", failed(resp), err)
		}

		// FIFO: a failure fails every later message of its group, not other groups.
		fifo := events.SQSEvent{Records: []events.SQSMessage{
			record(t, "f1", envs[10], "preview"),
			{MessageId: "f2", Body: "not an envelope", Attributes: map[string]string{"MessageGroupId": "preview"}},
			record(t, "f3", envs[10], "preview"),
			record(t, "g1", envs[10], "other"),
		}}
		resp, err = h.Handle(context.Background(), fifo)
		if err != nil {
			t.Fatal(err)
		}
		if ids := strings.Join(failed(resp), ","); ids != "f2,f3" {
			t.Errorf("FIFO failures %s, want f2,f3", ids)
		}
	})
}

// With Combine, the history messages of an invocation are written together,
// in one transaction here, and still fail alone: a body that is not an
// envelope, an envelope of another network.
func TestHandlerCombinedPartialFailure(t *testing.T) {
	envs := previewEnvelopes(t, 20)
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		db, _ := s.Open(t)
		store := chaindb.New(db, chaindb.Options{})
		var metrics bytes.Buffer
		h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Preview, Store: store}, Combine: true,
			Metrics: emf.New(&metrics, "Nectar", nil), Stats: store}
		var ev events.SQSEvent
		for i, e := range envs[:10] {
			ev.Records = append(ev.Records, record(t, "m"+string(rune('a'+i)), e, ""))
		}
		poison := ev.Records[4]
		poison.MessageId, poison.Body = "poison", poison.Body[:len(poison.Body)/2]
		other := *envs[10]
		other.Network = "mainnet"
		ev.Records = append(ev.Records, poison, record(t, "other", &other, ""))
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if ids := strings.Join(failed(resp), ","); ids != "poison,other" {
			t.Fatalf("failures %s, want poison,other", ids)
		}
		var blocks int
		if err := db.QueryRow("SELECT COUNT(*) FROM block").Scan(&blocks); err != nil || blocks != 200 {
			t.Errorf("%d blocks applied (%v), want 200", blocks, err)
		}
		if st := store.Stats(); st.GroupTxns != 1 || st.GroupBatches != 10 {
			t.Errorf("%d transactions of %d batches, want one of 10", st.GroupTxns, st.GroupBatches)
		}
		if !strings.Contains(metrics.String(), `"Blocks":200`) || !strings.Contains(metrics.String(), `"HistoryTxns":1`) {
			t.Errorf("metrics line does not count 200 blocks in one transaction: %s", metrics.String())
		}
		// Redelivered with a new one: only the new one is written (alone).
		resp, err = h.Handle(context.Background(), events.SQSEvent{Records: append(ev.Records[:10:10], record(t, "new", envs[10], ""))})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %v %v", failed(resp), err)
		}
		if err := db.QueryRow("SELECT COUNT(*) FROM block").Scan(&blocks); err != nil || blocks != 216 {
			t.Errorf("%d blocks after the redelivery (%v), want 216", blocks, err)
		}
		if st := store.Stats(); st.GroupTxns != 1 {
			t.Errorf("%d transactions of several batches, want still 1", st.GroupTxns)
		}
	})
}

// With too little time left before the function's deadline, no history
// message is started: all are left to the queue.
func TestHandlerCombinedNotStarted(t *testing.T) {
	envs := previewEnvelopes(t, 50)
	h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Preview, Store: nil}, Combine: true}
	ctx, cancel := context.WithTimeout(context.Background(), lambdafn.MinTimeLeft/2)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record(t, "a", envs[0], ""), record(t, "b", envs[1], "")}})
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.Join(failed(resp), ","); ids != "a,b" {
		t.Errorf("failures %s, want a,b", ids)
	}
}

func TestHandlerRejectsOtherNetwork(t *testing.T) {
	envs := previewEnvelopes(t, 50)
	h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Mainnet, Store: nil}}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(t, "x", envs[0], "")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("a preview batch sent to a mainnet ingest was accepted")
	}
}

// When the database refuses new connections (TiDB Cloud Starter does at its
// spending limit; here the login's password changed under a pool that keeps
// no idle connection), the handler does not retry in place or try the rest
// of the invocation: the messages are left to the queue, and DBRefused, the
// metric DatabaseRefusedAlarm reads, counts the refusal.
func TestDatabaseRefusedRaisesAlarm(t *testing.T) {
	envs := previewEnvelopes(t, 50)
	dbtest.Each(t, func(t *testing.T, s dbtest.Server) {
		admin, mc := s.Open(t)
		user := "refused_" + hex.EncodeToString([]byte(t.Name()))[:8] + hex.EncodeToString(envs[0].ID()[:3])
		for _, q := range []string{"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'first-password'",
			"GRANT ALL PRIVILEGES ON `" + mc.DBName + "`.* TO '" + user + "'@'%'"} {
			if _, err := admin.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _, _ = admin.Exec("DROP USER '" + user + "'@'%'") })
		port, _ := strconv.Atoi(s.Port)
		db, err := dbconn.Open(context.Background(), config.DB{Host: s.Host, Port: port, User: user, Password: "first-password",
			Database: mc.DBName, SSLMode: config.SSLVerifyIdentity, SSLCA: os.Getenv("NECTAR_TEST_CA"), ServerName: os.Getenv("NECTAR_TEST_SERVER_NAME"),
			MaxOpenConns: 2, MaxIdleConns: 0, ConnMaxLifetime: time.Minute, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := admin.Exec("ALTER USER '" + user + "'@'%' IDENTIFIED BY 'second-password'"); err != nil {
			t.Fatal(err)
		}
		// One by one, the first message meets the refusal and the others are
		// not tried; combined, the three meet it together.
		for _, combine := range []bool{false, true} {
			store := chaindb.New(db, chaindb.Options{BackoffBase: time.Millisecond})
			var logs, metrics bytes.Buffer
			h := &lambdafn.Handler{Applier: &ingest.Applier{Net: chain.Preview, Store: store}, Concurrency: 1, Combine: combine,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: emf.New(&metrics, "Nectar", nil), Stats: store}
			ev := events.SQSEvent{Records: []events.SQSMessage{record(t, "a", envs[0], ""), record(t, "b", envs[1], ""), record(t, "c", envs[2], "")}}
			resp, err := h.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if ids := strings.Join(failed(resp), ","); ids != "a,b,c" {
				t.Errorf("combine %v: failures %s, want a,b,c", combine, ids)
			}
			want := 2
			if combine {
				want = 0
			}
			if got := strings.Count(logs.String(), "not tried: the database refused service"); got != want {
				t.Errorf("combine %v: %d messages not tried after the refusal, want %d:\n%s", combine, got, want, logs.String())
			}
			if !strings.Contains(metrics.String(), `"DBRefused":1`) || !strings.Contains(metrics.String(), `"DBRetries":0`) {
				t.Errorf("combine %v: metrics %s: want DBRefused 1 and no retries in place", combine, metrics.String())
			}
		}
	})
}
