package sqs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/backoff"
)

// SQS limits.
const (
	// MaxBatchEntries is the most entries one SendMessageBatch may carry.
	MaxBatchEntries = 10
	// MaxBatchBytes is the most payload (bodies plus attributes) one
	// SendMessageBatch may carry, and the largest message SQS accepts.
	MaxBatchBytes = 1 << 20
)

// Sender defaults.
const (
	DefaultMaxAttempts = 10
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
)

// Message is one message to send.
type Message struct {
	ID   string // unique within one Send call; names the message in errors
	Body string
	// GroupID is the message group (FIFO queues: required; order holds
	// within a group).
	GroupID string
	// DedupID is the FIFO deduplication id: SQS drops a message whose
	// DedupID it saw in the last 5 minutes (and reports it as sent).
	DedupID string
	// Attributes become String message attributes.
	Attributes map[string]string
}

// Size is what SQS counts against its size limits: the body plus each
// attribute's name, data type and value.
func (m Message) Size() int {
	n := len(m.Body)
	for k, v := range m.Attributes {
		n += len(k) + len(attributeType) + len(v)
	}
	return n
}

const attributeType = "String"

// SenderOptions tune a Sender. Zero values take the defaults.
type SenderOptions struct {
	// MaxAttempts bounds the SendMessageBatch calls that carry one message
	// (DefaultMaxAttempts).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the jittered exponential wait after a
	// call with retryable failures (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// MaxBatchBytes caps the payload of one call (MaxBatchBytes, which is
	// also the most SQS allows).
	MaxBatchBytes int
	// Logger receives retry warnings; nil discards them.
	Logger *slog.Logger
}

// Validate reports the first invalid option.
func (o SenderOptions) Validate() error {
	switch {
	case o.MaxAttempts < 0:
		return fmt.Errorf("%w: MaxAttempts %d is negative", ErrInvalidConfig, o.MaxAttempts)
	case o.MinBackoff < 0 || o.MaxBackoff < 0:
		return fmt.Errorf("%w: negative backoff", ErrInvalidConfig)
	case o.MaxBackoff != 0 && o.MinBackoff > o.MaxBackoff:
		return fmt.Errorf("%w: MinBackoff %s above MaxBackoff %s", ErrInvalidConfig, o.MinBackoff, o.MaxBackoff)
	case o.MaxBatchBytes < 0 || o.MaxBatchBytes > MaxBatchBytes:
		return fmt.Errorf("%w: MaxBatchBytes %d outside 1..%d", ErrInvalidConfig, o.MaxBatchBytes, MaxBatchBytes)
	}
	return nil
}

