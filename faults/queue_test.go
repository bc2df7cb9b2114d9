package faults_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/infra/local/eventsource/eventsourcetest"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

// messages turns envelopes into what the follower's SQS sink sends: the
// envelope in base64 with its batch id, kind and network as attributes,
// and, for the FIFO tip queue (group set), the network's message group and
// the batch id as the deduplication id.
func messages(tb testing.TB, group string, envs []*batch.Envelope) []sqs.Message {
	tb.Helper()
	out := make([]sqs.Message, len(envs))
	for i, e := range envs {
		raw, err := batch.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		id := hex.EncodeToString(e.ID())
		out[i] = sqs.Message{ID: strconv.Itoa(i), Body: base64.StdEncoding.EncodeToString(raw),
			Attributes: map[string]string{batch.AttrBatchID: id, batch.AttrKind: e.Kind.String(), batch.AttrNetwork: e.Network}}
		if group != "" {
			out[i].GroupID, out[i].DedupID = group, id
		}
	}
	return out
}

func send(tb testing.TB, client sqs.API, queueURL string, msgs []sqs.Message) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sqs.NewSender(client, sqs.SenderOptions{}).Send(ctx, queueURL, msgs); err != nil {
		tb.Fatalf("send: %v", err)
	}
}

// queues creates the test's own queues and dead-letter queues.
func queues(tb testing.TB, client sqs.API, opts sqs.QueueOptions) (history, tip string, names sqs.QueueNames) {
	tb.Helper()
	prefix := sqstest.QueueName(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	history, tip, err := sqs.CreateQueues(ctx, client, prefix, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return history, tip, sqs.NamesFor(prefix)
}

func queueURL(tb testing.TB, client *awssqs.Client, name string) string {
	tb.Helper()
	out, err := client.GetQueueUrl(context.Background(), &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		tb.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// poll runs a Poller of queueURL into invoke until the test ends.
func poll(tb testing.TB, client sqs.API, queueURL string, invoke eventsource.InvokeFunc) *eventsource.Poller {
	tb.Helper()
	return eventsourcetest.Run(tb, &eventsource.Poller{Receiver: sqs.NewReceiver(client), QueueURL: queueURL, Invoke: invoke,
		BatchSize: 10, Wait: time.Second, Logger: testLogger(tb)}, time.Minute)
}

// batchID is a record's batch id attribute.
func batchID(r events.SQSMessage) string {
	if a, ok := r.MessageAttributes[batch.AttrBatchID]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}
