// Package ststest is an in-memory fake of the STS Organisation 6 object services and of
// KOMBIT's security token service, for tests and local runs (cmd/fakests).
//
// Organisation: it serves POST /organisation/{kind}/6/, dispatches on the SOAP action, parses
// and structurally validates bodies with package oio (StatusKode 40 on violation), and
// reproduces the service's business outcomes: importer on an existing active object → 49,
// ret/laes/passiver on an unknown one → 44, ret/passiver on a passivated one → 49, importer with
// a registration time ahead of the server clock → 45, a validity period ending before it starts
// → 47, a write with a token whose service agreement only allows reading → 41, a write to an
// object of another municipality's Organisation (Options.OrganisationCVR) → 41, soeg without
// hits → 44, list of only unknown UUIDs → 44. Every registration of every object is kept; laes
// returns the latest, list the latest of each known object asked for (unknown ones are left
// out), ret replaces each list it sends, soeg matches templates against the latest
// registrations of active objects. The fake starts empty but for the municipalities' Organisation
// objects of Options.Organisations, which the real service holds before any integration writes.
//
// OrganisationSystem: POST /organisation/organisationsystem/6/ answers fremsoegobjekthierarki
// with the organisations, units, functions, users and IT systems of the caller's municipality
// (Options.OrganisationCVR; everything without it) that are not passivated, each list paged
// separately.
//
// Security (Options.RequireSecurity): requests must carry the OIO IDWS SOAP profile — one
// wsse:Security header with a current Timestamp, a holder-of-key SAML assertion issued by the
// fake STS for Organisation 6, and one signature by the holder-of-key certificate covering the
// Body, Action, MessageID, To, ReplyTo, the Timestamp and the assertion (STR-Transform); a
// MessageID is accepted once. Failures are SOAP faults with WS-Security subcodes (Fault*
// constants). Responses are then signed by the service certificate. Without RequireSecurity
// requests are accepted unsigned and responses are not signed.
//
// Every SOAP response and fault of the Organisation endpoints and of the STS names the
// request's wsa:MessageID in wsa:RelatesTo (signed when the response is), as the real services
// do; Options.OmitRelatesTo leaves it out of Organisation responses to test clients.
//
// STS: POST /runtime/services/kombittrust/14/certificatemixed issues assertions (OIO WS-Trust
// 1.3) to requests signed with a client certificate from the fake's CA (PKI), for the CVRs of
// Options.Agreements.
//
// Infrastructure faults: fixed and random latency, a random error rate, outage windows, a
// concurrency cap, and queued failures (FailNext); latency, error rate, a manual outage and queued
// failures can also be switched while the server runs (SetOutage, SetLatency, SetErrorRate,
// ResetFaults, and the control API below).
//
// Not yet: full XSD validation (lengths of every element, …), laes and list filters, opret and
// slet (answered with a Receiver fault), soeg on registration/virkning periods, Virkning in
// fremsoegobjekthierarki templates, interest groups (Interessefaellesskab), reads scoped by CVR
// (laes/list/soeg of another municipality's objects succeed), ownership of Person and Adresse
// objects (they have no Tilhoerer; writes to them are never 41 for a foreign CVR).
//
// Besides the SOAP endpoints the handler serves GET /healthz, the inspection API GET
// /_inspect/calls (DELETE resets the counters), GET /_inspect/objects/{kind} and GET
// /_inspect/concurrent-writes (JSON for humans), and the test-only control API of the runtime
// fault switches: GET /_control (the switches in effect), PUT /_control/outage {"on": true},
// PUT /_control/latency {"latency": "200ms", "tail": "50ms"}, PUT /_control/error-rate
// {"rate": 0.1}, POST /_control/failures with a Failure ({"operation": "ret", "times": 3,
// "status_kode": 40} or {"http_status": 503}), DELETE /_control/failures and POST
// /_control/reset. Every change answers with the ControlView, a bad body with 400.
package ststest

