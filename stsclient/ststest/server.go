// Package ststest is an in-memory fake of the STS Organisation 6 object services for tests and
// local runs (cmd/fakests). It serves POST /organisation/{kind}/6/, dispatches on the SOAP
// action, parses and structurally validates bodies with package oio (StatusKode 40 on
// violation), and reproduces the service's business outcomes: importer on an existing active
// object → 49, ret/laes/passiver on an unknown one → 44, ret/passiver on a passivated one → 49,
// importer with a registration time ahead of the server clock → 45. Every registration of
// every object is kept; laes returns the latest, and ret replaces each list it sends.
//
// Not yet: WS-Security checks and signed responses, full XSD validation (lengths of every
// element, …), laes filters, soeg, list, opret and slet (answered with a Receiver fault).
//
// Besides the SOAP endpoint the handler serves GET /healthz, GET /_inspect/calls and
// GET /_inspect/objects/{kind} (JSON for humans).
package ststest

import (
	"cmp"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Options configures a Server.
type Options struct {
	// Latency delays every SOAP response (not the inspection endpoints).
	Latency time.Duration
	// Logger receives one debug record per SOAP call; default discards.
	Logger *slog.Logger
	// Now is the server clock (registration times, the 45 check); default time.Now.
	Now func() time.Time
	// NewID generates response MessageIDs; default uuid.New.
	NewID func() uuid.UUID
}

// Failure makes matching SOAP calls fail before any business logic runs. Kind and Operation
// empty match any call. Exactly one of HTTPStatus (a bare HTTP error, e.g. 503), StatusKode (a
// normal response with that StandardRetur) or FaultReason (a Receiver fault) should be set.
type Failure struct {
	Kind        oio.Kind
	Operation   oio.Operation
	Times       int // how many matching calls fail; default 1
	HTTPStatus  int
	StatusKode  int
	FaultReason string
}

// Server is the fake service. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	objects  map[objectKey]*record
	calls    map[string]int
	failures []Failure
}

type objectKey struct {
	kind oio.Kind
	id   uuid.UUID
}

// record is the registration history of one object, oldest first.
type record struct {
	history []oio.Registration
}

func (r *record) latest() *oio.Registration { return &r.history[len(r.history)-1] }

// NewServer returns an empty fake.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = uuid.New
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log, objects: map[objectKey]*record{}, calls: map[string]int{}}
}

// Handler returns the HTTP handler serving the SOAP endpoints and the inspection API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /organisation/{kind}/6/", s.serveSOAP)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /_inspect/calls", s.serveCalls)
	mux.HandleFunc("GET /_inspect/objects/{kind}", s.serveObjects)
	return mux
}

// FailNext queues a failure for the next matching calls.
func (s *Server) FailNext(f Failure) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f)
}

// takeFailure consumes and returns the first failure matching the call. Requires s.mu.
func (s *Server) takeFailure(k oio.Kind, op oio.Operation) (Failure, bool) {
	for i := range s.failures {
		f := &s.failures[i]
		if (f.Kind == "" || f.Kind == k) && (f.Operation == "" || f.Operation == op) {
			out := *f
			if f.Times--; f.Times == 0 {
				s.failures = slices.Delete(s.failures, i, i+1)
			}
			return out, true
		}
	}
	return Failure{}, false
}

// Calls returns the number of SOAP calls per "kind/operation" since the last ResetCalls.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// TotalCalls returns the number of SOAP calls since the last ResetCalls.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// Object returns a copy of the object with its latest registration.
func (s *Server) Object(kind oio.Kind, id uuid.UUID) (*oio.Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.objects[objectKey{kind, id}]
	if !ok {
		return nil, false
	}
	return &oio.Object{Kind: kind, UUID: id, Registration: cloneRegistration(*r.latest())}, true
}

// History returns copies of all registrations of the object, oldest first (nil if unknown).
func (s *Server) History(kind oio.Kind, id uuid.UUID) []oio.Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.objects[objectKey{kind, id}]
	if !ok {
		return nil
	}
	out := make([]oio.Registration, len(r.history))
	for i, reg := range r.history {
		out[i] = cloneRegistration(reg)
	}
	return out
}

// Objects returns copies of all objects of the kind with their latest registrations, sorted by
// UUID.
func (s *Server) Objects(kind oio.Kind) []*oio.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*oio.Object
	for k, r := range s.objects {
		if k.kind == kind {
			out = append(out, &oio.Object{Kind: kind, UUID: k.id, Registration: cloneRegistration(*r.latest())})
		}
	}
	slices.SortFunc(out, func(a, b *oio.Object) int { return cmp.Compare(a.UUID.String(), b.UUID.String()) })
	return out
}

// Put stores o as a new registration of the object without any checks (test setup).
func (s *Server) Put(o *oio.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendRegistration(o.Kind, o.UUID, cloneRegistration(o.Registration))
}

// appendRegistration requires s.mu.
func (s *Server) appendRegistration(k oio.Kind, id uuid.UUID, reg oio.Registration) {
	key := objectKey{k, id}
	r := s.objects[key]
	if r == nil {
		r = &record{}
		s.objects[key] = r
	}
	r.history = append(r.history, reg)
}

func cloneRegistration(r oio.Registration) oio.Registration {
	r.Egenskaber = slices.Clone(r.Egenskaber)
	r.Gyldighed = slices.Clone(r.Gyldighed)
	r.Relationer = slices.Clone(r.Relationer)
	return r
}
