// Package memsqs is Amazon SQS in memory, on a clock its user moves: the
// queue the deterministic simulation (sim/) runs the pipeline over. It
// implements shared/sqs.API, so the real Sender, Receiver, event-source
// Poller and Lambda handler run over it unchanged.
//
// What it keeps of SQS's semantics, the parts Nectar depends on:
//   - at-least-once delivery: a received message comes back when its
//     visibility timeout passes without a delete, and Drop makes deletes
//     get lost, as a standard queue's occasional duplicates do;
//   - a standard queue returns visible messages in an order drawn from its
//     random source, not the order they were sent;
//   - a FIFO queue returns each message group in order and nothing more of a
//     group while one of its messages is in flight; a deduplication id seen
//     in the last five minutes is accepted and dropped;
//   - ApproximateReceiveCount counts receives, and a message received
//     maxReceiveCount times moves to the RedrivePolicy's dead-letter queue on
//     its next receive;
//   - a delete or visibility change with a receipt handle that is not the
//     message's newest does nothing (a delete still reports success);
//   - ChangeMessageVisibility on a message not in flight fails.
//
// What it does not do: long polling (a receive never waits), retention
// periods, delay queues, message timers, batch-size checks beyond ten
// entries and MaximumMessageSize.
package memsqs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/shared/sqs"
)

// DedupWindow is how long a FIFO queue remembers a deduplication id.
const DedupWindow = 5 * time.Minute

const (
	account = "000000000000"
	region  = "us-east-1"
	host    = "http://memsqs.invalid"
)

// Server holds the queues. It is safe for concurrent use.
type Server struct {
	mu     sync.Mutex
	now    time.Time
	rnd    *rand.Rand
	queues map[string]*queue // by name
	seq    int64
	drop   int // deletes to lose
}

var _ sqs.API = (*Server)(nil)

// New returns an empty Server whose clock starts at start and whose standard
// queues draw their delivery order from seed.
func New(start time.Time, seed uint64) *Server {
	return &Server{now: start, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), queues: map[string]*queue{}}
}

type queue struct {
	name, url, arn string
	fifo           bool
	visibility     time.Duration
	maxBytes       int
	dlqARN         string
	maxReceive     int
	msgs           []*message // in send order
	dedup          map[string]time.Time
}

type message struct {
	id, body      string
	attrs         map[string]types.MessageAttributeValue
	group, dedup  string
	seq           int64
	sent          time.Time
	visibleAt     time.Time
	receives      int
	firstReceive  time.Time
	handle        string
	everReceived  bool
	deadLetterSrc string
}

// Now is the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the clock forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

// Drop makes the next n deletes report success and delete nothing: the
// messages come back after their visibility timeout, as duplicates.
func (s *Server) Drop(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop += n
}

// Depth is how many messages the queue at url holds, visible or in flight.
func (s *Server) Depth(url string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(url)
	if q == nil {
		return 0
	}
	return len(q.msgs)
}

// Bodies returns the bodies of the messages the queue at url holds, in send order.
func (s *Server) Bodies(url string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(url)
	if q == nil {
		return nil
	}
	out := make([]string, len(q.msgs))
	for i, m := range q.msgs {
		out[i] = m.body
	}
	return out
}

// Redrive moves every message of the dead-letter queue at dlqURL back to
// the queue at url, in order, as a redrive (StartMessageMoveTask) does:
// same body, attributes, group and deduplication id, receive count reset.
// It returns how many moved.
func (s *Server) Redrive(dlqURL, url string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to := s.byURL(dlqURL), s.byURL(url)
	if from == nil || to == nil {
		return 0, fmt.Errorf("memsqs: redrive %s to %s: no such queue", dlqURL, url)
	}
	n := len(from.msgs)
	for _, m := range from.msgs {
		m.receives, m.handle, m.visibleAt, m.firstReceive = 0, "", s.now, time.Time{}
		s.seq++
		m.seq = s.seq
		to.msgs = append(to.msgs, m)
	}
	from.msgs = nil
	return n, nil
}

func (s *Server) byURL(url string) *queue {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		url = url[i+1:]
	}
	return s.queues[url]
}

func (s *Server) byARN(arn string) *queue {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		arn = arn[i+1:]
	}
	return s.queues[arn]
}

func errNoQueue(url string) error {
	return &types.QueueDoesNotExist{Message: aws.String("no queue " + url)}
}

