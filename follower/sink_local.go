package follower

import (
	"context"
	"fmt"
	"time"

	"github.com/nectar-indexer/nectar/shared/backoff"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/ingest"
)

// Applier applies one envelope to the database (ingest.Applier does).
type Applier interface {
	Apply(ctx context.Context, env *batch.Envelope) (ingest.Result, error)
}

var _ Applier = (*ingest.Applier)(nil)

// LocalSink applies messages in-process through the same ingest code the
// Lambda runs: the one-machine mode. The message is decoded from its encoded
// form, exactly as ingest receives it from a queue, and a failed apply is
// tried again up to Attempts times with backoff, as a queue redelivers.
type LocalSink struct {
	Applier Applier
	// Attempts bounds the deliveries of one message (0: DefaultLocalAttempts).
	Attempts int
	// OnApplied, if set, sees each result (progress reporting).
	OnApplied func(ingest.Result)
}

// DefaultLocalAttempts matches the queues' default maxReceiveCount.
const DefaultLocalAttempts = 5

// Publish implements Sink.
func (s *LocalSink) Publish(ctx context.Context, msgs []Message) error {
	for _, m := range msgs {
		env, err := batch.Decode(m.Encoded, batch.Limits{})
		if err != nil {
			return fatalError{err}
		}
		res, err := s.apply(ctx, env)
		if err != nil {
			return err
		}
		if s.OnApplied != nil {
			s.OnApplied(res)
		}
	}
	return nil
}

func (s *LocalSink) apply(ctx context.Context, env *batch.Envelope) (ingest.Result, error) {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = DefaultLocalAttempts
	}
	for n := 1; ; n++ {
		res, err := s.Applier.Apply(ctx, env)
		if err == nil || n >= attempts || ctx.Err() != nil {
			if err != nil {
				err = fmt.Errorf("after %d deliveries: %w", n, err)
			}
			return res, err
		}
		if err := backoff.Sleep(ctx, backoff.Wait(200*time.Millisecond, 10*time.Second, n)); err != nil {
			return res, err
		}
	}
}
