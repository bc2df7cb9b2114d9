package follower

import (
	"context"
	"sync"
)

// Sink delivers messages. Publish returns only once every message is durably
// accepted (acknowledged by the queue, or applied to the database) or has
// failed for good; it retries transient failures itself. It is called
// concurrently for history messages and one call at a time, in order, for tip
// messages.
type Sink interface {
	Publish(ctx context.Context, msgs []Message) error
}

// publisher sends messages with bounded concurrency, keeps tip messages in
// order, and reports the newest head up to which every message is acknowledged.
type publisher struct {
	sink     Sink
	inFlight chan struct{} // one token per message group being sent
	metrics  *Metrics

	mu      sync.Mutex
	done    map[uint64]Message // acknowledged, waiting for earlier ones
	next    uint64             // lowest sequence number not yet acknowledged
	acked   func(Message)      // called in sequence order with the lock held
	tipPrev chan struct{}      // closed when the previous tip group is acknowledged
	err     error
	errOnce sync.Once
	failed  chan struct{}
	wg      sync.WaitGroup
}

func newPublisher(sink Sink, maxInFlight int, firstSeq uint64, m *Metrics, acked func(Message)) *publisher {
	done := make(chan struct{})
	close(done)
	return &publisher{sink: sink, inFlight: make(chan struct{}, maxInFlight), metrics: m,
		done: map[uint64]Message{}, next: firstSeq, acked: acked, tipPrev: done, failed: make(chan struct{})}
}

// send queues a group of messages of one route. It blocks while the
// in-flight limit is reached: a slow queue slows the follower down.
func (p *publisher) send(ctx context.Context, group []Message) error {
	if len(group) == 0 {
		return nil
	}
	select {
	case p.inFlight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.failed:
		return p.err
	}
	p.metrics.InFlight.Inc()
	var wait, mine chan struct{}
	if group[0].Route == RouteTip {
		wait, mine = p.tipPrev, make(chan struct{})
		p.tipPrev = mine
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.inFlight; p.metrics.InFlight.Dec() }()
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				p.fail(ctx.Err())
				return
			case <-p.failed:
				return
			}
		}
		if err := p.sink.Publish(ctx, group); err != nil {
			p.metrics.SendErrors.Inc()
			p.fail(err)
			return
		}
		p.metrics.observePublished(group)
		p.ack(group)
		if mine != nil {
			close(mine)
		}
	}()
	return nil
}

func (p *publisher) fail(err error) {
	p.errOnce.Do(func() {
		p.err = err
		close(p.failed)
	})
}

func (p *publisher) ack(group []Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range group {
		p.done[m.Seq] = m
	}
	for {
		m, ok := p.done[p.next]
		if !ok {
			return
		}
		delete(p.done, p.next)
		p.next++
		p.acked(m)
	}
}

// wait blocks until every queued message is acknowledged or one failed.
func (p *publisher) wait() error {
	p.wg.Wait()
	select {
	case <-p.failed:
		return p.err
	default:
		return nil
	}
}
