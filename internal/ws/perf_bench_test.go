package ws_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkIdleConnections opens idle OT connections, one new document
// each, and reports the heap and goroutine stacks they hold after a GC, per
// connection (the documents stay loaded: the harness never unloads them). Both ends live in this process, so the figure is the
// server's share plus a bare client's (one coder/websocket conn and one
// reading goroutine). GDOC_HEAP_PROFILE=<file> writes a heap profile while
// the connections are open, to see which side holds what.
func BenchmarkIdleConnections(b *testing.B) {
	const conns = 300
	s := newServer(b, nil)
	tok := s.token("idler")
	for round := range b.N {
		heap0, stacks0 := liveMemory()
		var open []*websocket.Conn
		var wg sync.WaitGroup
		for i := range conns {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, _, err := websocket.Dial(ctx, fmt.Sprintf("%s/ws/idle-%d-%d-%d", s.URL, b.N, round, i),
				&websocket.DialOptions{Subprotocols: []string{"gdoc.v1", "bearer." + tok}})
			cancel()
			if err != nil {
				b.Fatalf("dial %d: %v", i, err)
			}
			open = append(open, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
		}
		waitConnections(b, s, fmt.Sprintf("all %d connections to be open", conns), func(n int) bool { return n >= conns })
		time.Sleep(100 * time.Millisecond) // let the inits be read
		heap1, stacks1 := liveMemory()
		if path := os.Getenv("GDOC_HEAP_PROFILE"); path != "" {
			f, err := os.Create(path)
			if err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		b.ReportMetric(float64(heap1-heap0)/conns/1024, "heap-KB/conn")
		b.ReportMetric(float64(stacks1-stacks0)/conns/1024, "stack-KB/conn")
		for _, c := range open {
			c.CloseNow()
		}
		wg.Wait()
		// The next round starts from a server without these connections.
		waitConnections(b, s, "every connection to be gone", func(n int) bool { return n == 0 })
	}
}

// waitConnections polls the server's connection count until done holds,
// failing after waitFor with the count it saw.
func waitConnections(b *testing.B, s *server, what string, done func(int) bool) {
	b.Helper()
	deadline := time.Now().Add(waitFor)
	for n := s.Handler.Connections(); !done(n); n = s.Handler.Connections() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %v waiting for %s: %d open", waitFor, what, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// liveMemory returns the bytes in live heap objects and in goroutine
// stacks, after a GC.
func liveMemory() (heap, stacks uint64) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(samples)
	return samples[0].Value.Uint64(), samples[1].Value.Uint64()
}
