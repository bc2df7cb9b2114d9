package sqs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

func attributes(t *testing.T, client sqs.API, queueURL string) map[string]string {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("attributes of %s: %v", queueURL, err)
	}
	return out.Attributes
}

func queueURL(t *testing.T, client sqs.API, name string) string {
	t.Helper()
	out, err := client.GetQueueUrl(context.Background(), &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("queue url of %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func TestCreateQueues(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	prefix := sqstest.QueueName(t)
	opts := sqs.QueueOptions{MaxMessageBytes: 256 << 10, MaxReceiveCount: 2, VisibilityTimeout: 7 * time.Second}
	history, tip, err := sqs.CreateQueues(ctx, client, prefix, opts)
	if err != nil {
		t.Fatalf("CreateQueues: %v", err)
	}
	names := sqs.NamesFor(prefix)
	if !strings.HasSuffix(history, "/"+names.History) || !strings.HasSuffix(tip, "/"+names.Tip) {
		t.Fatalf("urls %s, %s do not end in %s, %s", history, tip, names.History, names.Tip)
	}

	for _, q := range []struct {
		url, dlq string
		fifo     bool
	}{{history, names.HistoryDLQ, false}, {tip, names.TipDLQ, true}} {
		a := attributes(t, client, q.url)
		dlqURL := queueURL(t, client, q.dlq)
		dlq := attributes(t, client, dlqURL)
		want := map[string]string{"MaximumMessageSize": "262144", "VisibilityTimeout": "7"}
		if q.fifo {
			want["FifoQueue"] = "true"
			want["ContentBasedDeduplication"] = "false"
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s: %s = %q, want %q", q.url, k, a[k], v)
			}
		}
		if got := dlq["FifoQueue"] == "true"; got != q.fifo {
			t.Errorf("%s: FIFO %v, want %v", q.dlq, got, q.fifo)
		}
		var rp struct {
			DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
			MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &rp); err != nil {
			t.Fatalf("%s: RedrivePolicy %q: %v", q.url, a["RedrivePolicy"], err)
		}
		if rp.DeadLetterTargetArn != dlq["QueueArn"] || strings.Trim(string(rp.MaxReceiveCount), `"`) != "2" {
			t.Errorf("%s: RedrivePolicy %s, want target %s and maxReceiveCount 2", q.url, a["RedrivePolicy"], dlq["QueueArn"])
		}
	}

	// Idempotent.
	h2, t2, err := sqs.CreateQueues(ctx, client, prefix, opts)
	if err != nil || h2 != history || t2 != tip {
		t.Errorf("second CreateQueues = %s, %s, %v; want the same queues", h2, t2, err)
	}
}

func TestCreateQueuesRedrive(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	prefix := sqstest.QueueName(t)
	history, _, err := sqs.CreateQueues(ctx, client, prefix, sqs.QueueOptions{MaxReceiveCount: 2})
	if err != nil {
		t.Fatalf("CreateQueues: %v", err)
	}
	if err := sqs.NewSender(client, sqs.SenderOptions{}).Send(ctx, history, []sqs.Message{msg("poison", "bad")}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := sqs.NewReceiver(client)
	for i := 1; i <= 2; i++ {
		got, err := r.Receive(ctx, history, 1, time.Second)
		if err != nil || len(got) != 1 {
			t.Fatalf("receive %d: %d messages, %v", i, len(got), err)
		}
		if n := got[0].Attributes["ApproximateReceiveCount"]; n != fmt.Sprint(i) {
			t.Errorf("receive %d: ApproximateReceiveCount %s", i, n)
		}
		if err := r.ChangeVisibility(ctx, history, aws.ToString(got[0].ReceiptHandle), 0); err != nil {
			t.Fatalf("ChangeVisibility: %v", err)
		}
	}
	if got, err := r.Receive(ctx, history, 1, time.Second); err != nil || len(got) != 0 {
		t.Fatalf("third receive: %d messages, %v; want it moved to the DLQ", len(got), err)
	}
	dead := sqstest.ReceiveAll(t, client, queueURL(t, client, sqs.NamesFor(prefix).HistoryDLQ), 1, receiveTimeout)
	if len(dead) != 1 || aws.ToString(dead[0].Body) != "bad" {
		t.Fatalf("DLQ holds %d messages, want the poison one", len(dead))
	}
}

func TestCreateQueuesRejectsBadInput(t *testing.T) {
	client := sqstest.NewClient(t)
	for name, tc := range map[string]struct {
		prefix string
		opts   sqs.QueueOptions
	}{
		"bad prefix":   {"has space", sqs.QueueOptions{}},
		"long prefix":  {strings.Repeat("a", 68), sqs.QueueOptions{}},
		"huge message": {"ok", sqs.QueueOptions{MaxMessageBytes: 2 << 20}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := sqs.CreateQueues(context.Background(), client, tc.prefix, tc.opts); !errors.Is(err, sqs.ErrInvalidConfig) {
				t.Errorf("CreateQueues = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
