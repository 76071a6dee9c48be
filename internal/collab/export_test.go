package collab

import "time"

// SetSweepInterval shortens the presence and head sweep for tests; call it
// before Run.
func SetSweepInterval(s *Service, every time.Duration) { s.sweepEvery = every }

// HoldFanOut keeps docID's fan-out rounds from running until release is
// called (then one starts for what queued meanwhile). It reports false
// when the document is not loaded or a round runs already.
func HoldFanOut(s *Service, docID string) (release func(), ok bool) {
	s.mu.Lock()
	d := s.docs[docID]
	s.mu.Unlock()
	if d == nil {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fanRound {
		return nil, false
	}
	d.fanRound = true
	return func() {
		d.mu.Lock()
		d.fanRound = false
		s.startFanOutLocked(d)
		s.unlock(d)
	}, true
}
