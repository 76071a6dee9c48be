// Package ottest holds what tests of OT code share: random edits.
package ottest

import (
	"math/rand/v2"

	"github.com/gdoc/gdoc/internal/ot"
)

// InsertPool is what RandomOp inserts: astral characters, a ZWJ-free
// modifier sequence, CRLF, combining-free accents, CJK, a tab.
var InsertPool = []string{"a", "xy", "😀", "\r\n", "é", "👍🏽", "\n", "漢字", "\t", "z"}

// RandomOp returns a random valid edit of doc (positions in code points):
// an insert, a delete (carrying its text half of the time), or a
// replacement, normalized.
func RandomOp(r *rand.Rand, doc string) ot.Op {
	runes := []rune(doc)
	n := len(runes)
	pos := r.IntN(n + 1)
	var op ot.Op
	if pos > 0 {
		op = append(op, ot.Component{Skip: pos})
	}
	if pos < n && r.IntN(5) < 2 {
		count := 1 + r.IntN(min(6, n-pos))
		del := ot.Component{Delete: count}
		if r.IntN(2) == 0 {
			del.DeleteText = string(runes[pos : pos+count])
		}
		op = append(op, del)
		if r.IntN(3) == 0 {
			op = append(op, ot.Component{Insert: InsertPool[r.IntN(len(InsertPool))]})
		}
	} else {
		op = append(op, ot.Component{Insert: InsertPool[r.IntN(len(InsertPool))] + InsertPool[r.IntN(len(InsertPool))]})
	}
	return ot.Normalize(op)
}
