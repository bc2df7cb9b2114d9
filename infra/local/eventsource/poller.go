// Package eventsource is the local stand-in for Lambda's SQS event source
// mapping, for tests and the local pipeline: a Poller receives messages from
// a queue, hands them to a function as the events.SQSEvent Lambda would
// build, and deletes every message the function did not report as failed
// (ReportBatchItemFailures). Failed messages stay on the queue, reappear
// after its visibility timeout and, after its redrive policy's
// maxReceiveCount, move to the dead-letter queue, exactly as in AWS (the
// queue does that, not the Poller).
//
// An RIE runs a function's real bootstrap under the AWS Lambda runtime
// interface emulator (infra/local/lambda.sh builds it); its Invoke is a
// Poller's Invoke.
//
// What it does not do: scale pollers with the queue's depth or maximum
// concurrency. One Poller invokes one batch at a time. With a
// BatchingWindow (MaximumBatchingWindowInSeconds) it gathers a batch of up
// to 10,000 messages over several receives, as Lambda does, within Lambda's
// 6 MB invocation payload.
package eventsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/backoff"
	"github.com/nectar-indexer/nectar/shared/sqs"
)

// Defaults for a Poller.
const (
	// DefaultBatchSize is Lambda's default for SQS event sources, and SQS's
	// maximum per receive.
	DefaultBatchSize = 10
	// DefaultWait is the long-poll of one receive. Lambda waits 20 s; a
	// shorter wait lets a Poller stop sooner.
	DefaultWait = time.Second
	// MaxBatchSize is Lambda's largest batch for a standard queue, with a
	// batching window.
	MaxBatchSize = 10000
	// MaxPayload is Lambda's limit on an invocation's payload (6 MB), which
	// bounds a batch whatever its BatchSize.
	MaxPayload = 6 << 20
	// DefaultMaxMessageBytes is SQS's default largest message (256 KiB).
	DefaultMaxMessageBytes = 256 << 10
	// EventSource is the eventSource of every SQS record.
	EventSource = "aws:sqs"

	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// InvokeFunc calls the function with one event and returns its answer. An
// error means the invocation failed as a whole (a handler error, a crash, a
// timeout, an answer that is not JSON): every message of the batch is
// retried.
type InvokeFunc func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Poller feeds one queue to one function, as an event source mapping with
// ReportBatchItemFailures does. Set the fields, then call Run (or Poll).
type Poller struct {
	Receiver *sqs.Receiver
	QueueURL string
	// QueueARN is every record's eventSourceARN, and its region their
	// awsRegion. Empty: made up from QueueURL (see ARNFromURL); QueueARN
	// asks the queue for the real one.
	QueueARN string
	Invoke   InvokeFunc
	// BatchSize is the most messages per invocation, 1..10
	// (DefaultBatchSize when 0), or up to MaxBatchSize with a BatchingWindow.
	BatchSize int
	// BatchingWindow, above 0, is MaximumBatchingWindowInSeconds: one
	// invocation's batch is gathered over receives of up to 10 messages for
	// at most this long, until it holds BatchSize messages or MaxPayload of
	// bodies would not take another receive (each message counted as
	// MaxMessageBytes until received).
	BatchingWindow time.Duration
	// MaxMessageBytes is the queue's largest message (DefaultMaxMessageBytes when 0).
	MaxMessageBytes int
	// Wait is each receive's long poll, whole seconds up to 20 s
	// (DefaultWait when 0; a negative Wait polls without waiting).
	Wait time.Duration
	// Logger receives failed invocations and deletes; nil discards.
	Logger *slog.Logger

	stats struct {
		invocations, received, deleted, failed, invokeErrors atomic.Int64
	}
}

// Result is what one Poll did.
type Result struct {
	Received int // messages handed to the function
	Deleted  int // deleted after the invocation: the ones that succeeded
	Failed   int // left on the queue to be retried
}

// Stats are a Poller's totals since it was made.
type Stats struct {
	Invocations  int64 // batches handed to the function
	Received     int64 // messages received
	Deleted      int64 // messages deleted (succeeded)
	Failed       int64 // messages left to be retried
	InvokeErrors int64 // invocations that failed as a whole
}

// Stats returns the totals so far. Safe to call while Run runs.
func (p *Poller) Stats() Stats {
	return Stats{
		Invocations:  p.stats.invocations.Load(),
		Received:     p.stats.received.Load(),
		Deleted:      p.stats.deleted.Load(),
		Failed:       p.stats.failed.Load(),
		InvokeErrors: p.stats.invokeErrors.Load(),
	}
}

func (p *Poller) validate() error {
	switch {
	case p.Receiver == nil:
		return fmt.Errorf("%w: no Receiver", ErrInvalidPoller)
	case p.QueueURL == "":
		return fmt.Errorf("%w: no QueueURL", ErrInvalidPoller)
	case p.Invoke == nil:
		return fmt.Errorf("%w: no Invoke", ErrInvalidPoller)
	case p.BatchingWindow == 0 && (p.BatchSize < 0 || p.BatchSize > sqs.MaxBatchEntries):
		return fmt.Errorf("%w: BatchSize %d outside 1..%d without a BatchingWindow", ErrInvalidPoller, p.BatchSize, sqs.MaxBatchEntries)
	case p.BatchSize < 0 || p.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: BatchSize %d outside 1..%d", ErrInvalidPoller, p.BatchSize, MaxBatchSize)
	case p.BatchingWindow < 0 || p.BatchingWindow > 300*time.Second:
		return fmt.Errorf("%w: BatchingWindow %s outside 0..300s", ErrInvalidPoller, p.BatchingWindow)
	case p.Wait > sqs.MaxWait:
		return fmt.Errorf("%w: Wait %s over %s", ErrInvalidPoller, p.Wait, sqs.MaxWait)
	}
	return nil
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Run polls until ctx is cancelled, then returns nil; it returns an error
// only for an invalid Poller. A failed receive, invocation or delete is
// logged and followed by a capped, jittered backoff.
func (p *Poller) Run(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return err
	}
	log := p.logger().With("queue", queueName(p.QueueURL))
	retry := backoff.Exponential{Min: minBackoff, Max: maxBackoff}
	for ctx.Err() == nil {
		_, err := p.Poll(ctx)
		if err == nil {
			retry.Reset()
			continue
		}
		if ctx.Err() != nil {
			break
		}
		wait := retry.Next()
		log.Warn("poll", "err", err, "retry_in", wait.String())
		_ = backoff.Sleep(ctx, wait)
	}
	return nil
}

// Poll does one round: receive up to BatchSize messages (waiting up to
// Wait), invoke the function with them if there are any, and delete those
// it did not report as failed. An invocation that fails as a whole deletes
// nothing and returns an error wrapping ErrInvoke; so does an answer that
// names a message not in the batch (Lambda then fails the whole batch too).
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	if err := p.validate(); err != nil {
		return Result{}, err
	}
	size := p.BatchSize
	if size == 0 {
		size = DefaultBatchSize
	}
	wait := p.Wait
	if wait == 0 {
		wait = DefaultWait
	}
	msgs, err := p.receive(ctx, size, max(wait, 0))
	if err != nil || len(msgs) == 0 {
		return Result{}, err
	}
	arn := p.QueueARN
	if arn == "" {
		arn = ARNFromURL(p.QueueURL, "")
	}
	ev := NewEvent(arn, msgs)
	res := Result{Received: len(msgs)}
	p.stats.invocations.Add(1)
	p.stats.received.Add(int64(len(msgs)))

	resp, err := p.Invoke(ctx, ev)
	var failed map[string]bool
	if err == nil {
		failed, err = failures(ev, resp)
	}
	if err != nil {
		res.Failed = len(msgs)
		p.stats.failed.Add(int64(len(msgs)))
		p.stats.invokeErrors.Add(1)
		return res, fmt.Errorf("%w (%d message(s) left to retry): %w", ErrInvoke, len(msgs), err)
	}
	var handles []string
	for _, r := range ev.Records {
		if !failed[r.MessageId] {
			handles = append(handles, r.ReceiptHandle)
		}
	}
	res.Failed = len(msgs) - len(handles)
	p.stats.failed.Add(int64(res.Failed))
	if len(handles) > 0 {
		if err := p.Receiver.Delete(ctx, p.QueueURL, handles...); err != nil {
			// The undeleted ones come back after the visibility timeout:
			// the function must be idempotent anyway, as in AWS.
			return res, err
		}
	}
	res.Deleted = len(handles)
	p.stats.deleted.Add(int64(res.Deleted))
	return res, nil
}

