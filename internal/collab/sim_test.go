package collab_test

import (
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/ot/ottest"
	"github.com/gdoc/gdoc/internal/otclient"
)

var long = flag.Bool("long", false, "run many more simulation seeds")

// peer is a simulated client: otclient.State (the one-op-in-flight
// algorithm of ot.js) driving a Service in process, with its own messages
// held "on the wire" for random delays.
type peer struct {
	name   string
	c      *fakeClient
	svc    *collab.Service
	state  *otclient.State
	outbox []otclient.Outgoing // sent but still on the wire to the server
}

// edit applies a local change and sends it or buffers it.
func (p *peer) edit(t *testing.T, op ot.Op) {
	out, err := p.state.Edit(op)
	if err != nil {
		t.Fatalf("%s: local op %v does not apply to %q: %v", p.name, op, p.state.Text(), err)
	}
	p.send(out)
}

// send puts a copy of o on the wire: what was sent does not change when the
// state later transforms its in-flight op.
func (p *peer) send(o *otclient.Outgoing) {
	if o != nil {
		p.outbox = append(p.outbox, *o)
	}
}

// releaseOne hands the oldest outgoing op to the server.
func (p *peer) releaseOne(t *testing.T, docID string) {
	if len(p.outbox) == 0 {
		return
	}
	out := p.outbox[0]
	p.outbox = p.outbox[1:]
	ctx, cancel := callCtx()
	defer cancel()
	if err := p.svc.SubmitOp(ctx, docID, p.c, out.Rev, out.ID, out.Op); err != nil {
		t.Fatalf("%s: SubmitOp: %v", p.name, err)
	}
}

// receiveOne processes the oldest message the server delivered.
func (p *peer) receiveOne(t *testing.T) bool {
	p.c.mu.Lock()
	if len(p.c.inbox) == 0 {
		p.c.mu.Unlock()
		return false
	}
	m := p.c.inbox[0]
	p.c.inbox = p.c.inbox[1:]
	p.c.mu.Unlock()
	switch m := m.(type) {
	case collab.OpMessage:
		// No id: a peer's own op comes back as an ack, never as an op.
		if _, err := p.state.ServerOp(m.Op.Rev, "", m.Parsed); err != nil {
			t.Fatalf("%s at rev %d with %q: server op rev %d: %v", p.name, p.state.Rev, p.state.Text(), m.Op.Rev, err)
		}
	case collab.AckMessage:
		in := p.state.Inflight()
		if in == nil || m.OpID != in.ID {
			t.Fatalf("%s at rev %d awaiting %+v received ack %+v", p.name, p.state.Rev, in, m)
		}
		next, err := p.state.Ack(m.OpID, m.Rev)
		if err != nil {
			t.Fatalf("%s: ack %+v: %v", p.name, m, err)
		}
		p.send(next)
	case collab.OpErrorMessage:
		t.Fatalf("%s: op refused: %+v", p.name, m)
	}
	return true
}

