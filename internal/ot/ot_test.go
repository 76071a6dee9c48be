package ot

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		op, err := Parse([]byte(` [2, "😀", {"d": 3}, 1, {"d": "ab"}] `))
		if err != nil {
			t.Fatal(err)
		}
		want := Op{{Skip: 2}, {Insert: "😀"}, {Delete: 3}, {Skip: 1}, {Delete: 2, DeleteText: "ab"}}
		if !opsEqual(op, want) {
			t.Fatalf("Parse = %v, want %v", op, want)
		}
	})
	t.Run("SurrogatePairEscape", func(t *testing.T) {
		op, err := Parse([]byte(`["\ud83d\ude00\\ud800"]`))
		if err != nil || op[0].Insert != `😀\ud800` {
			t.Fatalf("Parse = %v, %v", op, err)
		}
	})
	for name, raw := range map[string]string{
		"ErrNull":             `null`,
		"ErrEmpty":            ``,
		"ErrObject":           `{"d":1}`,
		"ErrLoneHigh":         `["a\ud83d"]`,
		"ErrLoneLow":          `[{"d":"\ude00"}]`,
		"ErrHighThenHigh":     `["\ud83d\ud83d"]`,
		"ErrInvalidUTF8":      "[\"\xff\"]",
		"ErrFraction":         `[1.5,"x"]`,
		"ErrHuge":             `[1e300,"x"]`,
		"ErrBool":             `[true]`,
		"ErrExtraField":       `[{"d":1,"i":"x"}]`,
		"ErrAdjacentInserts":  `["a","b"]`,
		"ErrAdjacentDeletes":  `[{"d":1},{"d":"x"}]`,
		"ErrTrailingSkip":     `["a",3]`,
		"ErrTrailingGarbage":  `[1,"a"] x`,
		"ErrZeroDelete":       `[{"d":0}]`,
		"ErrNegativeSkip":     `[-2,"a"]`,
		"ErrNestedArray":      `[[1]]`,
		"ErrEmptyDeleteText":  `[{"d":""}]`,
		"ErrDeleteNotInteger": `[{"d":2.5}]`,
	} {
		t.Run(name, func(t *testing.T) {
			op, err := Parse([]byte(raw))
			if err == nil {
				t.Fatalf("Parse(%q) = %v; want an error", raw, op)
			}
			if strings.Contains(err.Error(), "\n") || len(err.Error()) < 10 {
				t.Fatalf("error %q is not a clear sentence", err)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var msg struct {
		Op Op `json:"op"`
	}
	if err := json.Unmarshal([]byte(`{"op":[1,"<&>",{"d":"é"},2,{"d":4}]}`), &msg); err != nil {
		t.Fatal(err)
	}
	got, err := msg.Op.MarshalJSON()
	if err != nil || string(got) != `[1,"<&>",{"d":"é"},2,{"d":4}]` {
		t.Fatalf("MarshalJSON = %s, %v", got, err)
	}
	if got, _ := Op(nil).MarshalJSON(); string(got) != "[]" {
		t.Fatalf("nil op marshals as %s", got)
	}
	if err := json.Unmarshal([]byte(`{"op":["a","b"]}`), &msg); err == nil {
		t.Fatal("an unnormalized op decoded without error")
	}
	if _, err := (Op{{Skip: 1, Insert: "x"}}).MarshalJSON(); err == nil {
		t.Fatal("a mixed component marshaled without error")
	}
}

// invalidOps are ops that Check refuses; every function must refuse them
// with an error, never a panic.
var invalidOps = map[string]Op{
	"Empty":            {{}},
	"Mixed":            {{Skip: 1, Insert: "x"}},
	"NegativeSkip":     {{Skip: -1}, {Insert: "x"}},
	"NegativeDelete":   {{Delete: -3}},
	"HugeSkip":         {{Skip: 1 << 62}, {Insert: "x"}},
	"TextLengthDiffer": {{Delete: 2, DeleteText: "abc"}},
	"TextNoLength":     {{DeleteText: "abc"}},
	"InvalidUTF8":      {{Insert: "\xed\xa0\x80"}}, // an encoded surrogate
	"AdjacentSkips":    {{Skip: 1}, {Skip: 1}, {Insert: "x"}},
	"AdjacentInserts":  {{Insert: "a"}, {Insert: "b"}},
	"TrailingSkip":     {{Insert: "a"}, {Skip: 1}},
}

func TestInvalidOpsAreRefusedEverywhere(t *testing.T) {
	valid := Op{{Skip: 1}, {Insert: "x"}}
	for name, bad := range invalidOps {
		t.Run(name, func(t *testing.T) {
			if Check(bad) == nil {
				t.Fatal("Check accepts it")
			}
			if _, err := Apply("abcdef", bad); err == nil {
				t.Error("Apply accepts it")
			}
			for _, side := range []Side{Left, Right} {
				if _, err := Transform(bad, valid, side); err == nil {
					t.Error("Transform(bad, valid) accepts it")
				}
				if _, err := Transform(valid, bad, side); err == nil {
					t.Error("Transform(valid, bad) accepts it")
				}
			}
			if _, err := Compose(bad, valid); err == nil {
				t.Error("Compose(bad, valid) accepts it")
			}
			if _, err := Compose(valid, bad); err == nil {
				t.Error("Compose(valid, bad) accepts it")
			}
			if _, err := Invert(bad); err == nil {
				t.Error("Invert accepts it")
			}
			if _, err := MakeInvertible(bad, "abcdef"); err == nil {
				t.Error("MakeInvertible accepts it")
			}
			if _, err := NewText("abcdef").MakeInvertible(bad); err == nil {
				t.Error("Text.MakeInvertible accepts it")
			}
			text := NewText("abcdef")
			if err := text.Apply(bad); err == nil || text.String() != "abcdef" {
				t.Errorf("Text.Apply: %v, text %q", err, text.String())
			}
			_ = TransformPosition(3, bad) // must not panic
			_ = TransformSelection(Selection{1, 5}, bad)
			_ = bad.BaseLen() + bad.TargetLen()
			_ = Normalize(bad)
		})
	}
}

func TestApplyRefusesOpsThatDoNotFit(t *testing.T) {
	for name, tc := range map[string]struct {
		doc string
		op  Op
	}{
		"SkipPastEnd":        {"abc", Op{{Skip: 4}, {Insert: "x"}}},
		"DeletePastEnd":      {"abc", Op{{Skip: 2}, {Delete: 2}}},
		"DeleteTextDiffers":  {"abc", Op{{Delete: 2, DeleteText: "ax"}}},
		"DeleteTextPastEnd":  {"abc", Op{{Skip: 1}, {Delete: 3, DeleteText: "bcd"}}},
		"DeleteEmojiAsUTF16": {"abc😀", Op{{Skip: 3}, {Delete: 2}}}, // 😀 is one code point
	} {
		t.Run(name, func(t *testing.T) {
			doc, op := tc.doc, tc.op
			if got, err := Apply(doc, op); err == nil {
				t.Errorf("Apply(%q, %v) = %q; want an error", doc, op, got)
			}
			text := NewText(doc)
			if err := text.Apply(op); err == nil || text.String() != doc {
				t.Errorf("Text.Apply(%v): %v, text %q", op, err, text.String())
			}
			if _, err := MakeInvertible(op, doc); err == nil {
				t.Errorf("MakeInvertible(%v, %q) accepts it", op, doc)
			}
			if _, err := NewText(doc).MakeInvertible(op); err == nil {
				t.Errorf("Text.MakeInvertible(%v) on %q accepts it", op, doc)
			}
		})
	}
}

func TestCodePoints(t *testing.T) {
	doc := "a👩‍👩‍👧b" // a, woman, ZWJ, woman, ZWJ, girl, b: 7 code points
	got, err := Apply(doc, Op{{Skip: 6}, {Insert: "!"}, {Delete: 1, DeleteText: "b"}})
	if err != nil || got != "a👩‍👩‍👧!" {
		t.Fatalf("Apply = %q, %v", got, err)
	}
	if n := NewText(doc).Len(); n != 7 {
		t.Fatalf("Len = %d, want 7", n)
	}
	if pos := TransformPosition(7, Op{{Insert: "😀"}}); pos != 8 {
		t.Fatalf("TransformPosition = %d, want 8", pos)
	}
}

// The tie-break the server relies on: the incoming op is on Left and its
// insert at the same position goes first.
func TestTransformTieBreak(t *testing.T) {
	a, b := Op{{Skip: 1}, {Insert: "A"}}, Op{{Skip: 1}, {Insert: "B"}}
	aLeft, _ := Transform(a, b, Left)
	bRight, _ := Transform(b, a, Right)
	if got := mustApply(t, mustApply(t, "xy", b), aLeft); got != "xABy" {
		t.Fatalf("got %q, want xABy", got)
	}
	if got := mustApply(t, mustApply(t, "xy", a), bRight); got != "xABy" {
		t.Fatalf("got %q, want xABy", got)
	}
	if _, err := Transform(a, b, Side(2)); err == nil {
		t.Fatal("Transform accepts Side(2)")
	}
}

func TestInvertNeedsText(t *testing.T) {
	if _, err := Invert(Op{{Delete: 2}}); err == nil {
		t.Fatal("Invert of a delete without text succeeded")
	}
	inv, err := InvertWithDoc(Op{{Skip: 1}, {Delete: 2}, {Insert: "X"}}, "abcd")
	if err != nil || !opsEqual(inv, Op{{Skip: 1}, {Insert: "bc"}, {Delete: 1, DeleteText: "X"}}) {
		t.Fatalf("InvertWithDoc = %v, %v", inv, err)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize(Op{{Skip: 1}, {}, {Skip: 2}, {Insert: "a"}, {Insert: "b"}, {Delete: 1, DeleteText: "x"}, {Delete: 1, DeleteText: "y"}, {Delete: 2}, {Skip: 3}})
	want := Op{{Skip: 3}, {Insert: "ab"}, {Delete: 4}}
	if !opsEqual(got, want) {
		t.Fatalf("Normalize = %v, want %v", got, want)
	}
	if got := Normalize(Op{{Delete: 1, DeleteText: "x"}, {Delete: 1, DeleteText: "y"}}); !opsEqual(got, Op{{Delete: 2, DeleteText: "xy"}}) {
		t.Fatalf("Normalize kept no text: %v", got)
	}
}

func TestLens(t *testing.T) {
	op := Op{{Skip: 2}, {Insert: "漢字"}, {Delete: 3}}
	if op.BaseLen() != 5 || op.TargetLen() != 4 {
		t.Fatalf("BaseLen %d TargetLen %d", op.BaseLen(), op.TargetLen())
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		old, new string
		want     Op
	}{
		{"", "", Op{}},
		{"same", "same", Op{}},
		{"", "new", Op{{Insert: "new"}}},
		{"old", "", Op{{Delete: 3}}},
		{"a😀b", "a😁b", Op{{Skip: 1}, {Delete: 1}, {Insert: "😁"}}}, // emoji share their first bytes
		{"héllo wörld", "héllo, wörld!", Op{{Skip: 5}, {Insert: ","}, {Skip: 6}, {Insert: "!"}}},
		{"aaa", "aaaa", Op{{Skip: 3}, {Insert: "a"}}},
	} {
		got := Diff(tc.old, tc.new)
		if !opsEqual(got, tc.want) {
			t.Errorf("Diff(%q, %q) = %v, want %v", tc.old, tc.new, got, tc.want)
		}
	}
	// Long texts take the chunked prefix and suffix scans.
	long := strings.Repeat("漢字😀a", 700)
	for _, cut := range []int{0, 1, 255, 256, 257, 1400, 2799, 2800} {
		runes := []rune(long)
		edited := string(runes[:cut]) + "é" + string(runes[cut:])
		want := Normalize(Op{{Skip: cut}, {Insert: "é"}})
		if got := Diff(long, edited); !opsEqual(got, want) {
			t.Errorf("Diff(long, insert at %d) = %v, want %v", cut, got, want)
		}
		if got := Diff(edited, long); !opsEqual(got, Normalize(Op{{Skip: cut}, {Delete: 1}})) {
			t.Errorf("Diff(edited at %d, long) = %v", cut, got)
		}
	}
	// Out of contract input still round-trips through its valid form.
	op := Diff("a\xffb", "ab")
	if got, err := Apply("a\ufffdb", op); err != nil || got != "ab" {
		t.Fatalf("Diff of invalid UTF-8: %v gives %q, %v", op, got, err)
	}
}

func TestTextSlice(t *testing.T) {
	text := NewText(strings.Repeat("日本語x", 1000))
	if got := text.Slice(3, 9); got != "x日本語x日" {
		t.Fatalf("Slice(3, 9) = %q", got)
	}
	if text.Slice(-5, 2) != "日本" || text.Slice(3999, 9999) != "x" || text.Slice(5, 5) != "" || text.Slice(9, 3) != "" {
		t.Fatal("Slice does not clip to the text")
	}
	var empty Text
	if err := empty.Apply(Op{{Insert: "hi"}}); err != nil || empty.String() != "hi" {
		t.Fatalf("zero Text: %v, %q", err, empty.String())
	}
}
