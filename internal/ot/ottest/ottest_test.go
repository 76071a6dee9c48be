package ottest

import (
	"math/rand/v2"
	"testing"

	"github.com/gdoc/gdoc/internal/ot"
)

func TestRandomOpApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	doc := "hé😀\r\n"
	for i := range 2000 {
		op := RandomOp(r, doc)
		if err := ot.Check(op); err != nil {
			t.Fatalf("op %d %v is not valid: %v", i, op, err)
		}
		next, err := ot.Apply(doc, op)
		if err != nil {
			t.Fatalf("op %d %v does not apply to %q: %v", i, op, doc, err)
		}
		doc = next
		if len([]rune(doc)) > 200 {
			doc = "x"
		}
	}
}
