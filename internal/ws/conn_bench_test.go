package ws_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gdoc/gdoc/internal/gdoc"
)

// BenchmarkIdleServerConnections is the server's share of an idle
// connection: the clients are bare TCP sockets that made the WebSocket
// handshake by hand and read nothing more (the init frame waits in the
// socket buffer), so the live heap, goroutine stacks and goroutines counted
// after a GC are the server's alone. Each connection has its own document,
// as in the load generator's S3. The documents are created before the
// connections (as S3 does over REST), so a join loads one.
//
// GDOC_HEAP_PROFILE=<file> records every allocation (MemProfileRate 1) and
// writes a heap profile while the connections are open.
func BenchmarkIdleServerConnections(b *testing.B) {
	const conns = 500
	profile := os.Getenv("GDOC_HEAP_PROFILE")
	if profile != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	s := newServer(b, nil)
	tok := s.token("idler")
	owner := s.user("idler")
	addr := strings.TrimPrefix(s.URL, "ws://")
	for round := range b.N {
		docs := make([]string, conns)
		for i := range docs {
			docs[i] = fmt.Sprintf("idle-srv-%d-%d-%d", b.N, round, i)
			doc := &gdoc.Document{ID: docs[i], Title: docs[i], Language: "plaintext", OwnerID: owner.ID, Public: true}
			if err := s.Store.CreateDocument(context.Background(), doc); err != nil {
				b.Fatalf("create document: %v", err)
			}
		}
		heap0, stacks0 := liveMemory()
		g0 := runtime.NumGoroutine()
		open := make([]net.Conn, 0, conns)
		for _, doc := range docs {
			open = append(open, rawDial(b, addr, doc, tok))
		}
		waitConnections(b, s, fmt.Sprintf("all %d connections to be open", conns), func(n int) bool { return n >= conns })
		time.Sleep(200 * time.Millisecond) // let every init be written
		heap1, stacks1 := liveMemory()
		g1 := runtime.NumGoroutine()
		if profile != "" {
			if f, err := os.Create(profile); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
		b.ReportMetric(float64(heap1-heap0)/conns/1024, "heap-KB/conn")
		b.ReportMetric(float64(stacks1-stacks0)/conns/1024, "stack-KB/conn")
		b.ReportMetric(float64(g1-g0)/conns, "goroutines/conn")
		for _, c := range open {
			c.Close()
		}
		waitConnections(b, s, "every connection to be gone", func(n int) bool { return n == 0 })
	}
}

// rawDial opens a WebSocket connection to doc with a hand-made handshake
// and returns the socket once the server switched protocols. It keeps no
// goroutine and no buffer of its own.
func rawDial(b testing.TB, addr, doc, tok string) net.Conn {
	b.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /ws/%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: gdoc.v1, bearer.%s\r\n\r\n",
		doc, addr, base64.StdEncoding.EncodeToString(key), tok)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Read the response byte by byte so that nothing after its head (the
	// init frame) is consumed into a buffer kept here.
	resp, err := http.ReadResponse(bufio.NewReaderSize(oneByteReader{c}, 16), nil)
	if err != nil {
		b.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %s", resp.Status)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

type oneByteReader struct{ c net.Conn }

func (r oneByteReader) Read(p []byte) (int, error) { return r.c.Read(p[:1]) }

// BenchmarkJoin measures opening one connection, from dial to the init
// frame, one at a time (as the load generator's S3 connects): the
// handshake, the JWT check, the join (presence, session row, chat history)
// and init. "stored" joins a document that exists in the store but is not
// loaded (S3's case: one load per join), "loaded" a document already in
// memory, "new" an id that does not exist (the join creates it). The
// connections stay open until the end. cpu-µs/join is the process's CPU
// (server and client) per join, including the session rows written after
// it.
func BenchmarkJoin(b *testing.B) {
	for _, kind := range []string{"stored", "loaded", "new"} {
		b.Run(kind, func(b *testing.B) {
			s := newServer(b, nil)
			tok := s.token("joiner")
			owner := s.user("joiner")
			prefix := fmt.Sprintf("join-%s-%d", kind, b.N)
			docs := make([]string, b.N)
			for i := range docs {
				switch kind {
				case "loaded":
					docs[i] = prefix
				default:
					docs[i] = fmt.Sprintf("%s-%d", prefix, i)
				}
				if kind == "stored" || (kind == "loaded" && i == 0) {
					doc := &gdoc.Document{ID: docs[i], Title: docs[i], Language: "plaintext", OwnerID: owner.ID, Public: true}
					if err := s.Store.CreateDocument(context.Background(), doc); err != nil {
						b.Fatalf("create document: %v", err)
					}
				}
			}
			if kind == "loaded" { // one connection keeps it loaded
				s.otWith(docs[0], tok)
			}
			open := make([]*websocket.Conn, 0, b.N)
			defer func() {
				for _, c := range open {
					c.CloseNow()
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU()
			for i := range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, _, err := websocket.Dial(ctx, s.URL+"/ws/"+docs[i], &websocket.DialOptions{Subprotocols: []string{"gdoc.v1", "bearer." + tok}})
				if err == nil {
					var data []byte
					_, data, err = c.Read(ctx)
					if err == nil && !strings.Contains(string(data[:min(len(data), 32)]), `"init"`) {
						err = fmt.Errorf("first frame is not init: %.80s", data)
					}
				}
				cancel()
				if err != nil {
					b.Fatalf("join %d: %v", i, err)
				}
				open = append(open, c)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "joins/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/join")
		})
	}
}

// processCPU returns this process's user and system CPU time (both ends
// of the connections, and the writes they cause in the background).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// otWith opens an OT connection to doc with tok and reads its init; the
// connection closes with the test.
func (s *server) otWith(doc, tok string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.URL+"/ws/"+doc, &websocket.DialOptions{Subprotocols: []string{"gdoc.v1", "bearer." + tok}})
	if err != nil {
		s.t.Fatalf("dial %s: %v", doc, err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		s.t.Fatalf("init of %s: %v", doc, err)
	}
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	s.t.Cleanup(func() { c.CloseNow() })
}
