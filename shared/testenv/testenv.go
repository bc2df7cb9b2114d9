// Package testenv decides what a test does when a service it needs (a
// database, the queue emulator, the Lambda runtime emulator) is not there:
// under CI=true the test fails, so that a CI run never passes by skipping;
// elsewhere it says, loudly, what it skipped and how to start the service.
// WaitFor is the bounded wait tests use for a service to get somewhere.
package testenv

import (
	"os"
	"testing"
	"time"
)

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing fails the test under CI and skips it elsewhere.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("required test service missing: %s", msg)
	}
	tb.Skipf("SKIPPING: %s", msg)
}

// MissingPart fails the test under CI; elsewhere it logs and the test goes on
// without the part that needs the service.
func MissingPart(tb testing.TB, msg string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("required test service missing: %s", msg)
	}
	tb.Logf("SKIPPING part: %s", msg)
}

// WaitFor checks cond every 50 ms until it holds, and fails the test, naming
// what it waited for, when within passes first.
func WaitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
