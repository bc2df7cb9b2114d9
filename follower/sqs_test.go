package follower_test

// Test 5 of the follower issue: the SQS sink against the real fauxqs emulator
// (infra/local/sqs.sh), a standard history queue and a FIFO tip queue.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/sqstest"
)

// Bounds of the waits in these tests.
const (
	sqsSyncWait    = 3 * time.Minute // the follower reaching a tip
	sqsDrainWait   = 2 * time.Minute // the consumer receiving what was acknowledged
	sqsStopWait    = 30 * time.Second
	sqsRestartWait = time.Minute // waiting for enough messages before the restart
)

// Blocks published with the 256 KiB limit; the real size limit of SQS.
func TestSQS256KiB(t *testing.T) {
	runSQS(t, sqsCase{
		client: sqstest.NewClient(t),
		queues: sqs.QueueOptions{MaxMessageBytes: 256 << 10},
		batch:  follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 500, MaxWait: 50 * time.Millisecond},
	})
}

// Batches cut larger than a 256 KiB message holds (MaxBytes above what the
// config allows): the batcher splits them, and every piece still fits.
func TestSQS256KiBSplit(t *testing.T) {
	res := runSQS(t, sqsCase{
		client: sqstest.NewClient(t),
		queues: sqs.QueueOptions{MaxMessageBytes: 256 << 10},
		batch:  follower.BatchOptions{MaxBytes: 700 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 5000, MaxWait: time.Second},
	})
	if res.maxBody <= 150<<10 {
		t.Errorf("largest body %d bytes: the batches were not split near the limit", res.maxBody)
	}
}

// Queues that take 1 MiB messages, and batches that use them.
func TestSQS1MiB(t *testing.T) {
	res := runSQS(t, sqsCase{
		client: sqstest.NewClient(t),
		queues: sqs.QueueOptions{MaxMessageBytes: 1 << 20},
		batch:  follower.BatchOptions{MaxBytes: 700 << 10, MaxMessageBytes: 1 << 20, MaxBlocks: 5000, MaxWait: time.Second},
	})
	if res.maxBody <= 256<<10 {
		t.Errorf("largest body %d bytes: no message used the room above 256 KiB", res.maxBody)
	}
}

// The emulator restarts while the follower publishes: it retries through the
// outage and nothing is lost. The test runs a private emulator (its own state
// directory and port) so that other packages' tests using the shared one are
// not disturbed; it must not run in parallel with the package's other tests.
func TestSQSEmulatorRestart(t *testing.T) {
	emu := sqstest.StartEmulator(t)
	cfg := emu.Config()
	// One SDK attempt per call: riding out the outage is the Sender's job
	// (retries with capped, jittered backoff), and its failed calls are counted.
	cfg.RetryMaxAttempts = 1
	c, err := sqs.NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &countingAPI{API: c}
	var sendErrsBefore, acked, hidden int64
	res := runSQS(t, sqsCase{
		client: client,
		queues: sqs.QueueOptions{MaxMessageBytes: 256 << 10},
		// Small batches: hundreds of messages, so that the restart lands
		// in the middle of the run.
		batch: follower.BatchOptions{MaxBytes: 180 << 10, MaxMessageBytes: 256 << 10, MaxBlocks: 10, MaxWait: 50 * time.Millisecond},
		during: func(t *testing.T, srv sqsNode, rec *followertest.Recorder) {
			deadline := time.Now().Add(sqsRestartWait)
			for len(rec.Messages()) < 150 {
				if time.Now().After(deadline) {
					t.Fatalf("only %d messages acknowledged within %s", len(rec.Messages()), sqsRestartWait)
				}
				time.Sleep(5 * time.Millisecond)
			}
			acked = int64(len(rec.Messages()))
			hidden = int64(srv.Pending())
			sendErrsBefore = client.sendErrs.Load()
			done := make(chan error, 1)
			go func() { done <- emu.Restart() }()
			// Keep the tip moving during the outage, so that tip messages
			// (one at a time, in order) are in flight while it is down.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("restart: %v", err)
					}
					return
				case <-tick.C:
					srv.Extend(3)
				}
			}
		},
	})
	t.Logf("restart after %d acknowledged messages (%d blocks still hidden at the node); %d failed SendMessageBatch calls retried, %d receive and %d delete errors in the consumer, %d duplicate deliveries",
		acked, hidden, client.sendErrs.Load()-sendErrsBefore, res.recvErrs, res.delErrs, res.dups)
	if acked >= int64(res.published) {
		t.Errorf("the restart came after the last message (%d of %d)", acked, res.published)
	}
	if client.sendErrs.Load() == sendErrsBefore {
		t.Errorf("no SendMessageBatch call failed during the restart: the follower was not publishing through it")
	}
}

// sqsNode is what a during hook may do to the node.
type sqsNode interface {
	Extend(n int) int
	Pending() int
}

