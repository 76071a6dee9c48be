package ot

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// byteOffset returns the byte offset of the n-th code point of s, and false
// when s has fewer than n code points. Invalid bytes count as one code point
// each, as utf8.RuneCountInString counts them.
func byteOffset(s string, n int) (int, bool) {
	i := 0
	for ; n > 0; n-- {
		if i >= len(s) {
			return len(s), false
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
	}
	return i, true
}

// runeSlice returns the code points [from, to) of s, clipped to its end (the
// reference's uniSlice).
func runeSlice(s string, from, to int) string {
	start, _ := byteOffset(s, from)
	end, _ := byteOffset(s[start:], to-from)
	return s[start : start+end]
}

// Apply returns doc changed by op. It fails, changing nothing, when op is
// invalid, skips or deletes past the end of doc, or deletes a text that is
// not the one at its position. (The reference does not check the last two.)
func Apply(doc string, op Op) (string, error) {
	if err := Check(op); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(doc) + insertedBytes(op))
	rest := doc
	for i, c := range op {
		switch c.kind() {
		case kindSkip:
			n, ok := byteOffset(rest, c.Skip)
			if !ok {
				return "", fmt.Errorf("op component %d skips past the end of the text", i)
			}
			b.WriteString(rest[:n])
			rest = rest[n:]
		case kindInsert:
			b.WriteString(c.Insert)
		case kindDelete:
			n, ok := byteOffset(rest, c.Delete)
			if !ok {
				return "", fmt.Errorf("op component %d deletes past the end of the text", i)
			}
			if c.DeleteText != "" && rest[:n] != c.DeleteText {
				return "", fmt.Errorf("op component %d deletes a text that differs from the document's", i)
			}
			rest = rest[n:]
		}
	}
	b.WriteString(rest)
	return b.String(), nil
}

func insertedBytes(op Op) int {
	n := 0
	for _, c := range op {
		n += len(c.Insert)
	}
	return n
}

// taker walks an op, handing out its components whole or in pieces (the
// reference's makeTake). Past the end, the op skips forever.
type taker struct {
	op      Op
	idx     int // the component to take from next
	runeOff int // code points of op[idx] already taken
	byteOff int // bytes of op[idx]'s text already taken
}

func (t *taker) advance() {
	t.idx++
	t.runeOff, t.byteOff = 0, 0
}

// peekKind is the kind of the component the next take starts in.
func (t *taker) peekKind() kind {
	if t.idx == len(t.op) {
		return kindNone
	}
	return t.op[t.idx].kind()
}

// take returns up to n code points of the op; n < 0 takes the rest of the
// current component, and reports false at the end of the op. A component of
// kind whole is never split.
func (t *taker) take(n int, whole kind) (Component, bool) {
	if t.idx == len(t.op) {
		if n < 0 {
			return Component{}, false
		}
		return Component{Skip: n}, true
	}
	c := t.op[t.idx]
	switch c.kind() {
	case kindSkip:
		if n < 0 || c.Skip-t.runeOff <= n {
			part := Component{Skip: c.Skip - t.runeOff}
			t.advance()
			return part, true
		}
		t.runeOff += n
		return Component{Skip: n}, true
	case kindInsert:
		rest := c.Insert[t.byteOff:]
		if n < 0 || whole == kindInsert || utf8.RuneCountInString(rest) <= n {
			t.advance()
			return Component{Insert: rest}, true
		}
		b, _ := byteOffset(rest, n)
		t.runeOff += n
		t.byteOff += b
		return Component{Insert: rest[:b]}, true
	case kindDelete:
		if n < 0 || whole == kindDelete || c.Delete-t.runeOff <= n {
			part := Component{Delete: c.Delete - t.runeOff}
			if c.DeleteText != "" {
				part.DeleteText = c.DeleteText[t.byteOff:]
			}
			t.advance()
			return part, true
		}
		part := Component{Delete: n}
		if c.DeleteText != "" {
			b, _ := byteOffset(c.DeleteText[t.byteOff:], n)
			part.DeleteText = c.DeleteText[t.byteOff : t.byteOff+b]
			t.byteOff += b
		}
		t.runeOff += n
		return part, true
	}
	// Unreachable for a checked op; end the walk rather than loop.
	t.idx = len(t.op)
	return Component{}, false
}

func checkBoth(a, b Op) error {
	if err := Check(a); err != nil {
		return err
	}
	if err := Check(b); err != nil {
		return fmt.Errorf("the other op: %w", err)
	}
	return nil
}

