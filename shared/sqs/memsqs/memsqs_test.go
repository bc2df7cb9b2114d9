package memsqs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/memsqs"
)

var t0 = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// setup makes Nectar's queues as CreateQueues does: visibility 30 s, three
// receives before the DLQ.
func setup(t *testing.T, seed uint64) (*memsqs.Server, string, string) {
	t.Helper()
	s := memsqs.New(t0, seed)
	history, tip, err := sqs.CreateQueues(context.Background(), s, "sim", sqs.QueueOptions{MaxReceiveCount: 3, VisibilityTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, history, tip
}

func send(t *testing.T, s *memsqs.Server, url string, fifo bool, bodies ...string) {
	t.Helper()
	var msgs []sqs.Message
	for i, b := range bodies {
		m := sqs.Message{ID: strconv.Itoa(i), Body: b}
		if fifo {
			m.GroupID, m.DedupID = "g", b
		}
		msgs = append(msgs, m)
	}
	if err := sqs.NewSender(s, sqs.SenderOptions{}).Send(context.Background(), url, msgs); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, s *memsqs.Server, url string, n int) []types.Message {
	t.Helper()
	msgs, err := sqs.NewReceiver(s).Receive(context.Background(), url, n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func bodies(msgs []types.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, aws.ToString(m.Body))
	}
	return out
}

func TestStandardQueueReordersAndRedelivers(t *testing.T) {
	s, history, _ := setup(t, 1)
	var sent []string
	for i := range 20 {
		sent = append(sent, fmt.Sprintf("b%02d", i))
	}
	send(t, s, history, false, sent...)
	first := bodies(receive(t, s, history, 10))
	second := bodies(receive(t, s, history, 10))
	if len(first) != 10 || len(second) != 10 {
		t.Fatalf("received %d then %d, want 10 and 10", len(first), len(second))
	}
	all := append(slices.Clone(first), second...)
	if slices.Equal(all, sent) {
		t.Error("a standard queue delivered 20 messages in send order: no reordering")
	}
	slices.Sort(all)
	if !slices.Equal(all, sent) {
		t.Errorf("received %v, want each of %v once", all, sent)
	}
	if got := receive(t, s, history, 10); len(got) != 0 {
		t.Errorf("received %d in-flight messages", len(got))
	}
	s.Advance(31 * time.Second)
	again := receive(t, s, history, 10)
	if len(again) != 10 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("after the visibility timeout: %d messages, receive count %s; want 10 at 2", len(again), again[0].Attributes["ApproximateReceiveCount"])
	}
}

func TestStaleReceiptHandleAndDroppedDeletes(t *testing.T) {
	s, history, _ := setup(t, 2)
	send(t, s, history, false, "a")
	r := sqs.NewReceiver(s)
	old := receive(t, s, history, 1)[0]
	s.Advance(31 * time.Second)
	newer := receive(t, s, history, 1)[0]
	if err := r.Delete(context.Background(), history, aws.ToString(old.ReceiptHandle)); err != nil {
		t.Fatal(err)
	}
	if s.Depth(history) != 1 {
		t.Fatal("a delete with a stale receipt handle deleted the message")
	}
	if err := r.ChangeVisibility(context.Background(), history, aws.ToString(old.ReceiptHandle), 0); !errors.As(err, new(*types.MessageNotInflight)) {
		t.Errorf("visibility change with a stale handle: %v, want MessageNotInflight", err)
	}
	s.Drop(1)
	if err := r.Delete(context.Background(), history, aws.ToString(newer.ReceiptHandle)); err != nil || s.Depth(history) != 1 {
		t.Fatalf("dropped delete: %v, depth %d; want success and the message kept", err, s.Depth(history))
	}
	s.Advance(31 * time.Second)
	last := receive(t, s, history, 1)[0]
	if err := r.Delete(context.Background(), history, aws.ToString(last.ReceiptHandle)); err != nil || s.Depth(history) != 0 {
		t.Fatalf("delete: %v, depth %d", err, s.Depth(history))
	}
}

func TestFIFOGroupOrderDedupAndDLQ(t *testing.T) {
	s, _, tip := setup(t, 3)
	send(t, s, tip, true, "t1", "t2", "t3")
	send(t, s, tip, true, "t2") // within the deduplication window: dropped
	if got := bodies(receive(t, s, tip, 1)); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("first receive %v, want [t1]", got)
	}
	if got := receive(t, s, tip, 10); len(got) != 0 {
		t.Fatalf("received %v while t1 is in flight", bodies(got))
	}
	// t1 fails three times and moves to the DLQ on its fourth receive; the group goes on.
	for range 2 {
		s.Advance(31 * time.Second)
		if got := bodies(receive(t, s, tip, 1)); !slices.Equal(got, []string{"t1"}) {
			t.Fatalf("redelivery %v, want [t1]", got)
		}
	}
	s.Advance(31 * time.Second)
	if got := bodies(receive(t, s, tip, 10)); !slices.Equal(got, []string{"t2", "t3"}) {
		t.Fatalf("after the DLQ move %v, want [t2 t3]", got)
	}
	dlq := tip[:len(tip)-len("tip.fifo")] + "tip-dlq.fifo"
	if got := s.Bodies(dlq); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("DLQ holds %v, want [t1]", got)
	}
	s.Advance(memsqs.DedupWindow)
	send(t, s, tip, true, "t2") // after the window: delivered again
	if n, err := s.Redrive(dlq, tip); err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v", n, err)
	}
	s.Advance(31 * time.Second)
	got := receive(t, s, tip, 10)
	if !slices.Equal(bodies(got), []string{"t2", "t3", "t2", "t1"}) || got[3].Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("after the redrive %v (receive count of t1 %s), want [t2 t3 t2 t1] with t1 at 1", bodies(got), got[len(got)-1].Attributes["ApproximateReceiveCount"])
	}
}
