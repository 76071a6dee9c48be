package ot

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// atoms are the pieces generated texts are made of, as in tools/otref/gen.js:
// ASCII, JSON specials, CRLF, combining marks, CJK, Hangul, emoji with skin
// tones, ZWJ sequences, flags, astral letters and a bare ZWJ.
var atoms = []string{
	"a", "b", "c", "x", "y", "z", "Q", " ", "\n", "\r\n", "\t", `"`, `\`, "<",
	"é", "e\u0301", "ß", "Ω", "漢", "字", "한", "😀", "👍🏽", "👩‍👩‍👧", "🇯🇵", "𝒳", "\u200d",
}

// newRand returns a generator seeded from OT_SEED or the clock, and logs the
// seed so that a failure can be replayed with OT_SEED=<seed>.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("OT_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with OT_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randomText(r *rand.Rand, maxAtoms int) string {
	var b strings.Builder
	for n := 1 + r.IntN(maxAtoms); n > 0; n-- {
		b.WriteString(atoms[r.IntN(len(atoms))])
	}
	return b.String()
}

func randomDoc(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return ""
	case 1:
		return randomText(r, 400)
	}
	return randomText(r, 20)
}

// randomOp returns a random valid op that applies to doc, with deletes that
// carry their text half of the time.
func randomOp(r *rand.Rand, doc string) Op {
	runes := []rune(doc)
	var op Op
	pos := 0
	for r.IntN(6) != 0 {
		rest := len(runes) - pos
		switch k := r.IntN(3); {
		case k == 0 && rest > 0:
			n := 1 + r.IntN(min(rest, 10))
			op = append(op, Component{Skip: n})
			pos += n
		case k == 1 && rest > 0:
			n := 1 + r.IntN(min(rest, 6))
			c := Component{Delete: n}
			if r.IntN(2) == 0 {
				c.DeleteText = string(runes[pos : pos+n])
			}
			op = append(op, c)
			pos += n
		default:
			op = append(op, Component{Insert: randomText(r, 4)})
		}
	}
	return Normalize(op)
}

func mustApply(t *testing.T, doc string, op Op) string {
	t.Helper()
	got, err := Apply(doc, op)
	if err != nil {
		t.Fatalf("Apply(%q, %v): %v", doc, op, err)
	}
	return got
}