// CreateQueue implements sqs.API.
func (s *Server) CreateQueue(_ context.Context, in *awssqs.CreateQueueInput, _ ...func(*awssqs.Options)) (*awssqs.CreateQueueOutput, error) {
	name := aws.ToString(in.QueueName)
	if name == "" || len(name) > 80 {
		return nil, &types.InvalidAttributeName{Message: aws.String("bad queue name " + strconv.Quote(name))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		return &awssqs.CreateQueueOutput{QueueUrl: aws.String(q.url)}, nil
	}
	q := &queue{name: name, url: host + "/" + account + "/" + name, arn: "arn:aws:sqs:" + region + ":" + account + ":" + name,
		fifo: strings.HasSuffix(name, ".fifo"), visibility: 30 * time.Second, maxBytes: 1 << 20, dedup: map[string]time.Time{}}
	a := in.Attributes
	if v, ok := a[string(types.QueueAttributeNameFifoQueue)]; ok && (v == "true") != q.fifo {
		return nil, &types.InvalidAttributeValue{Message: aws.String("FifoQueue " + v + " for queue " + name)}
	}
	if v, ok := a[string(types.QueueAttributeNameVisibilityTimeout)]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, &types.InvalidAttributeValue{Message: aws.String("VisibilityTimeout " + v)}
		}
		q.visibility = time.Duration(n) * time.Second
	}
	if v, ok := a[string(types.QueueAttributeNameMaximumMessageSize)]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 1<<20 {
			return nil, &types.InvalidAttributeValue{Message: aws.String("MaximumMessageSize " + v)}
		}
		q.maxBytes = n
	}
	if v, ok := a[string(types.QueueAttributeNameContentBasedDeduplication)]; ok && v == "true" {
		return nil, &types.InvalidAttributeValue{Message: aws.String("ContentBasedDeduplication is not simulated")}
	}
	if v, ok := a[string(types.QueueAttributeNameRedrivePolicy)]; ok {
		var p struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(v), &p); err != nil || p.MaxReceiveCount < 1 {
			return nil, &types.InvalidAttributeValue{Message: aws.String("RedrivePolicy " + v)}
		}
		dlq := s.byARN(p.DeadLetterTargetArn)
		if dlq == nil || dlq.fifo != q.fifo {
			return nil, &types.InvalidAttributeValue{Message: aws.String("RedrivePolicy target " + p.DeadLetterTargetArn)}
		}
		q.dlqARN, q.maxReceive = p.DeadLetterTargetArn, p.MaxReceiveCount
	}
	s.queues[name] = q
	return &awssqs.CreateQueueOutput{QueueUrl: aws.String(q.url)}, nil
}

// GetQueueUrl implements sqs.API.
func (s *Server) GetQueueUrl(_ context.Context, in *awssqs.GetQueueUrlInput, _ ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[aws.ToString(in.QueueName)]
	if !ok {
		return nil, errNoQueue(aws.ToString(in.QueueName))
	}
	return &awssqs.GetQueueUrlOutput{QueueUrl: aws.String(q.url)}, nil
}

// GetQueueAttributes implements sqs.API: QueueArn, VisibilityTimeout,
// MaximumMessageSize, RedrivePolicy and the approximate counts.
func (s *Server) GetQueueAttributes(_ context.Context, in *awssqs.GetQueueAttributesInput, _ ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	visible, inFlight := 0, 0
	for _, m := range q.msgs {
		if m.visibleAt.After(s.now) {
			inFlight++
		} else {
			visible++
		}
	}
	attrs := map[string]string{
		string(types.QueueAttributeNameQueueArn):                              q.arn,
		string(types.QueueAttributeNameVisibilityTimeout):                     strconv.Itoa(int(q.visibility / time.Second)),
		string(types.QueueAttributeNameMaximumMessageSize):                    strconv.Itoa(q.maxBytes),
		string(types.QueueAttributeNameApproximateNumberOfMessages):           strconv.Itoa(visible),
		string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible): strconv.Itoa(inFlight),
	}
	if q.fifo {
		attrs[string(types.QueueAttributeNameFifoQueue)] = "true"
	}
	if q.dlqARN != "" {
		p, _ := json.Marshal(map[string]any{"deadLetterTargetArn": q.dlqARN, "maxReceiveCount": q.maxReceive})
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(p)
	}
	return &awssqs.GetQueueAttributesOutput{Attributes: attrs}, nil
}

