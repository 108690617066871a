package ststest

import (
	"net/http"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
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

// latency is the latency plus a random tail in effect (Options, SetLatency), drawn for one call.
func (s *Server) latency() time.Duration {
	f := s.currentFaults()
	d := f.latency
	if f.latencyTail > 0 {
		s.rngMu.Lock()
		d += time.Duration(s.rng.ExpFloat64() * float64(f.latencyTail))
		s.rngMu.Unlock()
	}
	return d
}

// delay waits d; false if the client gave up meanwhile.
func (s *Server) delay(r *http.Request, d time.Duration) bool {
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

// outage reports whether a manual outage (SetOutage) is on or the server clock is inside an
// outage window.
func (s *Server) outage() bool {
	return s.currentFaults().outage || s.outageWindow()
}

// outageWindow reports whether the server clock is inside one of Options.Outages.
func (s *Server) outageWindow() bool {
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

// randomFailure draws whether this call fails by the error rate in effect (Options,
// SetErrorRate).
func (s *Server) randomFailure() bool {
	rate := s.currentFaults().errorRate
	if rate <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < rate
}

// writeTarget returns the UUID of the object an importer or ret payload writes.
func writeTarget(k oio.Kind, op oio.Operation, payload *etree.Element) (uuid.UUID, bool) {
	switch op {
	case oio.OpImporter:
		if o, err := oio.UnmarshalImportInput(k, payload); err == nil {
			return o.UUID, true
		}
	case oio.OpRet:
		if in, err := oio.UnmarshalRetInput(k, payload); err == nil {
			return in.UUID, true
		}
	}
	return uuid.Nil, false
}

// holdWrite tracks importer and ret calls in flight per object, counting a call that starts while
// another write to the same object is in flight (ConcurrentWritesSeen), and holds each write for
// Options.WriteHold so that overlaps become visible. It returns false if the client gave up
// meanwhile. The caller calls release before its response can reach the client.
func (s *Server) holdWrite(r *http.Request, k oio.Kind, op oio.Operation, payload *etree.Element) (release func(), ok bool) {
	id, ok := writeTarget(k, op, payload)
	if !ok {
		return func() {}, true
	}
	key := objectKey{k, id}
	s.mu.Lock()
	s.writing[key]++
	if s.writing[key] > 1 {
		s.concurrentWrites++
	}
	s.mu.Unlock()
	release = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.writing[key]--; s.writing[key] == 0 {
			delete(s.writing, key)
		}
	}
	if s.opts.WriteHold <= 0 {
		return release, true
	}
	t := time.NewTimer(s.opts.WriteHold)
	defer t.Stop()
	select {
	case <-t.C:
		return release, true
	case <-r.Context().Done():
		release()
		return nil, false
	}
}

// ConcurrentWritesSeen returns how many importer or ret calls started while another write to the
// same object was in flight. A correct client with per-object leases never causes one.
func (s *Server) ConcurrentWritesSeen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.concurrentWrites
}

// heldWriter holds a response back until due (Options.ServiceTime): the first WriteHeader or
// Write waits for it.
type heldWriter struct {
	http.ResponseWriter
	s    *Server
	r    *http.Request
	due  time.Time
	done bool
}

func (w *heldWriter) wait() {
	if !w.done {
		w.done = true
		w.s.delay(w.r, time.Until(w.due))
	}
}

// WriteHeader sends the status once the service time is over.
func (w *heldWriter) WriteHeader(code int) {
	w.wait()
	w.ResponseWriter.WriteHeader(code)
}

// Write sends body bytes once the service time is over.
func (w *heldWriter) Write(b []byte) (int, error) {
	w.wait()
	return w.ResponseWriter.Write(b)
}
