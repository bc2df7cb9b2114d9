// Package sqstest gives tests a real SQS: the fauxqs emulator that
// infra/local/sqs.sh starts on loopback. Its endpoint comes from
// NECTAR_TEST_SQS_ENDPOINT:
//
//	source "$(infra/local/sqs.sh up)"
//
// When it is not set, tests fail under CI=true and skip loudly elsewhere.
// fauxqs keeps its state in memory: every test makes queues of its own
// (QueueName) and never relies on what another test left.
package sqstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
)

// EnvEndpoint names the environment variable holding the emulator's URL.
const EnvEndpoint = "NECTAR_TEST_SQS_ENDPOINT"

// Region and static credentials the tests use against the emulator.
const (
	Region          = "us-east-1"
	AccessKeyID     = "test"
	SecretAccessKey = "test"
)

// Endpoint returns the emulator's URL. When it is not configured it fails
// the test under CI=true and otherwise skips it, saying why.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep != "" {
		return ep
	}
	const msg = EnvEndpoint + " is not set: run `source \"$(infra/local/sqs.sh up)\"` first"
	if os.Getenv("CI") == "true" {
		tb.Fatalf("required test service missing: %s", msg)
	}
	tb.Skipf("SKIPPING: %s", msg)
	return ""
}

// Config is the sqs.Config of the emulator (skips or fails like Endpoint).
func Config(tb testing.TB) sqs.Config {
	tb.Helper()
	return sqs.Config{Region: Region, Endpoint: Endpoint(tb),
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
}

// NewClient returns a client of the emulator (skips or fails like Endpoint).
func NewClient(tb testing.TB) *awssqs.Client {
	tb.Helper()
	c, err := sqs.NewClient(context.Background(), Config(tb))
	if err != nil {
		tb.Fatalf("sqs client: %v", err)
	}
	return c
}

var unsafeRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// QueueName returns a queue name (or CreateQueues prefix) unique to this
// test and run: the test's name, cut to fit, and random hex. It leaves room
// for CreateQueues' longest suffix ("-tip-dlq.fifo").
func QueueName(tb testing.TB) string {
	tb.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		tb.Fatalf("random queue name: %v", err)
	}
	base := unsafeRE.ReplaceAllString(tb.Name(), "-")
	if len(base) > 48 {
		base = base[len(base)-48:]
	}
	return "t-" + base + "-" + hex.EncodeToString(r[:])
}

// CreateQueue creates a queue (append ".fifo" to name for a FIFO queue)
// with the given attributes and returns its URL.
func CreateQueue(tb testing.TB, client sqs.API, name string, attrs map[string]string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		tb.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// ReceiveAll receives and deletes messages from queueURL until it has n of
// them or timeout passes, and returns them in the order received. It works
// on FIFO queues, where a receive returns the next message of a group only
// after the previous one was deleted.
func ReceiveAll(tb testing.TB, client sqs.API, queueURL string, n int, timeout time.Duration) []types.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := sqs.NewReceiver(client)
	var got []types.Message
	for len(got) < n {
		msgs, err := r.Receive(ctx, queueURL, 10, time.Second)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			tb.Fatalf("receive: %v", err)
		}
		handles := make([]string, 0, len(msgs))
		for _, m := range msgs {
			got = append(got, m)
			handles = append(handles, aws.ToString(m.ReceiptHandle))
		}
		if len(handles) > 0 {
			if err := r.Delete(ctx, queueURL, handles...); err != nil {
				tb.Fatalf("delete: %v", err)
			}
		}
	}
	return got
}

// Count returns the messages in queueURL, visible and in flight (SQS's
// approximate counts; exact on the emulator).
func Count(tb testing.TB, client sqs.API, queueURL string) int {
	tb.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		tb.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	} {
		v, err := strconv.Atoi(out.Attributes[string(k)])
		if err != nil {
			tb.Fatalf("queue attribute %s: %v", k, err)
		}
		n += v
	}
	return n
}
