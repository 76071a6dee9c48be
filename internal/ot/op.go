// Package ot implements ShareDB's text-unicode OT type: a faithful Go port of the npm package ot-text-unicode v4, with positions in Unicode code points.
//
// An Op is a list of components that walk the document from its start:
// skip N code points, insert a string, or delete N code points (optionally
// carrying the deleted text, which makes the op invertible). Every function
// here behaves as the reference does on the ops the reference accepts; the
// golden tests prove it on cases the reference generates (tools/otref).
//
// Where the reference is lenient, this package is strict, because the server
// must refuse a bad op rather than guess: an op must be normalized (no empty
// components, no two adjacent components of one kind, no trailing skip), its
// text must be valid UTF-8 without lone surrogates, and Apply refuses a
// delete that runs past the end of the text or whose text does not match.
//
// Every error this package returns describes an op that is malformed or does
// not fit the text: a client's mistake, never a server fault.
package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxComponentLen bounds a skip or delete so that no sum of lengths over an
// op overflows an int; no real text comes near it.
const maxComponentLen = 1 << 40

// Component is one step of an Op. Exactly one kind is set: Skip > 0, Insert
// non-empty, or Delete > 0. A delete that carries its text ({"d":"str"}) has
// DeleteText set and Delete equal to its rune count.
type Component struct {
	Skip       int
	Insert     string
	Delete     int
	DeleteText string
}

// Op is a text-unicode operation. Its JSON form is the reference's:
// [3, "x", {"d": 2}, {"d": "abc"}].
type Op []Component

// Side breaks the tie when two ops insert at the same position: the op on
// the Left side goes first.
type Side int

// The two sides of Transform. The server transforms an incoming op on Left.
const (
	Left Side = iota
	Right
)

