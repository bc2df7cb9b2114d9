package faults_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// A FIFO message retried after its visibility timeout while later ones
// wait. Eight tip messages in one message group on a fauxqs FIFO queue: four
// batches of 15 mainnet Conway blocks, a rollback to the end of the second,
// and 90 blocks from there re-sent after it. A poller hands them to the real
// ingest handler in process. The first message fails once because the
// database is unavailable (the handler's store reaches TiDB through a proxy
// that is down); the rollback fails once because its whole invocation fails
// (the function crashed). Each stays on the queue until its visibility
// timeout and is then retried; no later message of the group may be
// delivered, let alone applied, before it. Applied out of order, the
// rollback would delete the wrong rows: the end state equals the clean pass.
func TestFIFORetryAfterVisibilityTimeout(t *testing.T) {
	const visibility = 2 * time.Second
	srv := sharedTiDB(t)
	client := sqstest.NewClient(t)
	blocks := conwayBlocks(t, 480, 600)
	tipBatches := cut(chain.Mainnet.Name, nil, nil, blocks[:60], 15)
	rollback := &batch.Envelope{Kind: batch.KindRollback, Network: chain.Mainnet.Name,
		Point: tipBatches[1].Last, From: tipBatches[3].Last, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()}
	resent := cut(chain.Mainnet.Name, tipBatches[1].Last.Hash, rollback.ID(), blocks[30:], 30)
	envs := slices.Concat(tipBatches, []*batch.Envelope{rollback}, resent)
	ids := make([]string, len(envs))
	for i, e := range envs {
		ids[i] = hex.EncodeToString(e.ID())
	}
	want := cleanPass(t, srv, chain.Mainnet, envs)

	direct, cfg := srv.Open(t)
	gate := startCutter(t, cfg.Addr)
	pcfg := cfg.Clone()
	pcfg.Addr = gate.Addr()
	store := chaindb.New(openPool(t, pcfg), chaindb.Options{MaxAttempts: 2, BackoffBase: 20 * time.Millisecond, Logger: testLogger(t)})
	app := &orderedApplier{next: &ingest.Applier{Net: chain.Mainnet, Store: store}}
	fn := &fifoFunction{t: t, h: &lambdafn.Handler{Applier: app, Logger: testLogger(t)}, app: app, ids: ids, crashOn: ids[4]}

	_, tip, names := queues(t, client, sqs.QueueOptions{VisibilityTimeout: visibility, MaxReceiveCount: 3})
	// The database goes away before the first message arrives.
	gate.disable()
	injected(t, "database unavailable when the first tip message is applied (partial batch failure)")
	send(t, client, tip, messages(t, chain.Mainnet.Name, envs))
	p := poll(t, client, tip, fn.invoke)
	testenv.WaitFor(t, time.Minute, "the first message failed", func() bool { return app.failures() > 0 })
	if err := gate.enable(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 2*time.Minute, "every message applied and deleted", func() bool {
		return len(app.order()) == len(envs) && sqstest.Count(t, client, tip) == 0
	})

	if got := app.order(); !slices.Equal(got, ids) {
		t.Errorf("applied in the order\n%v\nwant the group's order\n%v", short(got), short(ids))
	}
	fn.mu.Lock()
	for _, v := range fn.violations {
		t.Error(v)
	}
	deliveries := fn.deliveries
	fn.mu.Unlock()
	// Each failed message came back once, after its visibility timeout
	// (ApproximateReceiveCount 2), and in its place: right after its failure.
	for _, i := range []int{0, 4} {
		var counts []string
		for _, d := range deliveries {
			if d.id == ids[i] {
				counts = append(counts, d.receiveCount)
			}
		}
		if !slices.Equal(counts, []string{"1", "2"}) {
			t.Errorf("message %d delivered with receive counts %v, want [1 2]", i, counts)
		}
	}
	st := p.Stats()
	if st.Deleted != int64(len(envs)) || st.Failed != 2 || st.InvokeErrors != 1 {
		t.Errorf("poller %+v; want %d deleted, 2 failed, 1 failed invocation", st, len(envs))
	}
	if n := sqstest.Count(t, client, queueURL(t, client, names.TipDLQ)); n != 0 {
		t.Errorf("%d message(s) in the tip DLQ", n)
	}
	t.Logf("%d deliveries of %d messages: %s", len(deliveries), len(envs), fn.String())
	assertEndState(t, direct, chain.Mainnet, want, blockCount(envs))
}

// orderedApplier records the order of successful applies and counts failed ones.
type orderedApplier struct {
	next   lambdafn.Applies
	mu     sync.Mutex
	done   []string
	failed int
}

func (a *orderedApplier) Apply(ctx context.Context, env *batch.Envelope) (ingest.Result, error) {
	res, err := a.next.Apply(ctx, env)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed++
		return res, err
	}
	a.done = append(a.done, hex.EncodeToString(env.ID()))
	return res, nil
}

func (a *orderedApplier) order() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.done)
}

func (a *orderedApplier) failures() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed
}

// fifoFunction is the ingest function in process: it records every record
// it is handed and checks that an invocation starts with the oldest message
// not applied yet; the first invocation holding the message crashOn fails
// as a whole, as a crash or a timeout would.
type fifoFunction struct {
	t       testing.TB
	h       *lambdafn.Handler
	app     *orderedApplier
	ids     []string // the group's messages in order
	crashOn string

	mu         sync.Mutex
	crashed    bool
	deliveries []delivery
	violations []string
}

type delivery struct {
	invocation   int
	id           string
	receiveCount string
}

func (f *fifoFunction) invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	applied := len(f.app.order())
	f.mu.Lock()
	n := len(f.deliveries)
	for _, r := range ev.Records {
		f.deliveries = append(f.deliveries, delivery{invocation: n, id: batchID(r), receiveCount: r.Attributes["ApproximateReceiveCount"]})
	}
	if len(ev.Records) > 0 && applied < len(f.ids) && batchID(ev.Records[0]) != f.ids[applied] {
		f.violations = append(f.violations, fmt.Sprintf("invocation %d starts with message %s while %s (message %d) is not applied yet",
			n, short([]string{batchID(ev.Records[0])}), short(f.ids[applied:applied+1]), applied))
	}
	crash := !f.crashed && slices.ContainsFunc(ev.Records, func(r events.SQSMessage) bool { return batchID(r) == f.crashOn })
	f.crashed = f.crashed || crash
	f.mu.Unlock()
	if crash {
		injected(f.t, "the invocation holding the rollback fails as a whole (function crash)")
		return events.SQSEventResponse{}, errors.New("injected: the function crashed")
	}
	return f.h.Handle(ctx, ev)
}

func (f *fifoFunction) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := map[string]int{}
	for i, id := range f.ids {
		idx[id] = i
	}
	s := ""
	for _, d := range f.deliveries {
		s += fmt.Sprintf("%d(receive %s) ", idx[d.id], d.receiveCount)
	}
	return s
}

// short abbreviates batch ids for messages.
func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(8, len(id))]
	}
	return out
}
