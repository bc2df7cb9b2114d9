package sim

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/chaindb"
	"github.com/nectar-indexer/nectar/shared/dbtest/toxitest"
	"github.com/nectar-indexer/nectar/shared/ingest"
	"github.com/nectar-indexer/nectar/shared/lambdafn"
	"github.com/nectar-indexer/nectar/shared/sqs"
	"github.com/nectar-indexer/nectar/shared/sqs/memsqs"
)

// Net is the simulated network: preview with K as its security parameter.
var Net = func() chain.Network { n := chain.Preview; n.SecurityParam = K; return n }()

// Env is what the schedules of one run share.
type Env struct {
	Base  []nodesim.Block // the preview chain, in order
	DB    *sql.DB         // the pipeline's database, reached through Proxy
	Proxy *toxitest.Proxy
	Ref   *sql.DB // the clean load's database
	// Logger receives the pipeline's logs (nil: discarded).
	Logger *slog.Logger
}

// Result is what one schedule did and found.
type Result struct {
	Faults      map[string]int
	Divergences []string
	Notes       []string // what happened that is not a divergence (follower exits, unsettled steps)
	Blocks      int      // blocks on the final chain
	Took        time.Duration
}

// The pipeline's settings in a schedule, the template's where it has them.
const (
	visibility     = 30 * time.Second
	maxReceive     = 5
	settleWithin   = 20 * time.Second
	invokeTimeout  = time.Minute
	healRounds     = 60
	pollsPerRound  = 400
	refBatchBlocks = 200
)

var start = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

var errKilled = errors.New("sim: the follower was killed")

// gate stands between the follower and the world: once killed, nothing it
// publishes or saves gets out, as after a SIGKILL; frozen, its cursor saves
// are lost (the kill lands between a publish and the next save).
type gate struct {
	mu             sync.Mutex
	killed, frozen bool
	head           chain.Point
}

type gatedSink struct {
	g    *gate
	next follower.Sink
	log  *slog.Logger
	run  int
}

func (s *gatedSink) Publish(ctx context.Context, msgs []follower.Message) error {
	s.g.mu.Lock()
	killed := s.g.killed
	s.g.mu.Unlock()
	if killed {
		return errKilled
	}
	if err := s.next.Publish(ctx, msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		e := m.Env
		s.log.Debug("sim: published", "run", s.run, "seq", m.Seq, "route", m.Route.String(), "kind", e.Kind.String(), "id", fmt.Sprintf("%.8x", m.ID),
			"first", e.First.Slot, "last", e.Last.Slot, "blocks", len(e.Blocks), "point", e.Point.String(), "from", e.From.String(), "after", fmt.Sprintf("%.8x", e.After))
	}
	last := msgs[len(msgs)-1].Env
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	if last.Kind == batch.KindRollback {
		s.g.head = last.Point
	} else {
		s.g.head = last.Last
	}
	return nil
}

type gatedCursor struct {
	g    *gate
	next *chaindb.Store
}

var _ follower.TipMarker = (*gatedCursor)(nil)

func (c *gatedCursor) LoadTipMark(ctx context.Context, network string) (uint64, error) {
	return c.next.LoadTipMark(ctx, network)
}

// SaveTipMark goes through while the cursor is frozen: the follower raises
// the mark before it publishes, and the kill lands after that.
func (c *gatedCursor) SaveTipMark(ctx context.Context, network string, slot uint64) error {
	c.g.mu.Lock()
	killed := c.g.killed
	c.g.mu.Unlock()
	if killed {
		return errKilled
	}
	return c.next.SaveTipMark(ctx, network, slot)
}

func (c *gatedCursor) LoadCursor(ctx context.Context, network string) ([]chain.Point, error) {
	return c.next.LoadCursor(ctx, network)
}

func (c *gatedCursor) SaveCursor(ctx context.Context, network string, points []chain.Point) error {
	c.g.mu.Lock()
	killed, frozen := c.g.killed, c.g.frozen
	c.g.mu.Unlock()
	switch {
	case killed:
		return errKilled
	case frozen:
		return nil
	}
	return c.next.SaveCursor(ctx, network, points)
}

// run is one schedule being executed.
type run struct {
	tb     testing.TB
	env    *Env
	s      Schedule
	res    *Result
	log    *slog.Logger
	g      *chainGen
	vis    int // positions of g.cur the node shows
	srv    *nodesim.Server
	socket string
	q      *memsqs.Server
	urls   map[Queue]lambdafn.QueueURLs
	poll   map[Queue]*eventsource.Poller
	store  *chaindb.Store

	f        *follower.Follower
	fgate    *gate
	fcancel  context.CancelFunc
	fdone    chan error
	downFor  int // steps the follower stays down after a kill
	restarts int
	runs     int
}

