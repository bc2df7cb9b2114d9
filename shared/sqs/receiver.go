package sqs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// MaxWait is the longest long-poll SQS allows.
const MaxWait = 20 * time.Second

// Receiver reads and deletes messages: the consuming half, for the local
// event-source poller (SQS → Lambda handler → delete) and tests.
type Receiver struct {
	client API
}

// NewReceiver returns a Receiver using client.
func NewReceiver(client API) *Receiver { return &Receiver{client: client} }

// Receive long-polls queueURL for up to wait (whole seconds, at most
// MaxWait) and returns at most max (1..10) messages, with all system
// attributes (ApproximateReceiveCount, SentTimestamp, MessageGroupId, ...)
// and all message attributes. An empty result is not an error.
func (r *Receiver) Receive(ctx context.Context, queueURL string, max int, wait time.Duration) ([]types.Message, error) {
	if max < 1 || max > MaxBatchEntries {
		return nil, fmt.Errorf("%w: receive max %d outside 1..%d", ErrInvalidConfig, max, MaxBatchEntries)
	}
	if wait < 0 || wait > MaxWait {
		return nil, fmt.Errorf("%w: receive wait %s outside 0..%s", ErrInvalidConfig, wait, MaxWait)
	}
	out, err := r.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queueURL),
		MaxNumberOfMessages:         int32(max),
		WaitTimeSeconds:             int32(wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queueName(queueURL), err)
	}
	return out.Messages, nil
}

// Delete deletes the messages with the given receipt handles, ten per call.
// It tries every handle and returns an error naming (by position) each one
// that SQS did not delete.
func (r *Receiver) Delete(ctx context.Context, queueURL string, receiptHandles ...string) error {
	var (
		failed  []string
		nFailed int
	)
	for start := 0; start < len(receiptHandles); start += MaxBatchEntries {
		end := min(start+MaxBatchEntries, len(receiptHandles))
		in := &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL)}
		for i := start; i < end; i++ {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(receiptHandles[i])})
		}
		out, err := r.client.DeleteMessageBatch(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("delete from %s: %w", queueName(queueURL), err)
			}
			failed = append(failed, fmt.Sprintf("handles %d-%d (%v)", start, end-1, err))
			nFailed += end - start
			continue
		}
		for _, f := range out.Failed {
			failed = append(failed, fmt.Sprintf("handle %s (%s: %s)",
				aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
			nFailed++
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("delete from %s: %d of %d not deleted: %s",
			queueName(queueURL), nFailed, len(receiptHandles), strings.Join(failed, "; "))
	}
	return nil
}

// ChangeVisibility makes a received message visible again after timeout
// (0: at once), e.g. to retry a failed message sooner than the queue's
// visibility timeout.
func (r *Receiver) ChangeVisibility(ctx context.Context, queueURL, receiptHandle string, timeout time.Duration) error {
	_, err := r.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(queueURL),
		ReceiptHandle:     aws.String(receiptHandle),
		VisibilityTimeout: int32(timeout / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change visibility in %s: %w", queueName(queueURL), err)
	}
	return nil
}
