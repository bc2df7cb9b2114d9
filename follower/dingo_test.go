package follower_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/shared/batch"
	"github.com/nectar-indexer/nectar/shared/chain"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// dingoSocket returns the N2C socket of the dingo node that
// infra/local/dingo.sh started. Without one the test fails in CI and skips,
// loudly, elsewhere.
func dingoSocket(tb testing.TB) string {
	tb.Helper()
	const env = "NECTAR_TEST_DINGO_SOCKET"
	path := os.Getenv(env)
	if path == "" {
		msg := env + " is not set: run `bash infra/local/dingo.sh up && source \"$(bash infra/local/dingo.sh env)\"`"
		testenv.Missing(tb, msg)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		tb.Fatalf("%s=%s is not a socket (%v): is dingo up?", env, path, err)
	}
	return path
}

// warnLog is a slog handler that keeps the follower's warnings and errors
// (a failed source, a failed cursor save).
type warnLog struct {
	mu      sync.Mutex
	records []string
}

func (w *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnLog) WithGroup(string) slog.Handler                { return w }

func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records = append(w.records, s)
	return nil
}

func (w *warnLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.records...)
}

// TestFollowDingo follows an independent node implementation, dingo, that
// serves the preview chunks (infra/local/dingo.sh): every block arrives once,
// in order, and at the tip the follower waits: ready, quiet, no error.
func TestFollowDingo(t *testing.T) {
	socket := dingoSocket(t)
	blocks := previewChain(t)
	tip := blocks[len(blocks)-1].Point

	start := time.Now()
	warns := &warnLog{}
	rec := &followertest.Recorder{}
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: socket, Magic: chain.Preview.Magic}},
		Sink:    rec, Cursor: &followertest.MemCursor{},
		Logger: slog.New(warns),
	})
	r.WaitHead(t, tip, 2*time.Minute)
	t.Logf("reached the tip %s in %s", tip, time.Since(start).Round(time.Millisecond))

	msgs := rec.Messages()
	got, err := followertest.Replay(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := followertest.SameChain(got, blocks); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Env.Kind != batch.KindBlocks {
			t.Errorf("message %d is a %s to %s; dingo's chain is static", m.Seq, m.Env.Kind, m.Env.Point)
		}
	}
	for _, w := range warns.all() {
		t.Errorf("while syncing: %s", w)
	}

	// At the tip: dingo answers AwaitReply and sends nothing more. The
	// follower stays connected and ready, and publishes nothing.
	const quiet = 3 * time.Second
	n := len(msgs)
	for end := time.Now().Add(quiet); time.Now().Before(end); {
		if ok, err := r.Stopped(); ok {
			t.Fatalf("follower stopped at the tip: %v", err)
		}
		if !r.F.Ready() {
			t.Fatal("follower not ready at the tip")
		}
		if m := rec.Messages(); len(m) != n {
			t.Fatalf("%d new messages at the tip, first %s (%d blocks)", len(m)-n, m[n].Env.Kind, len(m[n].Env.Blocks))
		}
		if c := r.F.Cursor(); len(c) == 0 || !bytes.Equal(c[0].Hash, tip.Hash) {
			t.Fatalf("cursor moved from the tip to %v", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range warns.all() {
		t.Errorf("at the tip: %s", w)
	}
}
