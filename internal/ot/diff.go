package ot

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// diffTimeout bounds the search for a minimal diff of the changed middle of
// two texts; past it the op is still correct, only less small.
const diffTimeout = 100 * time.Millisecond

// Diff returns an op that turns old into new, small by code points: Apply(old,
// Diff(old, new)) == new for any valid UTF-8 old and new. Deletes carry no
// text. The common prefix and suffix are found by comparing bytes, so the
// usual edit of a large text costs a scan, not a diff of the whole.
func Diff(old, new string) Op {
	if !utf8.ValidString(old) || !utf8.ValidString(new) {
		// Out of contract; keep the promise for the text Apply sees.
		old, new = strings.ToValidUTF8(old, "\uFFFD"), strings.ToValidUTF8(new, "\uFFFD")
	}
	prefix := commonPrefix(old, new)
	suffix := commonSuffix(old[prefix:], new[prefix:])
	oldMid, newMid := old[prefix:len(old)-suffix], new[prefix:len(new)-suffix]

	op := appendComponent(Op{}, Component{Skip: utf8.RuneCountInString(old[:prefix])})
	switch {
	case oldMid == "" && newMid == "":
		return Op{}
	case oldMid == "" || newMid == "":
		op = appendReplace(op, oldMid, newMid)
	default:
		dmp := diffmatchpatch.New()
		dmp.DiffTimeout = diffTimeout
		mid := Op{}
		for _, d := range dmp.DiffMainRunes([]rune(oldMid), []rune(newMid), false) {
			switch d.Type {
			case diffmatchpatch.DiffEqual:
				mid = appendComponent(mid, Component{Skip: utf8.RuneCountInString(d.Text)})
			case diffmatchpatch.DiffInsert:
				mid = appendComponent(mid, Component{Insert: d.Text})
			case diffmatchpatch.DiffDelete:
				mid = appendComponent(mid, Component{Delete: utf8.RuneCountInString(d.Text)})
			}
		}
		// Trust, but verify: a library bug must not corrupt a document.
		if got, err := Apply(oldMid, trim(mid)); err != nil || got != newMid {
			mid = appendReplace(Op{}, oldMid, newMid)
		}
		for _, c := range mid {
			op = appendComponent(op, c)
		}
	}
	return trim(op)
}

// appendReplace appends the delete of all of oldText and the insert of newText.
func appendReplace(op Op, oldText, newText string) Op {
	op = appendComponent(op, Component{Delete: utf8.RuneCountInString(oldText)})
	return appendComponent(op, Component{Insert: newText})
}

// compareChunk is how many bytes the prefix and suffix scans compare at once
// (string equality is vectorized; a byte loop is not).
const compareChunk = 256

// commonPrefix is the byte length of the longest common prefix of a and b
// that ends on a code point boundary.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i+compareChunk <= n && a[i:i+compareChunk] == b[i:i+compareChunk] {
		i += compareChunk
	}
	for i < n && a[i] == b[i] {
		i++
	}
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	return i
}

// commonSuffix is the byte length of the longest common suffix of a and b
// that starts on a code point boundary.
func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i+compareChunk <= n && a[len(a)-i-compareChunk:len(a)-i] == b[len(b)-i-compareChunk:len(b)-i] {
		i += compareChunk
	}
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	for i > 0 && !utf8.RuneStart(a[len(a)-i]) {
		i--
	}
	return i
}