// receive gathers one batch: one receive, or with a BatchingWindow as many
// as fill it within the window and the payload limit.
func (p *Poller) receive(ctx context.Context, size int, wait time.Duration) ([]types.Message, error) {
	if p.BatchingWindow <= 0 {
		return p.Receiver.Receive(ctx, p.QueueURL, size, wait)
	}
	maxMsg := p.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageBytes
	}
	end := time.Now().Add(p.BatchingWindow)
	var msgs []types.Message
	payload := 0
	for {
		n := min(sqs.MaxBatchEntries, size-len(msgs), (MaxPayload-payload)/maxMsg)
		left := time.Until(end)
		if n < 1 || (left <= 0 && len(msgs) > 0) {
			return msgs, nil
		}
		w := min(wait, left.Truncate(time.Second))
		if len(msgs) > 0 {
			w = max(w, 0)
		}
		got, err := p.Receiver.Receive(ctx, p.QueueURL, n, max(w, 0))
		if err != nil {
			// What was received comes back after the visibility timeout.
			return nil, err
		}
		for _, m := range got {
			payload += len(aws.ToString(m.Body)) + recordBytes
		}
		msgs = append(msgs, got...)
		if len(got) == 0 && (len(msgs) > 0 || left <= 0) {
			return msgs, nil
		}
	}
}

