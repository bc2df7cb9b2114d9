package lambdafn_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/go-sql-driver/mysql"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest"
	"github.com/nectar-indexer/nectar/shared/emf"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/logbuf"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// flaky fails the first apply of the envelopes it names, as a database that
// is unavailable for a moment does, and records the order of the others.
type flaky struct {
	next lambdafn.Applies
	mu   sync.Mutex
	fail map[string]bool
	done []string
}

func (f *flaky) Apply(ctx context.Context, env *batch.Envelope) (ingest.Result, error) {
	id := hex.EncodeToString(env.ID())
	f.mu.Lock()
	if f.fail[id] {
		delete(f.fail, id)
		f.mu.Unlock()
		return ingest.Result{}, fmt.Errorf("apply batch %s: %w", id[:12], &mysql.MySQLError{Number: 9005, Message: "Region is unavailable"})
	}
	f.mu.Unlock()
	res, err := f.next.Apply(ctx, env)
	if err == nil {
		f.mu.Lock()
		f.done = append(f.done, id)
		f.mu.Unlock()
	}
	return res, err
}

func (f *flaky) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.done)
}

// A failed tip message comes back within seconds, not after the queue's
// visibility timeout (120 s here, 30 minutes in the template), and the
// messages behind it follow in order; a message that can never apply goes
// to its queue's DLQ at once, with the reason, on both queues, instead of
// being retried maxReceiveCount times.
func TestFailedMessagesRetriedSoonOrDeadLettered(t *testing.T) {
	const visibility = 120 * time.Second
	client := sqstest.NewClient(t)
	servers := dbtest.Servers(t)
	if len(servers) == 0 {
		return
	}
	db, _ := servers[0].Open(t)
	envs := previewEnvelopes(t, 30) // 8 envelopes
	tip, history := envs[:3], envs[3:4]
	app := &flaky{next: &ingest.Applier{Net: chain.Preview, Store: chaindb.New(db, chaindb.Options{})},
		fail: map[string]bool{hex.EncodeToString(tip[1].ID()): true}}

	ctx := context.Background()
	prefix := sqstest.QueueName(t)
	historyURL, tipURL, err := sqs.CreateQueues(ctx, client, prefix, sqs.QueueOptions{VisibilityTimeout: visibility, MaxReceiveCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	names := sqs.NamesFor(prefix)
	queueURL := func(name string) string {
		out, err := client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl)
	}
	historyDLQ, tipDLQ := queueURL(names.HistoryDLQ), queueURL(names.TipDLQ)

	logs := &logbuf.Buffer{}
	var metrics bytes.Buffer
	var mmu sync.Mutex
	h := &lambdafn.Handler{Applier: app, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Metrics: emf.New(&lockedWriter{w: &metrics, mu: &mmu}, "Nectar", nil),
		Queue:   lambdafn.SQSQueue{Client: client},
		Queues: map[string]lambdafn.QueueURLs{
			names.History: {URL: historyURL, DLQ: historyDLQ},
			names.Tip:     {URL: tipURL, DLQ: tipDLQ},
		},
		TipRetry: time.Second}

	var dmu sync.Mutex
	var deliveries []string // message id and receive count
	invoke := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		dmu.Lock()
		for _, r := range ev.Records {
			deliveries = append(deliveries, r.MessageId+"#"+r.Attributes["ApproximateReceiveCount"])
		}
		dmu.Unlock()
		return h.Handle(ctx, ev)
	}
	send := func(url string, group string, bodies ...*batch.Envelope) []string {
		var ids []string
		for i, e := range bodies {
			in := &awssqs.SendMessageInput{QueueUrl: aws.String(url)}
			if e == nil {
				in.MessageBody = aws.String("not an envelope")
				in.MessageAttributes = nil
			} else {
				m := record(t, "", e, "")
				in.MessageBody = aws.String(m.Body)
				bid := hex.EncodeToString(e.ID())
				in.MessageAttributes = map[string]types.MessageAttributeValue{batch.AttrBatchID: {DataType: aws.String("String"), StringValue: aws.String(bid)}}
			}
			if group != "" {
				in.MessageGroupId = aws.String(group)
				in.MessageDeduplicationId = aws.String(fmt.Sprintf("%s-%d", prefix, i))
			}
			out, err := client.SendMessage(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, aws.ToString(out.MessageId))
		}
		return ids
	}
	// The tip group: a good batch, one that fails once, a malformed body, a good batch.
	tipIDs := send(tipURL, "preview", tip[0], tip[1], nil, tip[2])
	histIDs := send(historyURL, "", history[0], nil)

	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, url := range []string{tipURL, historyURL} {
		p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: url, QueueARN: eventsource.ARNFromURL(url, sqstest.Region), Invoke: invoke}
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Run(pctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	want := []string{hex.EncodeToString(tip[0].ID()), hex.EncodeToString(tip[1].ID()), hex.EncodeToString(tip[2].ID())}
	// Well inside the 120 s visibility timeout: a retry after it would miss this.
	testenv.WaitFor(t, 60*time.Second, "every valid message applied, the malformed ones dead-lettered", func() bool {
		got := slices.DeleteFunc(app.applied(), func(id string) bool { return id == hex.EncodeToString(history[0].ID()) })
		return slices.Equal(got, want) && len(app.applied()) == 4 &&
			sqstest.Count(t, client, tipURL) == 0 && sqstest.Count(t, client, historyURL) == 0
	})
	cancel()
	wg.Wait()

	dmu.Lock()
	got := slices.Clone(deliveries)
	dmu.Unlock()
	for id, wantCounts := range map[string][]string{tipIDs[1]: {"1", "2"}, tipIDs[2]: {"1"}, histIDs[1]: {"1"}} {
		var counts []string
		for _, d := range got {
			if m, c, _ := strings.Cut(d, "#"); m == id {
				counts = append(counts, c)
			}
		}
		if !slices.Equal(counts, wantCounts) {
			t.Errorf("message %s delivered with receive counts %v, want %v", id, counts, wantCounts)
		}
	}
	for _, dlq := range []string{tipDLQ, historyDLQ} {
		msgs := sqstest.ReceiveAll(t, client, dlq, 1, 10*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("%d messages in %s, want the malformed one", len(msgs), dlq)
		}
		reason := msgs[0].MessageAttributes[lambdafn.AttrFailureReason]
		if !strings.Contains(aws.ToString(reason.StringValue), "malformed message") || aws.ToString(msgs[0].Body) != "not an envelope" {
			t.Errorf("dead letter in %s: body %q, reason %q", dlq, aws.ToString(msgs[0].Body), aws.ToString(reason.StringValue))
		}
	}
	if !strings.Contains(logs.String(), "message sent to the DLQ") {
		t.Errorf("no log line for the dead letters:\n%s", logs.String())
	}
	mmu.Lock()
	defer mmu.Unlock()
	if !strings.Contains(metrics.String(), `"DeadLettered":1`) {
		t.Errorf("no DeadLettered metric:\n%s", metrics.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
