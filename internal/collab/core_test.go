package collab

import (
	"encoding/json"
	"testing"

	"github.com/gdoc/gdoc/internal/gdoc"
	"github.com/gdoc/gdoc/internal/ot"
)

func mustOp(t *testing.T, s string) ot.Op {
	t.Helper()
	op, err := ot.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return op
}

func opJSON(t *testing.T, op ot.Op) string {
	t.Helper()
	b, err := json.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRebase(t *testing.T) {
	cases := []struct {
		name    string
		base    string   // the text the op and the history start from
		op      string   // written against base
		history []string // committed after base, in order
		want    string   // op to commit
		result  string   // text after history and the committed op
	}{
		{name: "NoHistory", base: "abc", op: `[1,"x"]`, want: `[1,"x"]`, result: "axbc"},
		{name: "InsertBeforeShifts", base: "abc", op: `[2,"x"]`, history: []string{`["12"]`}, want: `[4,"x"]`, result: "12abxc"},
		{name: "InsertAfterStays", base: "abc", op: `[1,"x"]`, history: []string{`[2,"Z"]`}, want: `[1,"x"]`, result: "axbZc"},
		// Incoming on Left: at the same position the later submission goes first.
		{name: "TieIncomingFirst", base: "abc", op: `[1,"x"]`, history: []string{`[1,"y"]`}, want: `[1,"x"]`, result: "axybc"},
		{name: "DeleteOverlapsCommittedDelete", base: "abcdef", op: `[1,{"d":3}]`, history: []string{`[2,{"d":3}]`}, want: `[1,{"d":1}]`, result: "af"},
		{name: "DeleteAcrossOthersInsert", base: "abcdef", op: `[1,{"d":4}]`, history: []string{`[3,"XY"]`}, want: `[1,{"d":2},2,{"d":2}]`, result: "aXYf"},
		{name: "OverSeveralOps", base: "hello", op: `[5," world"]`, history: []string{`["> "]`, `[{"d":2},"<<"]`, `[4,{"d":3}]`}, want: `[4," world"]`, result: "<<he world"},
		{name: "EmojiCountsOneCodePoint", base: "a😀b", op: `[3,"!"]`, history: []string{`["😀"]`}, want: `[4,"!"]`, result: "😀a😀b!"},
		{name: "CRLFIsTwoCodePoints", base: "a\r\nb", op: `[3,"x"]`, history: []string{`[1,{"d":2}]`}, want: `[1,"x"]`, result: "axb"},
		{name: "DeletedTextIsKeptWhereStillThere", base: "abcdef", op: `[2,{"d":"cd"}]`, history: []string{`["Q"]`}, want: `[3,{"d":"cd"}]`, result: "Qabef"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			history := make([]ot.Op, len(tc.history))
			text := ot.NewText(tc.base)
			for i, h := range tc.history {
				history[i] = mustOp(t, h)
				if err := text.Apply(history[i]); err != nil {
					t.Fatalf("history op %d does not apply: %v", i, err)
				}
			}
			got, err := rebase(mustOp(t, tc.op), history)
			if err != nil {
				t.Fatalf("rebase: %v", err)
			}
			if s := opJSON(t, got); s != tc.want {
				t.Fatalf("rebase = %s, want %s", s, tc.want)
			}
			if err := text.Apply(got); err != nil {
				t.Fatalf("rebased op does not apply: %v", err)
			}
			if text.String() != tc.result {
				t.Fatalf("text = %q, want %q", text.String(), tc.result)
			}
		})
	}

	t.Run("ErrBadOp", func(t *testing.T) {
		bad := ot.Op{{Skip: 1}} // a trailing skip is not normalized
		if _, err := rebase(bad, []ot.Op{mustOp(t, `["x"]`)}); err == nil {
			t.Fatal("rebase accepted an invalid op")
		}
	})
}

func TestInvertOn(t *testing.T) {
	for _, tc := range []struct{ text, op string }{
		{"hello", `[1,"xy",{"d":2}]`},
		{"a😀\r\nb", `[1,{"d":3},"é"]`},
		{"abc", `[{"d":"abc"},"z"]`},
	} {
		text := ot.NewText(tc.text)
		op := mustOp(t, tc.op)
		inv, err := invertOn(text, op)
		if err != nil {
			t.Fatalf("invertOn(%q, %s): %v", tc.text, tc.op, err)
		}
		if err := text.Apply(op); err != nil {
			t.Fatal(err)
		}
		if err := text.Apply(inv); err != nil {
			t.Fatalf("inverse %s does not apply: %v", opJSON(t, inv), err)
		}
		if text.String() != tc.text {
			t.Fatalf("after op and inverse: %q, want %q", text.String(), tc.text)
		}
	}
	for _, tc := range []struct{ text, op string }{
		{"abc", `[2,{"d":2}]`},        // past the end
		{"abc", `[4,"x"]`},            // skip past the end
		{"abc", `[{"d":"abd"}]`},      // wrong deleted text
		{"abc", `[1,{"d":"bc"},"x"]`}, // fits
	} {
		_, err := invertOn(ot.NewText(tc.text), mustOp(t, tc.op))
		fits := tc.op == `[1,{"d":"bc"},"x"]`
		if (err == nil) != fits {
			t.Fatalf("invertOn(%q, %s) error = %v, fits = %v", tc.text, tc.op, err, fits)
		}
	}
}

func TestColorIsStableAndFromPalette(t *testing.T) {
	seen := make(map[string]bool)
	for _, id := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"} {
		c := colorFor(id)
		if c != colorFor(id) {
			t.Fatalf("color of %s changes", id)
		}
		seen[c] = true
	}
	if len(seen) < 5 {
		t.Fatalf("13 users share %d colors", len(seen))
	}
}

func TestCleanChat(t *testing.T) {
	if got, err := cleanChat("  hi 👋 \n"); err != nil || got != "hi 👋" {
		t.Fatalf("cleanChat = %q, %v", got, err)
	}
	long := make([]rune, maxChatRunes)
	for i := range long {
		long[i] = '😀'
	}
	if _, err := cleanChat(string(long)); err != nil {
		t.Fatalf("2000 emoji refused: %v", err)
	}
	for _, bad := range []string{"", "   \t\n", string(long) + "x", "a\xed\xa0\x80b" /* a surrogate in UTF-8 */, "\xff"} {
		if _, err := cleanChat(bad); gdoc.ErrorCode(err) != gdoc.EINVALID {
			t.Fatalf("cleanChat(%q) error = %v, want EINVALID", bad, err)
		}
	}
}

func TestGroupUsers(t *testing.T) {
	users := groupUsers([]gdoc.Participant{
		{ConnID: "a", UserID: "1", Username: "alice", Color: "#111111"},
		{ConnID: "b", UserID: "2", Username: "bob"},
		{ConnID: "c", UserID: "1", Username: "alice", Color: "#111111"},
	})
	if len(users) != 2 || users[0].UserID != "1" || users[0].Connections != 2 || users[1].Connections != 1 || users[1].Color != colorFor("2") {
		t.Fatalf("groupUsers = %+v", users)
	}
}
