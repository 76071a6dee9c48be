package collab

import "time"

// SetSweepInterval shortens the presence and head sweep for tests; call it
// before Run.
func SetSweepInterval(s *Service, every time.Duration) { s.sweepEvery = every }
