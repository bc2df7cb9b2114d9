package sqs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

const receiveTimeout = 30 * time.Second

// wrapAPI is the real client with SendMessageBatch replaceable: tests use it
// to record calls and to inject one failure. Everything else is real.
type wrapAPI struct {
	sqs.API
	sendMessageBatch func(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
}

func (w *wrapAPI) SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	if w.sendMessageBatch != nil {
		return w.sendMessageBatch(ctx, in, opts...)
	}
	return w.API.SendMessageBatch(ctx, in, opts...)
}

// recorder wraps client and records, per SendMessageBatch call, the message
// ids (the "id" attribute) it carried.
type recorder struct {
	wrapAPI
	mu    sync.Mutex
	calls [][]string
	bytes []int
}

func newRecorder(client sqs.API) *recorder {
	r := &recorder{}
	r.API = client
	r.sendMessageBatch = func(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
		r.record(in)
		return client.SendMessageBatch(ctx, in, opts...)
	}
	return r
}

func (r *recorder) record(in *awssqs.SendMessageBatchInput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	n := 0
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.MessageAttributes["id"].StringValue))
		n += len(aws.ToString(e.MessageBody))
		for k, v := range e.MessageAttributes {
			n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
		}
	}
	r.calls = append(r.calls, ids)
	r.bytes = append(r.bytes, n)
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, len(r.calls))
	for i, c := range r.calls {
		out[i] = len(c)
	}
	return out
}

// msg makes a message whose "id" attribute repeats its ID, so that the
// receiving side can tell messages apart.
func msg(id, body string) sqs.Message {
	return sqs.Message{ID: id, Body: body, Attributes: map[string]string{"id": id, "kind": "test"}}
}

func body(id string, size int) string {
	prefix := "body of " + id + ":"
	if size <= len(prefix) {
		return prefix
	}
	return prefix + strings.Repeat("x", size-len(prefix))
}

func queue(t *testing.T, client sqs.API, fifo bool, maxBytes int) string {
	t.Helper()
	name := sqstest.QueueName(t)
	// A visibility timeout well inside receiveTimeout: a receive whose
	// response is lost on a loaded machine (the SDK retries; the messages it
	// took stay invisible) is redelivered before the wait ends.
	attrs := map[string]string{"MaximumMessageSize": strconv.Itoa(maxBytes), "VisibilityTimeout": "8"}
	if fifo {
		name += ".fifo"
		attrs["FifoQueue"] = "true"
		attrs["ContentBasedDeduplication"] = "false"
	}
	return sqstest.CreateQueue(t, client, name, attrs)
}