// Run executes schedule s and checks the outcome.
func Run(tb testing.TB, env *Env, s Schedule) Result {
	tb.Helper()
	began := time.Now()
	res := Result{Faults: s.Faults()}
	r := &run{tb: tb, env: env, s: s, res: &res, log: env.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	for _, db := range []*sql.DB{env.DB, env.Ref} {
		if err := wipe(ctx, db); err != nil {
			tb.Fatal(err)
		}
	}
	if err := r.setup(); err != nil {
		tb.Fatalf("seed %d: setup: %v", s.Seed, err)
	}
	defer r.srv.Close()
	r.startFollower()
	r.settle("start")
	for i, st := range s.Steps {
		r.step(i, st)
	}
	r.heal()
	r.stopFollower()
	r.check()
	res.Blocks = r.vis - 1
	res.Took = time.Since(began)
	return res
}

func (r *run) note(format string, args ...any) {
	r.res.Notes = append(r.res.Notes, fmt.Sprintf(format, args...))
}

func (r *run) diverge(format string, args ...any) {
	r.res.Divergences = append(r.res.Divergences, fmt.Sprintf(format, args...))
}

func (r *run) setup() error {
	base := slices.Clone(r.env.Base[r.s.From-1 : r.s.From+r.s.Len])
	g, err := newChainGen(base)
	if err != nil {
		return err
	}
	for _, bad := range r.s.Bad {
		b, ok := undecodable(r.tb, base[bad.At+1], bad.How)
		if !ok {
			continue
		}
		g.corrupt(bad.At+1, b)
	}
	r.g, r.vis = g, r.s.Visible+1
	r.srv, err = nodesim.New(nodesim.Options{NetworkMagic: Net.Magic, Blocks: g.cur, InitialTip: r.vis})
	if err != nil {
		return err
	}
	r.socket = filepath.Join(r.tb.TempDir(), "node.socket")
	if err := r.srv.ListenUnix(r.socket); err != nil {
		return err
	}
	r.q = memsqs.New(start, r.s.Seed)
	ctx := context.Background()
	history, tip, err := sqs.CreateQueues(ctx, r.q, "sim", sqs.QueueOptions{MaxReceiveCount: maxReceive, VisibilityTimeout: visibility})
	if err != nil {
		return err
	}
	names := sqs.NamesFor("sim")
	dlq := func(name string) string { return history[:strings.LastIndexByte(history, '/')+1] + name }
	r.urls = map[Queue]lambdafn.QueueURLs{History: {URL: history, DLQ: dlq(names.HistoryDLQ)}, Tip: {URL: tip, DLQ: dlq(names.TipDLQ)}}
	r.store = chaindb.New(r.env.DB, chaindb.Options{Logger: r.log, BackoffBase: 20 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
	// As deployed: history messages of one invocation written together.
	h := &lambdafn.Handler{
		Applier: &ingest.Applier{Net: Net, Store: r.store}, Logger: r.log, Combine: true,
		Queue: lambdafn.SQSQueue{Client: r.q},
		Queues: map[string]lambdafn.QueueURLs{
			names.History: r.urls[History], names.Tip: r.urls[Tip],
		},
	}
	r.poll = map[Queue]*eventsource.Poller{}
	for _, qu := range []Queue{History, Tip} {
		r.poll[qu] = &eventsource.Poller{Receiver: sqs.NewReceiver(r.q), QueueURL: r.urls[qu].URL, Wait: -1, Logger: r.log,
			Invoke: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
				defer cancel()
				resp, err := h.Handle(ctx, ev)
				failed := map[string]bool{}
				for _, f := range resp.BatchItemFailures {
					failed[f.ItemIdentifier] = true
				}
				for _, m := range ev.Records {
					r.log.Debug("sim: delivered", "queue", qu.String(), "message", m.MessageId, "batch", batchID(m), "failed", failed[m.MessageId] || err != nil)
				}
				return resp, err
			}}
	}
	return nil
}

func batchID(m events.SQSMessage) string {
	if a, ok := m.MessageAttributes[batch.AttrBatchID]; ok && a.StringValue != nil {
		return (*a.StringValue)[:min(8, len(*a.StringValue))]
	}
	return "none"
}

// undecodable makes b undecodable by how; ok is false when b cannot be (an
// Alonzo block under an unknown era tag is still read as one).
func undecodable(tb testing.TB, b nodesim.Block, how BadHow) (nodesim.Block, bool) {
	switch how {
	case BlockNumberRetyped:
		return followertest.RetypeHeaderField(tb, b, 0), true
	case ProtocolVersionRetyped:
		return followertest.RetypeHeaderField(tb, b, -1), true
	}
	if b.Type < 6 {
		return b, false
	}
	b.Type = 9
	return b, true
}

func (r *run) startFollower() {
	g := &gate{}
	sender := sqs.NewSender(r.q, sqs.SenderOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	r.runs++
	sink := &gatedSink{g: g, log: r.log, run: r.runs, next: &follower.SQSSink{Sender: sender, Network: Net.Name, HistoryURL: r.urls[History].URL, TipURL: r.urls[Tip].URL}}
	f, err := follower.New(follower.Options{
		Network: Net, Sink: sink, Cursor: &gatedCursor{g: g, next: r.store},
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: r.socket, Magic: Net.Magic}},
		Start:   r.g.cur[0].Point, Batch: followertest.BatchOptions(),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, ShutdownTimeout: 10 * time.Second,
		Logger: r.log,
	})
	if err != nil {
		r.tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.f, r.fgate, r.fcancel, r.fdone = f, g, cancel, make(chan error, 1)
	go func() { r.fdone <- f.Run(ctx) }()
}

// running reports whether the follower runs; one that exited by itself is
// noted and started again, as its supervisor would.
func (r *run) running() bool {
	if r.f == nil {
		return false
	}
	select {
	case err := <-r.fdone:
		r.note("follower exited: %v", err)
		r.restarts++
		r.f = nil
		if r.restarts > 20 {
			r.diverge("the follower exited %d times (crash loop): %v", r.restarts, err)
			return false
		}
		r.startFollower()
	default:
	}
	return true
}

// kill stops the follower as SIGKILL would: nothing it publishes or saves
// from now on gets out.
func (r *run) kill() {
	if r.f == nil {
		return
	}
	r.fgate.mu.Lock()
	r.fgate.killed = true
	r.fgate.mu.Unlock()
	r.fcancel()
	select {
	case <-r.fdone:
	case <-time.After(30 * time.Second):
		r.diverge("a killed follower did not stop within 30 s")
	}
	r.f = nil
}

// stopFollower stops it as SIGTERM does: drain, save the cursor.
func (r *run) stopFollower() {
	if r.f == nil {
		return
	}
	r.fcancel()
	select {
	case err := <-r.fdone:
		if err != nil && !errors.Is(err, context.Canceled) {
			r.note("follower stopped with: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.diverge("the follower did not stop within 30 s of SIGTERM")
	}
	r.f = nil
}

// settle waits until the follower has published the node's tip.
func (r *run) settle(what string) {
	if !r.running() {
		return
	}
	tip := r.srv.Tip()
	deadline := time.Now().Add(settleWithin)
	for time.Now().Before(deadline) {
		r.fgate.mu.Lock()
		head := r.fgate.head
		r.fgate.mu.Unlock()
		if bytes.Equal(head.Hash, tip.Hash) {
			return
		}
		if !r.running() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.note("%s: the follower had not published the tip %s within %s", what, tip, settleWithin)
}

// deliver is one invocation of the function on queue qu.
func (r *run) deliver(ctx context.Context, qu Queue) eventsource.Result {
	res, err := r.poll[qu].Poll(ctx)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errInvocationKilled) {
		r.log.Debug("poll", "queue", qu.String(), "err", err)
	}
	r.q.Advance(time.Second)
	return res
}

var errInvocationKilled = errors.New("sim: the invocation was killed")

// deliverKilled is an invocation killed after d: the function's work stops
// (its context ends, its transaction is rolled back), and the event source
// sees a failed invocation, so nothing of the batch is deleted.
func (r *run) deliverKilled(qu Queue, d time.Duration) {
	inner := r.poll[qu].Invoke
	p := &eventsource.Poller{Receiver: r.poll[qu].Receiver, QueueURL: r.poll[qu].QueueURL, Wait: -1, Logger: r.log}
	p.Invoke = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = inner(ctx, ev)
		}()
		select {
		case <-done:
		case <-time.After(d):
		}
		cancel()
		<-done
		return events.SQSEventResponse{}, errInvocationKilled
	}
	_, _ = p.Poll(context.Background())
	r.q.Advance(time.Second)
}

func (r *run) step(i int, st Step) {
	ctx := context.Background()
	if r.f == nil && r.downFor <= 0 {
		r.startFollower()
	}
	r.downFor--
	what := fmt.Sprintf("step %d (%s)", i, st)
	switch st.Kind {
	case Extend:
		r.vis += r.srv.Extend(st.N)
		r.settle(what)
	case Deliver:
		for range st.N {
			r.deliver(ctx, st.Queue)
		}
	case Fork:
		d := min(st.N, r.vis-2, K)
		if d < 1 {
			return
		}
		p := r.vis - d
		blocks := r.g.fork(p)
		m := min(st.M, len(blocks))
		if err := r.srv.Rollback(d, blocks[:m]); err != nil {
			r.tb.Fatalf("%s: %v", what, err)
		}
		if err := r.srv.SetPending(blocks[m:]); err != nil {
			r.tb.Fatalf("%s: %v", what, err)
		}
		r.vis = p + m
		r.settle(what)
	case Kill:
		r.kill()
		r.downFor = st.M
	case KillUnsaved:
		if r.f != nil {
			r.fgate.mu.Lock()
			r.fgate.frozen = true
			r.fgate.mu.Unlock()
			r.vis += r.srv.Extend(st.N)
			r.settle(what)
		}
		r.kill()
		r.downFor = st.M
	case Restart:
		r.stopFollower()
		r.startFollower()
		r.settle(what)
	case Disconnect:
		r.srv.DisconnectAll()
		r.settle(what)
	case Duplicate:
		r.q.Drop(st.N)
		r.deliver(ctx, st.Queue)
	case Expire:
		r.q.Advance(visibility + time.Second)
	case IngestKill:
		r.deliverKilled(st.Queue, st.Delay)
	case ConnCut:
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.deliver(ctx, st.Queue)
		}()
		time.Sleep(st.Delay)
		if err := r.env.Proxy.Cut(); err != nil {
			r.tb.Fatal(err)
		}
		<-done
	case DBOutage:
		r.env.Proxy.Down()
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.deliver(ctx, History)
			r.deliver(ctx, Tip)
		}()
		time.Sleep(st.Delay)
		if err := r.env.Proxy.Up(); err != nil {
			r.tb.Fatal(err)
		}
		<-done
	case Redrive:
		r.redrive()
	case Poison:
		r.poison(st.Queue, i)
	}
}

