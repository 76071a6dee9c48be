package ot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// goldenFile is the output of tools/otref/gen.js: cases whose expected values
// come from the reference implementation, ot-text-unicode 4.0.0.
type goldenFile struct {
	Reference string `json:"reference"`
	Seed      int64  `json:"seed"`
	RawOps    []struct {
		Raw      string  `json:"raw"`
		RefError *string `json:"ref_error"`
		GoError  bool    `json:"go_error"`
	} `json:"raw_ops"`
	MismatchedApplies []struct {
		Doc       string          `json:"doc"`
		Op        json.RawMessage `json:"op"`
		RefError  *string         `json:"ref_error"`
		RefResult *string         `json:"ref_result"`
		GoError   bool            `json:"go_error"`
	} `json:"mismatched_applies"`
	Cases []goldenCase `json:"cases"`
}

type goldenCase struct {
	Doc            string          `json:"doc"`
	A              json.RawMessage `json:"a"`
	B              json.RawMessage `json:"b"`
	C              json.RawMessage `json:"c"`
	ApplyA         string          `json:"apply_a"`
	ApplyAC        string          `json:"apply_ac"`
	ALeft          json.RawMessage `json:"a_left"`
	ARight         json.RawMessage `json:"a_right"`
	BLeft          json.RawMessage `json:"b_left"`
	BRight         json.RawMessage `json:"b_right"`
	ComposeAC      json.RawMessage `json:"compose_ac"`
	Positions      []int           `json:"positions"`
	PositionsA     []int           `json:"positions_a"`
	Sel            [2]int          `json:"sel"`
	SelA           [2]int          `json:"sel_a"`
	InvertibleA    json.RawMessage `json:"invertible_a"`
	InvertWithDocA json.RawMessage `json:"invert_with_doc_a"`
	InvertA        struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	} `json:"invert_a"`
}

// loadGolden reads OT_GOLDEN_FILE when set (tools/otref/check.sh points it at
// a freshly generated file), else the committed testdata/ot/golden.json.
func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	path := os.Getenv("OT_GOLDEN_FILE")
	if path == "" {
		path = filepath.Join("..", "..", "testdata", "ot", "golden.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("decode golden file %s: %v", path, err)
	}
	if len(g.Cases) == 0 || len(g.RawOps) == 0 || len(g.MismatchedApplies) == 0 {
		t.Fatalf("golden file %s holds no cases", path)
	}
	t.Logf("golden file %s: %s, seed %d, %d cases", path, g.Reference, g.Seed, len(g.Cases))
	return g
}

// wantOp parses an expected op and checks that the reference's JSON is
// exactly what MarshalJSON produces for it.
func wantOp(t *testing.T, raw json.RawMessage) Op {
	t.Helper()
	op, err := Parse(raw)
	if err != nil {
		t.Fatalf("golden op %s does not parse: %v", raw, err)
	}
	// op.MarshalJSON, not json.Marshal, which would escape <, > and & again.
	got, err := op.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal %s: %v", raw, err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatalf("MarshalJSON(Parse(%s)) = %s", raw, got)
	}
	return op
}

