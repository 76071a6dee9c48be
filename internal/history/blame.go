// Package history reads a document's past from its op log: the text at any
// revision (from checkpoints plus a bounded replay), editing sessions, and
// who last changed each line (blame), carried through every op.
package history

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/ot"
)

// Author is who last changed a line: the revision of the op, its user ("" for
// the text as created) and its time in Unix milliseconds (0 when unknown).
type Author struct {
	Rev    int64
	UserID string
	At     int64
}

// Blame attributes each line of a text (lines split at "\n", so a text has
// strings.Count(text, "\n")+1 lines) to its Author.
type Blame []Author

// Uniform returns the blame of text with every line attributed to a.
func Uniform(text string, a Author) Blame {
	n := 1
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			n++
		}
	}
	b := make(Blame, n)
	for i := range b {
		b[i] = a
	}
	return b
}

// lineState is the new line being built while walking an op.
type lineState struct {
	empty     bool // no character of the new line emitted yet
	touched   bool // an insert or delete changed it
	hasOrigin bool // its first character is the first of old line origin
	origin    int
}

// Apply returns the blame of the text after op, given the blame of old (the
// text before it): a line is the op's author's when the op inserted into it,
// deleted inside it or joined it with another; otherwise it is a line of old,
// moved at most, and keeps its author. Deleting whole lines or inserting whole
// new lines leaves the neighbours' authors alone. op must fit old (ot.Apply
// checks that; Apply returns an error when the walk runs off the text).
func (b Blame) Apply(old string, op ot.Op, author Author) (Blame, error) {
	out := make(Blame, 0, len(b)+1)
	cur := lineState{empty: true}
	oldLine, atLineStart := 0, true
	rest := old
	emit := func() error {
		if !cur.touched && cur.hasOrigin {
			if cur.origin >= len(b) {
				return fmt.Errorf("the blame covers %d lines, the text more", len(b))
			}
			out = append(out, b[cur.origin])
		} else {
			out = append(out, author)
		}
		cur = lineState{empty: true}
		return nil
	}
	next := func() (rune, error) {
		if rest == "" {
			return 0, fmt.Errorf("the op runs past the end of the text")
		}
		r, w := utf8.DecodeRuneInString(rest)
		rest = rest[w:]
		return r, nil
	}
	skip := func(n int) error {
		for ; n > 0; n-- {
			r, err := next()
			if err != nil {
				return err
			}
			if cur.empty {
				if atLineStart {
					cur.hasOrigin, cur.origin = true, oldLine
				} else {
					cur.touched = true
				}
				cur.empty = false
			}
			if r == '\n' {
				if err := emit(); err != nil {
					return err
				}
				oldLine, atLineStart = oldLine+1, true
			} else {
				atLineStart = false
			}
		}
		return nil
	}
	for _, c := range op {
		switch {
		case c.Skip > 0:
			if err := skip(c.Skip); err != nil {
				return nil, err
			}
		case c.Insert != "":
			for _, r := range c.Insert {
				if r == '\n' {
					// A new line, or one split in the middle, changed; a line
					// ended where its old newline follows is as it was.
					if cur.empty || rest != "" && rest[0] != '\n' {
						cur.touched = true
					}
					if err := emit(); err != nil {
						return nil, err
					}
				} else {
					cur.touched, cur.empty = true, false
				}
			}
		case c.Delete > 0:
			startsWithNewline := rest != "" && rest[0] == '\n'
			for n := c.Delete; n > 0; n-- {
				r, err := next()
				if err != nil {
					return nil, err
				}
				if r == '\n' {
					oldLine, atLineStart = oldLine+1, true
				} else {
					atLineStart = false
				}
			}
			// Deleting inside a line changes it; deleting whole lines just
			// after its text (from its newline up to the next newline or the
			// end) leaves it as it was.
			if !cur.empty && !(startsWithNewline && (rest == "" || rest[0] == '\n')) {
				cur.touched = true
			}
		}
	}
	if err := skip(utf8.RuneCountInString(rest)); err != nil {
		return nil, err
	}
	if cur.empty && !cur.touched && atLineStart {
		cur.hasOrigin, cur.origin = true, oldLine // the empty last line stays
	}
	if err := emit(); err != nil {
		return nil, err
	}
	return out, nil
}

// run is a stretch of consecutive lines with one author: [count, rev, user, at].
type run struct {
	n int
	a Author
}

func (r run) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{r.n, r.a.Rev, r.a.UserID, r.a.At})
}

// Encode returns b as JSON runs of lines with one author, for a checkpoint.
func (b Blame) Encode() string {
	var runs []run
	for _, a := range b {
		if len(runs) > 0 && runs[len(runs)-1].a == a {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{1, a})
	}
	data, _ := json.Marshal(runs)
	return string(data)
}

// Decode reads what Encode wrote for text at revision rev; "" (a checkpoint
// of the text as created) attributes every line to rev with no author. It
// fails when the runs do not cover text's lines.
func Decode(data, text string, rev int64) (Blame, error) {
	if data == "" {
		return Uniform(text, Author{Rev: rev}), nil
	}
	var runs [][4]json.RawMessage
	if err := json.Unmarshal([]byte(data), &runs); err != nil {
		return nil, fmt.Errorf("stored blame: %w", err)
	}
	var b Blame
	for _, r := range runs {
		var n int
		var a Author
		if err := json.Unmarshal(r[0], &n); err != nil {
			return nil, fmt.Errorf("stored blame: %w", err)
		}
		if json.Unmarshal(r[1], &a.Rev) != nil || json.Unmarshal(r[2], &a.UserID) != nil || json.Unmarshal(r[3], &a.At) != nil || n < 1 {
			return nil, fmt.Errorf("stored blame: bad run %s", r)
		}
		for ; n > 0; n-- {
			b = append(b, a)
		}
	}
	if want := len(Uniform(text, Author{})); len(b) != want {
		return nil, fmt.Errorf("stored blame covers %d lines, the text has %d", len(b), want)
	}
	return b, nil
}
