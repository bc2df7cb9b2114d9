package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/immutable"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/secrets/secretstest"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

var (
	previewOnce sync.Once
	preview     []nodesim.Block
	previewErr  error
)

// previewBlocks returns the first n blocks of the preview chain, with their
// points, read from as many chunk files as that takes.
func previewBlocks(tb testing.TB, n int) []nodesim.Block {
	tb.Helper()
	previewOnce.Do(func() {
		paths, err := immutable.Chunks(previewDir)
		if err != nil {
			previewErr = err
			return
		}
		for _, p := range paths {
			bs, err := immutable.ReadFile(p)
			if err != nil {
				previewErr = err
				return
			}
			for _, b := range bs {
				h, err := chain.ReadHeader(b.Type, b.CBOR)
				if err != nil {
					previewErr = err
					return
				}
				preview = append(preview, nodesim.Block{Type: b.Type, CBOR: b.CBOR, Point: h.Point, BlockNo: h.BlockNo})
			}
			if len(preview) >= 3000 {
				return
			}
		}
	})
	if previewErr != nil {
		tb.Fatal(previewErr)
	}
	if n > len(preview) {
		tb.Fatalf("want %d preview blocks, have %d", n, len(preview))
	}
	return preview[:n]
}

func startFollower(tb testing.TB, path string, sink follower.Sink, cursor follower.CursorStore) *followertest.Run {
	tb.Helper()
	return followertest.Start(tb, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    sink, Cursor: cursor,
	})
}

