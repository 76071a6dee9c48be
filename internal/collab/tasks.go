package collab

import (
	"sync"
	"time"
)

// taskIdle is how long a goroutine of a taskGroup waits for another task
// before it ends.
const taskIdle = time.Second

// taskGroup runs background tasks and waits for them. Unlike a
// sync.WaitGroup it may start a task while another goroutine waits (a bus
// event can start a worker during Shutdown), which WaitGroup forbids.
//
// A goroutine that finished its task waits up to taskIdle for the next
// one, so a steady stream of short tasks (a document worker per burst of
// ops) reuses goroutines whose stacks have grown already, instead of
// growing a fresh 8 KB stack through the OT and commit path every time.
// The zero value is ready; stopIdle ends the waiting goroutines.
type taskGroup struct {
	mu      sync.Mutex
	idle    *sync.Cond // signalled when n drops to 0
	n       int
	handoff chan func()   // unbuffered: a send succeeds only to a waiting goroutine
	quit    chan struct{} // closed by stopIdle
	stopped bool
}

// Go runs f on a waiting goroutine of the group, or on a new one.
func (g *taskGroup) Go(f func()) {
	g.mu.Lock()
	g.n++
	if g.handoff == nil {
		g.handoff, g.quit = make(chan func()), make(chan struct{})
	}
	handoff, quit := g.handoff, g.quit
	g.mu.Unlock()
	select {
	case handoff <- f:
		return
	default:
	}
	go g.loop(f, handoff, quit)
}

// loop runs f, then the tasks handed over to it, until none comes for
// taskIdle or the group is stopped.
func (g *taskGroup) loop(f func(), handoff chan func(), quit chan struct{}) {
	var wait *time.Timer
	for {
		f()
		g.done()
		if wait == nil {
			wait = time.NewTimer(taskIdle)
			defer wait.Stop()
		} else {
			wait.Reset(taskIdle)
		}
		select {
		case f = <-handoff:
		case <-wait.C:
			return
		case <-quit:
			return
		}
	}
}

func (g *taskGroup) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n--; g.n == 0 && g.idle != nil {
		g.idle.Broadcast()
	}
}

// Wait returns once no task is running.
func (g *taskGroup) Wait() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idle == nil {
		g.idle = sync.NewCond(&g.mu)
	}
	for g.n > 0 {
		g.idle.Wait()
	}
}

// stopIdle ends the goroutines waiting for a task, and each running one
// once its task returns. Tasks started later still run (on goroutines that
// end with them, or that a running task's goroutine picks up).
func (g *taskGroup) stopIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.handoff == nil {
		g.handoff, g.quit = make(chan func()), make(chan struct{})
	}
	if !g.stopped {
		g.stopped = true
		close(g.quit)
	}
}
