package follower

import (
	"context"

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
// form, exactly as ingest receives it from a queue.
type LocalSink struct {
	Applier Applier
	// OnApplied, if set, sees each result (progress reporting).
	OnApplied func(ingest.Result)
}

// Publish implements Sink.
func (s *LocalSink) Publish(ctx context.Context, msgs []Message) error {
	for _, m := range msgs {
		env, err := batch.Decode(m.Encoded, batch.Limits{})
		if err != nil {
			return fatalError{err}
		}
		res, err := s.Applier.Apply(ctx, env)
		if err != nil {
			return err
		}
		if s.OnApplied != nil {
			s.OnApplied(res)
		}
	}
	return nil
}
