package ot

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// benchmarkKeystroke measures the server's per-keystroke work on a text of
// size bytes: transform a one-character insert over one concurrent op, then
// apply it to the Text at a random position.
func benchmarkKeystroke(b *testing.B, size int) {
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for sb.Len() < size {
		sb.WriteString(atoms[r.IntN(len(atoms))])
	}
	base := sb.String()
	text := NewText(base)
	ops := make([]Op, 1024)
	others := make([]Op, len(ops))
	for i := range ops {
		pos := r.IntN(text.Len() - 2)
		ops[i] = Op{{Skip: pos + 1}, {Insert: "k"}}
		others[i] = Normalize(Op{{Skip: pos}, {Insert: "o"}}) // committed first, just before
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(ops) == 0 && i > 0 {
			// Keep the text at its size: start over from the base text.
			b.StopTimer()
			text = NewText(base)
			b.StartTimer()
		}
		op, err := Transform(ops[i%len(ops)], others[i%len(ops)], Left)
		if err != nil {
			b.Fatal(err)
		}
		if err := text.Apply(op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeystroke1KB(b *testing.B)   { benchmarkKeystroke(b, 1<<10) }
func BenchmarkKeystroke100KB(b *testing.B) { benchmarkKeystroke(b, 100<<10) }
func BenchmarkKeystroke1MB(b *testing.B)   { benchmarkKeystroke(b, 1<<20) }

// BenchmarkApplyString1MB is the naive splice a Text avoids.
func BenchmarkApplyString1MB(b *testing.B) {
	doc := strings.Repeat("abcdefghij", 1<<20/10)
	op := Op{{Skip: len(doc) / 2}, {Insert: "k"}}
	for b.Loop() {
		if _, err := Apply(doc, op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiff1MB(b *testing.B) {
	old := strings.Repeat("abcdefghij\n", 1<<20/11)
	new := old[:len(old)/2] + "typed" + old[len(old)/2:]
	for b.Loop() {
		if op := Diff(old, new); len(op) != 2 {
			b.Fatalf("Diff = %v", op)
		}
	}
}
