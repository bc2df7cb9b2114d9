package follower

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync/atomic"
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
	// Reintersect marks the rollback published on the first intersection
	// near the tip after a start, which the source did not ask for.
	Reintersect bool
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

	sent chain.Point // head of everything emitted
	// after is the id of the last rollback emitted, or before the first, an
	// id of this batcher's start: tip batch ids include it, so a tip batch
	// re-cut after a restart never repeats the id of one sent before (which
	// a rollback may since have deleted, and which the FIFO queue would drop
	// as a duplicate within its deduplication window).
	after []byte
	// afterAt is when the batcher saw that rollback, or started: the At of
	// its tip batches.
	afterAt int64
	// mark is the tip mark a previous run left (SetTipMark).
	mark uint64
	// uncertain is true until the first intersection with a source that
	// knows its tip: what the previous run published beyond sent (the saved
	// cursor) is unknown. intersection holds that rollback until the block
	// after it tells how deep it is.
	uncertain    bool
	intersection *Event
	// tipHigh is the highest slot ever sent on the tip route. A block at or
	// below it (re-sent after a rollback) stays on the tip route even if the
	// tip has since moved more than k ahead: it must be applied after the
	// rollback, which only the FIFO queue guarantees.
	tipHigh uint64
	seq     uint64
	now     func() time.Time
}

// NewBatcher starts cutting after head, the newest point already published
// (the saved cursor's). A previous run may have published beyond it: the
// first intersection near the tip publishes a rollback (see Add).
func NewBatcher(net chain.Network, opts BatchOptions, head chain.Point) *Batcher {
	b := &Batcher{net: net, opts: opts, sent: head, now: time.Now, uncertain: true}
	b.afterAt = b.now().UnixNano()
	b.after = startID(net, head, time.Unix(0, b.afterAt))
	return b
}

var starts atomic.Uint64

// startID is the id tip batches carry before a batcher's first rollback:
// distinct for every batcher (start time, head, and a counter).
func startID(net chain.Network, head chain.Point, at time.Time) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "nectar start\x00%s\x00%d\x00%x\x00%d\x00%d", net.Name, head.Slot, head.Hash, at.UnixNano(), starts.Add(1))
	return h.Sum(nil)
}