// recordBytes is what a record adds to its body in the event's JSON: ids,
// receipt handle, attributes.
const recordBytes = 1 << 10

// failures returns the message ids resp reports as failed. Like Lambda, it
// treats an answer naming an empty or unknown id as a failure of the whole
// batch.
func failures(ev events.SQSEvent, resp events.SQSEventResponse) (map[string]bool, error) {
	if len(resp.BatchItemFailures) == 0 {
		return nil, nil
	}
	inBatch := make(map[string]bool, len(ev.Records))
	for _, r := range ev.Records {
		inBatch[r.MessageId] = true
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("%w: batchItemFailures names %q, not a message of the batch", ErrBadResponse, f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

// NewEvent builds the event Lambda's SQS event source hands a function for
// msgs, received with all system and message attributes: one record per
// message, in order, with its id, receipt handle, body, MD5s, system
// attributes as strings (ApproximateReceiveCount, SentTimestamp, and on a
// FIFO queue MessageGroupId, MessageDeduplicationId, SequenceNumber),
// message attributes with stringValue or binaryValue, empty list values and
// dataType, eventSource "aws:sqs", eventSourceARN queueARN and awsRegion
// taken from it.
func NewEvent(queueARN string, msgs []types.Message) events.SQSEvent {
	region := arnRegion(queueARN)
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		r := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             make(map[string]string, len(m.Attributes)),
			MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
			EventSourceARN:         queueARN,
			EventSource:            EventSource,
			AWSRegion:              region,
		}
		for k, v := range m.Attributes {
			r.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			a := events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: v.StringListValues,
				BinaryListValues: v.BinaryListValues,
				DataType:         aws.ToString(v.DataType),
			}
			// Lambda sends empty lists, never null.
			if a.StringListValues == nil {
				a.StringListValues = []string{}
			}
			if a.BinaryListValues == nil {
				a.BinaryListValues = [][]byte{}
			}
			r.MessageAttributes[k] = a
		}
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// QueueARN asks SQS for a queue's ARN.
func QueueARN(ctx context.Context, client sqs.API, queueURL string) (string, error) {
	out, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("get arn of %s: %w", queueName(queueURL), err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("get arn of %s: %w", queueName(queueURL), errors.New("no QueueArn in the answer"))
	}
	return arn, nil
}

// ARNFromURL makes up a queue ARN from a queue URL of the form
// http(s)://HOST/ACCOUNT/NAME: arn:aws:sqs:REGION:ACCOUNT:NAME, with REGION
// us-east-1 when empty, and account 000000000000 when the URL has none.
func ARNFromURL(queueURL, region string) string {
	if region == "" {
		region = "us-east-1"
	}
	account, name := "000000000000", queueName(queueURL)
	if rest, ok := strings.CutSuffix(queueURL, "/"+name); ok {
		if i := strings.LastIndexByte(rest, '/'); i >= 0 && isDigits(rest[i+1:]) {
			account = rest[i+1:]
		}
	}
	return "arn:aws:sqs:" + region + ":" + account + ":" + name
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// arnRegion is the region field of an ARN (arn:PARTITION:SERVICE:REGION:...).
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

func queueName(queueURL string) string {
	if i := strings.LastIndexByte(queueURL, '/'); i >= 0 {
		return queueURL[i+1:]
	}
	return queueURL
}
