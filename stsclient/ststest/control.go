package ststest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Runtime fault switches. Options sets the faults a Server starts with; these change them while
// it runs, from Go or over the test-only control API under /_control/ (see Handler), so that a
// test or an operator trying the daemon out can start and end an outage, slow STS down or make
// it refuse the next calls at a moment of their choosing.

// faultSwitches are the runtime fault switches, guarded by Server.ctlMu.
type faultSwitches struct {
	outage      bool // manual outage (SetOutage), besides Options.Outages
	latency     time.Duration
	latencyTail time.Duration
	errorRate   float64
}

// SetOutage starts (on) or ends a manual outage: while it lasts every Organisation SOAP call is
// answered with HTTP 503, as inside an Options.Outages window. The token service keeps answering.
func (s *Server) SetOutage(on bool) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.switches.outage = on
}

// SetLatency replaces Options.Latency and Options.LatencyTail for the calls that start from now
// on (0, 0: answer at once).
func (s *Server) SetLatency(fixed, tail time.Duration) error {
	if fixed < 0 || tail < 0 {
		return fmt.Errorf("ststest: latency %s and tail %s must not be negative", fixed, tail)
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.switches.latency, s.switches.latencyTail = fixed, tail
	return nil
}

// SetErrorRate replaces Options.ErrorRate: the fraction (0…1) of Organisation calls answered with
// HTTP 503.
func (s *Server) SetErrorRate(rate float64) error {
	if rate < 0 || rate > 1 {
		return fmt.Errorf("ststest: error rate %v is not between 0 and 1", rate)
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.switches.errorRate = rate
	return nil
}

// ResetFaults ends a manual outage, restores the latency and error rate of Options and drops the
// failures FailNext queued. Options.Outages windows still apply.
func (s *Server) ResetFaults() {
	s.ctlMu.Lock()
	s.switches = faultSwitches{latency: s.opts.Latency, latencyTail: s.opts.LatencyTail, errorRate: s.opts.ErrorRate}
	s.ctlMu.Unlock()
	s.ClearFailures()
}

// currentFaults returns a copy of the runtime switches.
func (s *Server) currentFaults() faultSwitches {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	return s.switches
}

// PendingFailures returns the failures FailNext queued that have not happened yet, in order, with
// the number of calls each will still fail.
func (s *Server) PendingFailures() []Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failures)
}

// ControlView is the JSON of GET /_control and the answer of every change under /_control/: the
// fault switches in effect.
type ControlView struct {
	// Outage is true during a manual outage (PUT /_control/outage).
	Outage bool `json:"outage"`
	// OutageWindow is true while the clock is inside one of the outage windows the server was
	// started with (Options.Outages, fakests -outage).
	OutageWindow bool `json:"outage_window"`
	// Latency and LatencyTail are the delays in effect, as Go durations ("200ms").
	Latency     string `json:"latency"`
	LatencyTail string `json:"latency_tail"`
	// ErrorRate is the fraction of calls answered with HTTP 503.
	ErrorRate float64 `json:"error_rate"`
	// Failures are the queued failures (POST /_control/failures) still to happen.
	Failures []Failure `json:"failures"`
	// ConcurrentWrites is ConcurrentWritesSeen.
	ConcurrentWrites int `json:"concurrent_writes"`
}

// ConcurrentWritesView is the JSON of GET /_inspect/concurrent-writes.
type ConcurrentWritesView struct {
	// ConcurrentWrites is ConcurrentWritesSeen: importer or ret calls that started while another
	// write to the same object was in flight. A correct client never causes one.
	ConcurrentWrites int `json:"concurrent_writes"`
}

// OutageRequest is the body of PUT /_control/outage.
type OutageRequest struct {
	On bool `json:"on"`
}

// LatencyRequest is the body of PUT /_control/latency; durations as Go writes them ("250ms",
// "1s"), empty for 0.
type LatencyRequest struct {
	Latency string `json:"latency"`
	Tail    string `json:"tail"`
}

// ErrorRateRequest is the body of PUT /_control/error-rate.
type ErrorRateRequest struct {
	Rate float64 `json:"rate"`
}