func fastOptions() sqs.SenderOptions {
	return sqs.SenderOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

// byID indexes received messages by their "id" attribute and fails the test
// on a duplicate.
func byID(t *testing.T, msgs []types.Message) map[string]types.Message {
	t.Helper()
	out := map[string]types.Message{}
	for _, m := range msgs {
		id := aws.ToString(m.MessageAttributes["id"].StringValue)
		if _, dup := out[id]; dup {
			t.Errorf("message %s received twice", id)
		}
		out[id] = m
	}
	return out
}

func TestSendBatchesOf25Arrive(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	rec := newRecorder(client)

	var msgs []sqs.Message
	for i := range 25 {
		id := fmt.Sprintf("m%02d", i)
		msgs = append(msgs, msg(id, body(id, 100+i)))
	}
	if err := sqs.NewSender(rec, sqs.SenderOptions{}).Send(context.Background(), q, msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got, want := rec.sizes(), []int{10, 10, 5}; !slices.Equal(got, want) {
		t.Errorf("entries per call = %v, want %v", got, want)
	}

	got := byID(t, sqstest.ReceiveAll(t, client, q, 25, receiveTimeout))
	if len(got) != 25 {
		t.Fatalf("received %d messages, want 25", len(got))
	}
	for _, m := range msgs {
		r, ok := got[m.ID]
		if !ok {
			t.Errorf("%s not received", m.ID)
			continue
		}
		if aws.ToString(r.Body) != m.Body {
			t.Errorf("%s: body %q, want %q", m.ID, aws.ToString(r.Body), m.Body)
		}
		if k := aws.ToString(r.MessageAttributes["kind"].StringValue); k != "test" {
			t.Errorf("%s: attribute kind = %q, want test", m.ID, k)
		}
	}
	if n := sqstest.Count(t, client, q); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
}

func TestSendSplitsAtBatchBytes(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, sqs.MaxBatchBytes)
	rec := newRecorder(client)

	// Seven messages of 300 KiB: three fit in 1 MiB, four do not.
	var msgs []sqs.Message
	for i := range 7 {
		id := fmt.Sprintf("big%d", i)
		msgs = append(msgs, msg(id, body(id, 300<<10)))
	}
	if err := sqs.NewSender(rec, sqs.SenderOptions{}).Send(context.Background(), q, msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got, want := rec.sizes(), []int{3, 3, 1}; !slices.Equal(got, want) {
		t.Errorf("entries per call = %v, want %v", got, want)
	}
	for i, n := range rec.bytes {
		if n > sqs.MaxBatchBytes {
			t.Errorf("call %d carried %d bytes, more than %d", i, n, sqs.MaxBatchBytes)
		}
	}
	got := byID(t, sqstest.ReceiveAll(t, client, q, 7, receiveTimeout))
	for _, m := range msgs {
		if aws.ToString(got[m.ID].Body) != m.Body {
			t.Errorf("%s: not received intact", m.ID)
		}
	}
}

func TestSendMessageTooLongForQueue(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	rec := newRecorder(client)

	msgs := []sqs.Message{
		msg("ok1", "small"),
		msg("too-big", body("too-big", 300<<10)),
		msg("ok2", "small too"),
		msg("over-1mib", body("over-1mib", sqs.MaxBatchBytes+1)),
	}
	err := sqs.NewSender(rec, fastOptions()).Send(context.Background(), q, msgs)
	var se *sqs.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send = %v, want a *SendError", err)
	}
	t.Logf("error: %v", err)
	if got := se.IDs(); !slices.Equal(got, []string{"too-big", "over-1mib"}) {
		t.Fatalf("failed ids = %v, want [too-big over-1mib]", got)
	}
	big, over := se.Failed[0], se.Failed[1]
	if big.Code != "InvalidParameterValue" || !big.SenderFault || big.Attempts != 1 {
		t.Errorf("too-big: %+v, want InvalidParameterValue, sender fault, 1 attempt (no retry)", big)
	}
	if !errors.Is(over.Err, sqs.ErrMessageTooLarge) || over.Attempts != 0 {
		t.Errorf("over-1mib: %+v, want ErrMessageTooLarge without sending", over)
	}
	if se.IsRetryable() {
		t.Error("IsRetryable = true for sender faults")
	}
	if !strings.Contains(err.Error(), "too-big (InvalidParameterValue") {
		t.Errorf("error does not name too-big with its code: %v", err)
	}
	got := byID(t, sqstest.ReceiveAll(t, client, q, 2, receiveTimeout))
	if _, ok := got["ok1"]; !ok || len(got) != 2 {
		t.Errorf("received %d messages, want ok1 and ok2", len(got))
	}
}

func TestSendFIFOOrderAcrossCalls(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, true, 256<<10)
	rec := newRecorder(client)
	s := sqs.NewSender(rec, sqs.SenderOptions{})

	groups := []string{"preview", "preprod", "mainnet"}
	sent := map[string][]string{}
	for call := range 3 {
		var msgs []sqs.Message
		for i := range 8 {
			g := groups[(i+call)%len(groups)]
			id := fmt.Sprintf("c%d-%d-%s", call, i, g)
			m := msg(id, body(id, 50))
			m.GroupID, m.DedupID = g, id
			msgs = append(msgs, m)
			sent[g] = append(sent[g], id)
		}
		if err := s.Send(context.Background(), q, msgs); err != nil {
			t.Fatalf("Send %d: %v", call, err)
		}
	}
	for i, ids := range rec.calls {
		seen := map[string]bool{}
		for _, id := range ids {
			g := id[strings.LastIndexByte(id, '-')+1:]
			if seen[g] {
				t.Errorf("call %d carried two messages of group %s: %v", i, g, ids)
			}
			seen[g] = true
		}
	}

	received := map[string][]string{}
	lastSeq := map[string]string{}
	for _, m := range sqstest.ReceiveAll(t, client, q, 24, receiveTimeout) {
		g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		seq := m.Attributes[string(types.MessageSystemAttributeNameSequenceNumber)]
		if prev := lastSeq[g]; prev != "" && !seqLess(prev, seq) {
			t.Errorf("group %s: sequence number %s after %s", g, seq, prev)
		}
		lastSeq[g] = seq
		received[g] = append(received[g], aws.ToString(m.MessageAttributes["id"].StringValue))
	}
	for _, g := range groups {
		if !slices.Equal(received[g], sent[g]) {
			t.Errorf("group %s received\n%v\nwant\n%v", g, received[g], sent[g])
		}
	}
}