func messageSize(body string, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// SendMessageBatch implements sqs.API.
func (s *Server) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	switch {
	case len(in.Entries) == 0:
		return nil, &types.EmptyBatchRequest{Message: aws.String("no entries")}
	case len(in.Entries) > sqs.MaxBatchEntries:
		return nil, &types.TooManyEntriesInBatchRequest{Message: aws.String(strconv.Itoa(len(in.Entries)) + " entries")}
	}
	total := 0
	for _, e := range in.Entries {
		total += messageSize(aws.ToString(e.MessageBody), e.MessageAttributes)
	}
	if total > q.maxBytes {
		return nil, &types.BatchRequestTooLong{Message: aws.String(fmt.Sprintf("batch of %d bytes over %d", total, q.maxBytes))}
	}
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		group, dedup := aws.ToString(e.MessageGroupId), aws.ToString(e.MessageDeduplicationId)
		if q.fifo && (group == "" || dedup == "") {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("MissingParameter"),
				Message: aws.String("a FIFO message needs a group and a deduplication id"), SenderFault: true})
			continue
		}
		body := aws.ToString(e.MessageBody)
		sum := md5.Sum([]byte(body))
		s.seq++
		ok := types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + strconv.FormatInt(s.seq, 10)),
			MD5OfMessageBody: aws.String(hex.EncodeToString(sum[:]))}
		if q.fifo {
			ok.SequenceNumber = aws.String(fmt.Sprintf("%020d", s.seq))
			if at, seen := q.dedup[dedup]; seen && s.now.Sub(at) < DedupWindow {
				out.Successful = append(out.Successful, ok) // accepted, not delivered again
				continue
			}
			q.dedup[dedup] = s.now
		}
		q.msgs = append(q.msgs, &message{id: aws.ToString(ok.MessageId), body: body, attrs: e.MessageAttributes,
			group: group, dedup: dedup, seq: s.seq, sent: s.now, visibleAt: s.now})
		out.Successful = append(out.Successful, ok)
	}
	return out, nil
}

// ReceiveMessage implements sqs.API. It never waits.
func (s *Server) ReceiveMessage(_ context.Context, in *awssqs.ReceiveMessageInput, _ ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	max := int(in.MaxNumberOfMessages)
	if max == 0 {
		max = 1
	}
	if max < 1 || max > sqs.MaxBatchEntries {
		return nil, &types.InvalidAttributeValue{Message: aws.String("MaxNumberOfMessages " + strconv.Itoa(max))}
	}
	visibility := q.visibility
	if in.VisibilityTimeout > 0 {
		visibility = time.Duration(in.VisibilityTimeout) * time.Second
	}
	var picked []*message
	for len(picked) < max {
		cands := s.candidates(q, picked)
		if len(cands) == 0 {
			break
		}
		m := cands[0]
		if !q.fifo {
			m = cands[s.rnd.IntN(len(cands))]
		}
		if q.dlqARN != "" && m.receives >= q.maxReceive {
			s.moveToDLQ(q, m)
			continue
		}
		picked = append(picked, m)
	}
	out := &awssqs.ReceiveMessageOutput{}
	for _, m := range picked {
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = s.now
		}
		s.seq++
		m.handle = m.id + "#" + strconv.FormatInt(s.seq, 10)
		m.visibleAt = s.now.Add(visibility)
		out.Messages = append(out.Messages, s.toMessage(q, m))
	}
	return out, nil
}

