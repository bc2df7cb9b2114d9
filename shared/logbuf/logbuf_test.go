package logbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nectar-indexer/nectar/shared/logbuf"
)

// Many writers and a reader at once (run with -race): nothing is lost and
// every line arrives whole.
func TestConcurrentWriters(t *testing.T) {
	var b logbuf.Buffer
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", w, i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	for w := range 8 {
		for i := range 100 {
			if l := fmt.Sprintf("w%d-%d", w, i); !seen[l] {
				t.Fatalf("line %q missing", l)
			}
		}
	}
}
