package eventsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

func send(tb testing.TB, client sqs.API, queueURL string, msgs []sqs.Message) {
	tb.Helper()
	if err := sqs.NewSender(client, sqs.SenderOptions{}).Send(context.Background(), queueURL, msgs); err != nil {
		tb.Fatalf("send: %v", err)
	}
}

// recorder is an InvokeFunc that records the events it gets and fails the
// records whose body is in fail; err, when set, fails the whole invocation.
type recorder struct {
	mu     sync.Mutex
	events []events.SQSEvent
	fail   map[string]bool
	err    error
	answer func(events.SQSEvent) events.SQSEventResponse
}

func (r *recorder) invoke(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if r.err != nil {
		return events.SQSEventResponse{}, r.err
	}
	if r.answer != nil {
		return r.answer(ev), nil
	}
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if r.fail[m.Body] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (r *recorder) records() []events.SQSMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.SQSMessage
	for _, ev := range r.events {
		out = append(out, ev.Records...)
	}
	return out
}

// The event matches what Lambda's event source hands a function, for a
// standard queue and a FIFO queue, in its Go form and on the wire.
func TestEventShape(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	for _, fifo := range []bool{false, true} {
		t.Run(map[bool]string{false: "standard", true: "fifo"}[fifo], func(t *testing.T) {
			name := sqstest.QueueName(t)
			attrs := map[string]string{}
			if fifo {
				name += ".fifo"
				attrs["FifoQueue"] = "true"
			}
			q := sqstest.CreateQueue(t, client, name, attrs)
			in := &awssqs.SendMessageInput{
				QueueUrl:    aws.String(q),
				MessageBody: aws.String("hello"),
				MessageAttributes: map[string]types.MessageAttributeValue{
					"kind":  {DataType: aws.String("String"), StringValue: aws.String("blocks")},
					"count": {DataType: aws.String("Number"), StringValue: aws.String("42")},
					"raw":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
				},
			}
			if fifo {
				in.MessageGroupId, in.MessageDeduplicationId = aws.String("preview"), aws.String("dedup-1")
			}
			sent, err := client.SendMessage(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			arn, err := eventsource.QueueARN(ctx, client, q)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, QueueARN: arn, Invoke: rec.invoke}
			testenv.WaitFor(t, 10*time.Second, "receive", func() bool {
				if _, err := p.Poll(ctx); err != nil {
					t.Fatal(err)
				}
				return len(rec.records()) > 0
			})
			recs := rec.records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.MessageId != aws.ToString(sent.MessageId) || r.ReceiptHandle == "" || r.Body != "hello" ||
				r.Md5OfBody != aws.ToString(sent.MD5OfMessageBody) || r.Md5OfMessageAttributes != aws.ToString(sent.MD5OfMessageAttributes) {
				t.Errorf("record %+v does not match the sent message %+v", r, sent)
			}
			if r.EventSource != "aws:sqs" || r.EventSourceARN != arn || !strings.HasPrefix(arn, "arn:aws:sqs:") ||
				r.AWSRegion != strings.Split(arn, ":")[3] || r.AWSRegion == "" {
				t.Errorf("source: %q %q %q (queue arn %q)", r.EventSource, r.EventSourceARN, r.AWSRegion, arn)
			}
			if r.Attributes["ApproximateReceiveCount"] != "1" || r.Attributes["SentTimestamp"] == "" ||
				r.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
				t.Errorf("system attributes: %v", r.Attributes)
			}
			if fifo {
				if r.Attributes["MessageGroupId"] != "preview" || r.Attributes["MessageDeduplicationId"] != "dedup-1" ||
					r.Attributes["SequenceNumber"] == "" {
					t.Errorf("FIFO attributes: %v", r.Attributes)
				}
			} else if _, ok := r.Attributes["MessageGroupId"]; ok {
				t.Errorf("standard queue record has a MessageGroupId: %v", r.Attributes)
			}
			want := map[string]events.SQSMessageAttribute{
				"kind":  {StringValue: aws.String("blocks"), StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "String"},
				"count": {StringValue: aws.String("42"), StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "Number"},
				"raw":   {BinaryValue: []byte{0, 1, 2, 255}, StringListValues: []string{}, BinaryListValues: [][]byte{}, DataType: "Binary"},
			}
			gotJSON, _ := json.Marshal(r.MessageAttributes)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("message attributes\n got %s\nwant %s", gotJSON, wantJSON)
			}

			// On the wire: Lambda's field names, and the attribute shape
			// {"stringValue", "stringListValues": [], "binaryListValues": [], "dataType"}.
			wire, err := json.Marshal(events.SQSEvent{Records: recs})
			if err != nil {
				t.Fatal(err)
			}
			var generic struct {
				Records []map[string]any `json:"Records"`
			}
			if err := json.Unmarshal(wire, &generic); err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range generic.Records[0] {
					if !yield(k) {
						return
					}
				}
			})
			wantKeys := []string{"attributes", "awsRegion", "body", "eventSource", "eventSourceARN", "md5OfBody",
				"md5OfMessageAttributes", "messageAttributes", "messageId", "receiptHandle"}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("record keys %v, want %v", keys, wantKeys)
			}
			kind, _ := json.Marshal(generic.Records[0]["messageAttributes"].(map[string]any)["kind"])
			if string(kind) != `{"binaryListValues":[],"dataType":"String","stringListValues":[],"stringValue":"blocks"}` {
				t.Errorf("string attribute on the wire: %s", kind)
			}
		})
	}
}

