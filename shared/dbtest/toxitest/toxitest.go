// Package toxitest puts a toxiproxy proxy, run in process, between a test and
// a server on loopback, so a test can add network faults (latency, cut
// connections, an unreachable server) to real connections without touching
// the server.
package toxitest

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy forwards TCP connections from a loopback port to an upstream address.
type Proxy struct {
	p *toxiproxy.Proxy
}

// Start listens on 127.0.0.1 (a free port) and forwards to upstream, which
// must be a loopback address. The proxy stops when the test ends.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		tb.Fatalf("toxiproxy upstream %q: %v", upstream, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		tb.Fatalf("toxiproxy upstream %q is not on loopback", upstream)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "upstream-"+strings.ReplaceAll(upstream, ":", "-"), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatalf("start toxiproxy to %s: %v", upstream, err)
	}
	tb.Cleanup(p.Stop)
	return &Proxy{p: p}
}

// Addr is the host:port clients connect to instead of the upstream.
func (p *Proxy) Addr() string { return p.p.Listen }

// latencyToxic is the name of the toxic SetLatency manages.
const latencyToxic = "latency_downstream"

// SetLatency delays everything the upstream sends by d (0 removes the
// delay), so each request/response round trip takes d longer. It applies to
// data sent after the call, on new and open connections alike.
func (p *Proxy) SetLatency(tb testing.TB, d time.Duration) {
	tb.Helper()
	if p.p.Toxics.GetToxic(latencyToxic) != nil {
		if err := p.p.Toxics.RemoveToxic(tb.Context(), latencyToxic); err != nil {
			tb.Fatalf("remove toxiproxy latency: %v", err)
		}
	}
	if d <= 0 {
		return
	}
	spec, err := json.Marshal(map[string]any{
		"name": latencyToxic, "type": "latency", "stream": "downstream",
		"attributes": map[string]any{"latency": d.Milliseconds()},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(spec))); err != nil {
		tb.Fatalf("add toxiproxy latency %s: %v", d, err)
	}
}

// String describes the proxy for logs.
func (p *Proxy) String() string { return fmt.Sprintf("toxiproxy %s -> %s", p.p.Listen, p.p.Upstream) }

// Cut closes every open connection, as a server restart or a network
// failure does; new connections are accepted again at once.
func (p *Proxy) Cut() error {
	p.p.Stop()
	return p.Up()
}

// Down closes every open connection and refuses new ones until Up: the
// server is unreachable (restarting, or the network is down).
func (p *Proxy) Down() { p.p.Stop() }

// Up accepts connections again, on the same address, after Down.
func (p *Proxy) Up() error {
	if err := p.p.Start(); err != nil {
		return fmt.Errorf("restart toxiproxy on %s: %w", p.p.Listen, err)
	}
	return nil
}