type sqsCase struct {
	client sqs.API
	queues sqs.QueueOptions
	batch  follower.BatchOptions
	// during runs once the follower has started, while it syncs the initial
	// chain.
	during func(t *testing.T, srv sqsNode, rec *followertest.Recorder)
}

type sqsResult struct {
	published int // messages the follower had acknowledged
	maxBody   int
	dups      int
	recvErrs  int
	delErrs   int
}

// runSQS follows a preview chain that grows and rolls back, publishing to
// fresh queues, while a consumer drains both, and checks what arrived.
func runSQS(t *testing.T, c sqsCase) sqsResult {
	t.Helper()
	const (
		n       = 5000 // blocks in the final chain
		visible = 3500 // at start: 3068 deep ones go to history, 432 to the tip queue
	)
	blocks := previewChain(t)[:n]
	k := int(chain.Preview.SecurityParam)

	ctx := context.Background()
	historyURL, tipURL, err := sqs.CreateQueues(ctx, c.client, sqstest.QueueName(t), c.queues)
	if err != nil {
		t.Fatal(err)
	}
	maxSize := c.queues.MaxMessageBytes
	sends := &checkedSends{next: sqs.NewSender(c.client, sqs.SenderOptions{}), maxSize: maxSize}
	rec := &followertest.Recorder{Next: &follower.SQSSink{
		Sender: sends, Network: chain.Preview.Name, HistoryURL: historyURL, TipURL: tipURL}}

	cons := newSQSConsumer(t, c.client, historyURL, tipURL)
	srv, path := followertest.StartNode(t, blocks, visible)
	start := time.Now()
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    rec, Cursor: &followertest.MemCursor{}, Batch: c.batch,
	})
	if c.during != nil {
		c.during(t, srv, rec)
	}
	r.WaitHead(t, srv.Tip(), sqsSyncWait)
	// The tip grows: new blocks within k go to the FIFO queue.
	for range 3 {
		srv.Extend(40)
		r.WaitHead(t, srv.Tip(), sqsSyncWait)
	}
	// A rollback of 10 at the tip, then the same blocks back and more (all
	// within k of the tip, so that the re-sent blocks go to the FIFO queue
	// behind the rollback).
	if err := srv.Rollback(10, nil); err != nil {
		t.Fatal(err)
	}
	r.WaitHead(t, srv.Tip(), sqsSyncWait)
	srv.Extend(10 + 50)
	r.WaitHead(t, srv.Tip(), sqsSyncWait)
	// The rest at once: the first of them are deep below the new tip and go
	// to history again, after tip messages.
	if srv.Pending() <= k {
		t.Fatalf("only %d blocks left to extend, want more than k=%d", srv.Pending(), k)
	}
	srv.Extend(n)
	r.WaitHead(t, srv.Tip(), sqsSyncWait)
	if srv.Pending() != 0 || !bytes.Equal(srv.Tip().Hash, blocks[n-1].Point.Hash) {
		t.Fatalf("node tip %s, want the last block %s", srv.Tip(), blocks[n-1].Point)
	}
	published := rec.Messages()
	followDur := time.Since(start)

	// Every acknowledged message reaches the consumer.
	want := map[string]follower.Message{}
	var wantTip []string
	routes := map[follower.Route]int{}
	for _, m := range published {
		id := hex.EncodeToString(m.ID)
		want[id] = m
		routes[m.Route]++
		if m.Route == follower.RouteTip {
			wantTip = append(wantTip, id)
		}
	}
	cons.waitFor(t, want, sqsDrainWait)
	got := cons.stop(t)
	t.Logf("%d messages (%d history, %d tip) acknowledged in %s, all received %s later; largest body %d bytes, largest message %d bytes (queue limit %d)",
		len(published), routes[follower.RouteHistory], routes[follower.RouteTip], followDur.Round(time.Millisecond),
		(time.Since(start) - followDur).Round(time.Millisecond), got.maxBody, sends.maxSeen.Load(), maxSize)

	// Nothing failed to send, nothing over the limit was even attempted, and
	// every body received fits the queue.
	if errs := sends.errors(); len(errs) > 0 {
		t.Errorf("%d sends failed, first: %v", len(errs), errs[0])
	}
	if int(sends.maxSeen.Load()) > maxSize {
		t.Errorf("a message of %d bytes (body and attributes) was sent to queues of %d", sends.maxSeen.Load(), maxSize)
	}
	if got.maxBody > maxSize || got.maxBody > c.batch.MaxMessageBytes {
		t.Errorf("a body of %d bytes arrived; queue limit %d, batch.MaxMessageBytes %d", got.maxBody, maxSize, c.batch.MaxMessageBytes)
	}

	// Exactly the acknowledged messages arrived, each once (a duplicate of a
	// whole message is allowed only across an emulator restart).
	for _, m := range append(slices.Clone(got.history), got.tip...) {
		if _, ok := want[m.id]; !ok {
			t.Errorf("received a message the follower did not publish: %s %s", m.env.Kind, m.id)
		}
	}
	if len(got.history)+len(got.tip) != len(want) {
		t.Errorf("received %d distinct messages, published %d", len(got.history)+len(got.tip), len(want))
	}
	if c.during == nil && (got.dups > 0 || got.recvErrs > 0 || got.delErrs > 0) {
		t.Errorf("without a restart: %d duplicate deliveries, %d receive and %d delete errors", got.dups, got.recvErrs, got.delErrs)
	}
	if routes[follower.RouteHistory] == 0 || routes[follower.RouteTip] == 0 {
		t.Errorf("messages by route %v: want both queues used", routes)
	}

	// FIFO order: the tip queue delivered exactly the send order.
	gotTip := make([]string, len(got.tip))
	rollbacks := 0
	for i, m := range got.tip {
		gotTip[i] = m.id
		if m.env.Kind == batch.KindRollback {
			rollbacks++
		}
	}
	if !slices.Equal(gotTip, wantTip) {
		i := 0
		for i < min(len(gotTip), len(wantTip)) && gotTip[i] == wantTip[i] {
			i++
		}
		t.Errorf("tip queue delivered %d messages, sent %d; first difference at %d", len(gotTip), len(wantTip), i)
	}
	if rollbacks != 1 {
		t.Errorf("%d rollbacks in the tip queue, want 1", rollbacks)
	}
	for _, m := range got.history {
		if m.env.Kind != batch.KindBlocks {
			t.Errorf("a %s in the history queue", m.env.Kind)
		}
	}

	// Replaying history (any order) and tip (in order) gives the final chain.
	ordered, err := mergeQueues(got.history, got.tip)
	if err != nil {
		t.Fatal(err)
	}
	points, err := followertest.Replay(ordered)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(points, blocks); err != nil {
		t.Fatal(err)
	}

	// Both queues are empty: nothing arrived beyond what was deleted.
	if got.delErrs == 0 {
		for _, u := range []string{historyURL, tipURL} {
			if n := sqstest.Count(t, c.client, u); n != 0 {
				t.Errorf("%d messages left in %s", n, u)
			}
		}
	}
	return sqsResult{published: len(published), maxBody: got.maxBody, dups: got.dups, recvErrs: got.recvErrs, delErrs: got.delErrs}
}