func (s Side) String() string {
	switch s {
	case Left:
		return "left"
	case Right:
		return "right"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

type kind int

const (
	kindNone kind = iota // an empty component: a no-op that normalization drops
	kindSkip
	kindInsert
	kindDelete
	kindMixed // more than one field set: never valid
)

func (k kind) plural() string {
	switch k {
	case kindSkip:
		return "skips"
	case kindInsert:
		return "inserts"
	case kindDelete:
		return "deletes"
	}
	return "invalid"
}

func (c Component) kind() kind {
	k, n := kindNone, 0
	if c.Skip != 0 {
		k, n = kindSkip, n+1
	}
	if c.Insert != "" {
		k, n = kindInsert, n+1
	}
	if c.Delete != 0 || c.DeleteText != "" {
		k, n = kindDelete, n+1
	}
	if n > 1 {
		return kindMixed
	}
	return k
}

// length is the number of code points the component covers: skipped,
// inserted or deleted (the reference's componentLength).
func (c Component) length() int {
	switch c.kind() {
	case kindSkip:
		return c.Skip
	case kindInsert:
		return utf8.RuneCountInString(c.Insert)
	case kindDelete:
		return c.Delete
	}
	return 0
}

func (c Component) String() string {
	b, err := c.marshal()
	if err != nil {
		return fmt.Sprintf("{invalid Skip:%d Insert:%q Delete:%d DeleteText:%q}", c.Skip, c.Insert, c.Delete, c.DeleteText)
	}
	return string(b)
}

// Check reports whether op is a valid normalized op: every component of
// exactly one kind with a positive length, no two adjacent components of one
// kind, no trailing skip, and all text valid UTF-8 (Go strings cannot hold a
// lone surrogate in valid UTF-8).
func Check(op Op) error {
	prev := kindNone
	for i, c := range op {
		k := c.kind()
		switch k {
		case kindNone:
			return fmt.Errorf("op component %d is empty", i)
		case kindMixed:
			return fmt.Errorf("op component %d mixes a skip, an insert and a delete; it must be exactly one of them", i)
		case kindSkip:
			if c.Skip < 0 || c.Skip > maxComponentLen {
				return fmt.Errorf("op component %d: a skip must be a positive integer below 2^40, not %d", i, c.Skip)
			}
		case kindInsert:
			if !utf8.ValidString(c.Insert) {
				return fmt.Errorf("op component %d: the inserted text is not valid UTF-8", i)
			}
		case kindDelete:
			if c.Delete <= 0 || c.Delete > maxComponentLen {
				return fmt.Errorf("op component %d: a delete must remove a positive number of characters below 2^40, not %d", i, c.Delete)
			}
			if c.DeleteText != "" {
				if !utf8.ValidString(c.DeleteText) {
					return fmt.Errorf("op component %d: the deleted text is not valid UTF-8", i)
				}
				if n := utf8.RuneCountInString(c.DeleteText); n != c.Delete {
					return fmt.Errorf("op component %d: the delete length %d differs from its text's length %d", i, c.Delete, n)
				}
			}
		}
		if k == prev {
			return fmt.Errorf("op components %d and %d are both %s; adjacent components of one kind must be combined", i-1, i, k.plural())
		}
		prev = k
	}
	if prev == kindSkip {
		return errors.New("op ends with a skip, which must be left out")
	}
	return nil
}

// appendComponent appends c to op the way the reference's makeAppend does:
// empty components vanish, a component of the same kind as the last one
// merges into it, and merging a delete that carries text with one that does
// not drops the text.
func appendComponent(op Op, c Component) Op {
	k := c.kind()
	if k == kindNone {
		return op
	}
	if len(op) == 0 || op[len(op)-1].kind() != k || k == kindMixed {
		return append(op, c)
	}
	last := &op[len(op)-1]
	switch k {
	case kindSkip:
		last.Skip += c.Skip
	case kindInsert:
		last.Insert += c.Insert
	case kindDelete:
		if last.DeleteText != "" && c.DeleteText != "" {
			last.DeleteText += c.DeleteText
		} else {
			last.DeleteText = ""
		}
		last.Delete += c.Delete
	}
	return op
}

// trim removes a trailing skip; appendComponent leaves at most one.
func trim(op Op) Op {
	if len(op) > 0 && op[len(op)-1].kind() == kindSkip {
		return op[:len(op)-1]
	}
	return op
}

// Normalize returns op with empty components dropped, adjacent components of
// one kind merged and the trailing skip removed (the reference's normalize).
// It does not repair invalid components; Check still rejects those. The
// result never shares memory with op.
func Normalize(op Op) Op {
	out := make(Op, 0, len(op))
	for _, c := range op {
		out = appendComponent(out, c)
	}
	return trim(out)
}

// BaseLen is the number of code points op consumes: the shortest text it
// applies to.
func (op Op) BaseLen() int {
	n := 0
	for _, c := range op {
		switch c.kind() {
		case kindSkip:
			n += c.Skip
		case kindDelete:
			n += c.Delete
		}
	}
	return n
}

// TargetLen is the number of code points op produces from a text of exactly
// BaseLen code points.
func (op Op) TargetLen() int {
	n := 0
	for _, c := range op {
		switch c.kind() {
		case kindSkip:
			n += c.Skip
		case kindInsert:
			n += utf8.RuneCountInString(c.Insert)
		}
	}
	return n
}

// Parse decodes the JSON form of an op and checks it. Beyond what
// encoding/json would notice, it refuses lone surrogate escapes ("\ud800"),
// which encoding/json would silently turn into U+FFFD.
func Parse(data []byte) (Op, error) {
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("an op must be a JSON array of components")
	}
	if !utf8.Valid(trimmed) {
		return nil, errors.New("an op must be valid UTF-8")
	}
	if err := json.Unmarshal(trimmed, &raws); err != nil {
		return nil, fmt.Errorf("an op must be a JSON array of components: %v", err)
	}
	op := make(Op, 0, len(raws))
	for i, raw := range raws {
		c, err := parseComponent(raw)
		if err != nil {
			return nil, fmt.Errorf("op component %d: %v", i, err)
		}
		op = append(op, c)
	}
	if err := Check(op); err != nil {
		return nil, err
	}
	return op, nil
}

func parseComponent(raw json.RawMessage) (Component, error) {
	switch raw[0] {
	case '"':
		s, err := parseString(raw)
		if err != nil {
			return Component{}, err
		}
		if s == "" {
			return Component{}, errors.New("an insert must not be empty")
		}
		return Component{Insert: s}, nil
	case '{':
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return Component{}, fmt.Errorf("a delete must be {\"d\": N} or {\"d\": \"text\"}: %v", err)
		}
		d, ok := fields["d"]
		if !ok || len(fields) != 1 {
			return Component{}, errors.New("a delete must be {\"d\": N} or {\"d\": \"text\"} with no other field")
		}
		if d[0] == '"' {
			s, err := parseString(d)
			if err != nil {
				return Component{}, err
			}
			if s == "" {
				return Component{}, errors.New("a delete must not be empty")
			}
			return Component{Delete: utf8.RuneCountInString(s), DeleteText: s}, nil
		}
		n, err := parseLength(d)
		if err != nil {
			return Component{}, fmt.Errorf("a delete must remove a positive integer number of characters or a non-empty string, not %s", d)
		}
		return Component{Delete: n}, nil
	default:
		n, err := parseLength(raw)
		if err != nil {
			return Component{}, fmt.Errorf("a component must be a positive integer skip, an insert string or a {\"d\": …} delete, not %s", abbreviate(raw))
		}
		return Component{Skip: n}, nil
	}
}

