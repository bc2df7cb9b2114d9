// Package lambdafn is the Lambda side of Nectar: the SQS event handler over
// ingest (partial batch failures, FIFO group order, EMF metrics), the
// scheduled verify handler, and the function setup shared by every Lambda
// (configuration, JSON logs, metrics, the database from Secrets Manager).
package lambdafn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/emf"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

// DefaultConcurrency bounds the history messages one invocation applies at
// once: with the event source's maximum concurrency it bounds the database
// connections a deployment opens.
const DefaultConcurrency = 2

// MinTimeLeft is the time an invocation keeps in reserve: a message not
// started with less left is reported failed (to be retried) instead of risking
// a timeout that would fail the whole batch.
const MinTimeLeft = 5 * time.Second

// Applies is what the handler needs to apply one envelope.
type Applies interface {
	Apply(ctx context.Context, env *batch.Envelope) (ingest.Result, error)
}

// AppliesAll is an Applies that also applies envelopes received together,
// with a result and an error per envelope (ingest.Applier.ApplyAll: history
// batches written together in large transactions).
type AppliesAll interface {
	Applies
	ApplyAll(ctx context.Context, envs []*batch.Envelope, parallel int) ([]ingest.Result, []error)
}

var _ AppliesAll = (*ingest.Applier)(nil)

// Defaults for a Handler's retries of failed tip messages.
const (
	// DefaultTipRetry is how soon a tip message that failed is delivered
	// again, the first time; each later receive doubles it.
	DefaultTipRetry = 5 * time.Second
	// DefaultTipRetryMax caps it. With the template's TipMaxReceiveCount (10)
	// a tip message that keeps failing reaches the DLQ after about 20 minutes,
	// not after ten visibility timeouts (five hours).
	DefaultTipRetryMax = 5 * time.Minute
)

// Handler is the SQS event handler for both queues. It returns partial batch
// failures: only the messages that failed are retried. On a FIFO queue, a
// failed message also fails every later message of its group in the same
// invocation, so that order holds.
//
// With Queue set it also acts on failures itself, on the queues Queues names:
// a message that can never apply (malformed, another network, rows the
// database rejects) goes to its queue's DLQ at once, with the reason as a
// message attribute, and is reported done; a failed tip message (FIFO) is
// made visible again after TipRetry, doubled with each receive up to
// TipRetryMax, instead of the queue's visibility timeout (which would stall
// the tip for half an hour), and so are the later messages of its group.
// When the database refuses service (chaindb.Refused: a refused login at the
// spending limit, request units spent) the rest of the invocation is not
// tried and the messages keep the queue's own visibility: the DBRefused
// metric raises the alarm, and retrying sooner cannot help.
type Handler struct {
	Applier     Applies
	Limits      batch.Limits
	Concurrency int
	// Combine applies the history messages (standard queue) of one
	// invocation together, when Applier is an AppliesAll: their batches are
	// written in transactions of several messages, each message still
	// atomic and reported alone (see chaindb.Store.ApplyBatches). Tip
	// messages are always applied one by one, in order.
	Combine bool
	Logger  *slog.Logger
	Metrics *emf.Writer
	// Stats, when set, adds the store's retries, throttles and database time to the metrics.
	Stats interface{ Stats() chaindb.Stats }

	// Queue, when set, is how the handler changes a failed message's
	// visibility and dead-letters one that can never apply.
	Queue Queue
	// Queues holds the URLs of each queue the function consumes, by queue
	// name (the last field of a record's eventSourceARN).
	Queues      map[string]QueueURLs
	TipRetry    time.Duration // DefaultTipRetry when 0
	TipRetryMax time.Duration // DefaultTipRetryMax when 0
}

// ErrMalformed marks a message whose body is not a valid envelope.
var ErrMalformed = errors.New("malformed message")

// errRefusedEarlier fails the messages of an invocation after the database
// refused service to one of them.
var errRefusedEarlier = errors.New("not tried: the database refused service to an earlier message of this invocation")

// Permanent reports whether err means the message can never apply, however
// often it is retried: its body is not an envelope, it is for another
// network, its rollback is malformed, or the database rejects its rows.
func Permanent(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ingest.ErrWrongNetwork) ||
		errors.Is(err, chaindb.ErrMalformedRollback) || chaindb.Classify(err) == chaindb.Data
}

// keepVisibility means: leave the message's visibility as the queue sets it.
const keepVisibility time.Duration = -1

