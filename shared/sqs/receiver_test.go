package sqs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

func TestReceiverReceiveAndDelete(t *testing.T) {
	client := sqstest.NewClient(t)
	ctx := context.Background()
	q := queue(t, client, false, 256<<10)
	var msgs []sqs.Message
	for i := range 14 {
		msgs = append(msgs, msg(fmt.Sprintf("r%02d", i), "payload"))
	}
	if err := sqs.NewSender(client, sqs.SenderOptions{}).Send(ctx, q, msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}

	r := sqs.NewReceiver(client)
	var handles []string
	deadline := time.Now().Add(receiveTimeout)
	for len(handles) < 14 && time.Now().Before(deadline) {
		got, err := r.Receive(ctx, q, 10, time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		for _, m := range got {
			if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
				t.Errorf("system attributes missing: %v", m.Attributes)
			}
			if aws.ToString(m.MessageAttributes["kind"].StringValue) != "test" {
				t.Errorf("message attributes missing: %v", m.MessageAttributes)
			}
			handles = append(handles, aws.ToString(m.ReceiptHandle))
		}
	}
	if len(handles) != 14 {
		t.Fatalf("received %d, want 14", len(handles))
	}
	// 14 handles: two DeleteMessageBatch calls.
	if err := r.Delete(ctx, q, handles...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := sqstest.Count(t, client, q); n != 0 {
		t.Errorf("%d messages left after Delete, want 0", n)
	}

	// fauxqs accepts any receipt handle on delete; a missing queue fails.
	gone := q + "-gone"
	err := r.Delete(ctx, gone, "h0", "h1")
	if err == nil || !strings.Contains(err.Error(), "2 of 2 not deleted: handles 0-1") {
		t.Errorf("Delete(missing queue) = %v, want an error naming handles 0-1", err)
	}
	if _, err := r.Receive(ctx, q, 11, 0); !errors.Is(err, sqs.ErrInvalidConfig) {
		t.Errorf("Receive(max 11) = %v, want ErrInvalidConfig", err)
	}
}

func TestNewClientNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	_, err := sqs.NewClient(context.Background(), sqs.Config{Endpoint: "http://127.0.0.1:1"})
	if !errors.Is(err, sqs.ErrInvalidConfig) {
		t.Fatalf("NewClient without region = %v, want ErrInvalidConfig", err)
	}
}