// candidates are the messages a receive may return next, given those
// already picked: on a standard queue every visible message; on a FIFO queue
// the first visible message of each group that has none in flight (and,
// within a group already picked from, only its next one).
func (s *Server) candidates(q *queue, picked []*message) []*message {
	var out []*message
	if !q.fifo {
		for _, m := range q.msgs {
			if !m.visibleAt.After(s.now) && !slices.Contains(picked, m) {
				out = append(out, m)
			}
		}
		return out
	}
	blocked := map[string]bool{}
	for _, m := range q.msgs {
		if blocked[m.group] {
			continue
		}
		blocked[m.group] = true
		switch {
		case slices.Contains(picked, m):
			blocked[m.group] = false // take the group's next one
		case m.visibleAt.After(s.now):
			// in flight: nothing more of its group
		default:
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) moveToDLQ(q *queue, m *message) {
	q.msgs = slices.DeleteFunc(q.msgs, func(x *message) bool { return x == m })
	dlq := s.byARN(q.dlqARN)
	if dlq == nil {
		return
	}
	m.receives, m.handle, m.visibleAt, m.deadLetterSrc = 0, "", s.now, q.arn
	s.seq++
	m.seq = s.seq
	dlq.msgs = append(dlq.msgs, m)
}

func (s *Server) toMessage(q *queue, m *message) types.Message {
	sum := md5.Sum([]byte(m.body))
	attrs := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		"SenderId":                         account,
	}
	if q.fifo {
		attrs["MessageGroupId"], attrs["MessageDeduplicationId"] = m.group, m.dedup
		attrs["SequenceNumber"] = fmt.Sprintf("%020d", m.seq)
	}
	if m.deadLetterSrc != "" {
		attrs["DeadLetterQueueSourceArn"] = m.deadLetterSrc
	}
	return types.Message{MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.handle), Body: aws.String(m.body),
		MD5OfBody: aws.String(hex.EncodeToString(sum[:])), Attributes: attrs, MessageAttributes: m.attrs}
}

// find returns the message whose newest receipt handle is handle.
func (q *queue) find(handle string) *message {
	for _, m := range q.msgs {
		if m.handle != "" && m.handle == handle {
			return m
		}
	}
	return nil
}

// validHandle reports whether handle has the shape of one this server made.
func validHandle(handle string) bool {
	return strings.HasPrefix(handle, "m-") && strings.Contains(handle, "#")
}

func (s *Server) deleteLocked(q *queue, handle string) error {
	if !validHandle(handle) {
		return &types.ReceiptHandleIsInvalid{Message: aws.String("receipt handle " + strconv.Quote(handle))}
	}
	if s.drop > 0 {
		s.drop--
		return nil
	}
	if m := q.find(handle); m != nil {
		q.msgs = slices.DeleteFunc(q.msgs, func(x *message) bool { return x == m })
	}
	return nil
}

// DeleteMessage implements sqs.API.
func (s *Server) DeleteMessage(_ context.Context, in *awssqs.DeleteMessageInput, _ ...func(*awssqs.Options)) (*awssqs.DeleteMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	if err := s.deleteLocked(q, aws.ToString(in.ReceiptHandle)); err != nil {
		return nil, err
	}
	return &awssqs.DeleteMessageOutput{}, nil
}

// DeleteMessageBatch implements sqs.API.
func (s *Server) DeleteMessageBatch(_ context.Context, in *awssqs.DeleteMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	if len(in.Entries) == 0 || len(in.Entries) > sqs.MaxBatchEntries {
		return nil, &types.TooManyEntriesInBatchRequest{Message: aws.String(strconv.Itoa(len(in.Entries)) + " entries")}
	}
	out := &awssqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		if err := s.deleteLocked(q, aws.ToString(e.ReceiptHandle)); err != nil {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"),
				Message: aws.String(err.Error()), SenderFault: true})
			continue
		}
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// ChangeMessageVisibility implements sqs.API.
func (s *Server) ChangeMessageVisibility(_ context.Context, in *awssqs.ChangeMessageVisibilityInput, _ ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(aws.ToString(in.QueueUrl))
	if q == nil {
		return nil, errNoQueue(aws.ToString(in.QueueUrl))
	}
	handle := aws.ToString(in.ReceiptHandle)
	if !validHandle(handle) {
		return nil, &types.ReceiptHandleIsInvalid{Message: aws.String("receipt handle " + strconv.Quote(handle))}
	}
	m := q.find(handle)
	if m == nil || !m.visibleAt.After(s.now) {
		return nil, &types.MessageNotInflight{Message: aws.String("message of receipt handle " + strconv.Quote(handle) + " is not in flight")}
	}
	m.visibleAt = s.now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
	return &awssqs.ChangeMessageVisibilityOutput{}, nil
}

// Describe lists the messages the queue at url holds, for diagnostics: each
// one's id, receives and when it is visible again.
func (s *Server) Describe(url string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byURL(url)
	if q == nil {
		return "no queue " + url
	}
	var b strings.Builder
	for _, m := range q.msgs {
		state := "visible"
		if m.visibleAt.After(s.now) {
			state = "in flight for " + m.visibleAt.Sub(s.now).String()
		}
		fmt.Fprintf(&b, "[%s group %q, %d receives, %s, %d bytes] ", m.id, m.group, m.receives, state, len(m.body))
	}
	return b.String()
}