// retry is a failed message and when it should be delivered again.
type retry struct {
	r     events.SQSMessage
	after time.Duration
}

// Handle processes one SQS event.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.logger()
	var resp events.SQSEventResponse
	var mu sync.Mutex
	var retries []retry
	fail := func(r events.SQSMessage, err error, after time.Duration) {
		mu.Lock()
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		retries = append(retries, retry{r, after})
		mu.Unlock()
		log.Error("message failed", "message_id", r.MessageId, "batch_id", batchID(r), "receive_count",
			r.Attributes["ApproximateReceiveCount"], "err", err)
	}
	conc := h.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	failedGroups := map[string]time.Duration{}
	var refused atomic.Bool
	var st stats
	var start chaindb.Stats
	if h.Stats != nil {
		start = h.Stats.Stats()
	}
	all, combine := h.Applier.(AppliesAll)
	combine = combine && h.Combine
	var history []events.SQSMessage
	for _, r := range ev.Records {
		group := r.Attributes["MessageGroupId"]
		if group != "" {
			// FIFO: strictly in order, and nothing after a failure in the group.
			if after, failed := failedGroups[group]; failed {
				fail(r, fmt.Errorf("an earlier message of group %s failed in this invocation", group), after)
				continue
			}
			if err := h.process(ctx, r, &st, &refused); err != nil {
				after := h.tipRetryAfter(r, err)
				failedGroups[group] = after
				fail(r, err, after)
			}
			continue
		}
		if combine {
			history = append(history, r)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.process(ctx, r, &st, &refused); err != nil {
				fail(r, err, historyRetryAfter(err))
			}
		}()
	}
	if len(history) > 0 {
		h.processAll(ctx, all, history, conc, &st, &refused, fail)
	}
	wg.Wait()
	h.changeVisibility(ctx, retries)
	var delta chaindb.Stats
	if h.Stats != nil {
		after := h.Stats.Stats()
		delta = chaindb.Stats{Retries: after.Retries - start.Retries, Throttles: after.Throttles - start.Throttles,
			DBTime: after.DBTime - start.DBTime, StatementRows: after.StatementRows,
			GroupTxns: after.GroupTxns - start.GroupTxns, GroupBytes: after.GroupBytes - start.GroupBytes,
			GroupSplits: after.GroupSplits - start.GroupSplits, GroupFallbacks: after.GroupFallbacks - start.GroupFallbacks}
	}
	st.emit(h.Metrics, len(resp.BatchItemFailures), delta)
	return resp, nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// historyRetryAfter is when a failed history message should come back.
func historyRetryAfter(err error) time.Duration {
	if Permanent(err) {
		return 0 // it could not be dead-lettered: let the redrive policy move it soon
	}
	return keepVisibility
}

// process applies one message. A message that can never apply and was sent
// to its DLQ counts as done (nil).
func (h *Handler) process(ctx context.Context, r events.SQSMessage, st *stats, refused *atomic.Bool) error {
	if refused.Load() {
		return errRefusedEarlier
	}
	return h.settle(ctx, r, h.one(ctx, r, st), st, refused)
}

// processAll applies history messages together (Combine). Each message
// that fails is passed to fail, as the standard queue's are one by one.
func (h *Handler) processAll(ctx context.Context, all AppliesAll, recs []events.SQSMessage, conc int, st *stats, refused *atomic.Bool,
	fail func(events.SQSMessage, error, time.Duration)) {
	failAll := func(err error) {
		for _, r := range recs {
			fail(r, err, keepVisibility)
		}
	}
	if refused.Load() {
		failAll(errRefusedEarlier)
		return
	}
	wctx := ctx
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < MinTimeLeft {
			failAll(fmt.Errorf("not started: %s left before the function's deadline", left.Round(time.Millisecond)))
			return
		}
		// Writes stop MinTimeLeft before the deadline: the answer, naming
		// the messages not applied, must reach Lambda in time.
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, d.Add(-MinTimeLeft))
		defer cancel()
	}
	var envs []*batch.Envelope
	var applied []events.SQSMessage
	for _, r := range recs {
		env, err := h.decode(r)
		if err != nil {
			if err := h.settle(ctx, r, err, st, refused); err != nil {
				fail(r, err, historyRetryAfter(err))
			}
			continue
		}
		envs, applied = append(envs, env), append(applied, r)
	}
	if len(envs) == 0 {
		return
	}
	start := time.Now()
	res, errs := all.ApplyAll(wctx, envs, conc)
	each := time.Since(start) / time.Duration(len(envs))
	for k, r := range applied {
		if errs[k] != nil {
			if err := h.settle(ctx, r, errs[k], st, refused); err != nil {
				fail(r, err, historyRetryAfter(err))
			}
			continue
		}
		h.applied(r, envs[k], res[k], each, st)
	}
}

