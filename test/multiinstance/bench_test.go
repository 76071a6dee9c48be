package multiinstance_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/otclient"
)

// BenchmarkCrossInstanceOp measures an op's trip from a client of one
// instance to a client of another (commit in PostgreSQL, publish on Redis,
// delivery), one op in flight at a time, and reports the p50 and p99 of
// that hop. The per-connection op rate limit (100/s, bursts of 200) paces
// long runs: a rate-limited op is resent and timed from its resend.
//
//	go test -run X -bench CrossInstance -benchtime 1000x ./test/multiinstance/
func BenchmarkCrossInstanceOp(b *testing.B) {
	c := newCluster(b, sharedRedis(b))
	c.startInstances(2)
	owner := register(b, c.instances[0].URL, "owner")
	docID := createDocument(b, c.instances[0].URL, owner, "bench")
	writerUser := register(b, c.instances[0].URL, "writer")
	readerUser := register(b, c.instances[1].URL, "reader")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	writer, wInit := join(b, ctx, c.instances[0].URL, docID, writerUser)
	reader, _ := join(b, ctx, c.instances[1].URL, docID, readerUser)

	type arrival struct {
		id string
		at time.Time
	}
	arrivals := make(chan arrival, 16)
	go func() {
		for {
			m, err := reader.Read(ctx)
			if err != nil {
				close(arrivals)
				return
			}
			if m.Type == "op" {
				arrivals <- arrival{m.ID, time.Now()}
			}
		}
	}()

	rev := wInit.Rev
	var hops []time.Duration
	for i := 0; b.Loop(); i++ {
		out := &otclient.Outgoing{Rev: rev, ID: fmt.Sprintf("w:%d", i), Op: ot.Op{{Insert: "x"}}}
		var sent time.Time
	send:
		for {
			sent = time.Now()
			if err := writer.SendOp(ctx, out); err != nil {
				b.Fatal(err)
			}
			for {
				m, err := writer.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if m.Type == "ack" && m.ID == out.ID {
					rev = m.Rev
					break send
				}
				if m.Type == "error" && m.Code == "rate_limited" {
					time.Sleep(20 * time.Millisecond)
					continue send
				}
				if m.Type == "error" {
					b.Fatalf("op refused: %s", m.Raw)
				}
			}
		}
		a, ok := <-arrivals
		if !ok || a.id != out.ID {
			b.Fatalf("reader got %q, want %q", a.id, out.ID)
		}
		hops = append(hops, a.at.Sub(sent))
	}
	b.StopTimer()
	slices.Sort(hops)
	b.ReportMetric(float64(hops[len(hops)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(hops[len(hops)*99/100].Microseconds()), "p99-µs")
}
