package collab

import (
	"slices"
	"testing"
)

// The first add into an idle queue starts the writer, later ones do not;
// the writer takes batches of at most max, oldest first, and ends when
// nothing is left, after which the next add starts it again.
func TestBatchQueue(t *testing.T) {
	var q batchQueue[int]
	if !q.add(1) {
		t.Fatal("the first add did not ask for a writer")
	}
	for i := 2; i <= 5; i++ {
		if q.add(i) {
			t.Fatalf("add %d asked for a second writer", i)
		}
	}
	if got := q.next(2); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("first batch = %v", got)
	}
	if q.add(6) {
		t.Fatal("an add while the writer runs asked for another")
	}
	if got := q.next(10); !slices.Equal(got, []int{3, 4, 5, 6}) {
		t.Fatalf("second batch = %v", got)
	}
	if got := q.next(10); got != nil {
		t.Fatalf("an empty queue gave %v", got)
	}
	if !q.add(7) {
		t.Fatal("an add after the writer ended did not ask for a new one")
	}
}
