package testenv_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nectar-indexer/nectar/shared/testenv"
)

// recorder is a testing.TB that records how the test would have ended;
// like the real one, Fatalf and Skipf end the goroutine.
type recorder struct {
	testing.TB
	fatal, skip, log string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = f; runtime.Goexit() }
func (r *recorder) Skipf(f string, a ...any)  { r.skip = f; runtime.Goexit() }
func (r *recorder) Logf(f string, a ...any)   { r.log = f }

// call runs fn as a test body would run, on a goroutine of its own.
func call(fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	<-done
}

func TestMissing(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recorder{}
		call(func() { testenv.Missing(r, "X is not set") })
		p := &recorder{}
		call(func() { testenv.MissingPart(p, "Y is not set") })
		if ci == "true" {
			if !strings.Contains(r.fatal, "required test service missing") || r.skip != "" {
				t.Errorf("CI=true: Missing skipped (%q) instead of failing", r.skip)
			}
			if p.fatal == "" || p.log != "" {
				t.Errorf("CI=true: MissingPart logged (%q) instead of failing", p.log)
			}
			continue
		}
		if r.fatal != "" || !strings.HasPrefix(r.skip, "SKIPPING") {
			t.Errorf("outside CI: Missing failed (%q) or did not skip", r.fatal)
		}
		if p.fatal != "" || !strings.HasPrefix(p.log, "SKIPPING") {
			t.Errorf("outside CI: MissingPart failed (%q) or did not log", p.fatal)
		}
	}
}

// WaitFor returns once the condition holds, and fails the test, naming what
// it waited for, when the time runs out first.
func TestWaitFor(t *testing.T) {
	n := 0
	testenv.WaitFor(t, time.Second, "third check", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("checked %d times, want 3", n)
	}
	r := &recorder{}
	call(func() { testenv.WaitFor(r, 120*time.Millisecond, "never", func() bool { return false }) })
	if !strings.Contains(r.fatal, "not within") {
		t.Fatalf("a condition that never holds did not fail the test (fatal %q)", r.fatal)
	}
}
