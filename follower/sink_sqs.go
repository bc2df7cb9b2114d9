package follower

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/sqs"
)

// Sends is what SQSSink needs from shared/sqs: deliver messages to a queue,
// retrying partial failures, returning only when all are accepted or failed.
type Sends interface {
	Send(ctx context.Context, queueURL string, msgs []sqs.Message) error
}

var _ Sends = (*sqs.Sender)(nil)

// SQSSink publishes to the two queues: history batches to the standard queue,
// tip batches and rollbacks to the FIFO queue in one message group per
// network, with the batch id as the deduplication id. Bodies are the
// envelope in base64.
type SQSSink struct {
	Sender     Sends
	Network    string
	HistoryURL string
	TipURL     string
}

// Publish implements Sink.
func (s *SQSSink) Publish(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	url := s.HistoryURL
	if msgs[0].Route == RouteTip {
		url = s.TipURL
	}
	out := make([]sqs.Message, len(msgs))
	for i, m := range msgs {
		if m.Route != msgs[0].Route {
			return fmt.Errorf("sqs sink: messages of both routes in one call")
		}
		id := hex.EncodeToString(m.ID)
		out[i] = sqs.Message{
			ID:   strconv.FormatUint(m.Seq, 10),
			Body: base64.StdEncoding.EncodeToString(m.Encoded),
			Attributes: map[string]string{
				batch.AttrBatchID: id,
				batch.AttrKind:    m.Env.Kind.String(),
				batch.AttrNetwork: s.Network,
			},
		}
		if m.Route == RouteTip {
			out[i].GroupID, out[i].DedupID = s.Network, id
		}
	}
	if err := s.Sender.Send(ctx, url, out); err != nil {
		return fmt.Errorf("send %d %s message(s): %w", len(out), msgs[0].Route, err)
	}
	return nil
}