// mergeQueues orders what the two queues delivered into the order the chain
// was built: history batches sorted by first slot, the tip queue's messages in
// the order received, interleaved where each one continues the head. A tip
// message goes first when it fits: a batch whose previous hash is the head, or
// a rollback whose From is the head (so the rollback sits where the follower
// saw it).
func mergeQueues(history, tip []receivedMsg) ([]follower.Message, error) {
	history = slices.Clone(history)
	slices.SortFunc(history, func(a, b receivedMsg) int { return int(a.env.First.Slot) - int(b.env.First.Slot) })
	var out []follower.Message
	var head []byte
	fits := func(e *batch.Envelope) bool {
		if e.Kind == batch.KindRollback {
			return bytes.Equal(e.From.Hash, head)
		}
		return bytes.Equal(e.PrevHash, head)
	}
	take := func(m receivedMsg) {
		out = append(out, follower.Message{Seq: uint64(len(out) + 1), Env: m.env, ID: m.env.ID()})
		if m.env.Kind == batch.KindRollback {
			head = m.env.Point.Hash
		} else {
			head = m.env.Last.Hash
		}
	}
	for len(history) > 0 || len(tip) > 0 {
		switch {
		case len(tip) > 0 && fits(tip[0].env):
			take(tip[0])
			tip = tip[1:]
		case len(history) > 0 && fits(history[0].env):
			take(history[0])
			history = history[1:]
		default:
			desc := func(ms []receivedMsg) string {
				if len(ms) == 0 {
					return "none"
				}
				e := ms[0].env
				if e.Kind == batch.KindRollback {
					return fmt.Sprintf("rollback from %s to %s", e.From, e.Point)
				}
				return fmt.Sprintf("blocks %s..%s after %x", e.First, e.Last, e.PrevHash)
			}
			return nil, fmt.Errorf("after %d messages (head %x) neither queue continues the chain: next tip %s, next history %s",
				len(out), head, desc(tip), desc(history))
		}
	}
	return out, nil
}

// checkedSends passes sends on, records failures and the largest message.
type checkedSends struct {
	next    follower.Sends
	maxSize int
	maxSeen atomic.Int64
	mu      sync.Mutex
	errs    []error
}