func (o SenderOptions) withDefaults() SenderOptions {
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
		if o.MaxBackoff != 0 && o.MaxBackoff < o.MinBackoff {
			o.MinBackoff = o.MaxBackoff
		}
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = MaxBatchBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Sender publishes messages with SendMessageBatch. It never drops a message
// silently: Send returns nil only when SQS accepted every message, and
// otherwise a *SendError naming each message that was not sent.
//
// On a FIFO queue (URL ending in ".fifo") it keeps each group's order: a
// call carries at most one message per group, and a group's next message
// goes out only after the previous one was accepted. SQS does not promise
// that a failed entry stops later entries of its group in the same call, so
// this is the only way a retry cannot reorder a group. With one group per
// network (Nectar's tip queue) that is one message per call, which suits
// near-tip traffic.
//
// A Sender holds no per-call state and is safe for concurrent use; it does
// not bound concurrency itself (the caller bounds in-flight sends).
type Sender struct {
	client API
	opts   SenderOptions
	err    error // invalid options, returned by every Send
}

// NewSender returns a Sender using client. Invalid options are reported by
// every Send (check SenderOptions.Validate first to fail early).
func NewSender(client API, opts SenderOptions) *Sender {
	s := &Sender{client: client, opts: opts.withDefaults()}
	if err := opts.Validate(); err != nil {
		s.err = err
	} else if client == nil {
		s.err = fmt.Errorf("%w: nil SQS client", ErrInvalidConfig)
	}
	return s
}

// entry is one message in flight within a Send call.
type entry struct {
	msg      Message
	batchID  string // SendMessageBatch entry Id: the message's index
	size     int
	attempts int
	sent     bool       // SQS accepted it
	failed   bool       // given up: last says why
	last     EntryError // the latest failure, for the final report
}

// Send sends msgs to queueURL, retrying failed entries and failed calls with
// capped, jittered exponential backoff until they are accepted, fail for a
// sender fault, have been tried MaxAttempts times, or ctx ends.
func (s *Sender) Send(ctx context.Context, queueURL string, msgs []Message) error {
	if s.err != nil {
		return fmt.Errorf("sqs sender: %w", s.err)
	}
	if len(msgs) == 0 {
		return nil
	}
	fifo := IsFIFO(queueURL)
	if err := validateMessages(msgs, fifo); err != nil {
		return fmt.Errorf("send to %s: %w", queueName(queueURL), err)
	}

	sendErr := &SendError{Queue: queueName(queueURL), Total: len(msgs)}
	blocked := map[string]string{} // FIFO group -> id of the failed message
	fail := func(e *entry, ee EntryError) {
		ee.ID, ee.GroupID, ee.Attempts = e.msg.ID, e.msg.GroupID, e.attempts
		e.last = ee
		e.failed = true
		if fifo {
			if _, ok := blocked[e.msg.GroupID]; !ok {
				blocked[e.msg.GroupID] = e.msg.ID
			}
		}
	}

	all := make([]*entry, len(msgs))
	for i, m := range msgs {
		all[i] = &entry{msg: m, batchID: strconv.Itoa(i), size: m.Size()}
	}
	pending := slices.Clone(all) // prune reuses its backing array
	for _, e := range all {
		if e.size > s.opts.MaxBatchBytes {
			fail(e, EntryError{SenderFault: true,
				Err: fmt.Errorf("%w (%d bytes > %d)", ErrMessageTooLarge, e.size, s.opts.MaxBatchBytes)})
		}
	}

	round := 0 // consecutive calls with retryable failures
	for {
		pending = prune(pending, blocked, fifo, fail)
		if len(pending) == 0 {
			break
		}
		batch := nextBatch(pending, fifo, s.opts.MaxBatchBytes)
		retry, err := s.sendBatch(ctx, queueURL, batch, fail)
		if err != nil { // ctx ended
			for _, e := range pending {
				if !e.sent && !e.failed {
					fail(e, EntryError{Err: err})
				}
			}
			break
		}
		if !retry {
			round = 0
			continue
		}
		round++
		d := backoff.Wait(s.opts.MinBackoff, s.opts.MaxBackoff, round)
		s.opts.Logger.Warn("sqs send: retrying failed entries",
			"queue", sendErr.Queue, "round", round, "backoff", d)
		if err := backoff.Sleep(ctx, d); err != nil {
			for _, e := range pending {
				if !e.sent && !e.failed {
					fail(e, EntryError{Err: err, Code: e.last.Code, Message: e.last.Message})
				}
			}
			break
		}
	}

	for _, e := range all {
		if e.failed {
			sendErr.Failed = append(sendErr.Failed, e.last)
		}
	}
	if len(sendErr.Failed) > 0 {
		return sendErr
	}
	return nil
}

// prune drops sent and failed entries from pending and, on FIFO queues,
// fails the entries queued behind a failed message of their group.
func prune(pending []*entry, blocked map[string]string, fifo bool, fail func(*entry, EntryError)) []*entry {
	out := pending[:0]
	for _, e := range pending {
		if e.sent || e.failed {
			continue
		}
		if fifo {
			if head, ok := blocked[e.msg.GroupID]; ok {
				fail(e, EntryError{Err: fmt.Errorf("%w (%s, group %q)", ErrGroupBlocked, head, e.msg.GroupID)})
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// sendBatch makes one SendMessageBatch call. Accepted entries are marked
// sent; failed ones are retried later or failed for good.
// It returns retry=true when some entry stays pending after a retryable
// failure, and a non-nil error only when ctx ended.
func (s *Sender) sendBatch(ctx context.Context, queueURL string, batch []*entry,
	fail func(*entry, EntryError)) (retry bool, err error) {
	in := &awssqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL),
		Entries: make([]types.SendMessageBatchRequestEntry, len(batch))}
	for i, e := range batch {
		in.Entries[i] = requestEntry(e)
		e.attempts++
	}
	out, callErr := s.client.SendMessageBatch(ctx, in)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	// retryOrFail keeps e pending after a retryable failure unless it has
	// used up its attempts.
	retryOrFail := func(e *entry, ee EntryError) {
		if ee.SenderFault || e.attempts >= s.opts.MaxAttempts {
			fail(e, ee)
			return
		}
		e.last = ee
		retry = true
	}

	if callErr != nil {
		code, msg, senderFault := classifyCall(callErr)
		for _, e := range batch {
			retryOrFail(e, EntryError{Code: code, Message: msg, SenderFault: senderFault, Err: callErr})
		}
		return retry, nil
	}

	byID := make(map[string]*entry, len(batch))
	for _, e := range batch {
		byID[e.batchID] = e
	}
	for _, r := range out.Successful {
		if e := byID[aws.ToString(r.Id)]; e != nil {
			e.sent = true
			delete(byID, aws.ToString(r.Id))
		}
	}
	for _, f := range out.Failed {
		e := byID[aws.ToString(f.Id)]
		if e == nil {
			continue
		}
		delete(byID, aws.ToString(f.Id))
		code := aws.ToString(f.Code)
		retryOrFail(e, EntryError{Code: code, Message: aws.ToString(f.Message),
			SenderFault: !entryRetryable(code, f.SenderFault)})
	}
	for _, e := range batch { // in neither list
		if byID[e.batchID] != nil {
			retryOrFail(e, EntryError{Err: ErrNotInResponse})
		}
	}
	return retry, nil
}

func requestEntry(e *entry) types.SendMessageBatchRequestEntry {
	re := types.SendMessageBatchRequestEntry{Id: aws.String(e.batchID), MessageBody: aws.String(e.msg.Body)}
	if e.msg.GroupID != "" {
		re.MessageGroupId = aws.String(e.msg.GroupID)
	}
	if e.msg.DedupID != "" {
		re.MessageDeduplicationId = aws.String(e.msg.DedupID)
	}
	if len(e.msg.Attributes) > 0 {
		re.MessageAttributes = make(map[string]types.MessageAttributeValue, len(e.msg.Attributes))
		for k, v := range e.msg.Attributes {
			re.MessageAttributes[k] = types.MessageAttributeValue{
				DataType: aws.String(attributeType), StringValue: aws.String(v)}
		}
	}
	return re
}

// nextBatch picks the entries of the next call from pending, in order: at
// most MaxBatchEntries, at most maxBytes in total, stopping at the first
// entry that does not fit. On FIFO queues it takes only the first pending
// entry of each group.
func nextBatch(pending []*entry, fifo bool, maxBytes int) []*entry {
	var (
		batch  []*entry
		bytes  int
		groups map[string]bool
	)
	if fifo {
		groups = map[string]bool{}
	}
	for _, e := range pending {
		if len(batch) == MaxBatchEntries {
			break
		}
		if fifo {
			if groups[e.msg.GroupID] {
				continue
			}
			groups[e.msg.GroupID] = true
		}
		if len(batch) > 0 && bytes+e.size > maxBytes {
			break
		}
		batch = append(batch, e)
		bytes += e.size
	}
	return batch
}

func validateMessages(msgs []Message, fifo bool) error {
	ids := make(map[string]bool, len(msgs))
	for i, m := range msgs {
		if m.ID == "" {
			return fmt.Errorf("%w: message %d has no ID", ErrInvalidMessage, i)
		}
		if ids[m.ID] {
			return fmt.Errorf("%w: ID %q used twice", ErrInvalidMessage, m.ID)
		}
		ids[m.ID] = true
		if fifo && m.GroupID == "" {
			return fmt.Errorf("%w: message %q has no GroupID (FIFO queue)", ErrInvalidMessage, m.ID)
		}
	}
	return nil
}
