package faults_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// cutter is a toxiproxy proxy, in process, for the faults that
// shared/dbtest/toxitest does not offer (it adds latency only): connections
// reset or stalled by toxics, and the whole proxy disabled for a while.
// Scenarios chain it in front of a toxitest proxy, which keeps the latency.
type cutter struct {
	p *toxiproxy.Proxy
}

// startCutter listens on a free loopback port and forwards to upstream, a
// loopback address. It stops when the test ends.
func startCutter(tb testing.TB, upstream string) *cutter {
	tb.Helper()
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		tb.Fatalf("cutter upstream %q: %v", upstream, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		tb.Fatalf("cutter upstream %q is not on loopback", upstream)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "cutter-"+strings.ReplaceAll(upstream, ":", "-"), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatalf("start toxiproxy to %s: %v", upstream, err)
	}
	tb.Cleanup(p.Stop)
	return &cutter{p: p}
}

// Addr is the host:port clients connect to.
func (c *cutter) Addr() string { return c.p.Listen }

// add adds a toxic (toxiproxy's name for a fault) of type typ on stream
// ("upstream": client to server, "downstream": server to client).
func (c *cutter) add(name, typ, stream string, attrs map[string]any) error {
	spec, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "attributes": attrs})
	if err != nil {
		return err
	}
	if _, err := c.p.Toxics.AddToxicJson(strings.NewReader(string(spec))); err != nil {
		return fmt.Errorf("add toxic %s (%s): %w", name, typ, err)
	}
	return nil
}

// remove removes a toxic added by add.
func (c *cutter) remove(tb testing.TB, name string) error {
	if err := c.p.Toxics.RemoveToxic(tb.Context(), name); err != nil {
		return fmt.Errorf("remove toxic %s: %w", name, err)
	}
	return nil
}

// disable closes the listener and every connection: clients are refused
// until enable.
func (c *cutter) disable() { c.p.Stop() }

// enable listens again, on the same address.
func (c *cutter) enable() error {
	if err := c.p.Start(); err != nil {
		return fmt.Errorf("restart toxiproxy on %s: %w", c.p.Listen, err)
	}
	return nil
}
