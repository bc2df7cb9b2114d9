package follower

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// Route is the queue a message goes to.
type Route int

const (
	// RouteHistory is the standard queue: blocks deeper than k below the tip,
	// immutable, written in parallel in any order.
	RouteHistory Route = iota
	// RouteTip is the FIFO queue: blocks within k of the tip and every
	// rollback, applied strictly in order.
	RouteTip
)

func (r Route) String() string {
	if r == RouteTip {
		return "tip"
	}
	return "history"
}

// AttributeReserve is the room left in a message for its attributes (batch
// id, kind, network), which SQS counts against the size limit with the body.
const AttributeReserve = 512

// Message is one encoded envelope on its way to a queue.
type Message struct {
	Seq     uint64
	Route   Route
	Env     *batch.Envelope
	ID      []byte
	Encoded []byte
	// Head is the chain's head once this message is applied: the last block
	// of a batch, or a rollback's target.
	Head chain.Point
}

// BatchOptions bound batches.
type BatchOptions struct {
	// MaxBytes is the raw size at which a batch is cut.
	MaxBytes int
	// MaxMessageBytes caps the base64 message body a queue accepts.
	MaxMessageBytes int
	MaxBlocks       int
	// MaxWait is the longest a block waits in an open batch.
	MaxWait time.Duration
}

// Batcher cuts a stream of chain events into messages. It is not safe for
// concurrent use: the follower's loop owns it.
type Batcher struct {
	net  chain.Network
	opts BatchOptions

	pending      []Event
	pendingBytes int
	pendingRoute Route
	since        time.Time

	sent  chain.Point // head of everything emitted
	after []byte      // id of the last rollback emitted
	// tipHigh is the highest slot ever sent on the tip route. A block at or
	// below it (re-sent after a rollback) stays on the tip route even if the
	// tip has since moved more than k ahead: it must be applied after the
	// rollback, which only the FIFO queue guarantees.
	tipHigh uint64
	seq     uint64
	now     func() time.Time
}

// NewBatcher starts cutting after head, the newest point already published.
func NewBatcher(net chain.Network, opts BatchOptions, head chain.Point) *Batcher {
	return &Batcher{net: net, opts: opts, sent: head, now: time.Now}
}

// Head is the newest point the batcher has seen, published or pending.
func (b *Batcher) Head() chain.Point {
	if n := len(b.pending); n > 0 {
		return b.pending[n-1].Header.Point
	}
	return b.sent
}

// Sent is the newest point emitted in a message.
func (b *Batcher) Sent() chain.Point { return b.sent }

// Pending is the number of blocks waiting in the open batch.
func (b *Batcher) Pending() int { return len(b.pending) }

// Deadline is when the open batch must be flushed.
func (b *Batcher) Deadline() (time.Time, bool) {
	if len(b.pending) == 0 || b.opts.MaxWait <= 0 {
		return time.Time{}, false
	}
	return b.since.Add(b.opts.MaxWait), true
}

func (b *Batcher) route(e Event) Route {
	if b.tipHigh > 0 && e.Header.Point.Slot <= b.tipHigh {
		return RouteTip
	}
	if e.Immutable {
		return RouteHistory
	}
	if e.TipKnown && e.TipBlock > e.Header.BlockNo+b.net.SecurityParam {
		return RouteHistory
	}
	return RouteTip
}