// seqLess compares decimal sequence numbers of any length.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// failOnce makes the first call that carries message id fail for it with
// code, sending the call's other entries for real.
func failOnce(client sqs.API, id, code string, senderFault bool, rec *recorder) *wrapAPI {
	var mu sync.Mutex
	done := false
	return &wrapAPI{API: client, sendMessageBatch: func(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
		if rec != nil {
			rec.record(in)
		}
		mu.Lock()
		defer mu.Unlock()
		idx := slices.IndexFunc(in.Entries, func(e types.SendMessageBatchRequestEntry) bool {
			return aws.ToString(e.MessageAttributes["id"].StringValue) == id
		})
		if done || idx < 0 {
			return client.SendMessageBatch(ctx, in, opts...)
		}
		done = true
		failed := in.Entries[idx]
		rest := *in
		rest.Entries = slices.Delete(slices.Clone(in.Entries), idx, idx+1)
		out := &awssqs.SendMessageBatchOutput{}
		if len(rest.Entries) > 0 {
			var err error
			if out, err = client.SendMessageBatch(ctx, &rest, opts...); err != nil {
				return nil, err
			}
		}
		out.Failed = append(out.Failed, types.BatchResultErrorEntry{
			Id: failed.Id, Code: aws.String(code), Message: aws.String("injected"), SenderFault: senderFault})
		return out, nil
	}}
}