// settle acts on a message's error: a message that can never apply is sent
// to its DLQ and counts as done (nil); a refusal of service stops the rest
// of the invocation.
func (h *Handler) settle(ctx context.Context, r events.SQSMessage, err error, st *stats, refused *atomic.Bool) error {
	switch {
	case err == nil:
		return nil
	case Permanent(err):
		if dlErr := h.deadLetter(ctx, r, err); dlErr != nil {
			h.logger().Error("could not send the message to its DLQ", "message_id", r.MessageId, "batch_id", batchID(r), "err", dlErr)
			return err
		}
		st.count(func(s *stats) { s.deadLettered++ })
		return nil
	case chaindb.Classify(err) == chaindb.Refused:
		if refused.CompareAndSwap(false, true) {
			st.count(func(s *stats) { s.refused++ })
		}
	case errors.Is(err, chaindb.ErrRollbackNotApplied), errors.Is(err, chaindb.ErrNotHead):
		st.count(func(s *stats) { s.tipRefused++ })
	}
	return err
}

// deadLetter sends r to the DLQ of its queue with err as the reason.
func (h *Handler) deadLetter(ctx context.Context, r events.SQSMessage, err error) error {
	q, ok := h.Queues[arnQueueName(r.EventSourceARN)]
	if h.Queue == nil || !ok || q.DLQ == "" {
		return fmt.Errorf("no dead-letter queue configured for %s", arnQueueName(r.EventSourceARN))
	}
	if err := h.Queue.DeadLetter(ctx, q.DLQ, r, err.Error()); err != nil {
		return err
	}
	h.logger().Error("message sent to the DLQ: it can never apply", "message_id", r.MessageId, "batch_id", batchID(r),
		"receive_count", r.Attributes["ApproximateReceiveCount"], "dlq", urlQueueName(q.DLQ), "reason", err.Error())
	return nil
}

// tipRetryAfter is when a failed tip message should come back.
func (h *Handler) tipRetryAfter(r events.SQSMessage, err error) time.Duration {
	switch {
	case Permanent(err):
		return 0 // it could not be dead-lettered: let the redrive policy move it soon
	case chaindb.Classify(err) == chaindb.Refused, errors.Is(err, errRefusedEarlier):
		return keepVisibility
	}
	base, ceiling := h.TipRetry, h.TipRetryMax
	if base <= 0 {
		base = DefaultTipRetry
	}
	if ceiling <= 0 {
		ceiling = DefaultTipRetryMax
	}
	n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// changeVisibility makes failed messages visible again when they asked for it.
func (h *Handler) changeVisibility(ctx context.Context, retries []retry) {
	if h.Queue == nil {
		return
	}
	for _, rt := range retries {
		if rt.after < 0 {
			continue
		}
		q, ok := h.Queues[arnQueueName(rt.r.EventSourceARN)]
		if !ok || q.URL == "" {
			continue
		}
		if err := h.Queue.ChangeVisibility(ctx, q.URL, rt.r.ReceiptHandle, rt.after); err != nil {
			// The message still comes back, after the queue's visibility timeout.
			h.logger().Warn("could not shorten the visibility of a failed message", "message_id", rt.r.MessageId, "err", err)
			continue
		}
		h.logger().Info("failed message retried soon", "message_id", rt.r.MessageId, "batch_id", batchID(rt.r), "after", rt.after.String())
	}
}

func (h *Handler) one(ctx context.Context, r events.SQSMessage, st *stats) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < MinTimeLeft {
		return fmt.Errorf("not started: %s left before the function's deadline", time.Until(d).Round(time.Millisecond))
	}
	env, err := h.decode(r)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := h.Applier.Apply(ctx, env)
	if err != nil {
		return err
	}
	h.applied(r, env, res, time.Since(start), st)
	return nil
}