func (r *run) redrive() {
	r.q.Advance(time.Hour)
	for _, qu := range []Queue{History, Tip} {
		if _, err := r.q.Redrive(r.urls[qu].DLQ, r.urls[qu].URL); err != nil {
			r.tb.Fatal(err)
		}
	}
}

// poisonBody is the body of every malformed message: not an envelope.
const poisonBody = "bm90IGFuIGVudmVsb3Bl" // base64("not an envelope")

func (r *run) poison(qu Queue, i int) {
	e := types.SendMessageBatchRequestEntry{Id: aws.String("0"), MessageBody: aws.String(poisonBody)}
	if qu == Tip {
		e.MessageGroupId, e.MessageDeduplicationId = aws.String(Net.Name), aws.String(fmt.Sprintf("poison-%d-%d", r.s.Seed, i))
	}
	_, err := r.q.SendMessageBatch(context.Background(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(r.urls[qu].URL), Entries: []types.SendMessageBatchRequestEntry{e}})
	if err != nil {
		r.tb.Fatal(err)
	}
}

// heal stops injecting faults and lets the pipeline finish: the follower
// runs until it has published the tip, every queue is delivered until it is
// empty, failed messages come back, dead-letter queues are redriven, until
// the database's head is the node's tip and only malformed messages are left
// in the dead-letter queues.
func (r *run) heal() {
	ctx := context.Background()
	if r.f == nil {
		r.startFollower()
	}
	r.fgate.mu.Lock()
	r.fgate.frozen = false
	r.fgate.mu.Unlock()
	for round := range healRounds {
		r.settle(fmt.Sprintf("heal round %d", round))
		for _, qu := range []Queue{History, Tip} {
			for range pollsPerRound {
				if r.deliver(ctx, qu).Received == 0 {
					break
				}
			}
		}
		if r.done() {
			return
		}
		r.q.Advance(visibility + time.Second)
		if round%3 == 2 {
			r.redrive()
		}
	}
	r.diverge("not healed after %d rounds: history %s; tip %s; DLQs %d and %d; tip %s in the database: %v",
		healRounds, r.q.Describe(r.urls[History].URL), r.q.Describe(r.urls[Tip].URL),
		r.q.Depth(r.urls[History].DLQ), r.q.Depth(r.urls[Tip].DLQ), r.srv.Tip(), r.tipStored())
}

