package ot

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"unicode/utf8"
)

// Iteration counts: tens of thousands of cases in a few seconds on a small
// machine; -short runs a tenth, and OT_SOAK=k runs k times as many (k=5
// gives 100,000 cases per law).
func iterations(t *testing.T, n int) int {
	if s := os.Getenv("OT_SOAK"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k <= 0 {
			t.Fatalf("OT_SOAK=%q is not a positive integer", s)
		}
		return n * k
	}
	if testing.Short() {
		return n / 10
	}
	return n
}

// TP1: two ops made concurrently on one text, each transformed over the
// other (the server's on Left), give the same text in either order.
func TestPropertyTransformConverges(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 20000) {
		doc := randomDoc(r)
		a, b := randomOp(r, doc), randomOp(r, doc)
		aLeft, err := Transform(a, b, Left)
		if err != nil {
			t.Fatalf("Transform(%v, %v, Left): %v", a, b, err)
		}
		bRight, err := Transform(b, a, Right)
		if err != nil {
			t.Fatalf("Transform(%v, %v, Right): %v", b, a, err)
		}
		viaA := mustApply(t, mustApply(t, doc, a), bRight)
		viaB := mustApply(t, mustApply(t, doc, b), aLeft)
		if viaA != viaB {
			t.Fatalf("doc %q a %v b %v: a then b' = %q, b then a' = %q", doc, a, b, viaA, viaB)
		}
		if Check(aLeft) != nil || Check(bRight) != nil {
			t.Fatalf("transform results not normalized: %v, %v", aLeft, bRight)
		}
	}
}

// The n×m grid of the client-server algorithm: a client's n sequential ops
// and the server's m sequential ops, each transformed over all of the other
// side's, converge. (Transforming their compositions instead need not give
// the same text: where the server deleted around a client's insert, the
// tie-break can order inserts differently. Clients must transform op by op
// or keep one op in flight, as ot.js and ShareDB do.)
func TestPropertyTransformGridConverges(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 4000) {
		doc := randomDoc(r)
		client, server := randomSequence(r, doc, 1+r.IntN(4)), randomSequence(r, doc, 1+r.IntN(4))
		clientDoc, serverDoc := doc, doc
		for _, op := range client {
			clientDoc = mustApply(t, clientDoc, op)
		}
		for _, op := range server {
			serverDoc = mustApply(t, serverDoc, op)
		}
		pending := slices.Clone(client)
		for _, committed := range server {
			for i := range pending {
				next, err := Transform(committed, pending[i], Right)
				if err != nil {
					t.Fatal(err)
				}
				if pending[i], err = Transform(pending[i], committed, Left); err != nil {
					t.Fatal(err)
				}
				committed = next
			}
			clientDoc = mustApply(t, clientDoc, committed)
		}
		for _, op := range pending {
			serverDoc = mustApply(t, serverDoc, op)
		}
		if clientDoc != serverDoc {
			t.Fatalf("doc %q client %v server %v: client ends with %q, server with %q", doc, client, server, clientDoc, serverDoc)
		}
	}
}

// randomSequence returns n ops, each made for the text the previous ones leave.
func randomSequence(r *rand.Rand, doc string, n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = randomOp(r, doc)
		doc, _ = Apply(doc, ops[i])
	}
	return ops
}

func TestPropertyComposeIsSequentialApply(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 20000) {
		doc := randomDoc(r)
		a := randomOp(r, doc)
		mid := mustApply(t, doc, a)
		b := randomOp(r, mid)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("Compose(%v, %v): %v", a, b, err)
		}
		if got, want := mustApply(t, doc, ab), mustApply(t, mid, b); got != want {
			t.Fatalf("doc %q a %v b %v: compose gives %q, sequential apply %q", doc, a, b, got, want)
		}
		if err := Check(ab); err != nil {
			t.Fatalf("Compose(%v, %v) = %v: %v", a, b, ab, err)
		}
	}
}

// A cursor before a surviving character stays before it: in a text of
// distinct code points, every surviving character is found at its
// transformed position or after text inserted there.
func TestPropertyTransformPositionAgreesWithApply(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 20000) {
		orig := make([]rune, r.IntN(30))
		for i := range orig {
			orig[i] = 0xE000 + rune(i) // private use: never in an insert
		}
		doc := string(orig)
		op := randomOp(r, doc)
		after := []rune(mustApply(t, doc, op))
		prev := 0
		for p := 0; p <= len(orig); p++ {
			got := TransformPosition(p, op)
			if got < prev || got > len(after) {
				t.Fatalf("op %v: position %d moves to %d (previous %d, length %d)", op, p, got, prev, len(after))
			}
			prev = got
			// Text inserted exactly at the cursor lands after it, so only
			// inserted characters may stand between the two.
			if p == len(orig) {
				continue
			}
			if idx := slices.Index(after, orig[p]); idx >= 0 && (got > idx || slices.ContainsFunc(after[got:idx], isOriginal)) {
				t.Fatalf("op %v: the character at %d is at %d, not just after its transformed position %d", op, p, idx, got)
			}
		}
		sel := TransformSelection(Selection{Anchor: len(orig), Head: 0}, op)
		if sel != (Selection{Anchor: TransformPosition(len(orig), op), Head: TransformPosition(0, op)}) {
			t.Fatalf("TransformSelection disagrees with TransformPosition: %+v", sel)
		}
	}
}

