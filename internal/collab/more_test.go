package collab_test

import (
	"context"
	"testing"

	"github.com/gdoc/gdoc/internal/collab"
	"github.com/gdoc/gdoc/internal/gdoc"
)

// gatedStore holds its first AppendOps until release is closed, so that
// the ops submitted meanwhile commit together in the next one.
type gatedStore struct {
	gdoc.Store
	entered, release chan struct{}
}

func (s *gatedStore) AppendOps(ctx context.Context, batches []gdoc.OpBatch) ([]error, error) {
	select {
	case s.entered <- struct{}{}:
		<-s.release
	default:
	}
	return s.Store.AppendOps(ctx, batches)
}

// TestCommitMarksMore: when one commit delivers several ops, every
// client's message for each op but the last says More (ws then writes the
// commit's messages together), and its message for the last op does not,
// so nothing held back is left waiting.
func TestCommitMarksMore(t *testing.T) {
	e := newEnv(t)
	gate := &gatedStore{Store: e.store, entered: make(chan struct{}), release: make(chan struct{})}
	svc := e.service(t, serviceOptions{store: gate})
	a, b, c := newClient(e.user(t, "alice")), newClient(e.user(t, "bob")), newClient(e.user(t, "carol"))
	for _, cl := range []*fakeClient{a, b, c} {
		join(t, svc, "more", cl, -1)
	}
	submit(t, svc, "more", a, 0, "a:1", `["1"]`)
	<-gate.entered // a:1's commit waits; b:1 and c:1 queue behind it
	submit(t, svc, "more", b, 0, "b:1", `["2"]`)
	submit(t, svc, "more", c, 0, "c:1", `["3"]`)
	close(gate.release)
	c.waitAck(t, "c:1")
	a.waitOp(t, 3)
	b.waitOp(t, 3)

	// rev: the revision each message is about; more: its More.
	type seen struct {
		rev  int64
		more bool
	}
	// Whether a client got op a:1 alone or with the next commit depends
	// on when the fan-out round ran; the second commit's messages come
	// together either way.
	want := map[*fakeClient][]seen{
		a: {{1, false}, {2, true}, {3, false}}, // ack a:1, op b:1, op c:1
		b: {{1, false}, {2, true}, {3, false}}, // op a:1, ack b:1, op c:1
		c: {{1, false}, {2, true}, {3, false}}, // op a:1, op b:1, ack c:1
	}
	for cl, w := range want {
		var got []seen
		for _, m := range cl.messages() {
			switch m := m.(type) {
			case collab.OpMessage:
				got = append(got, seen{m.Op.Rev, m.More})
			case collab.AckMessage:
				got = append(got, seen{m.Rev, m.More})
			}
		}
		if len(got) != len(w) {
			t.Fatalf("%s received %v, want %v", cl.user.Username, got, w)
		}
		got[0].more = false // either way
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s received %v, want %v", cl.user.Username, got, w)
			}
		}
	}
}