// Issue 4, test 1: follower → fauxqs (standard + FIFO) → event-source
// pollers → the real bootstrap under RIE → TiDB over verified TLS, with
// credentials from Secrets Manager. The chain grows at the tip and rolls
// back twice: once mid-way (the same blocks come back) and once at the end
// (they do not: their rows must go), so the FIFO queue carries near-tip
// batches and rollbacks. The database ends equal, table by table, to what
// the local sink makes of the same final chain.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	const (
		total   = 3000
		visible = 2000 // at start; the rest arrives at the tip
		depth   = 10   // the mid-way rollback, within k = 432
		last    = 20   // the final rollback
		step    = 250
	)
	blocks := previewBlocks(t, total)
	final := blocks[:total-last]

	// The reference, in a database of its own: the one-machine mode's local
	// sink over the final chain. It runs while the pipeline is set up.
	refDB, _ := e.tidb.Open(t)
	ref := chaindb.New(refDB, chaindb.Options{})
	refSrv, refPath := followertest.StartNode(t, final, 0)
	refRun := startFollower(t, refPath, &follower.LocalSink{Applier: &ingest.Applier{Net: chain.Preview, Store: ref}}, ref)

	// The pipeline: the function's own TLS-only user, its secret, the
	// queues, one RIE per queue (each is one Lambda container), a poller per
	// queue.
	admin, mc := e.tidb.Open(t)
	user, password := dbUser(t, admin, mc.DBName)
	fn := e.newFunction(t, user, password, mc.DBName)
	history, tip, names := e.queues(t, sqs.QueueOptions{VisibilityTimeout: functionTimeout})
	hr, tr := e.start(t, fn, "ingest-history"), e.start(t, fn, "ingest-tip")
	hp, tp := e.poll(t, history, hr), e.poll(t, tip, tr)

	srv, path := followertest.StartNode(t, blocks, visible)
	rec := &followertest.Recorder{Next: &follower.SQSSink{Sender: sqs.NewSender(e.sqs, sqs.SenderOptions{}),
		Network: chain.Preview.Name, HistoryURL: history, TipURL: tip}}
	// The follower keeps its cursor in the database, with credentials of its own.
	run := startFollower(t, path, rec, chaindb.New(admin, chaindb.Options{}))
	run.WaitHead(t, srv.Tip(), 2*time.Minute)
	if err := srv.Rollback(depth, nil); err != nil {
		t.Fatal(err)
	}
	run.WaitHead(t, srv.Tip(), time.Minute)
	for srv.Pending() > 0 {
		srv.Extend(step)
		run.WaitHead(t, srv.Tip(), time.Minute)
	}
	if err := srv.Rollback(last, nil); err != nil {
		t.Fatal(err)
	}
	run.WaitHead(t, srv.Tip(), time.Minute)
	if got := srv.Tip(); !bytes.Equal(got.Hash, final[len(final)-1].Point.Hash) {
		t.Fatalf("node tip %s, want %s", got, final[len(final)-1].Point)
	}

	// Everything is on the queues now; it is done when they are empty
	// (messages in flight count): each was applied and then deleted.
	testenv.WaitFor(t, 2*time.Minute, "queues drained", func() bool {
		return sqstest.Count(t, e.sqs, history)+sqstest.Count(t, e.sqs, tip) == 0
	})
	for _, q := range []string{names.HistoryDLQ, names.TipDLQ} {
		if n := sqstest.Count(t, e.sqs, e.queueURL(t, q)); n != 0 {
			t.Errorf("%d message(s) in %s", n, q)
		}
	}

	// What the follower sent: the whole chain, with the rollback on the FIFO queue.
	msgs := rec.Messages()
	routes := map[follower.Route]int{}
	rollbacks := 0
	for _, m := range msgs {
		routes[m.Route]++
		if m.Env.Kind == batch.KindRollback {
			rollbacks++
			if m.Route != follower.RouteTip {
				t.Errorf("rollback %d went to the %s queue", m.Seq, m.Route)
			}
		}
	}
	if rollbacks != 2 || routes[follower.RouteHistory] == 0 || routes[follower.RouteTip] < 3 {
		t.Fatalf("sent %v messages with %d rollback(s); want both queues used and 2 rollbacks", routes, rollbacks)
	}
	got, err := followertest.Replay(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, final); err != nil {
		t.Fatal(err)
	}

	// What the functions did: every message once, the rollback applied,
	// nothing failed, and the secret read once per container.
	for _, p := range []struct {
		route follower.Route
		p     *eventsource.Poller
		r     *running
	}{{follower.RouteHistory, hp, hr}, {follower.RouteTip, tp, tr}} {
		st := p.p.Stats()
		if st.Failed != 0 || st.InvokeErrors != 0 || st.Deleted != int64(routes[p.route]) {
			t.Errorf("%s poller: %+v; want %d deleted, none failed", p.route, st, routes[p.route])
		}
		if n := p.r.metric("FailedMessages"); n != 0 {
			t.Errorf("%s function reported %v failed messages", p.route, n)
		}
	}
	if n := tr.metric("Rollbacks"); n != 2 {
		t.Errorf("the tip function applied %v rollbacks, want 2", n)
	}
	if n := tr.metric("Batches") + hr.metric("Batches"); n != float64(len(msgs)) {
		t.Errorf("the functions applied %v messages, the follower sent %d", n, len(msgs))
	}
	if get, desc := fn.secrets.Calls(secretstest.TargetGetSecretValue), fn.secrets.Calls(secretstest.TargetDescribeSecret); get != 2 || desc != 2 {
		t.Errorf("Secrets Manager: %d GetSecretValue, %d DescribeSecret; want 1 each per container (2)", get, desc)
	}

	// The database equals the local sink's.
	refRun.WaitHead(t, refSrv.Tip(), 2*time.Minute)
	ctx := context.Background()
	want, err := chaindb.Checksums(ctx, refDB)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := chaindb.Checksums(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for table, w := range want {
		if sums[table] != w {
			t.Errorf("%s: %s through SQS and Lambda, %s through the local sink", table, sums[table], w)
		}
		if !strings.HasPrefix(w, "0:") {
			nonEmpty++
		}
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM block"); n != len(final) || nonEmpty < 3 {
		t.Errorf("%d blocks and %d non-empty tables; want %d blocks and rows in several tables", n, nonEmpty, len(final))
	}
	t.Logf("%d messages (%v), %d non-empty tables equal", len(msgs), routes, nonEmpty)
}

