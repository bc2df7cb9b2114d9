package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	ouroboros "github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/protocol/chainsync"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"
	"go.uber.org/goleak"
)

const previewDir = "../../../../testdata/chains/preview"

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"socket", []string{"-chunks", previewDir, "-socket", "/tmp/x.socket"}, false},
		{"tcp", []string{"-chunks", previewDir, "-listen", "127.0.0.1:0", "-magic", "764824073", "-tip", "-1", "-grow-every", "1s"}, false},
		{"no chunks", []string{"-socket", "/tmp/x.socket"}, true},
		{"no address", []string{"-chunks", previewDir}, true},
		{"both addresses", []string{"-chunks", previewDir, "-socket", "/tmp/x.socket", "-listen", "127.0.0.1:0"}, true},
		{"magic too large", []string{"-chunks", previewDir, "-socket", "/tmp/x.socket", "-magic", "4294967296"}, true},
		{"negative growth", []string{"-chunks", previewDir, "-socket", "/tmp/x.socket", "-grow-every", "-1s"}, true},
		{"extra argument", []string{"-chunks", previewDir, "-socket", "/tmp/x.socket", "extra"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewMain().ParseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFlags(%q) = %v, want error %v", tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestRun serves the preview chunks with a growing tip and follows them with a
// real client until the tip has grown.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	socket := filepath.Join(t.TempDir(), "node.socket")
	m := NewMain()
	m.ChunkDir, m.Socket, m.Tip, m.GrowEvery = previewDir, socket, 2, 10*time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	forwards := make(chan uint64, 100)
	stop := make(chan struct{})
	cfg := chainsync.NewConfig(
		chainsync.WithRollForwardRawFunc(func(_ chainsync.CallbackContext, _ uint, _ []byte, tip chainsync.Tip) error {
			select {
			case forwards <- tip.BlockNumber:
				return nil
			case <-stop:
				return chainsync.ErrStopSyncProcess
			}
		}),
		chainsync.WithRollBackwardFunc(func(chainsync.CallbackContext, pcommon.Point, chainsync.Tip) error { return nil }),
	)
	oc, err := ouroboros.NewConnection(
		ouroboros.WithNetworkMagic(2),
		ouroboros.WithChainSyncConfig(cfg),
		ouroboros.WithMuxerSegmentReadTimeout(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.DialTimeout("unix", socket, 10*time.Second); err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer func() { close(stop); _ = oc.Close() }()
	if err := oc.ChainSync().Client.Sync(nil); err != nil {
		t.Fatalf("sync: %v", err)
	}
	var tips []uint64
	for len(tips) < 5 {
		select {
		case tip := <-forwards:
			tips = append(tips, tip)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d blocks, want 5 while the tip grows", len(tips))
		}
	}
	if tips[4] <= tips[0] {
		t.Fatalf("tip block numbers %v did not grow", tips)
	}
}