// Transform returns op rewritten to apply after other, where both were made
// against the same text. When both insert at one position, the op on the
// Left side goes first. Transform(a, b, Left) and Transform(b, a, Right)
// converge: Apply(Apply(s, b), a') == Apply(Apply(s, a), b').
func Transform(op, other Op, side Side) (Op, error) {
	if side != Left && side != Right {
		return nil, fmt.Errorf("side must be Left or Right, not %d", int(side))
	}
	if err := checkBoth(op, other); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op)+2)
	t := taker{op: op}
	for _, c2 := range other {
		switch c2.kind() {
		case kindSkip:
			for length := c2.Skip; length > 0; {
				c1, _ := t.take(length, kindInsert)
				out = appendComponent(out, c1)
				if c1.kind() != kindInsert {
					length -= c1.length()
				}
			}
		case kindInsert:
			if side == Left && t.peekKind() == kindInsert {
				c1, _ := t.take(-1, kindNone)
				out = appendComponent(out, c1)
			}
			out = appendComponent(out, Component{Skip: utf8.RuneCountInString(c2.Insert)})
		case kindDelete:
			for length := c2.Delete; length > 0; {
				c1, _ := t.take(length, kindInsert)
				switch c1.kind() {
				case kindSkip:
					length -= c1.Skip
				case kindInsert:
					out = appendComponent(out, c1)
				case kindDelete:
					// Both deleted this text; op need not delete it again.
					length -= c1.Delete
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, kindNone)
		if !ok {
			break
		}
		out = appendComponent(out, c)
	}
	return trim(out), nil
}

// Compose returns one op with the effect of a followed by b:
// Apply(s, Compose(a, b)) == Apply(Apply(s, a), b).
func Compose(a, b Op) (Op, error) {
	if err := checkBoth(a, b); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(a)+len(b))
	t := taker{op: a}
	for _, c2 := range b {
		switch c2.kind() {
		case kindSkip:
			for length := c2.Skip; length > 0; {
				chunk, _ := t.take(length, kindDelete)
				out = appendComponent(out, chunk)
				if chunk.kind() != kindDelete {
					length -= chunk.length()
				}
			}
		case kindInsert:
			out = appendComponent(out, c2)
		case kindDelete:
			for length, offset := c2.Delete, 0; offset < length; {
				chunk, _ := t.take(length-offset, kindDelete)
				switch chunk.kind() {
				case kindSkip:
					out = appendComponent(out, deleteSlice(c2, offset, offset+chunk.Skip))
					offset += chunk.Skip
				case kindInsert:
					// b deletes what a inserted: neither survives.
					offset += chunk.length()
				case kindDelete:
					out = appendComponent(out, chunk)
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, kindNone)
		if !ok {
			break
		}
		out = appendComponent(out, c)
	}
	return trim(out), nil
}

// deleteSlice is code points [from, to) of the delete c (the reference's dslice).
func deleteSlice(c Component, from, to int) Component {
	if c.DeleteText == "" {
		return Component{Delete: min(c.Delete, to) - from}
	}
	s := runeSlice(c.DeleteText, from, to)
	return Component{Delete: utf8.RuneCountInString(s), DeleteText: s}
}

// TransformPosition moves a cursor at code point pos through op, as the
// reference does: text inserted exactly at the cursor lands after it, and a
// cursor inside deleted text moves to the start of the deletion. The
// reference has no insert-before flag, so neither does this. It never fails;
// an invalid op gives a meaningless but harmless result.
func TransformPosition(pos int, op Op) int {
	p := 0
	for i := 0; i < len(op) && pos > p; i++ {
		c := op[i]
		switch c.kind() {
		case kindSkip:
			p += c.Skip
		case kindInsert:
			n := utf8.RuneCountInString(c.Insert)
			p += n
			pos += n
		case kindDelete:
			pos -= min(c.Delete, pos-p)
		}
	}
	return pos
}

// Selection is a range of code points; Head may be before Anchor.
type Selection struct {
	Anchor int `json:"anchor"`
	Head   int `json:"head"`
}

// TransformSelection moves both ends of sel through op with TransformPosition.
func TransformSelection(sel Selection, op Op) Selection {
	return Selection{Anchor: TransformPosition(sel.Anchor, op), Head: TransformPosition(sel.Head, op)}
}

// Invert returns the op that undoes op. Every delete in op must carry its
// text (see MakeInvertible).
func Invert(op Op) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	for i, c := range op {
		switch c.kind() {
		case kindSkip:
			out = appendComponent(out, c)
		case kindInsert:
			out = appendComponent(out, Component{Delete: utf8.RuneCountInString(c.Insert), DeleteText: c.Insert})
		case kindDelete:
			if c.DeleteText == "" {
				return nil, fmt.Errorf("op component %d deletes without carrying the deleted text, so the op cannot be inverted", i)
			}
			out = appendComponent(out, Component{Insert: c.DeleteText})
		}
	}
	return trim(out), nil
}

// MakeInvertible returns op with every delete carrying the text it removes
// from doc, the text op applies to. It fails when op does not fit doc.
func MakeInvertible(op Op, doc string) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	rest := doc
	for i, c := range op {
		switch c.kind() {
		case kindSkip:
			n, ok := byteOffset(rest, c.Skip)
			if !ok {
				return nil, fmt.Errorf("op component %d skips past the end of the text", i)
			}
			rest = rest[n:]
			out = appendComponent(out, c)
		case kindInsert:
			out = appendComponent(out, c)
		case kindDelete:
			n, ok := byteOffset(rest, c.Delete)
			if !ok {
				return nil, fmt.Errorf("op component %d deletes past the end of the text", i)
			}
			if c.DeleteText != "" && c.DeleteText != rest[:n] {
				return nil, fmt.Errorf("op component %d deletes a text that differs from the document's", i)
			}
			out = appendComponent(out, Component{Delete: c.Delete, DeleteText: rest[:n]})
			rest = rest[n:]
		}
	}
	return trim(out), nil
}

// InvertWithDoc returns the op that undoes op, which applies to doc.
func InvertWithDoc(op Op, doc string) (Op, error) {
	inv, err := MakeInvertible(op, doc)
	if err != nil {
		return nil, err
	}
	return Invert(inv)
}
