package history

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gdoc/gdoc/internal/ot"
)

func authors(b Blame) string {
	var s []string
	for _, l := range b {
		s = append(s, l.Author.UserID)
	}
	return strings.Join(s, ",")
}

func TestBlameApply(t *testing.T) {
	old := Blame{{1, Author{Rev: 1, UserID: "A"}}, {1, Author{Rev: 2, UserID: "B"}}, {1, Author{Rev: 3, UserID: "C"}}}
	x := Author{Rev: 4, UserID: "X"}
	cases := []struct {
		name string
		op   ot.Op
		want string // authors of the new lines
	}{
		{"type into the middle line", ot.Op{{Skip: 3}, {Insert: "!"}}, "A,X,C"},
		{"new line above", ot.Op{{Skip: 2}, {Insert: "new\n"}}, "A,X,B,C"},
		{"new line below, Enter at a line's end", ot.Op{{Skip: 3}, {Insert: "\nnew"}}, "A,B,X,C"},
		{"delete a whole line", ot.Op{{Skip: 2}, {Delete: 2}}, "A,C"},
		{"delete a line from the end of the one before", ot.Op{{Skip: 1}, {Delete: 2}}, "A,C"},
		{"join two lines", ot.Op{{Skip: 1}, {Delete: 1}}, "X,C"},
		{"blank line before the last", ot.Op{{Skip: 4}, {Insert: "\n"}}, "A,B,X,C"},
		{"split a line", ot.Op{{Skip: 3}, {Insert: "b\nb"}}, "A,X,X,C"},
		{"replace everything", ot.Op{{Delete: 5}, {Insert: "z"}}, "X"},
		{"append at the end", ot.Op{{Skip: 5}, {Insert: "\nd"}}, "A,B,C,X"},
		{"no-op", ot.Op{}, "A,B,C"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := slices.Clone(old).Apply(tc.op, x)
			if err != nil {
				t.Fatal(err)
			}
			if authors(got) != tc.want {
				t.Fatalf("got %s, want %s", authors(got), tc.want)
			}
		})
	}
	if _, err := old.Apply(ot.Op{{Skip: 9}, {Insert: "x"}}, x); err == nil {
		t.Fatal("an op past the end of the text was accepted")
	}
}

// TestBlameCoversEveryLine applies random ops and checks that the blame
// always has one author per line, that untouched lines keep theirs, and
// that it survives Encode and Decode.
func TestBlameCoversEveryLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab\n\né")
	text := "first\nsecond\n"
	blame := Uniform(text, Author{})
	for i := 1; i <= 2000; i++ {
		n := len([]rune(text))
		pos := rng.IntN(n + 1)
		var op ot.Op
		if pos > 0 {
			op = append(op, ot.Component{Skip: pos})
		}
		if del := rng.IntN(3); del > 0 && pos+del <= n {
			op = append(op, ot.Component{Delete: del})
		}
		var ins []rune
		for k := rng.IntN(4); k > 0; k-- {
			ins = append(ins, alphabet[rng.IntN(len(alphabet))])
		}
		if len(ins) > 0 {
			op = append(op, ot.Component{Insert: string(ins)})
		}
		op = ot.Normalize(op)
		next, err := ot.Apply(text, op)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := slices.Clone(blame).Apply(op, Author{Rev: int64(i), UserID: "u"})
		if err != nil {
			t.Fatalf("op %v on %q: %v", op, text, err)
		}
		if want := strings.Count(next, "\n") + 1; len(nb) != want {
			t.Fatalf("op %v on %q: %d authors for %d lines", op, text, len(nb), want)
		}
		// Each line attributed to an older revision holds a text that
		// existed as a line before.
		oldLines := map[string]bool{}
		for _, l := range strings.Split(text, "\n") {
			oldLines[l] = true
		}
		for k, l := range strings.Split(next, "\n") {
			if nb[k].Len != utf8.RuneCountInString(l) {
				t.Fatalf("op %v on %q: line %d has length %d, blame says %d", op, text, k, utf8.RuneCountInString(l), nb[k].Len)
			}
			if nb[k].Author.Rev != int64(i) && !oldLines[l] {
				t.Fatalf("op %v on %q: line %d %q kept an old author but is new", op, text, k, l)
			}
		}
		text, blame = next, nb
		back, err := Decode(blame.Encode(), text, 0)
		if err != nil || len(back) != len(blame) {
			t.Fatalf("decode: %v", err)
		}
		for k := range back {
			if back[k] != blame[k] {
				t.Fatalf("decode changed line %d", k)
			}
		}
	}
}