// Issue 4, test 2: one poisoned message among valid ones on the history
// queue. Only it is retried; it reaches the DLQ after maxReceiveCount; the
// valid ones are applied once; the function's log names its message id.
func TestPoisonMessage(t *testing.T) {
	e := newEnv(t)
	admin, mc := e.tidb.Open(t)
	user, password := dbUser(t, admin, mc.DBName)
	fn := e.newFunction(t, user, password, mc.DBName)
	const maxReceive = 2
	// Short enough that the poison's retries come quickly, long enough that an invocation applying
	// nine batches on a loaded machine finishes before its messages would be delivered again.
	history, _, names := e.queues(t, sqs.QueueOptions{MaxReceiveCount: maxReceive, VisibilityTimeout: 4 * time.Second})
	dlq := e.queueURL(t, names.HistoryDLQ)

	envs := previewEnvelopes(t, 24) // 216 blocks in 9 envelopes
	var msgs []sqs.Message
	for i, env := range envs {
		msgs = append(msgs, message(t, "m"+string(rune('0'+i)), env))
	}
	poisonBody := base64.StdEncoding.EncodeToString([]byte("this is not a Nectar envelope"))
	poison := sqs.Message{ID: "poison", Body: poisonBody, Attributes: map[string]string{
		batch.AttrBatchID: "poison-batch", batch.AttrKind: "blocks", batch.AttrNetwork: "preview"}}
	msgs = append(msgs[:4], append([]sqs.Message{poison}, msgs[4:]...)...)
	if len(msgs) != 10 {
		t.Fatalf("%d messages, want a batch of 10", len(msgs))
	}
	r := e.start(t, fn, "ingest")
	send(t, e.sqs, history, msgs...)
	p := e.poll(t, history, r)

	testenv.WaitFor(t, time.Minute, "the poisoned message in the DLQ", func() bool {
		return sqstest.Count(t, e.sqs, dlq) == 1 && sqstest.Count(t, e.sqs, history) == 0
	})
	dead := sqstest.ReceiveAll(t, e.sqs, dlq, 1, 10*time.Second)
	if len(dead) != 1 {
		t.Fatalf("received %d messages from the DLQ, want 1", len(dead))
	}
	d := dead[0]
	if aws.ToString(d.Body) != poisonBody || aws.ToString(d.MessageAttributes[batch.AttrBatchID].StringValue) != "poison-batch" {
		t.Errorf("DLQ holds body %q, batch %q; want the poisoned message", aws.ToString(d.Body),
			aws.ToString(d.MessageAttributes[batch.AttrBatchID].StringValue))
	}
	deadID := aws.ToString(d.MessageId)

	// The log names the message (and its batch) at each failure, and only it.
	var counts []string
	for _, l := range r.lines() {
		if l["msg"] != "message failed" {
			continue
		}
		if l["message_id"] != deadID || l["batch_id"] != "poison-batch" ||
			!strings.Contains(l["err"].(string), deadID) || !strings.Contains(l["err"].(string), "malformed") {
			t.Errorf("failure logged for another message, or without its id: %v", l)
		}
		counts = append(counts, l["receive_count"].(string))
	}
	if strings.Join(counts, ",") != "1,2" {
		t.Errorf("the poisoned message failed at receive counts %v, want 1,2 (maxReceiveCount %d)", counts, maxReceive)
	}

	// The valid ones: applied once each, none re-applied or skipped.
	if n := count(t, admin, "SELECT COUNT(*) FROM ingest_batch"); n != len(envs) {
		t.Errorf("%d batches recorded, want %d", n, len(envs))
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM block"); n != 216 {
		t.Errorf("%d blocks, want 216", n)
	}
	if b, s := r.metric("Batches"), r.metric("BatchesSkipped"); b != float64(len(envs)) || s != 0 {
		t.Errorf("the function applied %v batches and skipped %v; want %d applied once", b, s, len(envs))
	}
	st := p.Stats()
	if st.Deleted != int64(len(envs)) || st.Failed != maxReceive || st.InvokeErrors != 0 || st.Received != int64(len(envs))+maxReceive {
		t.Errorf("poller %+v; want %d deleted, the poison received and failed %d times", st, len(envs), maxReceive)
	}
}