func isOriginal(r rune) bool { return r >= 0xE000 && r < 0xF000 }

func TestPropertyInvertUndoes(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 20000) {
		doc := randomDoc(r)
		op := randomOp(r, doc)
		inv, err := InvertWithDoc(op, doc)
		if err != nil {
			t.Fatalf("InvertWithDoc(%v, %q): %v", op, doc, err)
		}
		invertible, err := MakeInvertible(op, doc)
		fromText, textErr := NewText(doc).MakeInvertible(op)
		if err != nil || textErr != nil || !opsEqual(invertible, fromText) {
			t.Fatalf("MakeInvertible(%v) = %v, %v; on a Text %v, %v", op, invertible, err, fromText, textErr)
		}
		if got := mustApply(t, mustApply(t, doc, op), inv); got != doc {
			t.Fatalf("op %v inverse %v: %q, want %q", op, inv, got, doc)
		}
		back, err := Invert(inv)
		if err != nil {
			t.Fatalf("Invert(%v): %v", inv, err)
		}
		if got, want := mustApply(t, doc, back), mustApply(t, doc, op); got != want {
			t.Fatalf("Invert(Invert(%v)) = %v applies as %q, want %q", op, back, got, want)
		}
	}
}

func TestPropertyDiffRoundTrip(t *testing.T) {
	r := newRand(t)
	for i := range iterations(t, 20000) {
		old := randomDoc(r)
		var new string
		if i%2 == 0 {
			new = mustApply(t, old, randomOp(r, old))
		} else {
			new = randomDoc(r)
		}
		op := Diff(old, new)
		if err := Check(op); err != nil {
			t.Fatalf("Diff(%q, %q) = %v: %v", old, new, op, err)
		}
		if got := mustApply(t, old, op); got != new {
			t.Fatalf("Diff(%q, %q) = %v gives %q", old, new, op, got)
		}
		if op.BaseLen() > utf8.RuneCountInString(old) {
			t.Fatalf("Diff(%q, %q) = %v covers more than old", old, new, op)
		}
	}
}

// A Text follows every op exactly as Apply on strings does, through many
// leaf splits and merges, and stays unchanged when an op is refused.
func TestPropertyTextMatchesApply(t *testing.T) {
	r := newRand(t)
	for range iterations(t, 300) {
		doc := randomText(r, 1+r.IntN(3000))
		text := NewText(doc)
		for range 60 {
			var op Op
			switch r.IntN(8) {
			case 0: // a paste
				op = Normalize(Op{{Skip: r.IntN(text.Len() + 1)}, {Insert: randomText(r, 600)}})
			case 1: // a large cut
				from := r.IntN(text.Len() + 1)
				op = Normalize(Op{{Skip: from}, {Delete: r.IntN(text.Len() - from + 1)}})
			case 2: // an op made for another text: usually refused
				op = randomOp(r, randomText(r, 3000))
			default:
				op = randomOp(r, doc)
			}
			want, wantErr := Apply(doc, op)
			err := text.Apply(op)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("op %v on %d code points: Text.Apply error %v, Apply error %v", op, utf8.RuneCountInString(doc), err, wantErr)
			}
			if err == nil {
				doc = want
			}
			if text.String() != doc || text.Len() != utf8.RuneCountInString(doc) || text.Bytes() != len(doc) {
				t.Fatalf("after op %v (error %v): Text is %d code points in %d bytes, want %d in %d", op, err, text.Len(), text.Bytes(), utf8.RuneCountInString(doc), len(doc))
			}
			runes := []rune(doc)
			from := r.IntN(len(runes) + 1)
			to := from + r.IntN(len(runes)-from+1)
			if got := text.Slice(from, to); got != string(runes[from:to]) {
				t.Fatalf("Slice(%d, %d) = %q, want %q", from, to, got, string(runes[from:to]))
			}
		}
		checkTextInvariants(t, text)
	}
}

func checkTextInvariants(t *testing.T, text *Text) {
	t.Helper()
	total := 0
	blocks := make([]int, 0, len(text.blocks))
	for i, l := range text.leaves {
		if len(l.b) == 0 || len(l.b) > maxLeafBytes || utf8.RuneCount(l.b) != l.runes || !utf8.Valid(l.b) {
			t.Fatalf("leaf %d of %d is malformed: %d bytes, %d runes", i, len(text.leaves), len(l.b), l.runes)
		}
		if i%leavesPerBlock == 0 {
			blocks = append(blocks, 0)
		}
		blocks[len(blocks)-1] += l.runes
		total += l.runes
	}
	if total != text.runes || !slices.Equal(blocks, text.blocks) {
		t.Fatalf("Text counts disagree with its leaves")
	}
}