func TestSendRetriesPartialFailure(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	rec := &recorder{}
	api := failOnce(client, "m04", "InternalError", false, rec)

	var msgs []sqs.Message
	for i := range 12 {
		id := fmt.Sprintf("m%02d", i)
		msgs = append(msgs, msg(id, body(id, 64)))
	}
	if err := sqs.NewSender(api, fastOptions()).Send(context.Background(), q, msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got, want := rec.sizes(), []int{10, 3}; !slices.Equal(got, want) {
		t.Errorf("entries per call = %v (%v), want %v", got, rec.calls, want)
	}
	got := byID(t, sqstest.ReceiveAll(t, client, q, 12, receiveTimeout))
	if len(got) != 12 {
		t.Errorf("received %d distinct messages, want 12", len(got))
	}
	if n := sqstest.Count(t, client, q); n != 0 {
		t.Errorf("%d messages left, want 0 (a duplicate?)", n)
	}
}

func TestSendFIFORetryKeepsGroupOrder(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, true, 256<<10)
	rec := &recorder{}
	api := failOnce(client, "n2", "ServiceUnavailable", false, rec)

	var msgs, want []string
	var batch []sqs.Message
	for i := range 6 {
		id := fmt.Sprintf("n%d", i)
		m := msg(id, body(id, 32))
		m.GroupID, m.DedupID = "preview", id
		batch = append(batch, m)
		want = append(want, id)
	}
	// A second group that must not wait for the first.
	for i := range 3 {
		id := fmt.Sprintf("o%d", i)
		m := msg(id, body(id, 32))
		m.GroupID, m.DedupID = "mainnet", id
		batch = append(batch, m)
	}
	if err := sqs.NewSender(api, fastOptions()).Send(context.Background(), q, batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// n3 must not go out before the call that resent n2.
	var sentN2, firstN2 = -1, -1
	for i, ids := range rec.calls {
		if slices.Contains(ids, "n2") {
			if firstN2 < 0 {
				firstN2 = i
			} else {
				sentN2 = i
			}
		}
		if slices.Contains(ids, "n3") && (sentN2 < 0 || i <= sentN2) {
			t.Errorf("call %d carried n3 before n2 was accepted: calls %v", i, rec.calls)
		}
	}
	if firstN2 < 0 || sentN2 < 0 {
		t.Fatalf("n2 sent in calls %d and %d, want twice: %v", firstN2, sentN2, rec.calls)
	}

	for _, m := range sqstest.ReceiveAll(t, client, q, 9, receiveTimeout) {
		if g := m.Attributes["MessageGroupId"]; g == "preview" {
			msgs = append(msgs, aws.ToString(m.MessageAttributes["id"].StringValue))
		}
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("group preview received %v, want %v", msgs, want)
	}
}

func TestSendRetriesTransportError(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	calls := 0
	api := &wrapAPI{API: client, sendMessageBatch: func(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
		calls++
		if calls == 1 {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}
		return client.SendMessageBatch(ctx, in, opts...)
	}}
	msgs := []sqs.Message{msg("a", "a"), msg("b", "b")}
	if err := sqs.NewSender(api, fastOptions()).Send(context.Background(), q, msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if calls != 2 {
		t.Errorf("%d calls, want 2", calls)
	}
	if got := byID(t, sqstest.ReceiveAll(t, client, q, 2, receiveTimeout)); len(got) != 2 {
		t.Errorf("received %d, want 2", len(got))
	}
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	calls := 0
	// Every call fails entry "stuck" with a throttling code (retryable
	// although SQS marks it as the sender's fault).
	api := &wrapAPI{API: client, sendMessageBatch: func(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
		calls++
		return failOnce(client, "stuck", "RequestThrottled", true, nil).SendMessageBatch(ctx, in, opts...)
	}}
	opts := fastOptions()
	opts.MaxAttempts = 3
	err := sqs.NewSender(api, opts).Send(context.Background(), q, []sqs.Message{msg("fine", "x"), msg("stuck", "y")})
	var se *sqs.SendError
	if !errors.As(err, &se) || len(se.Failed) != 1 {
		t.Fatalf("Send = %v, want a SendError for stuck", err)
	}
	f := se.Failed[0]
	if f.ID != "stuck" || f.Code != "RequestThrottled" || f.Attempts != 3 || f.SenderFault || !se.IsRetryable() {
		t.Errorf("failure %+v (retryable %v), want stuck, RequestThrottled, 3 attempts, retryable", f, se.IsRetryable())
	}
	if calls != 3 {
		t.Errorf("%d calls, want 3", calls)
	}
	if got := byID(t, sqstest.ReceiveAll(t, client, q, 1, receiveTimeout)); len(got) != 1 || got["fine"].Body == nil {
		t.Errorf("received %v, want only fine", got)
	}
}

func TestSendFIFOBlocksGroupAfterFailure(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, true, 256<<10)
	api := failOnce(client, "g1", "InvalidParameterValue", true, nil)
	var msgs []sqs.Message
	for _, id := range []string{"g0", "g1", "g2", "g3"} {
		m := msg(id, id)
		m.GroupID, m.DedupID = "preview", id
		msgs = append(msgs, m)
	}
	other := msg("h0", "h0")
	other.GroupID, other.DedupID = "mainnet", "h0"
	msgs = append(msgs, other)

	err := sqs.NewSender(api, fastOptions()).Send(context.Background(), q, msgs)
	var se *sqs.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send = %v, want a SendError", err)
	}
	if got := se.IDs(); !slices.Equal(got, []string{"g1", "g2", "g3"}) {
		t.Errorf("not sent: %v, want [g1 g2 g3]", got)
	}
	if !errors.Is(err, sqs.ErrGroupBlocked) {
		t.Errorf("error does not wrap ErrGroupBlocked: %v", err)
	}
	got := byID(t, sqstest.ReceiveAll(t, client, q, 2, receiveTimeout))
	if _, ok := got["h0"]; !ok || len(got) != 2 {
		t.Errorf("received %d messages, want g0 and h0", len(got))
	}
}