import (
	"cmp"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Defaults of Options.
const (
	// DefaultEntityID is the fake STS's entity id (the Issuer of its assertions).
	DefaultEntityID = "https://saml.fakests.invalid/runtime"
	// DefaultClockSkew is the tolerance on Timestamps and token validity.
	DefaultClockSkew = 5 * time.Minute
	// DefaultTokenLifetime is the lifetime of issued tokens (KOMBIT's default: 8 hours).
	DefaultTokenLifetime = 8 * time.Hour
	// DefaultSearchPage is the page size of soeg without MaksimalAntalKvantitet.
	DefaultSearchPage = 500
	// STSPath is the path of the token service.
	STSPath = wssec.STSPath
)

// Access is what a service agreement for Organisation 6 allows.
type Access int

// The two levels of a service agreement: "Udstil" (read) and read plus write.
const (
	AccessRead Access = iota + 1
	AccessReadWrite
)

// Privilege URIs the fake STS puts into Privileges_intermediate. The real URIs are not public;
// these are recognisably fake.
const (
	PrivilegeRead  = "urn:fakests:privilege:organisation:6:udstil"
	PrivilegeWrite = "urn:fakests:privilege:organisation:6:rediger"
)

// Outage is a window of the server clock [From, To) in which every SOAP call fails with HTTP
// 503.
type Outage struct {
	From, To time.Time
}

// Options configures a Server. The zero value is a fast, insecure, reliable fake.
type Options struct {
	// OnWrite, if set, is called after a write (importer, ret, passiver) was accepted and stored,
	// before its answer is sent: a test can stop the client at the worst moment.
	OnWrite func(Write)
	// Latency delays every Organisation SOAP response (not the STS or the inspection
	// endpoints).
	Latency time.Duration
	// ServiceTime makes Latency (and its tail) the time from taking a slot of MaxConcurrent to
	// the response, with the fake's own work (parsing, checking the signature and token, the
	// operation, signing the answer) done inside it, as a real service's response time includes
	// its processing. Without it the fake waits the latency first and works after, so its own
	// CPU time adds to every call; a call is then processed even if the client gives up during
	// the latency, and the response is held back until the latency is over.
	ServiceTime bool
	// LatencyTail adds a random delay drawn from an exponential distribution with this mean
	// (a long tail: 1% of calls wait more than 4.6 times the mean).
	LatencyTail time.Duration
	// ErrorRate is the fraction (0..1) of Organisation calls answered with HTTP 503.
	ErrorRate float64
	// Outages are windows of the server clock in which every Organisation call gets HTTP 503.
	Outages []Outage
	// MaxConcurrent, if positive, caps concurrently processed Organisation calls; further calls
	// wait for a slot (or until the client gives up).
	MaxConcurrent int
	// WriteHold holds every importer and ret call this long after its body is parsed, with the
	// object marked as being written, so that overlapping writes to one object are detected
	// (ConcurrentWritesSeen).
	WriteHold time.Duration
	// Seed seeds the random latency and error choices; 0 seeds randomly.
	Seed uint64
	// Logger receives one debug record per SOAP call; default discards.
	Logger *slog.Logger
	// Now is the server clock (registration times, the 45 check, Timestamps, tokens); default
	// time.Now.
	Now func() time.Time
	// NewID generates response MessageIDs, wsu:Ids and assertion IDs; default uuid.New.
	NewID func() uuid.UUID

	// RequireSecurity makes the Organisation endpoints require and verify the WS-Security
	// profile and sign their responses.
	RequireSecurity bool
	// OmitRelatesTo leaves wsa:RelatesTo out of the Organisation endpoints' responses and
	// faults (with RequireSecurity the responses are still signed correctly, over the headers
	// they have), so that tests can check that a client rejects a response that does not name
	// its request. The STS keeps sending it.
	OmitRelatesTo bool
	// PKI holds the fake's CA, STS and service identities; default a new one (created on first
	// use, RSA-2048).
	PKI *PKI
	// EntityID is the STS entity id; default DefaultEntityID.
	EntityID string
	// ClockSkew is the tolerance on Timestamps and token validity; default DefaultClockSkew.
	ClockSkew time.Duration
	// TokenLifetime caps the lifetime of issued tokens; default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Agreements maps CVR numbers to their service agreement for Organisation 6. Nil: every
	// CVR may read and write. Otherwise the STS refuses tokens (error 101) for CVRs not listed.
	Agreements map[string]Access
	// OrganisationCVR maps Organisation UUIDs (municipalities) to the CVR number that owns
	// them. With RequireSecurity, a write to an object owned by an Organisation listed here
	// with another CVR than the token's is answered with StatusKode 41, and
	// fremsoegobjekthierarki returns the objects of the Organisations of the token's CVR.
	// Organisations not listed are not checked; without RequireSecurity (no CVR) nothing is.
	// The map must not be changed after NewServer.
	OrganisationCVR map[uuid.UUID]string
	// Organisations are the municipalities' Organisation objects NewServer creates, as STS
	// Organisation holds them before any integration writes (laes organisation, the
	// Organisationer of fremsoegobjekthierarki). Each is owned by its CVR as if OrganisationCVR
	// named it (an entry there for the same UUID wins). NewServer panics if one is invalid
	// (Organisation.Object reports why).
	Organisations []Organisation
}

// Failure makes matching SOAP calls fail before any business logic runs. Kind and Operation
// empty match any call. Exactly one of HTTPStatus (a bare HTTP error, e.g. 503), StatusKode (a
// normal response with that StandardRetur) or FaultReason (a Receiver fault) should be set.
//
// The JSON names are those of POST /_control/failures.
type Failure struct {
	Kind        oio.Kind      `json:"kind,omitempty"`
	Operation   oio.Operation `json:"operation,omitempty"`
	Times       int           `json:"times,omitempty"` // how many matching calls fail; default 1
	HTTPStatus  int           `json:"http_status,omitempty"`
	StatusKode  int           `json:"status_kode,omitempty"`
	FaultReason string        `json:"fault_reason,omitempty"`
}

// Server is the fake service. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	sem  chan struct{} // nil without MaxConcurrent

	pkiOnce sync.Once
	pki     *PKI

	rngMu sync.Mutex
	rng   *rand.Rand

	ctlMu    sync.Mutex
	switches faultSwitches // runtime fault switches (control.go)

	mu       sync.Mutex
	objects  map[objectKey]*record
	calls    map[string]int
	faults   map[string]int
	failures []Failure
	seen     map[string]time.Time // MessageIDs of secured requests → when they may be forgotten
	tokens   map[string]bool      // assertion IDs issued → revoked

	writing          map[objectKey]int // importer/ret calls in flight per object
	concurrentWrites int
	writes           []Write // accepted writes, in order

	gen       uint64         // incremented by every stored registration
	hierarchy hierarchyCache // fremsoegobjekthierarki's sorted hits, valid while gen is unchanged
}

