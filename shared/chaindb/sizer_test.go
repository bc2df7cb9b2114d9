package chaindb

import (
	"testing"
	"time"
)

// latencyModel is a server where a statement costs a round trip plus a cost per row.
func latencyModel(rtt, perRow time.Duration) func(rows int) time.Duration {
	return func(rows int) time.Duration { return rtt + time.Duration(rows)*perRow }
}

func TestSizerClimbsWhenRoundTripsDominate(t *testing.T) {
	s := NewSizer(100, DefaultMinStatementRows, DefaultMaxStatementRows)
	cost := latencyModel(80*time.Millisecond, 20*time.Microsecond)
	for range 200 {
		r := s.Rows()
		s.Observe(r, cost(r))
	}
	if got := s.Rows(); got < DefaultMaxStatementRows/2 {
		t.Errorf("size %d after 200 statements at 80 ms round trips, want near the cap %d", got, DefaultMaxStatementRows)
	}
}

func TestSizerClimbsFastWhenRoundTripsDominate(t *testing.T) {
	// A batch of a few thousand rows per table gives only a few dozen
	// statements: at 80 ms a round trip the sizer must reach big statements
	// within them, not after hundreds.
	s := NewSizer(100, DefaultMinStatementRows, DefaultMaxStatementRows)
	cost := latencyModel(80*time.Millisecond, 20*time.Microsecond)
	for range 4 * sizerWindow {
		r := s.Rows()
		s.Observe(r, cost(r))
	}
	if got := s.Rows(); got < 1500 {
		t.Errorf("size %d after %d statements at 80 ms round trips, want at least 1500", got, 4*sizerWindow)
	}
	// Without round trips to save, it takes the ordinary steps.
	s = NewSizer(100, DefaultMinStatementRows, DefaultMaxStatementRows)
	cost = latencyModel(0, 20*time.Microsecond)
	for range 4 * sizerWindow {
		r := s.Rows()
		s.Observe(r, cost(r))
	}
	if got := s.Rows(); got > 600 {
		t.Errorf("size %d after %d statements with no round-trip cost, want ordinary 1.5x steps (<= 600)", got, 4*sizerWindow)
	}
}

func TestSizerFindsTheKnee(t *testing.T) {
	// Cost per row rises past 500 rows (a server that struggles with big statements).
	s := NewSizer(64, DefaultMinStatementRows, DefaultMaxStatementRows)
	cost := func(rows int) time.Duration {
		d := time.Millisecond + time.Duration(rows)*10*time.Microsecond
		if rows > 500 {
			d += time.Duration((rows-500)*(rows-500)) * time.Microsecond
		}
		return d
	}
	for range 400 {
		r := s.Rows()
		s.Observe(r, cost(r))
	}
	if got := s.Rows(); got < 150 || got > 1200 {
		t.Errorf("size %d, want it to settle around the knee at 500", got)
	}
}

func TestSizerBacksOffAndIgnoresSmallStatements(t *testing.T) {
	s := NewSizer(1000, 16, 4096)
	s.Backoff()
	if s.Rows() != 500 {
		t.Fatalf("after backoff %d, want 500", s.Rows())
	}
	for range 50 {
		s.Observe(3, time.Second) // a table's last rows: no signal
	}
	if s.Rows() != 500 {
		t.Errorf("small statements moved the size to %d", s.Rows())
	}
	for range 20 {
		s.Backoff()
	}
	if s.Rows() != 16 {
		t.Errorf("size %d after many backoffs, want the floor 16", s.Rows())
	}
	f := NewSizer(200, 200, 200)
	f.Observe(200, time.Hour)
	f.Backoff()
	if f.Rows() != 200 {
		t.Errorf("fixed sizer moved to %d", f.Rows())
	}
}
