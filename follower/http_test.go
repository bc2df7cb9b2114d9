package follower_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/follower/followertest"
	"github.com/nectar-indexer/nectar/shared/chain"
)

// /healthz, /readyz and /metrics while following the preview chain.
func TestHTTPEndpoints(t *testing.T) {
	blocks := previewChain(t)[:2000]
	srv, path := followertest.StartNode(t, blocks, 0)
	reg := prometheus.NewRegistry()
	r := followertest.Start(t, follower.Options{
		Sources: []follower.Source{&follower.NodeSource{Network: "unix", Address: path, Magic: chain.Preview.Magic}},
		Sink:    &followertest.Recorder{}, Cursor: &followertest.MemCursor{}, Metrics: follower.NewMetrics(reg),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, err := follower.Serve(ctx, "127.0.0.1:0", reg, r.F)
	if err != nil {
		t.Fatal(err)
	}
	r.WaitHead(t, srv.Tip(), time.Minute)
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz while following: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"nectar_follower_blocks_published_total 2000", "nectar_follower_tip_slot", "nectar_follower_cursor_slot",
		"nectar_follower_lag_blocks 0", "nectar_follower_batches_published_total{kind=\"blocks\",queue=\"history\"}",
		"nectar_follower_in_flight", "nectar_follower_rollbacks_total 0", "nectar_follower_reconnects_total 0", "nectar_follower_send_errors_total 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	srv.DisconnectAll()
	srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := get("/readyz"); code == http.StatusServiceUnavailable {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("/readyz still ready after the node went away")
}
