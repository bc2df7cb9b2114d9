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
	"sync"
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

// Handler is the SQS event handler for both queues. It returns partial batch
// failures: only the messages that failed are retried. On a FIFO queue, a
// failed message also fails every later message of its group in the same
// invocation, so that order holds.
type Handler struct {
	Applier     Applies
	Limits      batch.Limits
	Concurrency int
	Logger      *slog.Logger
	Metrics     *emf.Writer
	// Stats, when set, adds the store's retries, throttles and database time to the metrics.
	Stats interface{ Stats() chaindb.Stats }
}

// ErrMalformed marks a message whose body is not a valid envelope.
var ErrMalformed = errors.New("malformed message")

// Handle processes one SQS event.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var resp events.SQSEventResponse
	var mu sync.Mutex
	fail := func(r events.SQSMessage, err error) {
		mu.Lock()
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
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
	failedGroups := map[string]bool{}
	var stats stats
	var start chaindb.Stats
	if h.Stats != nil {
		start = h.Stats.Stats()
	}
	for _, r := range ev.Records {
		group := r.Attributes["MessageGroupId"]
		if group != "" {
			// FIFO: strictly in order, and nothing after a failure in the group.
			if failedGroups[group] {
				fail(r, fmt.Errorf("an earlier message of group %s failed in this invocation", group))
				continue
			}
			if err := h.one(ctx, r, &stats); err != nil {
				failedGroups[group] = true
				fail(r, err)
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.one(ctx, r, &stats); err != nil {
				fail(r, err)
			}
		}()
	}
	wg.Wait()
	var delta chaindb.Stats
	if h.Stats != nil {
		after := h.Stats.Stats()
		delta = chaindb.Stats{Retries: after.Retries - start.Retries, Throttles: after.Throttles - start.Throttles,
			DBTime: after.DBTime - start.DBTime, StatementRows: after.StatementRows}
	}
	stats.emit(h.Metrics, len(resp.BatchItemFailures), delta)
	return resp, nil
}

func (h *Handler) one(ctx context.Context, r events.SQSMessage, st *stats) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < MinTimeLeft {
		return fmt.Errorf("not started: %s left before the function's deadline", time.Until(d).Round(time.Millisecond))
	}
	raw, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return fmt.Errorf("%w %s (batch %s): body is not base64: %v", ErrMalformed, r.MessageId, batchID(r), err)
	}
	env, err := batch.Decode(raw, h.Limits)
	if err != nil {
		return fmt.Errorf("%w %s (batch %s): %v", ErrMalformed, r.MessageId, batchID(r), err)
	}
	start := time.Now()
	res, err := h.Applier.Apply(ctx, env)
	if err != nil {
		return err
	}
	st.add(res, time.Since(start))
	return nil
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
	latency                            time.Duration
}

func (s *stats) add(r ingest.Result, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.blocks += r.Blocks
	s.rows += r.Rows
	s.quarantined += r.Quarantined
	if r.Kind == batch.KindRollback {
		s.rollbacks++
	} else if !r.Applied {
		s.skipped++
	}
	s.latency += d
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
		emf.Metric{Name: "Blocks", Unit: emf.Count, Value: float64(s.blocks)},
		emf.Metric{Name: "Rows", Unit: emf.Count, Value: float64(s.rows)},
		emf.Metric{Name: "QuarantinedBlocks", Unit: emf.Count, Value: float64(s.quarantined)},
		emf.Metric{Name: "FailedMessages", Unit: emf.Count, Value: float64(failed)},
		emf.Metric{Name: "BatchLatency", Unit: emf.Milliseconds, Value: avg},
		emf.Metric{Name: "DBLatency", Unit: emf.Milliseconds, Value: float64(db.DBTime.Milliseconds())},
		emf.Metric{Name: "DBRetries", Unit: emf.Count, Value: float64(db.Retries)},
		emf.Metric{Name: "DBThrottles", Unit: emf.Count, Value: float64(db.Throttles)},
		emf.Metric{Name: "StatementRows", Unit: emf.Count, Value: float64(db.StatementRows)},
	)
}
