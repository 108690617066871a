package motest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// Defaults for [Options].
const (
	DefaultClientID     = "dipex"
	DefaultClientSecret = "603f1c82-d012-4d04-9382-dbe659c533fb" // OS2MO's dev-stack secret
	DefaultRealm        = "mo"
	DefaultTokenTTL     = 300 * time.Second
)

// Options configures a [Server]; zero values get the defaults.
type Options struct {
	// ClientID and ClientSecret are the only credentials the token endpoint accepts (defaults
	// DefaultClientID, DefaultClientSecret).
	ClientID, ClientSecret string
	// Realm is the only Keycloak realm served (default "mo").
	Realm string
	// TokenTTL is the lifetime of issued tokens, reported as expires_in (default 300 s).
	TokenTTL time.Duration
	// Now is the server's clock, for token expiry, "current" validity and the GraphQL event
	// system's re-offer delays (default time.Now); tests advance it to see events offered again.
	Now func() time.Time
	// Logger receives request logs (default discards).
	Logger *slog.Logger
	// ExactIntervals keeps validity boundaries exact to the instant, as OS2MO keeps them from
	// GraphQL v29. Unset (the default), the fake is date-granular like the v25 API it serves:
	// every boundary, loaded or changed, is the start of its day in Europe/Copenhagen (a change
	// "from now" takes effect from this morning, an end "now" ends the object last night).
	// Answers are v25's form either way ("to" is the last valid day).
	ExactIntervals bool
	// Events, when set, receives the events of every change made through the mutation functions
	// ([Server.CreateUnit], [Server.AddEngagement], …) and the HTTP mutation API. An [EventSink]
	// (such as [*Publisher]) gets the whole [Event], for legacy keys. It is OS2MO's AMQP
	// subsystem; nil means AMQP is off. The GraphQL events (event_fetch) are kept either way.
	Events EventPublisher
	// Clients are further Keycloak clients the token endpoint accepts, client id → secret,
	// besides ClientID. Each client is its own owner in the GraphQL event system
	// ([Server.ClientOwner]), so tests can check that one client cannot take another's events.
	Clients map[string]string
	// EmptyFetchDelay is how long event_fetch waits before answering null when no event is due.
	// OS2MO sleeps 200 ms there to damp clients that poll in a tight loop; the default 0 answers
	// at once, which keeps tests fast.
	EmptyFetchDelay time.Duration
}

// Server is a fake OS2MO. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	schema *ast.Schema
	loc    *time.Location
	log    *slog.Logger
	// resolvers maps GraphQL type name → field name → resolver.
	resolvers map[string]map[string]resolver

	docMu sync.Mutex // guards docs
	// docs caches validated query documents by query text, as a GraphQL server's parse cache
	// does: clients send the same few queries over and over. At most maxCachedDocs are kept.
	docs map[string]*ast.QueryDocument

	mu     sync.RWMutex // guards store
	store  *store
	tokMu  sync.Mutex // guards tokens
	tokens map[string]issuedToken

	// events is the GraphQL event system (listeners, pending events); it has its own lock,
	// always taken after mu when both are held.
	events *eventSystem
}

// issuedToken is an access token's expiry and the client it was issued to.
type issuedToken struct {
	expires time.Time
	client  string
}

// clientKey is the request context key of the authenticated client id.
type clientKey struct{}

// clientFrom returns the client id requireToken put in ctx ("" when there is none).
func clientFrom(ctx context.Context) string {
	id, _ := ctx.Value(clientKey{}).(string)
	return id
}