func opsEqual(a, b Op) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGoldenCases(t *testing.T) {
	g := loadGolden(t)
	failures := 0
	for i, c := range g.Cases {
		ok := t.Run("", func(t *testing.T) {
			a, b, cc := wantOp(t, c.A), wantOp(t, c.B), wantOp(t, c.C)
			t.Logf("case %d: doc %q a %s b %s c %s", i, c.Doc, c.A, c.B, c.C)

			if got, err := Apply(c.Doc, a); err != nil || got != c.ApplyA {
				t.Errorf("Apply(doc, a) = %q, %v; want %q", got, err, c.ApplyA)
			}
			if got, err := Apply(c.ApplyA, cc); err != nil || got != c.ApplyAC {
				t.Errorf("Apply(apply_a, c) = %q, %v; want %q", got, err, c.ApplyAC)
			}
			text := NewText(c.Doc)
			if err := text.Apply(a); err != nil || text.String() != c.ApplyA {
				t.Errorf("Text.Apply(a) = %q, %v; want %q", text.String(), err, c.ApplyA)
			}

			for _, tc := range []struct {
				name      string
				op, other Op
				side      Side
				want      json.RawMessage
			}{
				{"transform(a, b, left)", a, b, Left, c.ALeft},
				{"transform(a, b, right)", a, b, Right, c.ARight},
				{"transform(b, a, left)", b, a, Left, c.BLeft},
				{"transform(b, a, right)", b, a, Right, c.BRight},
			} {
				got, err := Transform(tc.op, tc.other, tc.side)
				if want := wantOp(t, tc.want); err != nil || !opsEqual(got, want) {
					t.Errorf("%s = %v, %v; want %s", tc.name, got, err, tc.want)
				}
			}

			if got, err := Compose(a, cc); err != nil || !opsEqual(got, wantOp(t, c.ComposeAC)) {
				t.Errorf("compose(a, c) = %v, %v; want %s", got, err, c.ComposeAC)
			}

			for j, p := range c.Positions {
				if got := TransformPosition(p, a); got != c.PositionsA[j] {
					t.Errorf("transformPosition(%d, a) = %d; want %d", p, got, c.PositionsA[j])
				}
			}
			sel := TransformSelection(Selection{Anchor: c.Sel[0], Head: c.Sel[1]}, a)
			if sel != (Selection{Anchor: c.SelA[0], Head: c.SelA[1]}) {
				t.Errorf("transformSelection(%v, a) = %+v; want %v", c.Sel, sel, c.SelA)
			}

			if got, err := MakeInvertible(a, c.Doc); err != nil || !opsEqual(got, wantOp(t, c.InvertibleA)) {
				t.Errorf("makeInvertible(a, doc) = %v, %v; want %s", got, err, c.InvertibleA)
			}
			if got, err := NewText(c.Doc).MakeInvertible(a); err != nil || !opsEqual(got, wantOp(t, c.InvertibleA)) {
				t.Errorf("Text.MakeInvertible(a) = %v, %v; want %s", got, err, c.InvertibleA)
			}
			if got, err := InvertWithDoc(a, c.Doc); err != nil || !opsEqual(got, wantOp(t, c.InvertWithDocA)) {
				t.Errorf("invertWithDoc(a, doc) = %v, %v; want %s", got, err, c.InvertWithDocA)
			}
			got, err := Invert(a)
			if c.InvertA.Error != "" {
				if err == nil {
					t.Errorf("invert(a) = %v; want an error like the reference's %q", got, c.InvertA.Error)
				}
			} else if err != nil || !opsEqual(got, wantOp(t, c.InvertA.Result)) {
				t.Errorf("invert(a) = %v, %v; want %s", got, err, c.InvertA.Result)
			}
		})
		if !ok {
			// A broken port would otherwise print thousands of failures.
			if failures++; failures >= 20 {
				t.Fatalf("stopping after %d failed cases", failures)
			}
		}
	}
}

func TestGoldenRawOps(t *testing.T) {
	g := loadGolden(t)
	for _, r := range g.RawOps {
		op, err := Parse([]byte(r.Raw))
		if r.GoError && err == nil {
			t.Errorf("Parse(%s) = %v; want an error (reference: %v)", r.Raw, op, deref(r.RefError))
		}
		if !r.GoError && err != nil {
			t.Errorf("Parse(%s): %v; the reference accepts it", r.Raw, err)
		}
	}
}

func TestGoldenMismatchedApplies(t *testing.T) {
	g := loadGolden(t)
	for _, m := range g.MismatchedApplies {
		op := wantOp(t, m.Op)
		got, err := Apply(m.Doc, op)
		text := NewText(m.Doc)
		textErr := text.Apply(op)
		switch {
		case m.GoError && (err == nil || textErr == nil):
			t.Errorf("Apply(%q, %s) = %q, %v; Text.Apply: %v; want an error (reference: %v %v)",
				m.Doc, m.Op, got, err, textErr, deref(m.RefError), deref(m.RefResult))
		case m.GoError && text.String() != m.Doc:
			t.Errorf("Text.Apply(%s) failed but changed the text to %q", m.Op, text.String())
		case !m.GoError && (err != nil || got != *m.RefResult || textErr != nil || text.String() != *m.RefResult):
			t.Errorf("Apply(%q, %s) = %q, %v; Text.Apply = %q, %v; want %q", m.Doc, m.Op, got, err, text.String(), textErr, *m.RefResult)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}
