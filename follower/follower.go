package follower

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nectar-indexer/nectar/shared/backoff"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// CursorStore persists the follower's newest acknowledged points.
type CursorStore interface {
	LoadCursor(ctx context.Context, network string) ([]chain.Point, error)
	SaveCursor(ctx context.Context, network string, points []chain.Point) error
}

// TipMarker is implemented by a CursorStore that also keeps the tip mark:
// the highest slot the follower may have published on the tip route. The
// follower raises it before publishing a tip-route message beyond it, so a
// run that restarts deeper than k, or before its first cursor save, knows how
// far a killed run's tip blocks (the ones a fork can abandon) may reach, and
// rolls them back (see Batcher.SetTipMark). chaindb.Store implements it.
type TipMarker interface {
	LoadTipMark(ctx context.Context, network string) (uint64, error)
	SaveTipMark(ctx context.Context, network string, slot uint64) error
}

// Defaults for Options.
const (
	DefaultMaxInFlight     = 8
	DefaultCursorPoints    = 20
	DefaultReconnectMin    = time.Second
	DefaultReconnectMax    = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultCursorEvery     = time.Second
)

// Options configure a Follower. Sources are tried in order: when one is done
// (chunk files end), the next continues from where it stopped.
type Options struct {
	Network         chain.Network
	Sources         []Source
	Sink            Sink
	Cursor          CursorStore
	Batch           BatchOptions
	MaxInFlight     int
	CursorPoints    int
	ReconnectMin    time.Duration
	ReconnectMax    time.Duration
	ShutdownTimeout time.Duration
	// Start is where to begin without a cursor (zero: origin).
	Start   chain.Point
	Metrics *Metrics
	Logger  *slog.Logger
}

// Follower follows sources and publishes batches. Run it once.
type Follower struct {
	opts Options
	log  *slog.Logger
	m    *Metrics

	mu        sync.Mutex
	ring      cursorRing
	dirty     bool
	tipBlock  uint64
	headBlock uint64
	progress  Progress
	ready     bool
	lastEvent time.Time
	mark      uint64 // the saved tip mark
}

// New checks options and returns a Follower.
func New(opts Options) (*Follower, error) {
	if len(opts.Sources) == 0 {
		return nil, errors.New("follower: no source (give a node socket/address or a chunk directory)")
	}
	if opts.Sink == nil || opts.Cursor == nil {
		return nil, errors.New("follower: sink and cursor store are required")
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.CursorPoints <= 0 {
		opts.CursorPoints = DefaultCursorPoints
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = DefaultReconnectMin
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(DefaultReconnectMax, opts.ReconnectMin)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{opts: opts, log: opts.Logger, m: opts.Metrics,
		ring: cursorRing{max: opts.CursorPoints, window: stabilityWindow(opts.Network)}}, nil
}

// Ready reports whether the follower is connected to a source and publishing.
func (f *Follower) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

// Progress is a snapshot of what the follower has published.
type Progress struct {
	Blocks   int64       // blocks acknowledged by the sink
	Batches  int64       // messages acknowledged
	Head     chain.Point // newest acknowledged point
	HeadTime time.Time   // its slot's wall-clock time (zero if unknown)
	TipBlock uint64      // the node's tip block number (0 without a node)
	LagBlock uint64      // blocks between the tip and the head (with a node)
}

// Progress returns what the follower has published so far.
func (f *Follower) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.progress
	p.TipBlock = f.tipBlock
	if f.tipBlock > f.headBlock {
		p.LagBlock = f.tipBlock - f.headBlock
	}
	return p
}

// Cursor returns the acknowledged points, newest first.
func (f *Follower) Cursor() []chain.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chain.Point(nil), f.ring.points...)
}

