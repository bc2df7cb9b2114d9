// Package testenv decides what a test does when a service it needs (a
// database, the queue emulator, the Lambda runtime emulator) is not there:
// under CI=true the test fails, so that a CI run never passes by skipping;
// elsewhere it says, loudly, what it skipped and how to start the service.
package testenv

import (
	"os"
	"testing"
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