// hierarchyCache holds, per hierarchy kind, the UUIDs (sorted) that one fremsoegobjekthierarki
// query (scope and filter: key) matched at generation gen, so that paging through them does not
// scan and sort every stored object again for each page.
type hierarchyCache struct {
	gen  uint64
	key  string
	hits map[oio.Kind][]uuid.UUID
}

// Write is a write the fake accepted (StatusKode 20), with the RequestHeader's TransactionUUID.
type Write struct {
	Kind            oio.Kind
	Operation       oio.Operation
	TransactionUUID string
}

// Writes returns the writes the fake accepted, in order.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
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

// NewServer returns a fake holding only the Organisation objects of Options.Organisations.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = uuid.New
	}
	if opts.EntityID == "" {
		opts.EntityID = DefaultEntityID
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{opts: opts, log: log, objects: map[objectKey]*record{}, calls: map[string]int{},
		faults: map[string]int{}, writing: map[objectKey]int{}, seen: map[string]time.Time{}, tokens: map[string]bool{},
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		switches: faultSwitches{latency: opts.Latency, latencyTail: opts.LatencyTail, errorRate: opts.ErrorRate}}
	if opts.MaxConcurrent > 0 {
		s.sem = make(chan struct{}, opts.MaxConcurrent)
	}
	if len(opts.Organisations) > 0 {
		owners := make(map[uuid.UUID]string, len(opts.OrganisationCVR)+len(opts.Organisations))
		for _, org := range opts.Organisations {
			obj, err := org.Object(opts.Now())
			if err != nil {
				panic("ststest: " + err.Error())
			}
			s.appendRegistration(obj.Kind, obj.UUID, obj.Registration)
			owners[org.UUID] = org.CVR
		}
		maps.Copy(owners, opts.OrganisationCVR)
		s.opts.OrganisationCVR = owners
	}
	return s
}

// PKI returns the fake's identities: Options.PKI, or one created on first use. Clients need
// PKI().STS.Certificate and PKI().Service.Certificate to verify responses, and a client
// certificate from PKI().NewClient to obtain tokens. It panics if a key cannot be generated.
func (s *Server) PKI() *PKI {
	s.pkiOnce.Do(func() {
		if s.opts.PKI != nil {
			s.pki = s.opts.PKI
			return
		}
		p, err := NewPKI(PKIConfig{NotBefore: s.opts.Now().Add(-24 * time.Hour).Truncate(time.Second)})
		if err != nil {
			panic(err)
		}
		s.pki = p
	})
	return s.pki
}

// EntityID returns the STS entity id the fake issues assertions as.
func (s *Server) EntityID() string { return s.opts.EntityID }

// Handler returns the HTTP handler serving the SOAP endpoints and the inspection API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /organisation/{kind}/6/", s.serveSOAP)
	mux.HandleFunc("POST "+STSPath, s.serveToken)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /_inspect/calls", s.serveCalls)
	mux.HandleFunc("GET /_inspect/objects/{kind}", s.serveObjects)
	s.registerControl(mux)
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

// ClearFailures drops the failures FailNext queued that have not happened yet (an outage ends).
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
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

// ResetCalls zeroes the call and fault counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	clear(s.faults)
}

// Faults returns the number of SOAP faults sent per subcode local name (e.g. "FailedCheck",
// "InvalidRequest"; "Receiver" for Receiver faults without subcode) since the last
// ResetCalls, for the Organisation endpoints and the STS.
func (s *Server) Faults() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.faults)
}

// TokensIssued returns the number of tokens the STS has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// RevokeTokens makes every token issued so far invalid: requests carrying one get an
// InvalidSecurityToken fault (as after a restart of the real service's token trust). Tokens
// issued later are accepted.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.tokens {
		s.tokens[id] = true
	}
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
	s.gen++
}

func cloneRegistration(r oio.Registration) oio.Registration {
	r.Egenskaber = slices.Clone(r.Egenskaber)
	r.Gyldighed = slices.Clone(r.Gyldighed)
	r.Relationer = slices.Clone(r.Relationer)
	return r
}
