// Package sim is Nectar's deterministic simulation: seeded schedules of the
// whole pipeline — the follower over N2C from nodesim with a growing tip,
// both queue routes through an in-memory SQS with SQS's delivery semantics
// (shared/sqs/memsqs), the event source and the Lambda handler, the real
// database behind a proxy — with faults injected at points the seed picks.
// After every schedule the database must verify clean and hold, table by
// table, what a clean load of the node's final chain holds.
//
// The seed fixes the schedule: the chain window, its undecodable blocks,
// every step and its parameters, the queue's delivery order and the
// in-memory clock. The follower, the node and the database still run as
// goroutines and servers in real time, so where inside a step a kill or a
// cut lands can differ between two runs of one seed; a divergence therefore
// prints its seed, its schedule and the command that replays it.
package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// K is the simulated network's security parameter: preview's 432 scaled
// down so that a schedule takes seconds. Routing (history deeper than K),
// fork depths and the follower's cursor spacing all follow it.
const K = 60

// Kind is a step of a schedule.
type Kind int

// The steps. Every kind but Extend and Deliver is a fault.
const (
	Extend      Kind = iota // the node's tip grows by N blocks
	Deliver                 // the event source invokes the function N times on a queue
	Fork                    // the node switches to a fork N blocks deep, M of its blocks visible
	Kill                    // the follower is SIGKILLed; it stays down for M steps
	KillUnsaved             // the cursor stops being saved, N more blocks are published, then Kill
	Restart                 // the follower stops (SIGTERM) and starts again
	Disconnect              // the node drops its connections
	Duplicate               // the next N deletes are lost: those messages are delivered again
	Expire                  // the queues' visibility timeout passes
	IngestKill              // an invocation is killed Delay after it starts
	ConnCut                 // the database's connections are cut Delay into an invocation
	DBOutage                // the database is unreachable for Delay while invocations run
	Redrive                 // an hour passes and both dead-letter queues are redriven
	Poison                  // a malformed message is sent to a queue
	numKinds
)

var kindNames = [numKinds]string{"extend", "deliver", "fork", "kill", "kill-unsaved", "restart", "disconnect",
	"duplicate", "expire", "ingest-kill", "conn-cut", "db-outage", "redrive", "poison"}

func (k Kind) String() string { return kindNames[k] }

// weights draw each step's kind.
var weights = [numKinds]int{Extend: 24, Deliver: 26, Fork: 9, Kill: 4, KillUnsaved: 4, Restart: 3, Disconnect: 4,
	Duplicate: 4, Expire: 5, IngestKill: 4, ConnCut: 4, DBOutage: 2, Redrive: 3, Poison: 2}

// Queue names a queue in a step.
type Queue int

// The queues.
const (
	History Queue = iota
	Tip
)

func (q Queue) String() string { return [...]string{"history", "tip"}[q] }

// Step is one step of a schedule.
type Step struct {
	Kind  Kind
	N, M  int
	Queue Queue
	Delay time.Duration
}

func (s Step) String() string {
	switch s.Kind {
	case Extend, Duplicate:
		return fmt.Sprintf("%s %d", s.Kind, s.N)
	case Deliver, Poison:
		return fmt.Sprintf("%s %s %d", s.Kind, s.Queue, s.N)
	case Fork:
		return fmt.Sprintf("fork depth %d, %d visible", s.N, s.M)
	case Kill:
		return fmt.Sprintf("kill, down %d steps", s.M)
	case KillUnsaved:
		return fmt.Sprintf("kill after %d unsaved blocks, down %d steps", s.N, s.M)
	case IngestKill, ConnCut:
		return fmt.Sprintf("%s %s after %s", s.Kind, s.Queue, s.Delay)
	case DBOutage:
		return fmt.Sprintf("%s %s", s.Kind, s.Delay)
	}
	return s.Kind.String()
}

// Bad is an undecodable block of a schedule's chain: at position At of the
// window, made by How.
type Bad struct {
	At  int
	How BadHow
}

// BadHow is how a block is made undecodable.
type BadHow int

// The ways.
const (
	BlockNumberRetyped     BadHow = iota // nothing of the header reads: the next block names it
	ProtocolVersionRetyped               // slot and previous hash read, not the hash
	UnknownEra                           // an era tag gouroboros does not know, the header intact
)

func (h BadHow) String() string {
	return [...]string{"block number retyped", "protocol version retyped", "unknown era"}[h]
}

// Schedule is everything a seed decides.
type Schedule struct {
	Seed uint64
	// From and Len pick the window of the base chain the node serves
	// (From-1, the window's parent, is where the follower starts); Visible
	// of them are on the node's chain at the start.
	From, Len, Visible int
	Bad                []Bad
	Steps              []Step
}

// NewSchedule draws the schedule of seed over a base chain of n blocks (the
// preview chain: Alonzo to block 13,000, then Babbage with transactions).
func NewSchedule(seed uint64, n int) Schedule {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s := Schedule{Seed: seed, Len: 500 + r.IntN(400), Visible: 150 + r.IntN(250)}
	if r.IntN(5) == 0 {
		s.From = 12700 + r.IntN(400) // across the Alonzo-Babbage boundary
	} else {
		s.From = 50000 + r.IntN(max(1, n-50000-s.Len-1))
	}
	if r.IntN(5) < 2 {
		s.Bad = append(s.Bad, Bad{At: s.Visible - 100 + r.IntN(s.Len-s.Visible+50), How: BadHow(r.IntN(3))})
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	steps := 25 + r.IntN(25)
	for range steps {
		x, k := r.IntN(total), Kind(0)
		for ; x >= weights[k]; k++ {
			x -= weights[k]
		}
		st := Step{Kind: k, Queue: Queue(r.IntN(2))}
		switch k {
		case Extend:
			st.N = 1 + r.IntN(40)
		case Deliver:
			st.N = 1 + r.IntN(6)
		case Fork:
			switch x := r.IntN(20); {
			case x < 14:
				st.N = 1 + r.IntN(5)
			case x < 19:
				st.N = 6 + r.IntN(K/2)
			default:
				st.N = K
			}
			st.M = 1 + r.IntN(st.N+3)
		case Kill:
			st.M = r.IntN(3)
		case KillUnsaved:
			st.N, st.M = 1+r.IntN(5), r.IntN(3)
		case Duplicate:
			st.N = 1 + r.IntN(5)
		case IngestKill, ConnCut:
			st.Delay = time.Duration(r.IntN(40)) * time.Millisecond
		case DBOutage:
			st.Delay = time.Duration(200+r.IntN(1300)) * time.Millisecond
		}
		s.Steps = append(s.Steps, st)
	}
	return s
}

// String lists the schedule, one step a line.
func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: blocks %d-%d of the preview chain, %d visible at start", s.Seed, s.From, s.From+s.Len-1, s.Visible)
	for _, bad := range s.Bad {
		fmt.Fprintf(&b, "; block %d undecodable (%s)", s.From+bad.At, bad.How)
	}
	for i, st := range s.Steps {
		fmt.Fprintf(&b, "\n  %2d %s", i, st)
	}
	return b.String()
}

// Faults counts the schedule's fault steps by kind.
func (s Schedule) Faults() map[string]int {
	out := map[string]int{}
	for _, st := range s.Steps {
		if st.Kind != Extend && st.Kind != Deliver {
			out[st.Kind.String()]++
		}
	}
	for _, bad := range s.Bad {
		out["undecodable "+bad.How.String()]++
	}
	return out
}