func (s *Server) controlView() ControlView {
	f := s.currentFaults()
	failures := s.PendingFailures()
	if failures == nil {
		failures = []Failure{}
	}
	return ControlView{Outage: f.outage, OutageWindow: s.outageWindow(), Latency: f.latency.String(),
		LatencyTail: f.latencyTail.String(), ErrorRate: f.errorRate, Failures: failures,
		ConcurrentWrites: s.ConcurrentWritesSeen()}
}

// registerControl adds the control API and the concurrent-write counter to mux.
func (s *Server) registerControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /_inspect/concurrent-writes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, ConcurrentWritesView{ConcurrentWrites: s.ConcurrentWritesSeen()})
	})
	mux.HandleFunc("DELETE /_inspect/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCalls()
		writeJSON(w, CallsView{Total: 0, Calls: map[string]int{}})
	})
	mux.HandleFunc("GET /_control", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.controlView()) })
	mux.HandleFunc("PUT /_control/outage", control(s, func(req OutageRequest) error {
		s.SetOutage(req.On)
		return nil
	}))
	mux.HandleFunc("PUT /_control/latency", control(s, func(req LatencyRequest) error {
		fixed, err := optionalDuration("latency", req.Latency)
		if err != nil {
			return err
		}
		tail, err := optionalDuration("tail", req.Tail)
		if err != nil {
			return err
		}
		return s.SetLatency(fixed, tail)
	}))
	mux.HandleFunc("PUT /_control/error-rate", control(s, func(req ErrorRateRequest) error {
		return s.SetErrorRate(req.Rate)
	}))
	mux.HandleFunc("POST /_control/failures", control(s, func(f Failure) error {
		if err := f.validate(); err != nil {
			return err
		}
		s.FailNext(f)
		return nil
	}))
	mux.HandleFunc("DELETE /_control/failures", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFailures()
		writeJSON(w, s.controlView())
	})
	mux.HandleFunc("POST /_control/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetFaults()
		writeJSON(w, s.controlView())
	})
}

// control decodes a JSON body of type T strictly (unknown fields are an error, so a typo never
// passes as a no-op), applies it and answers with the ControlView, or 400 with the reason.
func control[T any](s *Server, apply func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req T
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := apply(req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, s.controlView())
	}
}

func optionalDuration(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: expected a non-negative duration such as 200ms, got %q", name, v)
	}
	return d, nil
}

// validate checks a failure given over the control API: a known kind and operation (or none),
// exactly one of the three answers, and a sensible count.
func (f Failure) validate() error {
	var errs []error
	if f.Kind != "" && !f.Kind.Valid() && f.Kind != oio.KindOrganisationSystem {
		errs = append(errs, fmt.Errorf("unknown kind %q", f.Kind))
	}
	ops := []oio.Operation{oio.OpImporter, oio.OpOpret, oio.OpRet, oio.OpLaes, oio.OpPassiver, oio.OpSlet,
		oio.OpSoeg, oio.OpList, oio.OpFremsoegObjekthierarki}
	if f.Operation != "" && !slices.Contains(ops, f.Operation) {
		errs = append(errs, fmt.Errorf("unknown operation %q", f.Operation))
	}
	var answers []string
	if f.HTTPStatus != 0 {
		answers = append(answers, "http_status")
		if f.HTTPStatus < 400 || f.HTTPStatus > 599 {
			errs = append(errs, fmt.Errorf("http_status %d is not an HTTP error status (400–599)", f.HTTPStatus))
		}
	}
	if f.StatusKode != 0 {
		answers = append(answers, "status_kode")
		if f.StatusKode == oio.StatusOK || f.StatusKode < 0 || f.StatusKode > 99 {
			errs = append(errs, fmt.Errorf("status_kode %d is not an STS error code (40, 41, 44, 45, 47, 49, …)", f.StatusKode))
		}
	}
	if f.FaultReason != "" {
		answers = append(answers, "fault_reason")
	}
	if len(answers) != 1 {
		errs = append(errs, fmt.Errorf("give exactly one of http_status, status_kode and fault_reason, got %d (%s)", len(answers), strings.Join(answers, ", ")))
	}
	if f.Times < 0 {
		errs = append(errs, fmt.Errorf("times must not be negative, got %d", f.Times))
	}
	return errors.Join(errs...)
}