func (s *checkedSends) Send(ctx context.Context, queueURL string, msgs []sqs.Message) error {
	for _, m := range msgs {
		for {
			cur := s.maxSeen.Load()
			if int64(m.Size()) <= cur || s.maxSeen.CompareAndSwap(cur, int64(m.Size())) {
				break
			}
		}
	}
	err := s.next.Send(ctx, queueURL, msgs)
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err)
		s.mu.Unlock()
	}
	return err
}

func (s *checkedSends) errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// countingAPI counts failed SendMessageBatch calls.
type countingAPI struct {
	sqs.API
	sendErrs atomic.Int64
}

func (c *countingAPI) SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	out, err := c.API.SendMessageBatch(ctx, in, opts...)
	if err != nil {
		c.sendErrs.Add(1)
	}
	return out, err
}

// receivedMsg is one decoded delivery.
type receivedMsg struct {
	id  string // hex batch id
	env *batch.Envelope
}

type consumed struct {
	history, tip []receivedMsg // distinct messages, in the order received
	maxBody      int
	dups         int
	recvErrs     int
	delErrs      int
}

// sqsConsumer drains both queues in two goroutines, as ingest would: decode,
// record, delete.
type sqsConsumer struct {
	client sqs.API
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seen map[string]bool
	got  consumed
}

func newSQSConsumer(t *testing.T, client sqs.API, historyURL, tipURL string) *sqsConsumer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &sqsConsumer{client: client, cancel: cancel, seen: map[string]bool{}}
	for _, u := range []string{historyURL, tipURL} {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.drain(ctx, t, u) }()
	}
	t.Cleanup(func() { c.cancel(); c.wg.Wait() })
	return c
}

func (c *sqsConsumer) drain(ctx context.Context, t *testing.T, queueURL string) {
	r := sqs.NewReceiver(c.client)
	fifo := sqs.IsFIFO(queueURL)
	for ctx.Err() == nil {
		msgs, err := r.Receive(ctx, queueURL, 10, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.got.recvErrs++
			c.mu.Unlock()
			time.Sleep(100 * time.Millisecond) // the emulator restarting
			continue
		}
		handles := make([]string, 0, len(msgs))
		for _, m := range msgs {
			c.record(t, m, fifo)
			handles = append(handles, aws.ToString(m.ReceiptHandle))
		}
		if len(handles) > 0 {
			c.delete(r, queueURL, handles)
		}
	}
}

// delete retries through an emulator restart (its receipt handles survive
// one); the processing is done, so it does not stop with the consumer.
func (c *sqsConsumer) delete(r *sqs.Receiver, queueURL string, handles []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := r.Delete(ctx, queueURL, handles...)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			c.mu.Lock()
			c.got.delErrs++
			c.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *sqsConsumer) record(t *testing.T, m types.Message, fifo bool) {
	body := aws.ToString(m.Body)
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Errorf("body is not base64: %v", err)
		return
	}
	env, err := batch.Decode(raw, batch.Limits{})
	if err != nil {
		t.Errorf("decode: %v", err)
		return
	}
	id := hex.EncodeToString(env.ID())
	attr := func(name string) string {
		if a, ok := m.MessageAttributes[name]; ok {
			return aws.ToString(a.StringValue)
		}
		return ""
	}
	if attr(batch.AttrBatchID) != id || attr(batch.AttrKind) != env.Kind.String() || attr(batch.AttrNetwork) != chain.Preview.Name {
		t.Errorf("message %s: attributes id=%q kind=%q network=%q, envelope %s %s", aws.ToString(m.MessageId),
			attr(batch.AttrBatchID), attr(batch.AttrKind), attr(batch.AttrNetwork), env.Kind, id)
	}
	if env.Network != chain.Preview.Name {
		t.Errorf("message %s: envelope of network %q", id, env.Network)
	}
	if fifo && (m.Attributes["MessageGroupId"] != chain.Preview.Name || m.Attributes["MessageDeduplicationId"] != id) {
		t.Errorf("tip message %s: group %q, deduplication id %q", id, m.Attributes["MessageGroupId"], m.Attributes["MessageDeduplicationId"])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got.maxBody = max(c.got.maxBody, len(body))
	if c.seen[id] {
		c.got.dups++
		return
	}
	c.seen[id] = true
	rm := receivedMsg{id: id, env: env}
	if fifo {
		c.got.tip = append(c.got.tip, rm)
	} else {
		c.got.history = append(c.got.history, rm)
	}
}

// waitFor waits until every wanted message was received.
func (c *sqsConsumer) waitFor(t *testing.T, want map[string]follower.Message, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		missing := 0
		for id := range want {
			if !c.seen[id] {
				missing++
			}
		}
		c.mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages not received within %s", missing, len(want), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the consumer (bounded) and returns what it received.
func (c *sqsConsumer) stop(t *testing.T) consumed {
	t.Helper()
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(sqsStopWait):
		t.Fatalf("consumer did not stop within %s", sqsStopWait)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}