// parseLength accepts a positive JSON integer below maxComponentLen.
func parseLength(raw json.RawMessage) (int, error) {
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		if n <= 0 || n > maxComponentLen {
			return 0, errors.New("not a positive integer")
		}
		return int(n), nil
	}
	// JSON allows 1e3 or 10.0 for an integer; the reference accepts them.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f <= 0 || f > maxComponentLen {
		return 0, errors.New("not a positive integer")
	}
	return int(f), nil
}

// parseString decodes a JSON string literal, refusing lone surrogates.
func parseString(raw json.RawMessage) (string, error) {
	if err := checkSurrogates(raw); err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("invalid string: %v", err)
	}
	return s, nil
}

// checkSurrogates refuses a \uXXXX escape of a surrogate that is not part of
// a high-low pair: such text has no code point and no UTF-8 form.
func checkSurrogates(lit []byte) error {
	isSurrogateEscape := func(i int) (uint64, bool) {
		if i+6 > len(lit) || lit[i] != '\\' || lit[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(lit[i+2:i+6]), 16, 16)
		return v, err == nil && v >= 0xD800 && v <= 0xDFFF
	}
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		v, ok := isSurrogateEscape(i)
		if !ok {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		if v >= 0xDC00 {
			return errors.New("the text contains a lone surrogate")
		}
		low, ok := isSurrogateEscape(i + 6)
		if !ok || low < 0xDC00 {
			return errors.New("the text contains a lone surrogate")
		}
		i += 11
	}
	return nil
}

func abbreviate(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// UnmarshalJSON decodes and checks an op exactly as Parse does. Unlike most
// decoders it refuses JSON null: null is not an op.
func (op *Op) UnmarshalJSON(data []byte) error {
	parsed, err := Parse(data)
	if err != nil {
		return err
	}
	*op = parsed
	return nil
}

// MarshalJSON encodes op in the reference's form. A nil op encodes as [].
// It fails on a component that is not exactly one kind.
func (op Op) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 0, 16)
	buf = append(buf, '[')
	for i, c := range op {
		if i > 0 {
			buf = append(buf, ',')
		}
		b, err := c.marshal()
		if err != nil {
			return nil, fmt.Errorf("op component %d: %v", i, err)
		}
		buf = append(buf, b...)
	}
	return append(buf, ']'), nil
}

func (c Component) marshal() ([]byte, error) {
	switch c.kind() {
	case kindSkip:
		return strconv.AppendInt(nil, int64(c.Skip), 10), nil
	case kindInsert:
		return marshalString(c.Insert)
	case kindDelete:
		var d []byte
		if c.DeleteText != "" {
			var err error
			if d, err = marshalString(c.DeleteText); err != nil {
				return nil, err
			}
		} else {
			d = strconv.AppendInt(nil, int64(c.Delete), 10)
		}
		return append(append([]byte(`{"d":`), d...), '}'), nil
	}
	return nil, errors.New("a component must be exactly one of skip, insert and delete")
}

// marshalString encodes s without HTML escaping, as JSON.stringify does.
func marshalString(s string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var (
	_ json.Marshaler   = Op(nil)
	_ json.Unmarshaler = (*Op)(nil)
	_ fmt.Stringer     = Component{}
)
