package ot

import (
	"testing"
	"unicode/utf8"
)

// Seeds shared by the fuzz targets: ops the reference's tests and our golden
// cases exercise, and some that Parse must refuse.
var fuzzOps = []string{
	`[]`, `["x"]`, `[1,"x"]`, `[{"d":1}]`, `[2,{"d":"😀"},"👩‍👩‍👧"]`, `[1,"x",{"d":2}]`,
	`["a",{"d":1},"b"]`, `[3,{"d":"ab"},1,"\ud83d\ude00"]`, `[1,2]`, `["\ud800"]`, `[0]`, `[{"d":0}]`,
	`[1e3,"x"]`, `[{"d":1,"x":2}]`, `null`, `[`, `[-1,"x"]`, `[9007199254740993,"x"]`,
}

var fuzzDocs = []string{"", "abc", "a👩‍👩‍👧b\r\n漢字", "e\u0301😀🇯🇵", "\xff\xfe"}

// FuzzParseApply: any bytes either fail to parse or give an op that Apply
// and Text.Apply agree on, and an op survives a JSON round trip.
func FuzzParseApply(f *testing.F) {
	for i, op := range fuzzOps {
		f.Add([]byte(op), fuzzDocs[i%len(fuzzDocs)])
	}
	f.Fuzz(func(t *testing.T, data []byte, doc string) {
		op, err := Parse(data)
		if err != nil {
			return
		}
		encoded, err := op.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%v): %v", op, err)
		}
		again, err := Parse(encoded)
		if err != nil || !opsEqual(op, again) {
			t.Fatalf("round trip of %s: %v, %v", encoded, again, err)
		}
		checkApplyAgrees(t, doc, op)
	})
}

// checkApplyAgrees applies op to doc as a string and as a Text.
func checkApplyAgrees(t *testing.T, doc string, op Op) {
	t.Helper()
	if !utf8.ValidString(doc) {
		return // NewText repairs invalid UTF-8, so the two would differ by design
	}
	want, wantErr := Apply(doc, op)
	text := NewText(doc)
	inv, invErr := MakeInvertible(op, doc)
	textInv, textInvErr := text.MakeInvertible(op)
	if (invErr == nil) != (textInvErr == nil) || (invErr == nil) != (wantErr == nil) || !opsEqual(inv, textInv) {
		t.Fatalf("MakeInvertible = %v, %v; Text.MakeInvertible = %v, %v; Apply error %v", inv, invErr, textInv, textInvErr, wantErr)
	}
	err := text.Apply(op)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("Apply error %v, Text.Apply error %v", wantErr, err)
	case err != nil && text.String() != doc:
		t.Fatalf("a refused op changed the Text")
	case err == nil && text.String() != want:
		t.Fatalf("Text.Apply gives %q, Apply %q", text.String(), want)
	}
}

// FuzzTransform: transforming never panics, and when both ops fit the text
// the two orders converge (TP1).
func FuzzTransform(f *testing.F) {
	for i := range fuzzOps {
		f.Add([]byte(fuzzOps[i]), []byte(fuzzOps[(i+3)%len(fuzzOps)]), fuzzDocs[i%len(fuzzDocs)])
	}
	f.Fuzz(func(t *testing.T, rawA, rawB []byte, doc string) {
		a, errA := Parse(rawA)
		b, errB := Parse(rawB)
		if errA != nil || errB != nil {
			return
		}
		aLeft, err := Transform(a, b, Left)
		if err != nil {
			t.Fatalf("Transform(%v, %v, Left): %v", a, b, err)
		}
		bRight, err := Transform(b, a, Right)
		if err != nil {
			t.Fatalf("Transform(%v, %v, Right): %v", b, a, err)
		}
		if Check(aLeft) != nil || Check(bRight) != nil {
			t.Fatalf("transform results not normalized: %v, %v", aLeft, bRight)
		}
		docA, errA := Apply(doc, a)
		docB, errB := Apply(doc, b)
		if errA != nil || errB != nil {
			return
		}
		viaA, errA := Apply(docA, bRight)
		viaB, errB := Apply(docB, aLeft)
		if errA != nil || errB != nil || viaA != viaB {
			t.Fatalf("doc %q a %v b %v: %q (%v) vs %q (%v)", doc, a, b, viaA, errA, viaB, errB)
		}
		for _, pos := range []int{0, 1, len(doc)} {
			_ = TransformPosition(pos, a)
		}
	})
}

// FuzzCompose: composing never panics, and when a fits the text and b fits
// its result, the composition gives the same text.
func FuzzCompose(f *testing.F) {
	for i := range fuzzOps {
		f.Add([]byte(fuzzOps[i]), []byte(fuzzOps[(i+5)%len(fuzzOps)]), fuzzDocs[i%len(fuzzDocs)])
	}
	f.Fuzz(func(t *testing.T, rawA, rawB []byte, doc string) {
		a, errA := Parse(rawA)
		b, errB := Parse(rawB)
		if errA != nil || errB != nil {
			return
		}
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("Compose(%v, %v): %v", a, b, err)
		}
		if err := Check(ab); err != nil {
			t.Fatalf("Compose(%v, %v) = %v: %v", a, b, ab, err)
		}
		mid, err := Apply(doc, a)
		if err != nil {
			return
		}
		want, err := Apply(mid, b)
		if err != nil {
			return
		}
		if got, err := Apply(doc, ab); err != nil || got != want {
			t.Fatalf("doc %q a %v b %v: compose gives %q (%v), want %q", doc, a, b, got, err, want)
		}
		if inv, err := InvertWithDoc(a, doc); err == nil {
			if back, err := Apply(mid, inv); err != nil || back != doc {
				t.Fatalf("inverse of %v on %q gives %q, %v", a, doc, back, err)
			}
		}
	})
}

// FuzzText: a Text follows any sequence of ops as strings do, and Diff
// always round-trips.
func FuzzText(f *testing.F) {
	for i := range fuzzOps {
		f.Add(fuzzDocs[i%len(fuzzDocs)], []byte(fuzzOps[i]), []byte(fuzzOps[(i+1)%len(fuzzOps)]), "x😀y")
	}
	f.Fuzz(func(t *testing.T, doc string, raw1, raw2 []byte, other string) {
		if !utf8.ValidString(doc) || !utf8.ValidString(other) {
			return
		}
		text := NewText(doc)
		for _, raw := range [][]byte{raw1, raw2} {
			op, err := Parse(raw)
			if err != nil {
				continue
			}
			want, wantErr := Apply(doc, op)
			if err := text.Apply(op); (err == nil) != (wantErr == nil) {
				t.Fatalf("Apply error %v, Text.Apply error %v", wantErr, err)
			}
			if wantErr == nil {
				doc = want
			}
			if text.String() != doc {
				t.Fatalf("Text %q, want %q", text.String(), doc)
			}
		}
		if got, err := Apply(doc, Diff(doc, other)); err != nil || got != other {
			t.Fatalf("Diff(%q, %q) gives %q, %v", doc, other, got, err)
		}
	})
}
