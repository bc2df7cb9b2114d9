// Package backoff is the one capped, jittered exponential backoff every retry
// loop uses (the store, the follower's reconnects, the local sink, the SQS
// sender and the local poller).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Wait is the wait before retry round n (1-based): Min·2^(n-1) capped at
// Max, with equal jitter (a uniform value in [d/2, d]). A Min of zero or a
// doubling that overflows waits Max.
func Wait(lo, hi time.Duration, n int) time.Duration {
	d := hi
	if n >= 1 && n < 63 {
		if x := lo << (n - 1); x > 0 && x>>(n-1) == lo && x < hi {
			d = x
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Exponential counts the rounds of one retry loop.
type Exponential struct {
	Min, Max time.Duration
	n        int
}

// Next returns the wait before the next round.
func (e *Exponential) Next() time.Duration {
	e.n++
	return Wait(e.Min, e.Max, e.n)
}

// Reset starts again from Min, after a success.
func (e *Exponential) Reset() { e.n = 0 }

// Sleep waits d or until ctx ends, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