// Run follows until ctx ends (then drains within ShutdownTimeout and saves
// the cursor), until the last source is done, or until an error that a
// reconnect cannot fix (a rejected message, a broken cursor store).
func (f *Follower) Run(ctx context.Context) error {
	net := f.opts.Network.Name
	points, err := f.opts.Cursor.LoadCursor(ctx, net)
	if err != nil {
		return err
	}
	head := f.opts.Start
	if len(points) > 0 {
		head = points[0]
		f.log.Info("resuming from cursor", "network", net, "point", head.String(), "points", len(points))
	} else {
		f.log.Info("no cursor, starting", "network", net, "point", head.String())
		if head.Hash != nil {
			points = []chain.Point{head}
		}
	}
	f.mu.Lock()
	f.ring.points = points
	f.ring.thin()
	f.mu.Unlock()
	b := NewBatcher(f.opts.Network, f.opts.Batch, head)
	if tm, ok := f.opts.Cursor.(TipMarker); ok {
		mark, err := tm.LoadTipMark(ctx, net)
		if err != nil {
			return err
		}
		b.SetTipMark(mark)
		f.mu.Lock()
		f.mark = mark
		f.mu.Unlock()
	}
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	pub := newPublisher(f.opts.Sink, f.opts.MaxInFlight, 1, f.m, f.acked)

	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() { defer close(saverDone); f.saveLoop(saverCtx) }()

	runErr := f.follow(ctx, b, pub, pubCtx)

	// Drain: publish the open batch and wait for in-flight messages, bounded.
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), f.opts.ShutdownTimeout)
	defer cancelDrain()
	if runErr == nil || errors.Is(runErr, context.Canceled) {
		if msgs, err := b.Flush(); err != nil {
			runErr = errors.Join(runErr, err)
		} else if err := f.publish(drainCtx, pub, msgs); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- pub.wait() }()
	select {
	case err := <-waited:
		if err != nil && !errors.Is(err, context.Canceled) {
			runErr = errors.Join(runErr, fmt.Errorf("publish: %w", err))
		}
	case <-drainCtx.Done():
		cancelPub()
		runErr = errors.Join(runErr, fmt.Errorf("drain: in-flight messages not acknowledged within %s", f.opts.ShutdownTimeout))
	}
	stopSaver()
	<-saverDone
	if err := f.saveCursor(drainCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	f.log.Info("follower stopped", "cursor", f.headPoint().String())
	if errors.Is(runErr, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return runErr
}

// follow runs the sources in order, reconnecting on failure, until ctx ends
// or the last source is done.
func (f *Follower) follow(ctx context.Context, b *Batcher, pub *publisher, pubCtx context.Context) error {
	retry := backoff.Exponential{Min: f.opts.ReconnectMin, Max: f.opts.ReconnectMax}
	for i := 0; i < len(f.opts.Sources); {
		src := f.opts.Sources[i]
		events := make(chan Event, 64)
		srcCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		points := append([]chain.Point{b.Head()}, f.Cursor()...)
		go func() { errc <- src.Follow(srcCtx, dedupPoints(points), events) }()
		err := f.consume(ctx, b, pub, pubCtx, events, errc)
		cancel()
		f.setReady(false)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrSourceDone):
			f.log.Info("source done", "source", i, "head", b.Head().String())
			i++
			retry.Reset()
			continue
		case err == nil:
			return nil
		case isFatal(err):
			return err
		}
		f.m.Reconnects.Inc()
		wait := retry.Next()
		f.log.Warn("source failed, reconnecting", "err", err, "wait", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return nil
}

// fatalError marks errors that reconnecting cannot fix.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

func isFatal(err error) bool {
	var fe fatalError
	return errors.As(err, &fe) || errors.Is(err, ErrIntersectNotFound)
}

func (f *Follower) consume(ctx context.Context, b *Batcher, pub *publisher, pubCtx context.Context, events <-chan Event, errc <-chan error) error {
	var timer *time.Timer
	var timerC <-chan time.Time
	resetTimer := func() {
		if timer != nil {
			timer.Stop()
			timerC = nil
		}
		if d, ok := b.Deadline(); ok {
			timer = time.NewTimer(time.Until(d))
			timerC = timer.C
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			// Take what the source sent before it stopped.
			for {
				select {
				case e := <-events:
					if err := f.handle(pubCtx, b, pub, e); err != nil {
						return err
					}
					continue
				default:
				}
				break
			}
			if errors.Is(err, ErrSourceDone) {
				msgs, ferr := b.Flush()
				if ferr != nil {
					return fatalError{ferr}
				}
				if perr := f.publish(pubCtx, pub, msgs); perr != nil {
					return perr
				}
			}
			return err
		case e := <-events:
			if err := f.handle(pubCtx, b, pub, e); err != nil {
				return err
			}
			resetTimer()
		case <-timerC:
			msgs, err := b.Flush()
			if err != nil {
				return fatalError{err}
			}
			if err := f.publish(pubCtx, pub, msgs); err != nil {
				return err
			}
			timerC = nil
		}
	}
}

func (f *Follower) handle(ctx context.Context, b *Batcher, pub *publisher, e Event) error {
	f.mu.Lock()
	f.ready, f.lastEvent = true, time.Now()
	if e.TipKnown {
		f.tipBlock = e.TipBlock
		f.m.TipSlot.Set(float64(e.Tip.Slot))
	}
	f.mu.Unlock()
	if !e.Forward && !samePoint(e.Point, b.Head()) {
		f.m.Rollbacks.Inc()
		f.log.Info("rollback", "to", e.Point.String(), "from", b.Head().String())
	}
	msgs, err := b.Add(e)
	if err != nil {
		return fatalError{err}
	}
	for _, m := range msgs {
		if m.Reintersect {
			f.m.ReintersectRollbacks.Inc()
			f.log.Info("re-intersected near the tip: rolling back to the intersection, in case blocks published after the saved cursor were abandoned",
				"to", m.Env.Point.String(), "from_slot", m.Env.From.Slot)
		}
	}
	if e.Undecodable {
		f.m.UndecodableHeaders.Inc()
		f.log.Warn("block header does not decode: forwarded alone for quarantine", "point", e.Header.Point.String(), "block_type", e.Block.Type)
	}
	return f.publish(ctx, pub, msgs)
}

// publish hands messages to the publisher, grouped by consecutive route.
func (f *Follower) publish(ctx context.Context, pub *publisher, msgs []Message) error {
	for len(msgs) > 0 {
		n := 1
		for n < len(msgs) && msgs[n].Route == msgs[0].Route {
			n++
		}
		if msgs[0].Route == RouteTip {
			if err := f.raiseTipMark(ctx, msgs[:n]); err != nil {
				return fatalError{err}
			}
		}
		if err := pub.send(ctx, msgs[:n]); err != nil {
			return fatalError{fmt.Errorf("publish: %w", err)}
		}
		msgs = msgs[n:]
	}
	return nil
}

// raiseTipMark saves the tip mark at the last slot of msgs before they are
// published, when that is above the saved mark.
func (f *Follower) raiseTipMark(ctx context.Context, msgs []Message) error {
	tm, ok := f.opts.Cursor.(TipMarker)
	if !ok {
		return nil
	}
	var high uint64
	for _, m := range msgs {
		if m.Env.Kind == batch.KindBlocks {
			high = max(high, m.Env.Last.Slot)
		}
	}
	f.mu.Lock()
	mark := f.mark
	f.mu.Unlock()
	if high <= mark {
		return nil
	}
	if err := tm.SaveTipMark(ctx, f.opts.Network.Name, high); err != nil {
		return err
	}
	f.mu.Lock()
	f.mark = max(f.mark, high)
	f.mu.Unlock()
	return nil
}

// acked runs in sequence order once a message is acknowledged.
func (f *Follower) acked(m Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring.push(m)
	f.dirty = true
	f.progress.Blocks += int64(len(m.Env.Blocks))
	f.progress.Batches++
	f.progress.Head = m.Head
	if t, ok := f.opts.Network.SlotTime(m.Head.Slot); ok {
		f.progress.HeadTime = t
	}
	f.m.CursorSlot.Set(float64(m.Head.Slot))
	if n := len(m.Env.Blocks); n > 0 {
		if h, err := chain.ReadHeader(m.Env.Blocks[n-1].Type, m.Env.Blocks[n-1].CBOR); err == nil {
			f.headBlock = h.BlockNo
		}
	}
	if f.tipBlock >= f.headBlock {
		f.m.LagBlocks.Set(float64(f.tipBlock - f.headBlock))
	}
	if t, ok := f.opts.Network.SlotTime(m.Head.Slot); ok {
		f.m.LagSeconds.Set(time.Since(t).Seconds())
	}
}

func (f *Follower) headPoint() chain.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ring.points) == 0 {
		return chain.Point{}
	}
	return f.ring.points[0]
}

