package lambdafn

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
)

// Message attributes the handler adds to a message it sends to a
// dead-letter queue itself.
const (
	// AttrFailureReason is why the message can never apply (the error, cut
	// to MaxReasonBytes).
	AttrFailureReason = "nectar_failure_reason"
	// AttrFailedQueue is the name of the queue the message came from.
	AttrFailedQueue = "nectar_failed_queue"
	// MaxReasonBytes bounds AttrFailureReason: the follower leaves room for a
	// few hundred bytes of attributes in a full-size message.
	MaxReasonBytes = 200
)

// Queue is what the handler does to SQS itself (see Handler.Queue).
type Queue interface {
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, d time.Duration) error
	// DeadLetter sends a copy of m (body, message attributes, and on a FIFO
	// queue its group and deduplication id) to dlqURL, with reason and the
	// source queue as message attributes.
	DeadLetter(ctx context.Context, dlqURL string, m events.SQSMessage, reason string) error
}

// QueueURLs are the URLs of a queue the function consumes and of its
// dead-letter queue (the one its redrive policy names).
type QueueURLs struct {
	URL, DLQ string
}

// SQSQueue is Queue over an SQS client.
type SQSQueue struct {
	Client sqs.API
}

var _ Queue = SQSQueue{}

// ChangeVisibility implements Queue.
func (q SQSQueue) ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, d time.Duration) error {
	return sqs.NewReceiver(q.Client).ChangeVisibility(ctx, queueURL, receiptHandle, d)
}

// DeadLetter implements Queue.
func (q SQSQueue) DeadLetter(ctx context.Context, dlqURL string, m events.SQSMessage, reason string) error {
	attrs := make(map[string]types.MessageAttributeValue, len(m.MessageAttributes)+2)
	for k, v := range m.MessageAttributes {
		a := types.MessageAttributeValue{DataType: aws.String(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			a.StringListValues, a.BinaryListValues = v.StringListValues, v.BinaryListValues
		}
		attrs[k] = a
	}
	attrs[AttrFailureReason] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(cut(reason, MaxReasonBytes))}
	attrs[AttrFailedQueue] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(arnQueueName(m.EventSourceARN))}
	entry := types.SendMessageBatchRequestEntry{Id: aws.String("0"), MessageBody: aws.String(m.Body), MessageAttributes: attrs}
	if g := m.Attributes["MessageGroupId"]; g != "" {
		dedup := m.Attributes["MessageDeduplicationId"]
		if dedup == "" {
			dedup = m.MessageId
		}
		entry.MessageGroupId, entry.MessageDeduplicationId = aws.String(g), aws.String(dedup)
	}
	out, err := q.Client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(dlqURL), Entries: []types.SendMessageBatchRequestEntry{entry}})
	if err != nil {
		return fmt.Errorf("send to %s: %w", urlQueueName(dlqURL), err)
	}
	for _, f := range out.Failed {
		return fmt.Errorf("send to %s: %s: %s", urlQueueName(dlqURL), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return nil
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// arnQueueName is the queue name in an SQS ARN (arn:aws:sqs:REGION:ACCOUNT:NAME).
func arnQueueName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// urlQueueName is the queue name in a queue URL (the last path element).
func urlQueueName(u string) string {
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		return u[i+1:]
	}
	return u
}
