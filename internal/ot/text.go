package ot

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Text sizes. A keystroke rewrites one leaf (at most maxLeafBytes) and finds
// it through the block sums, so its cost does not grow with the text.
const (
	maxLeafBytes    = 1024
	fillLeafBytes   = maxLeafBytes * 3 / 4 // new leaves leave room to type in
	mergeLeafBytes  = maxLeafBytes / 4     // a leaf this small joins a neighbour
	leavesPerBlock  = 32
	rebuildOpLength = 256 // an op with more components is applied by rebuilding
)

// Text is a document's text held as a list of leaves of at most
// maxLeafBytes each, with per-block code point counts to find a position
// quickly, so that applying a keystroke to a megabyte of text copies about a
// kilobyte. The zero Text is empty and ready to use. A Text is not safe for
// concurrent use.
type Text struct {
	leaves []leaf
	blocks []int // blocks[b] counts the code points of leaves[b*leavesPerBlock:][:leavesPerBlock]
	runes  int
	bytes  int
}

// leaf is a non-empty piece of valid UTF-8 in a buffer of maxLeafBytes, so
// that typing into it moves bytes but allocates nothing.
type leaf struct {
	b     []byte
	runes int
}

func newLeaf(s string) leaf {
	b := make([]byte, len(s), max(len(s), maxLeafBytes))
	copy(b, s)
	return leaf{b: b, runes: utf8.RuneCountInString(s)}
}

// byteOffset is the byte offset of code point k, counted from the nearer
// end by the bytes that start a code point (a leaf is valid UTF-8).
func (l leaf) byteOffset(k int) int {
	s := l.b
	if l.runes == len(s) {
		return k // ASCII
	}
	if k <= l.runes/2 {
		for i := 0; i < len(s); i++ {
			if s[i]&0xC0 != 0x80 {
				if k == 0 {
					return i
				}
				k--
			}
		}
		return len(s)
	}
	after := l.runes - k
	for i := len(s); after > 0; {
		i--
		if s[i]&0xC0 != 0x80 {
			if after--; after == 0 {
				return i
			}
		}
	}
	return len(s)
}

// NewText returns a Text holding s. Invalid UTF-8 in s (which a G-Doc text
// never holds) is replaced by U+FFFD, so that every position is a code point.
func NewText(s string) *Text {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	t := &Text{leaves: splitLeaves(s, nil), runes: utf8.RuneCountInString(s), bytes: len(s)}
	t.reindex()
	return t
}

// splitLeaves appends s to dst as leaves of about fillLeafBytes, cut on code
// point boundaries.
func splitLeaves(s string, dst []leaf) []leaf {
	if s == "" {
		return dst
	}
	pieces := (len(s) + fillLeafBytes - 1) / fillLeafBytes
	size := (len(s) + pieces - 1) / pieces
	for len(s) > 0 {
		cut := min(size, len(s))
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		dst = append(dst, newLeaf(s[:cut]))
		s = s[cut:]
	}
	return dst
}

func (t *Text) reindex() {
	t.blocks = t.blocks[:0]
	for i, l := range t.leaves {
		if i%leavesPerBlock == 0 {
			t.blocks = append(t.blocks, 0)
		}
		t.blocks[len(t.blocks)-1] += l.runes
	}
}

// locate returns the leaf holding code point pos and the offset into it. A
// position on a boundary between leaves resolves to the end of the earlier
// leaf when atEnd, else to the start of the later one; pos == Len resolves
// to the end of the last leaf. The text must not be empty.
func (t *Text) locate(pos int, atEnd bool) (int, int) {
	inside := func(pos, n int) bool { return pos < n || (atEnd && pos == n) }
	b := 0
	for ; b < len(t.blocks) && !inside(pos, t.blocks[b]); b++ {
		pos -= t.blocks[b]
	}
	if b == len(t.blocks) {
		last := len(t.leaves) - 1
		return last, t.leaves[last].runes
	}
	end := min(len(t.leaves), (b+1)*leavesPerBlock)
	for i := b * leavesPerBlock; i < end; i++ {
		if inside(pos, t.leaves[i].runes) {
			return i, pos
		}
		pos -= t.leaves[i].runes
	}
	panic("ot: Text block sums disagree with its leaves")
}

// Len is the number of code points in the text.
func (t *Text) Len() int { return t.runes }

// Bytes is the length of the text in UTF-8 bytes.
func (t *Text) Bytes() int { return t.bytes }

// String returns the whole text.
func (t *Text) String() string {
	var b strings.Builder
	n := 0
	for _, l := range t.leaves {
		n += len(l.b)
	}
	b.Grow(n)
	for _, l := range t.leaves {
		b.Write(l.b)
	}
	return b.String()
}

// Slice returns the code points [from, to), clipped to the text.
func (t *Text) Slice(from, to int) string {
	from, to = max(from, 0), min(to, t.runes)
	if from >= to {
		return ""
	}
	i, k := t.locate(from, false)
	var b strings.Builder
	for n := to - from; n > 0; i, k = i+1, 0 {
		l := t.leaves[i]
		take := min(n, l.runes-k)
		start := l.byteOffset(k)
		b.Write(l.b[start:l.byteOffset(k+take)])
		n -= take
	}
	return b.String()
}