func (f *Follower) setReady(v bool) {
	f.mu.Lock()
	f.ready = v
	f.mu.Unlock()
}

func (f *Follower) saveLoop(ctx context.Context) {
	t := time.NewTicker(DefaultCursorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Lag keeps growing while nothing is acknowledged: a stuck
			// follower must not keep reporting its last good lag.
			f.mu.Lock()
			if !f.progress.HeadTime.IsZero() {
				f.m.LagSeconds.Set(time.Since(f.progress.HeadTime).Seconds())
			}
			f.mu.Unlock()
			if err := f.saveCursor(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("save cursor", "err", err)
			}
		}
	}
}

// saveCursor writes the acknowledged points if they changed.
func (f *Follower) saveCursor(ctx context.Context) error {
	f.mu.Lock()
	if !f.dirty {
		f.mu.Unlock()
		return nil
	}
	points := append([]chain.Point(nil), f.ring.points...)
	f.dirty = false
	f.mu.Unlock()
	if err := f.opts.Cursor.SaveCursor(ctx, f.opts.Network.Name, points); err != nil {
		f.mu.Lock()
		f.dirty = true
		f.mu.Unlock()
		return fmt.Errorf("save cursor: %w", err)
	}
	return nil
}

func dedupPoints(ps []chain.Point) []chain.Point {
	var out []chain.Point
	for _, p := range ps {
		if p.Hash == nil {
			continue
		}
		dup := false
		for _, q := range out {
			if samePoint(p, q) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}
