// Package eventsourcetest gives tests what they need to run a function under the
// Lambda runtime interface emulator: the emulator binary that
// infra/local/lambda.sh builds, and a function's bootstrap built once per
// test binary, and pollers that run for the length of a test.
package eventsourcetest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/infra/local/eventsource"
	"github.com/nectar-indexer/nectar/shared/testenv"
)

// EnvBin names the aws-lambda-rie binary: source "$(infra/local/lambda.sh env)".
const EnvBin = "NECTAR_TEST_RIE"

// Bin returns the emulator binary; without it the test fails under CI=true
// and is skipped, loudly, elsewhere.
func Bin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvBin); p != "" {
		return p
	}
	testenv.Missing(tb, EnvBin+" is not set: run `source \"$(infra/local/lambda.sh up)\"` first")
	return ""
}

// Bootstrap is one package's bootstrap, built for this machine the first
// time Path asks for it.
type Bootstrap struct {
	Pkg string // import path, or a directory relative to the test's package

	once sync.Once
	path string
	err  error
}

// Path builds the bootstrap into dir once (within five minutes) and returns
// its path; a failed build fails every test that asks.
func (b *Bootstrap) Path(tb testing.TB, dir string) string {
	tb.Helper()
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		b.path, b.err = eventsource.BuildBootstrap(ctx, b.Pkg, dir)
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// Run runs p until the test ends; the test fails if p returns an error or
// does not stop within stopWithin of the end.
func Run(tb testing.TB, p *eventsource.Poller, stopWithin time.Duration) *eventsource.Poller {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("poller of %s: %v", p.QueueURL, err)
			}
		case <-time.After(stopWithin):
			tb.Errorf("poller of %s did not stop within %s", p.QueueURL, stopWithin)
		}
	})
	return p
}