// simulate runs one seed: peers spread over services edit docID with
// random delays in both directions, then drain; every peer, the service
// and the store must hold the same text.
func simulate(t *testing.T, e *env, services []*collab.Service, docID string, seed uint64, users []*gdoc.User) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	peers := make([]*peer, 2+r.IntN(4))
	for i := range peers {
		c := newClient(users[i%len(users)])
		svc := services[r.IntN(len(services))]
		state := join(t, svc, docID, c, -1)
		name := fmt.Sprintf("s%d-p%d", seed, i)
		peers[i] = &peer{name: name, c: c, svc: svc, state: otclient.NewState(name, state.Document.Content, state.Rev)}
	}
	steps := 20 + r.IntN(40)
	for range steps {
		p := peers[r.IntN(len(peers))]
		switch x := r.IntN(10); {
		case x < 4:
			p.edit(t, ottest.RandomOp(r, p.state.Text()))
		case x < 7:
			p.releaseOne(t, docID)
		default:
			p.receiveOne(t)
		}
	}
	// Drain: release everything, then process deliveries until every op is
	// acknowledged and everyone is at the same revision.
	deadline := time.Now().Add(waitLimit)
	for {
		busy := false
		for _, p := range peers {
			for len(p.outbox) > 0 {
				p.releaseOne(t, docID)
			}
			for p.receiveOne(t) {
			}
			if p.state.Inflight() != nil {
				busy = true
			}
		}
		if !busy {
			head := current(t, services[0], docID).Rev
			settled := true
			for _, p := range peers {
				if p.state.Rev != head {
					settled = false
				}
			}
			if settled {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("seed %d did not settle", seed)
		}
		time.Sleep(200 * time.Microsecond)
	}
	want := current(t, services[0], docID)
	for _, svc := range services[1:] {
		if other := current(t, svc, docID); other.Content != want.Content || other.Rev != want.Rev {
			t.Fatalf("seed %d: instances differ: %q@%d vs %q@%d", seed, want.Content, want.Rev, other.Content, other.Rev)
		}
	}
	for _, p := range peers {
		if p.state.Text() != want.Content || p.state.Rev != want.Rev {
			t.Fatalf("seed %d: %s has %q at rev %d, service has %q at rev %d", seed, p.name, p.state.Text(), p.state.Rev, want.Content, want.Rev)
		}
	}
	if stored, rev := storedText(t, e.store, docID); stored != want.Content || rev != want.Rev {
		t.Fatalf("seed %d: store has %q at rev %d, service %q at %d", seed, stored, rev, want.Content, want.Rev)
	}
	for _, p := range peers {
		p.svc.Leave(docID, p.c)
	}
}

// runSeeds runs seeds on `parallel` documents at a time, so commits of
// different documents share transactions.
func runSeeds(t *testing.T, e *env, services []*collab.Service, prefix string, seeds, parallel int) {
	users := []*gdoc.User{e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")}
	var wg sync.WaitGroup
	next := make(chan uint64)
	failed := make(chan struct{})
	var once sync.Once
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range next {
				ok := t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
					simulate(t, e, services, fmt.Sprintf("%s-%d", prefix, seed), seed, users)
				})
				if !ok {
					once.Do(func() { close(failed) })
				}
			}
		}()
	}
feed:
	for seed := range uint64(seeds) {
		select {
		case next <- seed:
		case <-failed:
			break feed
		}
	}
	close(next)
	wg.Wait()
}

func seedCount(normal int) int {
	switch {
	case *long:
		return normal * 10
	case testing.Short():
		return normal / 10
	}
	return normal
}

// TestPeersConverge: 2-5 simulated clients per seed, random edits with
// emoji, CRLF and deletes across others' inserts, random delivery order
// subject to per-connection FIFO; all end with the same text as the
// service and the store.
func TestPeersConverge(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t, serviceOptions{})
	runSeeds(t, e, []*collab.Service{svc}, "sim", seedCount(1500), 8)
}

// TestTwoInstancesConverge: two services with different ServerIDs over
// one SQLite file and one bus; clients spread over both. Their commits
// race for the same revisions, so this exercises the conflict-retry path
// and the bus catch-up.
func TestTwoInstancesConverge(t *testing.T) {
	e := newEnv(t)
	second, err := openSecondStore(e)
	if err != nil {
		t.Fatal(err)
	}
	var conflicts atomic.Int64
	logger := slog.New(countingHandler{prefix: "commit conflict", n: &conflicts})
	a := e.service(t, serviceOptions{serverID: "server-a", logger: logger})
	b := e.service(t, serviceOptions{serverID: "server-b", store: second, logger: logger})
	runSeeds(t, e, []*collab.Service{a, b}, "twin", seedCount(500), 6)
	if conflicts.Load() == 0 {
		t.Fatal("no commit conflict happened: the retry path was not exercised")
	}
	t.Logf("%d commit conflicts resolved", conflicts.Load())
}

func TestRandomOpIsValid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	doc := "a😀\r\nb"
	for range 2000 {
		op := ottest.RandomOp(r, doc)
		next, err := ot.Apply(doc, op)
		if err != nil {
			t.Fatalf("ottest.RandomOp(%q) = %v: %v", doc, op, err)
		}
		doc = next
		if len([]rune(doc)) > 200 {
			doc = strings.Repeat("x", 3)
		}
	}
}
