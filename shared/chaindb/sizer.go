package chaindb

import (
	"sync"
	"time"
)

// Defaults for the adaptive statement size.
const (
	DefaultMinStatementRows = 16
	DefaultMaxStatementRows = 4096
	// sizerWindow is how many statements the sizer watches before it moves.
	sizerWindow = 4
	// sizerStep is the factor the size grows by; it doubles, up to
	// sizerMaxStep, while growing keeps cutting the time per row sharply.
	sizerStep    = 1.5
	sizerMaxStep = 4
)

// Sizer chooses how many rows go in one multi-row INSERT. It climbs while
// the latency per row improves (a gateway far away rewards big statements),
// faster while round trips dominate, and backs off multiplicatively on
// throttling, busy, conflict and timeout errors. It is safe for concurrent
// use; one Sizer serves a whole Store.
type Sizer struct {
	mu       sync.Mutex
	min, max int
	rows     int
	// the current window: statements, rows and time observed at size rows
	n       int
	wRows   int
	wTime   time.Duration
	prev    float64 // ns per row of the previous window (0: none)
	dir     int     // +1 growing, -1 shrinking
	step    float64 // the factor of the next growth
	fixed   bool
	changes int
}

// NewSizer starts at start rows, adapting between min and max. With
// min == max the size is fixed.
func NewSizer(start, min, max int) *Sizer {
	if min <= 0 {
		min = 1
	}
	if max < min {
		max = min
	}
	start = clamp(start, min, max)
	return &Sizer{min: min, max: max, rows: start, dir: 1, step: sizerStep, fixed: min == max}
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// Rows is the current statement size.
func (s *Sizer) Rows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// Observe records a successful statement of rows rows that took d.
func (s *Sizer) Observe(rows int, d time.Duration) {
	if s.fixed || rows <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Statements much smaller than the size (a table's last few rows) say
	// nothing about the size.
	if rows < s.rows/2 {
		return
	}
	s.n++
	s.wRows += rows
	s.wTime += d
	if s.n < sizerWindow {
		return
	}
	perRow := float64(s.wTime) / float64(s.wRows)
	switch {
	case s.prev == 0:
		// First window: explore upwards.
	case s.dir > 0 && perRow < s.prev*0.8:
		// Growing cut the time per row by a fifth or more: round trips
		// dominate (after a step of 1.5, the fixed cost of a statement is at
		// least 60% of its time). Grow faster, like TCP slow start, so that a
		// far gateway gets big statements within the first batch rather than
		// after a dozen windows.
		s.step = min(2*s.step, sizerMaxStep)
	case perRow < s.prev*0.95:
		// Better than before: keep going the same way.
	case perRow > s.prev*1.05:
		// Worse: turn around, in small steps.
		s.dir, s.step = -s.dir, sizerStep
	default:
		// Flat: prefer bigger statements (fewer round trips) until the cap.
		s.dir, s.step = 1, sizerStep
	}
	s.prev = perRow
	if s.dir > 0 {
		s.rows = clamp(int(float64(s.rows)*s.step)+1, s.min, s.max)
	} else {
		s.rows = clamp(s.rows*2/3, s.min, s.max)
	}
	s.changes++
	s.n, s.wRows, s.wTime = 0, 0, 0
}

// Backoff halves the size after a throttle, busy, conflict or timeout error.
func (s *Sizer) Backoff() {
	if s.fixed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = clamp(s.rows/2, s.min, s.max)
	s.dir, s.step, s.prev = 1, sizerStep, 0
	s.n, s.wRows, s.wTime = 0, 0, 0
}