func (r *run) done() bool {
	if r.q.Depth(r.urls[History].URL)+r.q.Depth(r.urls[Tip].URL) > 0 || !r.tipStored() {
		return false
	}
	for _, qu := range []Queue{History, Tip} {
		for _, b := range r.q.Bodies(r.urls[qu].DLQ) {
			if b != poisonBody {
				return false
			}
		}
	}
	r.fgate.mu.Lock()
	defer r.fgate.mu.Unlock()
	return bytes.Equal(r.fgate.head.Hash, r.srv.Tip().Hash)
}

func (r *run) tipStored() bool {
	var n int
	tip := r.srv.Tip()
	err := r.env.DB.QueryRow("SELECT (SELECT COUNT(*) FROM block WHERE hash = ?) + (SELECT COUNT(*) FROM quarantine WHERE hash = ?)", tip.Hash, tip.Hash).Scan(&n)
	return err == nil && n == 1
}

// check compares the database with a clean load of the node's final chain
// and runs verify.
func (r *run) check() {
	ctx := context.Background()
	rep, err := r.store.Verify(ctx, Net.Name, 20)
	switch {
	case err != nil:
		r.diverge("verify: %v", err)
	case !rep.OK():
		r.diverge("verify: %s", rep)
	case rep.Head == nil || !bytes.Equal(rep.Head.Hash, r.srv.Tip().Hash):
		r.diverge("verify's head %v is not the node's tip %s", rep.Head, r.srv.Tip())
	}
	if err := r.cleanLoad(ctx); err != nil {
		r.tb.Fatalf("seed %d: clean load: %v", r.s.Seed, err)
	}
	got, err := chaindb.Checksums(ctx, r.env.DB)
	if err != nil {
		r.tb.Fatal(err)
	}
	want, err := chaindb.Checksums(ctx, r.env.Ref)
	if err != nil {
		r.tb.Fatal(err)
	}
	var tables []string
	for t := range want {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		if got[t] != want[t] {
			r.diverge("table %s: %s, clean load %s", t, got[t], want[t])
		}
	}
	gq, err1 := quarantined(ctx, r.env.DB)
	wq, err2 := quarantined(ctx, r.env.Ref)
	if err := errors.Join(err1, err2); err != nil {
		r.tb.Fatal(err)
	}
	if !slices.Equal(gq, wq) {
		r.diverge("quarantine: %v, clean load %v", gq, wq)
	}
}

