package testenv

import (
	"testing"
	"time"
)

// Waits in tests are bounded and fail with what they waited for; reaching
// a limit is a failure, never a timing assertion.

// Eventually polls cond every 2 ms until it holds, failing the test after
// limit.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitClosed waits for done to close, failing the test after limit with
// what was expected to finish.
func WaitClosed(t testing.TB, done <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s did not finish within %v", what, limit)
	}
}