// SetTipMark gives the batcher the tip mark saved by earlier runs (see
// TipMarker): the highest slot any of them may have published on the tip
// route. Call it before the first Add.
func (b *Batcher) SetTipMark(slot uint64) { b.mark = slot }

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
//
// The first intersection with a source that knows its tip (the node) after
// NewBatcher is special: the previous run may have published blocks beyond
// the saved cursor, about a second's worth, which a fork while it was down
// may have abandoned. When that intersection is within k of the tip (the
// block after it goes to the tip route, or there is none), Add publishes a
// rollback to it even if it is the head, from a point at or above anything
// the previous run can have published (see recoveryFrom). Deeper, the
// blocks after it are history and the intersection is taken as usual.
// A block whose header did not decode (Event.Undecodable) is sent in a batch
// of its own, whose points are the block's.
func (b *Batcher) Add(e Event) ([]Message, error) {
	if !e.Forward {
		if b.uncertain && e.TipKnown {
			return b.intersected(e)
		}
		return b.rollback(e.Point)
	}
	var out []Message
	if b.intersection != nil {
		deep := e.TipKnown && e.TipBlock > e.Header.BlockNo+b.net.SecurityParam
		msgs, err := b.resolve(deep)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	head := b.Head()
	if head.Hash != nil && e.Header.PrevHash != nil && !bytes.Equal(e.Header.PrevHash, head.Hash) {
		return nil, fmt.Errorf("block %s does not follow head %s (its previous hash is %x)", e.Header.Point, head, e.Header.PrevHash)
	}
	r := b.route(e)
	if len(b.pending) > 0 && (r != b.pendingRoute || b.pendingBytes+len(e.Block.CBOR) > b.opts.MaxBytes || e.Undecodable) {
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
	if len(b.pending) >= b.opts.MaxBlocks || b.pendingBytes >= b.opts.MaxBytes || e.Undecodable {
		msgs, err := b.Flush()
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// intersected takes the rollback a tip-aware source starts with while what
// lies beyond sent is uncertain. It decides at once when the intersection
// is the tip, else with the next block (resolve).
func (b *Batcher) intersected(e Event) ([]Message, error) {
	out, err := b.Flush() // nothing is pending after a start; be safe
	if err != nil {
		return nil, err
	}
	b.intersection = &e
	if samePoint(e.Point, e.Tip) {
		msgs, err := b.resolve(false)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// resolve ends the uncertainty: within k of the tip it publishes the
// rollback to the intersection. Deeper it takes it as any rollback, unless
// the tip mark lies above both the intersection and the head: a previous run
// published tip-route blocks up to the mark (it raises the mark before it
// publishes), which a fork since may have abandoned however deep the restart
// is, so it publishes the rollback to the intersection from the mark.
func (b *Batcher) resolve(deep bool) ([]Message, error) {
	e := *b.intersection
	b.intersection, b.uncertain = nil, false
	if deep && b.mark <= max(e.Point.Slot, b.sent.Slot) {
		return b.rollback(e.Point)
	}
	from := b.recoveryFrom(e.Tip)
	if deep {
		from = chain.Point{Slot: b.mark}
	}
	env := &batch.Envelope{Kind: batch.KindRollback, Network: b.net.Name, Point: e.Point, From: from, At: b.now().UnixNano()}
	m, err := b.message(RouteTip, env)
	if err != nil {
		return nil, err
	}
	m.Reintersect = true
	// Blocks up to From must be applied after this rollback: on the FIFO route.
	b.tipHigh = max(b.tipHigh, from.Slot, b.sent.Slot)
	b.after, b.afterAt = m.ID, env.At
	b.sent = e.Point
	return []Message{m}, nil
}

// ClockAllowance is how far ahead of this host's clock a previous run may
// have published a block (the node's clock may be ahead, and it accepts
// blocks a little early).
const ClockAllowance = 10 * time.Minute

// recoveryFrom is the From of a rollback published without knowing the
// head: its slot is at or above every block a previous run can have
// published, and its hash is unknown (nil). Blocks are not made for slots
// in the future, so that is the current slot (plus ClockAllowance) where
// the network's genesis is known; for another network, the tip's slot plus
// the stability window. It is never below the tip or the saved head.
func (b *Batcher) recoveryFrom(tip chain.Point) chain.Point {
	slot := max(tip.Slot, b.sent.Slot)
	if now, ok := slotAt(b.net, b.now().Add(ClockAllowance)); ok {
		slot = max(slot, now)
	} else {
		slot += stabilityWindow(b.net)
	}
	return chain.Point{Slot: slot}
}

// slotAt is the slot in progress at t, or ok=false when the network's
// genesis is unknown.
func slotAt(n chain.Network, t time.Time) (uint64, bool) {
	if !n.Known || n.SlotLength <= 0 {
		return 0, false
	}
	if !t.After(n.SystemStart) {
		return 0, true
	}
	byronEnd := n.SystemStart.Add(time.Duration(n.ShelleyStartSlot) * n.ByronSlotLength)
	if t.Before(byronEnd) && n.ByronSlotLength > 0 {
		return uint64(t.Sub(n.SystemStart) / n.ByronSlotLength), true
	}
	return n.ShelleyStartSlot + uint64(t.Sub(byronEnd)/n.SlotLength), true
}

// ActiveSlotsInverse is 1/f, the inverse of the active slot coefficient
// (f = 0.05 on mainnet, preprod and preview).
const ActiveSlotsInverse = 20

// stabilityWindow is 3k/f slots: a chain grows by at least k blocks in that
// many slots, so no rollback reaches further back (k = 2160 when unknown).
func stabilityWindow(n chain.Network) uint64 {
	k := n.SecurityParam
	if k == 0 {
		k = 2160
	}
	return 3 * k * ActiveSlotsInverse
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
	b.after, b.afterAt = m.ID, env.At
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
		env.After, env.At = b.after, b.afterAt
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
