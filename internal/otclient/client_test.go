package otclient

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gdoc/gdoc/internal/ot"
	"github.com/gdoc/gdoc/internal/ot/ottest"
)

// server is a minimal authority for testing State: it transforms an op
// based on an old revision over the history since (incoming on side left).
type server struct {
	text    string
	history []ot.Op
	ids     map[string]int64
}

func (s *server) receive(t *testing.T, o Outgoing) (rev int64, op ot.Op) {
	t.Helper()
	if rev, ok := s.ids[o.ID]; ok {
		return rev, nil
	}
	op = o.Op
	for _, other := range s.history[o.Rev:] {
		var err error
		if op, err = ot.Transform(op, other, ot.Left); err != nil {
			t.Fatalf("transform: %v", err)
		}
	}
	text, err := ot.Apply(s.text, op)
	if err != nil {
		t.Fatalf("apply %v to %q: %v", op, s.text, err)
	}
	s.text = text
	s.history = append(s.history, op)
	s.ids[o.ID] = int64(len(s.history))
	return int64(len(s.history)), op
}

// TestStateConverges runs three clients against the server with messages
// delivered late and in random interleavings (FIFO per client), including a
// resend of an in-flight op that the server already committed.
func TestStateConverges(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		srv := &server{text: "hello 😀 world", ids: map[string]int64{}}
		type delivery struct {
			rev int64
			id  string
			op  ot.Op
			ack bool
		}
		clients := make([]*State, 3)
		inboxes := make([][]delivery, 3)
		outboxes := make([][]Outgoing, 3)
		for i := range clients {
			clients[i] = NewState(fmt.Sprint("c", i), srv.text, 0)
		}
		deliver := func(i int) {
			d := inboxes[i][0]
			inboxes[i] = inboxes[i][1:]
			var out *Outgoing
			var err error
			if d.ack {
				out, err = clients[i].Ack(d.id, d.rev)
			} else {
				out, err = clients[i].ServerOp(d.rev, d.id, d.op)
			}
			if err != nil {
				t.Fatalf("seed %d: client %d: %v", seed, i, err)
			}
			if out != nil {
				outboxes[i] = append(outboxes[i], *out)
			}
		}
		submit := func(i int) {
			o := outboxes[i][0]
			outboxes[i] = outboxes[i][1:]
			before := len(srv.history)
			rev, op := srv.receive(t, o)
			if len(srv.history) == before { // duplicate: ack again
				inboxes[i] = append(inboxes[i], delivery{rev: rev, id: o.ID, ack: true})
				return
			}
			for j := range clients {
				inboxes[j] = append(inboxes[j], delivery{rev: rev, id: o.ID, op: op, ack: j == i})
			}
		}
		for step := 0; step < 200; step++ {
			i := rng.IntN(3)
			switch rng.IntN(4) {
			case 0:
				out, err := clients[i].Edit(ottest.RandomOp(rng, clients[i].Text()))
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					outboxes[i] = append(outboxes[i], *out)
				}
			case 1:
				if len(outboxes[i]) > 0 {
					submit(i)
				}
			case 2:
				if len(inboxes[i]) > 0 {
					deliver(i)
				}
			case 3:
				// A reconnect: the client re-sends its in-flight op after
				// catching up, as the server may or may not have it.
				if len(inboxes[i]) == 0 {
					if o := clients[i].Resend(); o != nil {
						outboxes[i] = append(outboxes[i], *o)
					}
				}
			}
		}
		for busy := true; busy; {
			busy = false
			for i := range clients {
				for len(outboxes[i]) > 0 {
					submit(i)
					busy = true
				}
				for len(inboxes[i]) > 0 {
					deliver(i)
					busy = true
				}
			}
		}
		for i, c := range clients {
			if c.Text() != srv.text || c.Pending() != 0 || c.Rev != int64(len(srv.history)) {
				t.Fatalf("seed %d: client %d has %q at rev %d (pending %d), server %q at rev %d",
					seed, i, c.Text(), c.Rev, c.Pending(), srv.text, len(srv.history))
			}
		}
	}
}

func TestMessageIDStringOrNumber(t *testing.T) {
	for raw, want := range map[string]string{
		`{"type":"ack","id":"c1:4","rev":9}`:                   "c1:4",
		`{"type":"chat","id":17,"message":"hi","user_id":"2"}`: "17",
		`{"type":"pong"}`: "",
	} {
		var m Message
		if err := json.Unmarshal([]byte(raw), &m); err != nil || m.ID != want {
			t.Errorf("%s: id %q, err %v; want %q", raw, m.ID, err, want)
		}
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"type":"ack","id":"x","rev":9}`), &m); err != nil || m.Rev != 9 || m.Type != "ack" {
		t.Errorf("other fields lost: %+v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"type":"x","id":{}}`), &m); err == nil {
		t.Error("an object id was accepted")
	}
}

// TestApplyServerOpReturnsTheAppliedOp: the op applied to the text is the
// server's op transformed over the pending edits, and an op with the
// in-flight id acknowledges it instead of being applied.
func TestApplyServerOpReturnsTheAppliedOp(t *testing.T) {
	st := NewState("c", "abc", 0)
	out, err := st.Edit(ot.Op{{Insert: "X"}}) // Xabc, in flight
	if err != nil || out == nil {
		t.Fatalf("edit: %v %v", out, err)
	}
	if _, err := st.Edit(ot.Op{{Skip: 4}, {Insert: "Y"}}); err != nil { // XabcY, buffered
		t.Fatal(err)
	}
	before := st.Text()
	applied, next, err := st.ApplyServerOp(1, "other:1", ot.Op{{Skip: 1}, {Delete: 1}}) // abc -> ac
	if err != nil || next != nil {
		t.Fatalf("server op: %v %v", next, err)
	}
	if got, err := ot.Apply(before, applied); err != nil || got != st.Text() || st.Text() != "XacY" {
		t.Fatalf("applied %v takes %q to %q (%v), the state has %q, want XacY", applied, before, got, err, st.Text())
	}
	applied, next, err = st.ApplyServerOp(2, out.ID, out.Op)
	if err != nil || applied != nil || next == nil || next.ID != "c:2" || st.Rev != 2 {
		t.Fatalf("own op: applied %v next %+v err %v rev %d", applied, next, err, st.Rev)
	}
}

// TestRevert: the pending edits go, the text is the server's again, and the
// returned op is what changed it.
func TestRevert(t *testing.T) {
	st := NewState("c", "héllo", 3)
	if _, err := st.Edit(ot.Op{{Skip: 5}, {Insert: " 😀"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Edit(ot.Op{{Delete: 1}}); err != nil {
		t.Fatal(err)
	}
	before := st.Text()
	op, err := st.Revert("héllo")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ot.Apply(before, op); got != "héllo" || st.Text() != "héllo" || st.Pending() != 0 || st.Inflight() != nil || st.BufferID() != "" || st.Rev != 3 {
		t.Fatalf("after revert: op %v gives %q, text %q, pending %d, rev %d", op, got, st.Text(), st.Pending(), st.Rev)
	}
	if out, err := st.Edit(ot.Op{{Insert: "!"}}); err != nil || out == nil || out.Rev != 3 {
		t.Fatalf("edit after revert: %+v %v", out, err)
	}
}