func TestSendFIFODedup(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, true, 256<<10)
	s := sqs.NewSender(client, sqs.SenderOptions{})
	ctx := context.Background()

	first := sqs.Message{ID: "first", Body: "first copy", GroupID: "preview", DedupID: "batch-1"}
	other := sqs.Message{ID: "other", Body: "other batch", GroupID: "preview", DedupID: "batch-2"}
	if err := s.Send(ctx, q, []sqs.Message{first, other}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// A re-send after a crash: same dedup id, accepted and dropped.
	again := sqs.Message{ID: "again", Body: "second copy", GroupID: "preview", DedupID: "batch-1"}
	twice := sqs.Message{ID: "twice", Body: "other batch again", GroupID: "preview", DedupID: "batch-2"}
	if err := s.Send(ctx, q, []sqs.Message{again, twice}); err != nil {
		t.Fatalf("Send again: %v", err)
	}
	var bodies []string
	for _, m := range sqstest.ReceiveAll(t, client, q, 2, receiveTimeout) {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	if !slices.Equal(bodies, []string{"first copy", "other batch"}) {
		t.Errorf("received %q, want the first copies only", bodies)
	}
	if n := sqstest.Count(t, client, q); n != 0 {
		t.Errorf("%d messages left, want 0", n)
	}
}

func TestSendRejectsInvalidMessages(t *testing.T) {
	client := sqstest.NewClient(t)
	std := queue(t, client, false, 256<<10)
	fifo := queue(t, client, true, 256<<10)
	tests := []struct {
		name  string
		queue string
		msgs  []sqs.Message
	}{
		{"empty id", std, []sqs.Message{{Body: "x"}}},
		{"duplicate id", std, []sqs.Message{{ID: "a", Body: "x"}, {ID: "a", Body: "y"}}},
		{"fifo without group", fifo, []sqs.Message{{ID: "a", Body: "x", GroupID: "g", DedupID: "1"}, {ID: "b", Body: "y", DedupID: "2"}}},
	}
	s := sqs.NewSender(client, sqs.SenderOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(context.Background(), tt.queue, tt.msgs)
			if !errors.Is(err, sqs.ErrInvalidMessage) {
				t.Fatalf("Send = %v, want ErrInvalidMessage", err)
			}
			if n := sqstest.Count(t, client, tt.queue); n != 0 {
				t.Errorf("%d messages sent, want none", n)
			}
		})
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	client := sqstest.NewClient(t)
	q := queue(t, client, false, 256<<10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sqs.NewSender(client, sqs.SenderOptions{}).Send(ctx, q, []sqs.Message{msg("a", "a")})
	var se *sqs.SendError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.IDs()[0] != "a" {
		t.Fatalf("Send = %v, want a SendError naming a and wrapping context.Canceled", err)
	}
}

func TestSenderInvalidOptions(t *testing.T) {
	err := sqs.NewSender(nil, sqs.SenderOptions{MaxAttempts: -1}).Send(context.Background(), "q", []sqs.Message{msg("a", "a")})
	if !errors.Is(err, sqs.ErrInvalidConfig) {
		t.Fatalf("Send = %v, want ErrInvalidConfig", err)
	}
}