// Only the messages the function reports failed stay on the queue; they come
// back after the visibility timeout with a higher receive count.
func TestPollDeletesAllButFailures(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	q := sqstest.CreateQueue(t, client, sqstest.QueueName(t), map[string]string{"VisibilityTimeout": "1"})
	var msgs []sqs.Message
	for i := range 10 {
		body := "ok-" + strconv.Itoa(i)
		if i == 3 || i == 7 {
			body = "fail-" + strconv.Itoa(i)
		}
		msgs = append(msgs, sqs.Message{ID: strconv.Itoa(i), Body: body})
	}
	send(t, client, q, msgs)

	rec := &recorder{fail: map[string]bool{"fail-3": true, "fail-7": true}}
	p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: rec.invoke}
	var total eventsource.Result
	testenv.WaitFor(t, 10*time.Second, "first delivery of all 10", func() bool {
		res, err := p.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total.Received += res.Received
		total.Deleted += res.Deleted
		total.Failed += res.Failed
		return total.Received == 10
	})
	if total != (eventsource.Result{Received: 10, Deleted: 8, Failed: 2}) {
		t.Fatalf("polls did %+v, want 10 received, 8 deleted, 2 failed", total)
	}
	if n := sqstest.Count(t, client, q); n != 2 {
		t.Fatalf("%d messages on the queue after the poll, want the 2 failed ones", n)
	}

	// They reappear after the visibility timeout; now they succeed.
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	testenv.WaitFor(t, 10*time.Second, "redelivery of the failed ones", func() bool {
		if _, err := p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		return sqstest.Count(t, client, q) == 0
	})
	recs := rec.records()
	if len(recs) != 12 {
		t.Fatalf("%d records invoked, want 12 (10 + 2 retried)", len(recs))
	}
	for _, r := range recs[10:] {
		if !strings.HasPrefix(r.Body, "fail-") || r.Attributes["ApproximateReceiveCount"] != "2" {
			t.Errorf("retried %q with receive count %s, want a failed one with count 2", r.Body, r.Attributes["ApproximateReceiveCount"])
		}
	}
	if st := p.Stats(); st != (eventsource.Stats{Invocations: st.Invocations, Received: 12, Deleted: 12 - 2, Failed: 2}) {
		t.Errorf("stats %+v", st)
	}
}

