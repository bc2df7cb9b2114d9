package follower_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ouroboros "github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/protocol/chainsync"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/follower/nodesim"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// countSink accepts messages and counts their blocks.
type countSink struct{ blocks atomic.Int64 }

func (s *countSink) Publish(_ context.Context, msgs []follower.Message) error {
	for _, m := range msgs {
		s.blocks.Add(int64(len(m.Env.Blocks)))
	}
	return nil
}

// BenchmarkRelay measures the follower relaying a chain from the nodesim
// chain-sync server into encoded batches, against a bare gouroboros
// chain-sync client receiving the same blocks over the same socket (the
// baseline), in the same process. It reports both rates, their ratio, and the
// process's peak RSS.
func BenchmarkRelay(b *testing.B) {
	conway, err := nodesim.LoadChunks(filepath.Join("..", "testdata", "chains", "mainnet"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		net    chain.Network
		blocks []nodesim.Block
	}{{"preview", chain.Preview, previewChain(b)}, {"mainnet-conway", chain.Mainnet, conway}} {
		b.Run(c.name, func(b *testing.B) {
			var bare, ours time.Duration
			for range b.N {
				srv, err := nodesim.New(nodesim.Options{NetworkMagic: c.net.Magic, Blocks: c.blocks})
				if err != nil {
					b.Fatal(err)
				}
				path := filepath.Join(b.TempDir(), "node.socket")
				if err := srv.ListenUnix(path); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				bareSync(b, path, c.net.Magic, len(c.blocks))
				bare += time.Since(start)

				start = time.Now()
				sink := &countSink{}
				f, err := follower.New(follower.Options{Network: c.net, Batch: followertest.BatchOptions(),
					Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: c.net.Magic}},
					Sink:    sink, Cursor: &followertest.MemCursor{}})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- f.Run(ctx) }()
				for sink.blocks.Load() < int64(len(c.blocks)) {
					time.Sleep(time.Millisecond)
				}
				ours += time.Since(start)
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				srv.Close()
			}
			n := float64(b.N * len(c.blocks))
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			b.ReportMetric(n/bare.Seconds(), "bare-client-blocks/s")
			b.ReportMetric(n/ours.Seconds(), "follower-blocks/s")
			b.ReportMetric(ours.Seconds()/bare.Seconds(), "follower/bare-time")
			b.ReportMetric(float64(ru.Maxrss)/1024, "process-peak-RSS-MiB")
		})
	}
}

// bareSync receives n blocks with a plain gouroboros client and drops them.
func bareSync(tb testing.TB, path string, magic uint32, n int) {
	tb.Helper()
	var got atomic.Int64
	done := make(chan struct{})
	cfg := chainsync.NewConfig(
		chainsync.WithRollForwardRawFunc(func(_ chainsync.CallbackContext, _ uint, _ []byte, _ chainsync.Tip) error {
			if got.Add(1) == int64(n) {
				close(done)
			}
			return nil
		}),
		chainsync.WithRollBackwardFunc(func(chainsync.CallbackContext, pcommon.Point, chainsync.Tip) error { return nil }),
		chainsync.WithPipelineLimit(50),
	)
	conn, err := ouroboros.NewConnection(ouroboros.WithNetworkMagic(magic), ouroboros.WithNodeToNode(false),
		ouroboros.WithChainSyncConfig(cfg), ouroboros.WithMuxerSegmentReadTimeout(0))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Dial("unix", path); err != nil {
		tb.Fatal(err)
	}
	if err := conn.ChainSync().Client.Sync([]pcommon.Point{pcommon.NewPointOrigin()}); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		tb.Fatalf("bare client received %d of %d blocks", got.Load(), n)
	}
}