// cleanLoad applies the node's final chain to the reference database in
// history batches, an undecodable block alone under its point.
func (r *run) cleanLoad(ctx context.Context) error {
	a := &ingest.Applier{Net: Net, Store: chaindb.New(r.env.Ref, chaindb.Options{})}
	blocks := r.g.cur[:r.vis]
	var cut []batch.Block
	var first, last chain.Point
	prev := blocks[0].Point.Hash
	flush := func() error {
		if len(cut) == 0 {
			return nil
		}
		env := &batch.Envelope{Kind: batch.KindBlocks, Network: Net.Name, First: first, Last: last, PrevHash: prev, Blocks: cut}
		if _, err := a.Apply(ctx, env); err != nil {
			return err
		}
		prev, cut = last.Hash, nil
		return nil
	}
	for _, b := range blocks[1:] {
		_, err := chain.ReadHeader(b.Type, b.CBOR)
		if err != nil || len(cut) == refBatchBlocks {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(cut) == 0 {
			first = b.Point
		}
		cut, last = append(cut, batch.Block{Type: b.Type, CBOR: b.CBOR}), b.Point
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func quarantined(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT slot_no, HEX(hash), HEX(prev_hash) FROM quarantine ORDER BY slot_no, hash")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var slot uint64
		var h, p sql.NullString
		if err := rows.Scan(&slot, &h, &p); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%d/%s<-%s", slot, strings.ToLower(h.String), strings.ToLower(p.String)))
	}
	return out, rows.Err()
}

// wipe empties every table of db but the migrations' record.
func wipe(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		if t != "schema_migrations" {
			tables = append(tables, t)
		}
	}
	rows.Close()
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, "DELETE FROM `"+t+"`"); err != nil {
			return fmt.Errorf("empty %s: %w", t, err)
		}
	}
	return nil
}