// Add takes one event and returns the messages it completes.
func (b *Batcher) Add(e Event) ([]Message, error) {
	if !e.Forward {
		return b.rollback(e.Point)
	}
	head := b.Head()
	if head.Hash != nil && e.Header.PrevHash != nil && !bytes.Equal(e.Header.PrevHash, head.Hash) {
		return nil, fmt.Errorf("block %s does not follow head %s (its previous hash is %x)", e.Header.Point, head, e.Header.PrevHash)
	}
	r := b.route(e)
	var out []Message
	if len(b.pending) > 0 && (r != b.pendingRoute || b.pendingBytes+len(e.Block.CBOR) > b.opts.MaxBytes) {
		msgs, err := b.Flush()
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	if len(b.pending) == 0 {
		b.pendingRoute, b.since = r, b.now()
	}
	b.pending = append(b.pending, e)
	b.pendingBytes += len(e.Block.CBOR)
	if len(b.pending) >= b.opts.MaxBlocks || b.pendingBytes >= b.opts.MaxBytes {
		msgs, err := b.Flush()
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func samePoint(a, b chain.Point) bool { return a.Slot == b.Slot && bytes.Equal(a.Hash, b.Hash) }

// rollback handles a rollback to p: within the open batch it only trims it;
// behind what was published it emits a rollback message.
func (b *Batcher) rollback(p chain.Point) ([]Message, error) {
	if samePoint(p, b.Head()) {
		return nil, nil
	}
	for i, e := range b.pending {
		if samePoint(e.Header.Point, p) {
			for _, dropped := range b.pending[i+1:] {
				b.pendingBytes -= len(dropped.Block.CBOR)
			}
			clear(b.pending[i+1:])
			b.pending = b.pending[:i+1]
			return nil, nil
		}
	}
	clear(b.pending)
	b.pending, b.pendingBytes = b.pending[:0], 0
	if samePoint(p, b.sent) {
		return nil, nil
	}
	env := &batch.Envelope{Kind: batch.KindRollback, Network: b.net.Name, Point: p, From: b.sent, At: b.now().UnixNano()}
	m, err := b.message(RouteTip, env)
	if err != nil {
		return nil, err
	}
	b.tipHigh = max(b.tipHigh, b.sent.Slot)
	b.after = m.ID
	b.sent = p
	return []Message{m}, nil
}

// Flush emits the open batch, split further if its encoding is over the message limit.
func (b *Batcher) Flush() ([]Message, error) {
	if len(b.pending) == 0 {
		return nil, nil
	}
	events := b.pending
	b.pending, b.pendingBytes = nil, 0
	return b.emit(b.pendingRoute, events)
}

func (b *Batcher) emit(r Route, events []Event) ([]Message, error) {
	env := &batch.Envelope{Kind: batch.KindBlocks, Network: b.net.Name, PrevHash: b.sent.Hash,
		First: events[0].Header.Point, Last: events[len(events)-1].Header.Point}
	if r == RouteTip {
		env.After = b.after
	}
	env.Blocks = make([]batch.Block, len(events))
	for i, e := range events {
		env.Blocks[i] = e.Block
	}
	m, err := b.message(r, env)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodedLen(len(m.Encoded))+AttributeReserve <= b.opts.MaxMessageBytes {
		b.sent = env.Last
		if r == RouteTip {
			b.tipHigh = max(b.tipHigh, env.Last.Slot)
		}
		return []Message{m}, nil
	}
	b.seq-- // the oversized message is not sent
	if len(events) == 1 {
		e := events[0]
		return nil, fmt.Errorf("block %s alone encodes to %d bytes (base64, plus %d for message attributes), over batch.max_message_bytes %d: raise it (SQS allows up to 1 MiB)",
			e.Header.Point, base64.StdEncoding.EncodedLen(len(m.Encoded)), AttributeReserve, b.opts.MaxMessageBytes)
	}
	mid := len(events) / 2
	first, err := b.emit(r, events[:mid])
	if err != nil {
		return nil, err
	}
	second, err := b.emit(r, events[mid:])
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

func (b *Batcher) message(r Route, env *batch.Envelope) (Message, error) {
	raw, err := batch.Encode(env)
	if err != nil {
		return Message{}, err
	}
	b.seq++
	head := env.Last
	if env.Kind == batch.KindRollback {
		head = env.Point
	}
	return Message{Seq: b.seq, Route: r, Env: env, ID: env.ID(), Encoded: raw, Head: head}, nil
}