// An invocation that fails as a whole, or answers with an id that is not in
// the batch, deletes nothing.
func TestPollInvokeFailureDeletesNothing(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	cases := []struct {
		name string
		rec  *recorder
		want error
	}{
		{"invoke error", &recorder{err: errors.New("boom")}, eventsource.ErrInvoke},
		{"function error", &recorder{err: &eventsource.FunctionError{Type: "errorString", Message: "db down"}}, eventsource.ErrInvoke},
		{"unknown id", &recorder{answer: func(events.SQSEvent) events.SQSEventResponse {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "no-such-id"}}}
		}}, eventsource.ErrBadResponse},
		{"empty id", &recorder{answer: func(events.SQSEvent) events.SQSEventResponse {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ""}}}
		}}, eventsource.ErrBadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := sqstest.CreateQueue(t, client, sqstest.QueueName(t), map[string]string{"VisibilityTimeout": "60"})
			var msgs []sqs.Message
			for i := range 5 {
				msgs = append(msgs, sqs.Message{ID: strconv.Itoa(i), Body: fmt.Sprintf("m%d", i)})
			}
			send(t, client, q, msgs)
			p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: tc.rec.invoke}
			received := 0
			testenv.WaitFor(t, 10*time.Second, "receive all", func() bool {
				res, err := p.Poll(ctx)
				if res.Received > 0 {
					if !errors.Is(err, eventsource.ErrInvoke) || !errors.Is(err, tc.want) {
						t.Fatalf("Poll error %v, want %v", err, tc.want)
					}
					if res.Deleted != 0 || res.Failed != res.Received {
						t.Fatalf("Poll %+v: deleted some", res)
					}
				}
				received += res.Received
				return received == 5
			})
			if n := sqstest.Count(t, client, q); n != 5 {
				t.Errorf("%d messages on the queue, want all 5", n)
			}
			if st := p.Stats(); st.Deleted != 0 || st.Failed != 5 || st.InvokeErrors != st.Invocations {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Run keeps failing a poisoned message until the queue's redrive policy
// moves it to the dead-letter queue after maxReceiveCount receives; the
// others are invoked once.
func TestRunRedrivesToDLQ(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := sqstest.QueueName(t)
	history, _, err := sqs.CreateQueues(ctx, client, prefix, sqs.QueueOptions{MaxReceiveCount: 2, VisibilityTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(sqs.NamesFor(prefix).HistoryDLQ)})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []sqs.Message{{ID: "a", Body: "good-a"}, {ID: "p", Body: "poison"}, {ID: "b", Body: "good-b"}}
	send(t, client, history, msgs)

	rec := &recorder{fail: map[string]bool{"poison": true}}
	p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: history, Invoke: rec.invoke, Wait: time.Second}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testenv.WaitFor(t, 20*time.Second, "poison in the DLQ", func() bool { return sqstest.Count(t, client, aws.ToString(dlq.QueueUrl)) == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	bodies := map[string]int{}
	for _, r := range rec.records() {
		bodies[r.Body]++
	}
	if bodies["good-a"] != 1 || bodies["good-b"] != 1 || bodies["poison"] != 2 {
		t.Errorf("invocations per body %v, want the good ones once and the poison twice (maxReceiveCount)", bodies)
	}
	if n := sqstest.Count(t, client, history); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
	dead := sqstest.ReceiveAll(t, client, aws.ToString(dlq.QueueUrl), 1, 10*time.Second)
	if len(dead) != 1 || aws.ToString(dead[0].Body) != "poison" {
		t.Fatalf("DLQ holds %v, want the poison", dead)
	}
}

func TestPollerValidate(t *testing.T) {
	r := sqs.NewReceiver(nil)
	noop := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	for name, p := range map[string]*eventsource.Poller{
		"no receiver": {QueueURL: "q", Invoke: noop},
		"no queue":    {Receiver: r, Invoke: noop},
		"no invoke":   {Receiver: r, QueueURL: "q"},
		"batch 11":    {Receiver: r, QueueURL: "q", Invoke: noop, BatchSize: 11},
		"wait 21s":    {Receiver: r, QueueURL: "q", Invoke: noop, Wait: 21 * time.Second},
	} {
		if err := p.Run(context.Background()); !errors.Is(err, eventsource.ErrInvalidPoller) {
			t.Errorf("%s: Run = %v, want ErrInvalidPoller", name, err)
		}
	}
}

func TestARNFromURL(t *testing.T) {
	for _, tc := range []struct{ url, region, want string }{
		{"http://127.0.0.1:4566/000000000000/q-history", "", "arn:aws:sqs:us-east-1:000000000000:q-history"},
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/tip.fifo", "eu-west-1", "arn:aws:sqs:eu-west-1:123456789012:tip.fifo"},
		{"http://localhost/q", "", "arn:aws:sqs:us-east-1:000000000000:q"},
	} {
		if got := eventsource.ARNFromURL(tc.url, tc.region); got != tc.want {
			t.Errorf("ARNFromURL(%q, %q) = %q, want %q", tc.url, tc.region, got, tc.want)
		}
	}
}

// With a batching window a batch gathers more than one receive's ten
// messages, up to BatchSize, and no more payload than an invocation takes.
func TestPollBatchingWindow(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	q := sqstest.CreateQueue(t, client, sqstest.QueueName(t), nil)
	var msgs []sqs.Message
	for i := range 45 {
		msgs = append(msgs, sqs.Message{ID: strconv.Itoa(i), Body: strings.Repeat("x", 200<<10)})
	}
	send(t, client, q, msgs)
	rec := &recorder{}
	p := &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: q, Invoke: rec.invoke, BatchSize: 100,
		BatchingWindow: 2 * time.Second}
	var sizes []int
	testenv.WaitFor(t, 30*time.Second, "all 45 delivered", func() bool {
		res, err := p.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Received > 0 {
			sizes = append(sizes, res.Received)
		}
		return len(rec.records()) == 45
	})
	// 6 MB holds 29 bodies of 200 KiB: more than a receive's 10, under BatchSize.
	for _, n := range sizes[:len(sizes)-1] {
		if n <= 10 || n*(200<<10+1<<10) > eventsource.MaxPayload {
			t.Errorf("batches of %v messages: want more than 10 (but the last), within %d bytes", sizes, eventsource.MaxPayload)
			break
		}
	}
	if err := (&eventsource.Poller{Receiver: p.Receiver, QueueURL: q, Invoke: rec.invoke, BatchSize: 20}).Run(canceled()); err == nil ||
		!errors.Is(err, eventsource.ErrInvalidPoller) {
		t.Errorf("a batch of 20 without a window: %v, want ErrInvalidPoller", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
