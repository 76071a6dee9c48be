package ot

import "unicode/utf8"

// Range is a span of code points [From, To) that follows the text it covers
// through edits: a comment's anchor. It is not part of the reference type;
// it is built on the same walk as TransformPosition.
//
// A range covers the code points that were in it and still exist, and
// whatever is inserted between them: after an op it runs from the first
// surviving code point to the last. Text typed at either edge stays outside.
// When every code point of a non-empty range was deleted, the range is
// Detached for good and collapses to the point TransformPosition gives its
// start. The result does not depend on how an op orders an insert and a
// delete at one place, since it follows the surviving text, not positions.
type Range struct {
	From, To int
	Detached bool
}

// TransformRange moves r through op. A detached or empty range moves as a
// point. An invalid op gives a meaningless but harmless result.
func TransformRange(r Range, op Op) Range {
	if r.Detached || r.From >= r.To {
		p := TransformPosition(r.From, op)
		return Range{From: p, To: p, Detached: r.Detached}
	}
	first, last := -1, -1
	oldPos, newPos := 0, 0
	// survive records that old code points [lo, hi) are kept at newPos on.
	survive := func(lo, hi int) {
		lo, hi = max(lo, r.From), min(hi, r.To)
		if lo >= hi {
			return
		}
		if first < 0 {
			first = newPos + lo - oldPos
		}
		last = newPos + hi - oldPos
	}
	for _, c := range op {
		if oldPos >= r.To {
			break
		}
		switch c.kind() {
		case kindSkip:
			survive(oldPos, oldPos+c.Skip)
			oldPos += c.Skip
			newPos += c.Skip
		case kindInsert:
			newPos += utf8.RuneCountInString(c.Insert)
		case kindDelete:
			oldPos += c.Delete
		}
	}
	survive(oldPos, r.To) // the op's implicit trailing skip
	if first < 0 {
		p := TransformPosition(r.From, op)
		return Range{From: p, To: p, Detached: true}
	}
	return Range{From: first, To: last}
}