// NewServer returns an empty fake. It panics only if the embedded schema or time zone data is
// broken, which tests catch at once.
func NewServer(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Realm == "" {
		opts.Realm = DefaultRealm
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	schema, err := LoadSchemaV25()
	if err != nil {
		panic(err)
	}
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		panic(fmt.Sprintf("motest: loading Europe/Copenhagen: %v", err))
	}
	var day func(time.Time) time.Time
	if !opts.ExactIntervals {
		day = func(t time.Time) time.Time {
			t = t.In(loc)
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
	}
	return &Server{opts: opts, schema: schema, loc: loc, log: opts.Logger, resolvers: newResolvers(), store: newStore(day),
		tokens: map[string]issuedToken{}, events: newEventSystem()}
}

// Handler serves the fake's HTTP API:
//
//	POST /auth/realms/{realm}/protocol/openid-connect/token  Keycloak client-credentials grant
//	POST /graphql/v25                                         GraphQL (Bearer token required)
//	GET  /healthz                                             liveness
//	POST /api/org_unit                                        create a unit, or edit (rename, move) a known one
//	GET  /api/org_unit/{uuid}                                 the stored unit (debugging)
//	POST /api/org_unit/{uuid}/terminate                       terminate a unit
//	POST /api/org_unit/{uuid}/manager                         set the manager (person or null for vacant)
//	POST /api/org_unit/{uuid}/manager/terminate               end the unit's manager roles
//	POST /api/org_unit/{uuid}/kle                             add a KLE mark-up
//	POST /api/person                                          create a person
//	GET  /api/person/{uuid}                                   the stored person (debugging, CPR masked)
//	POST /api/person/{uuid}/terminate                         terminate a person (as OS2MO: details end, manager roles turn vacant)
//	POST /api/person/{uuid}/engagement                        add an engagement
//	POST /api/person/{uuid}/ituser                            add an IT account (default: Active Directory), linked to engagements
//	POST /api/engagement/{uuid}                               change an engagement
//	POST /api/address                                         add an address to a person or unit
//	POST /api/address/{uuid}                                  change an address's value or visibility
//	POST /api/ituser/{uuid}                                   change an IT account (user key, external ID, engagement links)
//	POST /api/{engagement|address|kle|ituser}/{uuid}/terminate  end that object
//	POST /api/events/boundaries                               publish the events of validity boundaries passed
//	GET  /api/events                                          the GraphQL event system: listeners, pending events, counters (debugging)
//
// Every mutation answers a [ChangeResponse] and publishes the events OS2MO would (see
// [Server.EditUnit] and the other mutation methods): AMQP through Options.Events, and GraphQL
// events for the listeners of namespace "mo", which clients take with the GraphQL event_fetch
// query and event_acknowledge mutation (see the package documentation). A MO client's
// AuthServer is {base}/auth and its URL {base}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/realms/{realm}/protocol/openid-connect/token", s.handleToken)
	mux.Handle("POST /graphql/v25", s.requireToken(http.HandlerFunc(s.handleGraphQL)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.routes(mux)
	return mux
}

// ExpireTokens makes every issued token invalid, as if they had all expired.
func (s *Server) ExpireTokens() {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	clear(s.tokens)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("realm") != s.opts.Realm {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, keycloakError("invalid_request", "Malformed form body"))
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, keycloakError("unsupported_grant_type", "Unsupported grant_type"))
		return
	}
	want, known := s.opts.Clients[id]
	if id == s.opts.ClientID {
		want, known = s.opts.ClientSecret, true
	}
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		s.log.WarnContext(r.Context(), "token request with bad client credentials", "client_id", id)
		writeJSON(w, http.StatusUnauthorized, keycloakError("unauthorized_client", "Invalid client or Invalid client credentials"))
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	tok := hex.EncodeToString(b)
	now := s.opts.Now()
	s.tokMu.Lock()
	for t, it := range s.tokens {
		if !now.Before(it.expires) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = issuedToken{expires: now.Add(s.opts.TokenTTL), client: id}
	s.tokMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(s.opts.TokenTTL / time.Second), "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "email profile",
	})
}

func keycloakError(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}

// requireToken answers 401 unless the request carries a live token issued by handleToken, and
// passes on the client the token was issued to in the request context (the event owner).
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Not authenticated"})
			return
		}
		s.tokMu.Lock()
		it, known := s.tokens[tok]
		s.tokMu.Unlock()
		if !known || !s.opts.Now().Before(it.expires) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Token expired or unknown"})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, it.client)))
	})
}

// graphQLRequest is the POST body of a GraphQL request.
type graphQLRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

func (s *Server) handleGraphQL(w http.ResponseWriter, r *http.Request) {
	var req graphQLRequest
	body := http.MaxBytesReader(w, r.Body, 1<<20)
	dec := json.NewDecoder(body)
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "request body is not a GraphQL JSON request: " + err.Error()})
		return
	}
	// Read the body to its end: only then does net/http watch the connection and end the
	// request's context when the client goes away (a held acknowledgement must notice that).
	if _, err := io.Copy(io.Discard, body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "reading the request body: " + err.Error()})
		return
	}
	resp := s.execute(r.Context(), req)
	if len(resp.Errors) > 0 {
		s.log.InfoContext(r.Context(), "GraphQL request answered with errors", "operation", req.OperationName, "errors", resp.Errors)
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
