package collab

import (
	"bytes"
	"runtime"
	"testing"
)

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return string(bytes.Fields(buf)[1])
}

// TestTaskGroupReusesGoroutines: a task started after another finished
// runs on the goroutine that waits for work, and after stopIdle the
// waiting goroutines end (main_test's goleak check sees any left).
func TestTaskGroupReusesGoroutines(t *testing.T) {
	var g taskGroup
	defer g.stopIdle()
	seen := map[string]bool{}
	reused := false
	for i := 0; i < 1000 && !reused; i++ {
		ids := make(chan string, 1)
		g.Go(func() { ids <- goroutineID() })
		g.Wait()
		id := <-ids
		reused = seen[id]
		seen[id] = true
		runtime.Gosched() // let the finished goroutine reach its wait
	}
	if !reused {
		t.Fatalf("1000 tasks in a row ran on %d goroutines, none reused", len(seen))
	}
}

// TestTaskGroupWaitsForTasksStartedWhileWaiting: Wait returns only when no
// task runs, also for tasks started (and handed to waiting goroutines)
// during the wait.
func TestTaskGroupWaitsForTasksStartedWhileWaiting(t *testing.T) {
	var g taskGroup
	defer g.stopIdle()
	release := make(chan struct{})
	var ran [3]bool
	g.Go(func() {
		<-release
		ran[0] = true
		g.Go(func() { ran[1] = true; g.Go(func() { ran[2] = true }) })
	})
	waited := make(chan struct{})
	go func() { g.Wait(); close(waited) }()
	close(release)
	<-waited
	for i, r := range ran {
		if !r {
			t.Fatalf("Wait returned before task %d ran", i)
		}
	}
}
