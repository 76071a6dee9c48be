package collab

import "sync"

// taskGroup runs background goroutines and waits for them. Unlike a
// sync.WaitGroup it may start a task while another goroutine waits (a bus
// event can start a worker during Shutdown), which WaitGroup forbids.
type taskGroup struct {
	mu   sync.Mutex
	idle *sync.Cond // signalled when n drops to 0
	n    int
}

// Go runs f in a new goroutine counted by the group.
func (g *taskGroup) Go(f func()) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	go func() {
		defer g.done()
		f()
	}()
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
