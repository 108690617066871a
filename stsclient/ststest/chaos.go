package ststest

import (
	"net/http"
	"time"
)

// acquire takes a slot of the concurrency cap, waiting until one is free or the client gives
// up (then ok is false and nothing is written).
func (s *Server) acquire(r *http.Request) (release func(), ok bool) {
	if s.sem == nil {
		return func() {}, true
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, true
	case <-r.Context().Done():
		return nil, false
	}
}

// delay waits Latency plus a random tail; false if the client gave up meanwhile.
func (s *Server) delay(r *http.Request) bool {
	d := s.opts.Latency
	if s.opts.LatencyTail > 0 {
		s.rngMu.Lock()
		d += time.Duration(s.rng.ExpFloat64() * float64(s.opts.LatencyTail))
		s.rngMu.Unlock()
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// outage reports whether the server clock is inside an outage window.
func (s *Server) outage() bool {
	if len(s.opts.Outages) == 0 {
		return false
	}
	now := s.opts.Now()
	for _, o := range s.opts.Outages {
		if !now.Before(o.From) && now.Before(o.To) {
			return true
		}
	}
	return false
}

// randomFailure draws whether this call fails by ErrorRate.
func (s *Server) randomFailure() bool {
	if s.opts.ErrorRate <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < s.opts.ErrorRate
}
