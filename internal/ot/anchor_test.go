package ot

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"
)

// labels names every code point of a text with a number that it keeps
// through edits, so a test can tell which code points survived an op and
// which it inserted.
type labels struct {
	ids  []int
	next int
}

func newLabels(n int) *labels {
	l := &labels{}
	for range n {
		l.ids = append(l.ids, l.next)
		l.next++
	}
	return l
}

// apply returns the labels of the text after op; inserted code points get
// fresh labels.
func (l *labels) apply(op Op) *labels {
	out := &labels{next: l.next}
	pos := 0
	for _, c := range op {
		switch c.kind() {
		case kindSkip:
			out.ids = append(out.ids, l.ids[pos:pos+c.Skip]...)
			pos += c.Skip
		case kindInsert:
			for range utf8.RuneCountInString(c.Insert) {
				out.ids = append(out.ids, out.next)
				out.next++
			}
		case kindDelete:
			pos += c.Delete
		}
	}
	out.ids = append(out.ids, l.ids[pos:]...)
	return out
}

func randomRange(r *rand.Rand, n int) Range {
	from := r.IntN(n)
	return Range{From: from, To: from + 1 + r.IntN(min(n-from, 1+r.IntN(8)))}
}

// checkStep fails t unless got is where rng of before went through op (whose
// result is after): spanning exactly the code points of the range that
// survive, with the first and last of them at its edges and no other old
// code point inside, or, when none survives, detached at
// TransformPosition(rng.From, op).
func checkStep(t *testing.T, before, after *labels, rng, got Range, op Op) {
	t.Helper()
	var survivors []int
	for _, id := range before.ids[rng.From:rng.To] {
		if slices.Contains(after.ids, id) {
			survivors = append(survivors, id)
		}
	}
	if len(survivors) == 0 {
		if p := TransformPosition(rng.From, op); !got.Detached || got.From != p || got.To != p {
			t.Fatalf("op %v: range %+v lost all its text; got %+v, want detached at %d", op, rng, got, p)
		}
		return
	}
	if got.Detached || got.From < 0 || got.To > len(after.ids) || got.From >= got.To {
		t.Fatalf("op %v: range %+v keeps %d code points; got %+v in a text of %d", op, rng, len(survivors), got, len(after.ids))
	}
	var inside []int
	for _, id := range after.ids[got.From:got.To] {
		if id < before.next { // not inserted by op
			inside = append(inside, id)
		}
	}
	if !slices.Equal(inside, survivors) || after.ids[got.From] != survivors[0] || after.ids[got.To-1] != survivors[len(survivors)-1] {
		t.Fatalf("op %v: range %+v moved to %+v, which covers old code points %v, want exactly %v", op, rng, got, inside, survivors)
	}
}

func TestPropertyTransformRangeFollowsText(t *testing.T) {
	r := newRand(t)
	detached := 0
	for range iterations(t, 20000) {
		doc := randomText(r, 30)
		before := newLabels(utf8.RuneCountInString(doc))
		rng := randomRange(r, len(before.ids))
		op := randomOp(r, doc)
		after := before.apply(op)
		got := TransformRange(rng, op)
		checkStep(t, before, after, rng, got, op)
		if got.Detached {
			detached++
			// Detached is for good: later ops move it as a point.
			op2 := randomOp(r, mustApply(t, doc, op))
			again := TransformRange(got, op2)
			if p := TransformPosition(got.From, op2); !again.Detached || again.From != p || again.To != p {
				t.Fatalf("detached %+v through %v: %+v, want detached at %d", got, op2, again, p)
			}
		}
	}
	if detached == 0 {
		t.Fatal("no generated case deleted a whole range: the generator does not test detaching")
	}
}

// Several clients edit concurrently from older revisions; the server
// transforms each op over those committed since its base (as collab does),
// and the anchor, moved through the committed log one op at a time, covers
// the same code at every step, the text inserted inside it included.
func TestPropertyTransformRangeThroughConcurrentEdits(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 3000) {
		texts := []string{randomText(r, 40)}
		marks := []*labels{newLabels(utf8.RuneCountInString(texts[0]))}
		rng := randomRange(r, len(marks[0].ids))
		got := rng
		var log []Op
		for range 2 + r.IntN(5) { // clients
			base := r.IntN(len(log) + 1)
			op := randomOp(r, texts[base])
			for _, other := range log[base:] {
				var err error
				if op, err = Transform(op, other, Left); err != nil {
					t.Fatalf("Transform: %v", err)
				}
			}
			head := len(log)
			texts = append(texts, mustApply(t, texts[head], op))
			marks = append(marks, marks[head].apply(op))
			log = append(log, op)
			next := TransformRange(got, op)
			if !got.Detached {
				checkStep(t, marks[head], marks[head+1], got, next, op)
			} else if p := TransformPosition(got.From, op); next != (Range{From: p, To: p, Detached: true}) {
				t.Fatalf("detached %+v through %v: %+v", got, op, next)
			}
			got = next
		}
	}
}

func TestTransformRangeEdges(t *testing.T) {
	r := Range{From: 2, To: 5} // "cde" of "abcdefg"
	for _, tc := range []struct {
		name string
		op   Op
		want Range
	}{
		{"typing at the start stays outside", Op{{Skip: 2}, {Insert: "XY"}}, Range{From: 4, To: 7}},
		{"typing at the end stays outside", Op{{Skip: 5}, {Insert: "XY"}}, Range{From: 2, To: 5}},
		{"typing inside grows it", Op{{Skip: 3}, {Insert: "XY"}}, Range{From: 2, To: 7}},
		{"deleting its start shrinks it", Op{{Skip: 1}, {Delete: 2}}, Range{From: 1, To: 3}},
		{"deleting it whole detaches", Op{{Skip: 1}, {Delete: 5}}, Range{From: 1, To: 1, Detached: true}},
		{"replacing it (delete, insert) detaches", Op{{Skip: 2}, {Delete: 3}, {Insert: "new"}}, Range{From: 2, To: 2, Detached: true}},
		{"replacing it (insert, delete) detaches", Op{{Skip: 2}, {Insert: "new"}, {Delete: 3}}, Range{From: 2, To: 2, Detached: true}},
		{"an edit after it leaves it", Op{{Skip: 6}, {Delete: 1}}, Range{From: 2, To: 5}},
		{"an emoji before it counts once", Op{{Insert: "😀"}}, Range{From: 3, To: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Apply("abcdefg", tc.op); err != nil {
				t.Fatal(err)
			}
			if got := TransformRange(r, tc.op); got != tc.want {
				t.Fatalf("TransformRange(%+v, %v) = %+v, want %+v", r, tc.op, got, tc.want)
			}
		})
	}
}