// Issue 4, test 3 (rotation): the database password changes and the secret
// with it while a container is warm. The next batch needs a new login, which
// the cached password fails; the function re-reads the secret once
// (DescribeSecret + GetSecretValue: aws-secretsmanager-caching-go reads the
// version stages first) and the batch succeeds on its first delivery.
func TestSecretRotation(t *testing.T) {
	e := newEnv(t)
	admin, mc := e.tidb.Open(t)
	user, passA := dbUser(t, admin, mc.DBName)
	fn := e.newFunction(t, user, passA, mc.DBName)
	history, _, _ := e.queues(t, sqs.QueueOptions{VisibilityTimeout: functionTimeout})
	r := e.start(t, fn, "ingest")
	p := e.poll(t, history, r)
	envs := previewEnvelopes(t, 108) // 2 envelopes

	applied := func(n int) func() bool {
		return func() bool {
			return count(t, admin, "SELECT COUNT(*) FROM ingest_batch") == n && sqstest.Count(t, e.sqs, history) == 0
		}
	}
	send(t, e.sqs, history, message(t, "1", envs[0]))
	testenv.WaitFor(t, time.Minute, "the first batch applied", applied(1))
	get0, desc0 := fn.secrets.Calls(secretstest.TargetGetSecretValue), fn.secrets.Calls(secretstest.TargetDescribeSecret)
	if get0 != 1 || desc0 != 1 {
		t.Errorf("cold start: %d GetSecretValue, %d DescribeSecret; want 1 each", get0, desc0)
	}

	// Rotate: the database first, then the secret, as a rotation function does.
	passB := randHex(16)
	mustExec(t, admin, "ALTER USER ?@'%' IDENTIFIED BY ?", user, passB)
	fn.secrets.Put(fn.arn, e.secretJSON(user, passB, mc.DBName))
	// Sessions opened with A survive the change (MySQL and TiDB keep them);
	// end them, so the next batch needs a new login, as it would once
	// conn_max_lifetime passes.
	killSessions(t, admin, user)

	send(t, e.sqs, history, message(t, "2", envs[1]))
	testenv.WaitFor(t, time.Minute, "the second batch applied", applied(2))
	get, desc := fn.secrets.Calls(secretstest.TargetGetSecretValue)-get0, fn.secrets.Calls(secretstest.TargetDescribeSecret)-desc0
	if get != 1 || desc != 1 {
		t.Errorf("after the rotation: %d GetSecretValue, %d DescribeSecret; want exactly 1 refresh", get, desc)
	}
	if st := p.Stats(); st.Failed != 0 || st.InvokeErrors != 0 || st.Deleted != 2 {
		t.Errorf("poller %+v; want both batches applied on their first delivery", st)
	}
	out := r.out.String()
	for _, want := range []string{"database login refused; re-reading the secret once", "database credentials re-read from the secret"} {
		if !strings.Contains(out, want) {
			t.Errorf("the function's log lacks %q", want)
		}
	}
	for _, logs := range []string{out, r.log.String()} {
		if strings.Contains(logs, passA) || strings.Contains(logs, passB) {
			t.Fatal("a password appears in the function's output")
		}
	}
}

// killSessions ends every session of user and waits until none is left.
func killSessions(t *testing.T, admin *sql.DB, user string) {
	t.Helper()
	ctx := context.Background()
	testenv.WaitFor(t, 30*time.Second, "sessions of "+user+" ended", func() bool {
		rows, err := admin.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", user)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		for _, id := range ids {
			// Already gone is fine.
			_, _ = admin.ExecContext(ctx, "KILL ?", id)
		}
		return len(ids) == 0
	})
}