// Apply changes the text by op. On error, the text is unchanged: op must be
// valid and fit the text, and a delete carrying text must match it.
func (t *Text) Apply(op Op) error {
	if err := Check(op); err != nil {
		return err
	}
	if n := op.BaseLen(); n > t.runes {
		return fmt.Errorf("the op covers %d characters but the text has only %d", n, t.runes)
	}
	if len(op) > rebuildOpLength {
		s, err := Apply(t.String(), op)
		if err != nil {
			return err
		}
		*t = *NewText(s)
		return nil
	}
	pre := 0
	for i, c := range op {
		if c.DeleteText != "" && t.Slice(pre, pre+c.Delete) != c.DeleteText {
			return fmt.Errorf("op component %d deletes a text that differs from the document's", i)
		}
		pre += c.Skip + c.Delete
	}
	// Valid and in range: nothing below can fail.
	pos := 0
	for _, c := range op {
		switch c.kind() {
		case kindSkip:
			pos += c.Skip
		case kindInsert:
			pos += t.insert(pos, c.Insert)
		case kindDelete:
			t.delete(pos, pos+c.Delete)
		}
	}
	return nil
}

// MakeInvertible returns op with every delete carrying the text it removes
// from t, as the package's MakeInvertible does for a string, without copying
// the whole text. It fails when op does not fit t.
func (t *Text) MakeInvertible(op Op) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	pos := 0
	for i, c := range op {
		if pos+c.Skip+c.Delete > t.runes {
			return nil, fmt.Errorf("op component %d runs past the end of the text", i)
		}
		if c.kind() == kindDelete {
			removed := t.Slice(pos, pos+c.Delete)
			if c.DeleteText != "" && c.DeleteText != removed {
				return nil, fmt.Errorf("op component %d deletes a text that differs from the document's", i)
			}
			c.DeleteText = removed
		}
		out = appendComponent(out, c)
		pos += c.Skip + c.Delete
	}
	return out, nil
}

// insert puts valid UTF-8 s at code point pos and returns its length.
func (t *Text) insert(pos int, s string) int {
	n := utf8.RuneCountInString(s)
	t.runes += n
	t.bytes += len(s)
	if len(t.leaves) == 0 {
		t.leaves = splitLeaves(s, t.leaves)
		t.reindex()
		return n
	}
	i, k := t.locate(pos, true)
	l := t.leaves[i]
	at := l.byteOffset(k)
	if len(l.b)+len(s) <= cap(l.b) {
		l.b = l.b[:len(l.b)+len(s)]
		copy(l.b[at+len(s):], l.b[at:])
		copy(l.b[at:], s)
		l.runes += n
		t.leaves[i] = l
		t.blocks[i/leavesPerBlock] += n
		return n
	}
	joined := string(l.b[:at]) + s + string(l.b[at:])
	t.leaves = slices.Replace(t.leaves, i, i+1, splitLeaves(joined, nil)...)
	t.reindex()
	return n
}

// delete removes the code points [from, to), which lie within the text.
func (t *Text) delete(from, to int) {
	t.runes -= to - from
	i, ki := t.locate(from, false)
	j, kj := t.locate(to, true)
	first, last := t.leaves[i], t.leaves[j]
	cutFrom, cutTo := first.byteOffset(ki), last.byteOffset(kj)
	removed := -cutFrom - (len(last.b) - cutTo)
	for k := i; k <= j; k++ {
		removed += len(t.leaves[k].b)
	}
	t.bytes -= removed
	keptBytes := cutFrom + len(last.b) - cutTo
	small := keptBytes < mergeLeafBytes
	mergeNext := small && j+1 < len(t.leaves) && keptBytes+len(t.leaves[j+1].b) <= fillLeafBytes
	mergePrev := small && !mergeNext && i > 0 && keptBytes+len(t.leaves[i-1].b) <= fillLeafBytes
	if i == j && keptBytes > 0 && !mergeNext && !mergePrev {
		copy(first.b[cutFrom:], first.b[cutTo:])
		first.b = first.b[:keptBytes]
		first.runes -= to - from
		t.leaves[i] = first
		t.blocks[i/leavesPerBlock] -= to - from
		return
	}
	// Leaves disappear or a small leaf joins its neighbour: relink and reindex.
	kept := string(first.b[:cutFrom]) + string(last.b[cutTo:])
	if mergeNext {
		j++
		kept += string(t.leaves[j].b)
	} else if mergePrev {
		i--
		kept = string(t.leaves[i].b) + kept
	}
	var replacement []leaf
	if len(kept) > maxLeafBytes {
		replacement = splitLeaves(kept, nil)
	} else if kept != "" {
		replacement = []leaf{newLeaf(kept)}
	}
	t.leaves = slices.Replace(t.leaves, i, j+1, replacement...)
	t.reindex()
}
