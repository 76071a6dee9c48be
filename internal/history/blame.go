// Package history reads a document's past from its op log: the text at any
// revision (from checkpoints plus a bounded replay), editing sessions, and
// who last changed each line (blame), carried through every op.
package history

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gdoc/gdoc/internal/ot"
)

// Author is who last changed a line: the revision of the op, its user ("" for
// the text as created) and its time in Unix milliseconds (0 when unknown).
type Author struct {
	Rev    int64
	UserID string
	At     int64
}

// Line is one line of a text (split at "\n") for blame: its length in code
// points, without the newline, and who last changed it.
type Line struct {
	Len    int
	Author Author
}

// Blame attributes each line of a text to its Author. A text has
// strings.Count(text, "\n")+1 lines. Blame needs the lines' lengths only,
// not the text, so that carrying it through an op costs the op's size plus
// a walk over line lengths, not a copy of the text.
type Blame []Line

// Uniform returns the blame of text with every line attributed to a.
func Uniform(text string, a Author) Blame {
	b := Blame{{Author: a}}
	for _, r := range text {
		if r == '\n' {
			b = append(b, Line{Author: a})
		} else {
			b[len(b)-1].Len++
		}
	}
	return b
}

// lineState is the new line being built while walking an op.
type lineState struct {
	len       int
	empty     bool // no character of the new line emitted yet
	touched   bool // an insert or delete changed it
	hasOrigin bool // its first character is the first of old line origin
	origin    int
}

// Apply returns the blame after op (b's array is reused): a line is the op's
// author's when the op inserted into it, deleted inside it, split it or
// joined it with another; otherwise it is a line of the old text, moved at
// most, and keeps its author. Deleting whole lines or inserting whole new
// lines leaves the neighbours' authors alone. It fails, leaving b unchanged,
// when op does not fit the text.
func (b Blame) Apply(op ot.Op, author Author) (Blame, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("a blame has at least one line")
	}
	last := len(b) - 1
	li, col := 0, 0 // the old text's cursor: line and code point in it
	ci := 0
	if len(op) > 0 && op[0].Skip > 0 {
		// Jump over the untouched start.
		n := op[0].Skip
		for li < last && n > b[li].Len {
			n -= b[li].Len + 1
			li++
		}
		if n > b[li].Len {
			return nil, fmt.Errorf("the op skips past the end of the text")
		}
		col, ci = n, 1
	}
	first := li
	cur := lineState{empty: true}
	if col > 0 {
		cur = lineState{len: col, hasOrigin: true, origin: li}
	}
	var out []Line
	emit := func() {
		a := author
		if !cur.touched && cur.hasOrigin {
			a = b[cur.origin].Author
		}
		out = append(out, Line{Len: cur.len, Author: a})
		cur = lineState{empty: true}
	}
	// skip copies n code points of the old text.
	skip := func(n int) error {
		for n > 0 {
			if cur.empty {
				if col == 0 {
					cur.hasOrigin, cur.origin = true, li
				} else {
					cur.touched = true
				}
				cur.empty = false
			}
			k := min(n, b[li].Len-col)
			cur.len += k
			col += k
			n -= k
			if n == 0 {
				break
			}
			if li == last {
				return fmt.Errorf("the op skips past the end of the text")
			}
			emit() // the old newline ends the new line
			li, col, n = li+1, 0, n-1
		}
		return nil
	}
	for _, c := range op[ci:] {
		switch {
		case c.Skip > 0:
			if err := skip(c.Skip); err != nil {
				return nil, err
			}
		case c.Insert != "":
			for _, r := range c.Insert {
				if r != '\n' {
					cur.touched, cur.empty = true, false
					cur.len++
					continue
				}
				// A new line, or one split in the middle, changed; a line
				// ended where its old newline follows is as it was.
				if cur.empty || col < b[li].Len {
					cur.touched = true
				}
				emit()
			}
		case c.Delete > 0:
			startsWithNewline := col == b[li].Len && li < last
			for n := c.Delete; n > 0; {
				k := min(n, b[li].Len-col)
				col += k
				n -= k
				if n == 0 {
					break
				}
				if li == last {
					return nil, fmt.Errorf("the op deletes past the end of the text")
				}
				li, col, n = li+1, 0, n-1
			}
			// Deleting inside a line changes it; deleting whole lines just
			// after its text (from its newline up to the next newline or
			// the end) leaves it as it was.
			if !cur.empty && !(startsWithNewline && col == b[li].Len) {
				cur.touched = true
			}
		}
	}
	// The rest of the old text is copied: finish the current line, then
	// the old lines after it stay as they are.
	end := li
	if !cur.empty || col > 0 {
		if err := skip(b[li].Len - col); err != nil {
			return nil, err
		}
		emit()
		end = li + 1
	}
	return slices.Replace(b, first, end, out...), nil
}

// Authors returns each line's author.
func (b Blame) Authors() []Author {
	out := make([]Author, len(b))
	for i, l := range b {
		out[i] = l.Author
	}
	return out
}

// run is a stretch of consecutive lines with one author: [count, rev, user, at].
type run struct {
	n int
	a Author
}

func (r run) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{r.n, r.a.Rev, r.a.UserID, r.a.At})
}

// Encode returns b's authors as JSON runs of lines, for a checkpoint (the
// lengths come from the checkpoint's text).
func (b Blame) Encode() string {
	var runs []run
	for _, l := range b {
		if len(runs) > 0 && runs[len(runs)-1].a == l.Author {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{1, l.Author})
	}
	data, _ := json.Marshal(runs)
	return string(data)
}

// Decode reads what Encode wrote for text at revision rev; "" (a checkpoint
// of the text as created) attributes every line to rev with no author. It
// fails when the runs do not cover text's lines.
func Decode(data, text string, rev int64) (Blame, error) {
	b := Uniform(text, Author{Rev: rev})
	if data == "" {
		return b, nil
	}
	var runs [][4]json.RawMessage
	if err := json.Unmarshal([]byte(data), &runs); err != nil {
		return nil, fmt.Errorf("stored blame: %w", err)
	}
	i := 0
	for _, r := range runs {
		var n int
		var a Author
		if json.Unmarshal(r[0], &n) != nil || json.Unmarshal(r[1], &a.Rev) != nil || json.Unmarshal(r[2], &a.UserID) != nil ||
			json.Unmarshal(r[3], &a.At) != nil || n < 1 || i+n > len(b) {
			return nil, fmt.Errorf("stored blame: bad run %s for %d lines", r, len(b))
		}
		for ; n > 0; n-- {
			b[i].Author = a
			i++
		}
	}
	if i != len(b) {
		return nil, fmt.Errorf("stored blame covers %d lines, the text has %d", i, len(b))
	}
	return b, nil
}