// decode reads a message's envelope.
func (h *Handler) decode(r events.SQSMessage) (*batch.Envelope, error) {
	raw, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%w %s (batch %s): body is not base64: %v", ErrMalformed, r.MessageId, batchID(r), err)
	}
	env, err := batch.Decode(raw, h.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w %s (batch %s): %v", ErrMalformed, r.MessageId, batchID(r), err)
	}
	return env, nil
}

// applied counts a message applied (or acknowledged as stale) in d.
func (h *Handler) applied(r events.SQSMessage, env *batch.Envelope, res ingest.Result, d time.Duration, st *stats) {
	if res.Stale {
		h.logger().Warn("stale envelope acknowledged without applying it: a later rollback superseded it", "message_id", r.MessageId,
			"batch_id", batchID(r), "kind", env.Kind.String())
	}
	st.add(res, d)
}

func batchID(r events.SQSMessage) string {
	if a, ok := r.MessageAttributes[batch.AttrBatchID]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return "unknown"
}

type stats struct {
	mu                                 sync.Mutex
	blocks, rows, quarantined, batches int
	skipped, rollbacks                 int
	rollbacksSkipped, stale            int // repeated rollbacks; stale rollbacks and abandoned tip batches
	deadLettered, refused, tipRefused  int
	latency                            time.Duration
}

func (s *stats) add(r ingest.Result, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.blocks += r.Blocks
	s.rows += r.Rows
	s.quarantined += r.Quarantined
	switch {
	case r.Stale:
		s.stale++
	case r.Kind == batch.KindRollback && r.Applied:
		s.rollbacks++
	case r.Kind == batch.KindRollback:
		s.rollbacksSkipped++
	case !r.Applied:
		s.skipped++
	}
	s.latency += d
}

func (s *stats) count(f func(*stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *stats) emit(w *emf.Writer, failed int, db chaindb.Stats) {
	if w == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var avg float64
	if s.batches > 0 {
		avg = float64(s.latency.Milliseconds()) / float64(s.batches)
	}
	_ = w.Emit(
		emf.Metric{Name: "Batches", Unit: emf.Count, Value: float64(s.batches)},
		emf.Metric{Name: "BatchesSkipped", Unit: emf.Count, Value: float64(s.skipped)},
		emf.Metric{Name: "Rollbacks", Unit: emf.Count, Value: float64(s.rollbacks)},
		emf.Metric{Name: "RollbacksSkipped", Unit: emf.Count, Value: float64(s.rollbacksSkipped)},
		emf.Metric{Name: "StaleEnvelopes", Unit: emf.Count, Value: float64(s.stale)},
		emf.Metric{Name: "TipRefused", Unit: emf.Count, Value: float64(s.tipRefused)},
		emf.Metric{Name: "DeadLettered", Unit: emf.Count, Value: float64(s.deadLettered)},
		emf.Metric{Name: "DBRefused", Unit: emf.Count, Value: float64(s.refused)},
		emf.Metric{Name: "Blocks", Unit: emf.Count, Value: float64(s.blocks)},
		emf.Metric{Name: "Rows", Unit: emf.Count, Value: float64(s.rows)},
		emf.Metric{Name: "QuarantinedBlocks", Unit: emf.Count, Value: float64(s.quarantined)},
		emf.Metric{Name: "FailedMessages", Unit: emf.Count, Value: float64(failed)},
		emf.Metric{Name: "BatchLatency", Unit: emf.Milliseconds, Value: avg},
		emf.Metric{Name: "DBLatency", Unit: emf.Milliseconds, Value: float64(db.DBTime.Milliseconds())},
		emf.Metric{Name: "DBRetries", Unit: emf.Count, Value: float64(db.Retries)},
		emf.Metric{Name: "DBThrottles", Unit: emf.Count, Value: float64(db.Throttles)},
		emf.Metric{Name: "StatementRows", Unit: emf.Count, Value: float64(db.StatementRows)},
		// Transactions of several history messages (Combine), their estimated
		// payload, and those cut in halves or applied message by message.
		emf.Metric{Name: "HistoryTxns", Unit: emf.Count, Value: float64(db.GroupTxns)},
		emf.Metric{Name: "HistoryTxnBytes", Unit: emf.Bytes, Value: float64(db.GroupBytes)},
		emf.Metric{Name: "HistoryTxnSplits", Unit: emf.Count, Value: float64(db.GroupSplits)},
		emf.Metric{Name: "HistoryTxnFallbacks", Unit: emf.Count, Value: float64(db.GroupFallbacks)},
	)
}
