package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitDoublesWithinJitterAndCaps(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 5 * time.Second
	for n, want := range map[int]time.Duration{
		1: lo, 2: 2 * lo, 3: 4 * lo, 6: 32 * lo, 7: hi, 40: hi, 200: hi,
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := Wait(lo, hi, n)
			if w < want/2 || w > want {
				t.Fatalf("round %d: wait %s outside [%s, %s]", n, w, want/2, want)
			}
			seen[w] = true
		}
		if len(seen) < 2 {
			t.Errorf("round %d: 200 waits all %v: no jitter", n, seen)
		}
	}
}

func TestWaitEdges(t *testing.T) {
	// A zero minimum waits the maximum; so does a shift that overflows.
	if w := Wait(0, time.Second, 1); w < time.Second/2 || w > time.Second {
		t.Errorf("Wait(0, 1s, 1) = %s", w)
	}
	if w := Wait(time.Hour, 2*time.Hour, 62); w < time.Hour || w > 2*time.Hour {
		t.Errorf("Wait(1h, 2h, 62) = %s, want the cap", w)
	}
	// A minimum above the maximum waits the maximum.
	if w := Wait(time.Minute, time.Second, 1); w > time.Second {
		t.Errorf("Wait(1m, 1s, 1) = %s, above the cap", w)
	}
}

func TestExponentialResets(t *testing.T) {
	e := Exponential{Min: time.Second, Max: time.Hour}
	for range 5 {
		e.Next()
	}
	if w := e.Next(); w < 16*time.Second {
		t.Fatalf("sixth wait %s, want at least 16 s", w)
	}
	e.Reset()
	if w := e.Next(); w > time.Second {
		t.Fatalf("after Reset: wait %s, want at most Min", w)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep(1ms) = %v", err)
	}
}
