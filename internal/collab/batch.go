package collab

import "sync"

// batchQueue holds items that one writer task at a time stores in
// batches: session rows, session ends and documents created by joins
// (sessions.go, create.go). Whoever queues an item into an idle queue
// starts the writer, which takes everything queued meanwhile, a batch of at
// most max at a time, until nothing is left.
type batchQueue[T any] struct {
	mu      sync.Mutex
	items   []T
	writing bool // a writer task runs
}

// add queues it and reports whether the caller must start the writer.
func (q *batchQueue[T]) add(it T) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, it)
	start = !q.writing
	q.writing = true
	return start
}

// next takes up to max of the queued items, oldest first. It returns none
// when nothing is queued, and the writer must then end: the next add
// starts another.
func (q *batchQueue[T]) next(max int) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.items), max)
	if n == 0 {
		q.items = nil
		q.writing = false
		return nil
	}
	batch := q.items[:n:n]
	q.items = q.items[n:]
	return batch
}
