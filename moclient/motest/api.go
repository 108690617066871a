package motest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// OrgUnitRequest is the body of POST /api/org_unit and the input of [Server.CreateUnit]. Without
// UUID, or with one the fake does not hold, it creates a unit (Name required; From defaults to
// now). Over HTTP, a known UUID edits the unit from From (default now): a non-empty Name renames
// it, a non-nil Parent moves it, a non-empty UserKey changes the user key. UnitType, Level and
// Hierarchy are class UUIDs already known to the fake.
type OrgUnitRequest struct {
	UUID      *uuid.UUID `json:"uuid,omitempty"`
	Name      string     `json:"name,omitempty"`
	UserKey   string     `json:"user_key,omitempty"`
	Parent    *uuid.UUID `json:"parent,omitempty"`
	UnitType  *uuid.UUID `json:"unit_type,omitempty"`
	Level     *uuid.UUID `json:"org_unit_level,omitempty"`
	Hierarchy *uuid.UUID `json:"org_unit_hierarchy,omitempty"`
	From      *time.Time `json:"from,omitempty"`
}

// TerminateRequest is the optional body of the POST …/terminate endpoints; To defaults to now.
type TerminateRequest struct {
	To *time.Time `json:"to,omitempty"`
}

// ChangeResponse is the answer of the mutation API.
type ChangeResponse struct {
	UUID uuid.UUID `json:"uuid"`
	// Created is true when an object was created rather than changed.
	Created bool `json:"created,omitempty"`
	// EventPublished is true when a publisher is configured and every event was confirmed.
	EventPublished bool `json:"event_published"`
	// Events are the events of the change (type and UUID of each changed object).
	Events []EventRef `json:"events,omitempty"`
	// Error is set when the change was stored but an event could not be published.
	Error string `json:"error,omitempty"`
}

// EventRef is one event in a [ChangeResponse]: the new-style routing key and the UUID.
type EventRef struct {
	ObjectType string    `json:"object_type"`
	UUID       uuid.UUID `json:"uuid"`
}

// PersonRequest is the body of POST /api/person (create a person; From defaults to now).
type PersonRequest struct {
	UUID      *uuid.UUID `json:"uuid,omitempty"`
	UserKey   string     `json:"user_key,omitempty"`
	GivenName string     `json:"given_name"`
	Surname   string     `json:"surname"`
	CPR       string     `json:"cpr_number,omitempty"`
	From      *time.Time `json:"from,omitempty"`
}

// EngagementRequest is the body of POST /api/person/{uuid}/engagement (add) and of
// POST /api/engagement/{uuid} (edit from From; only the fields given change). Classes are given
// by UUID or user key. Extensions maps "1"…"10" to extension_N.
type EngagementRequest struct {
	OrgUnit        *uuid.UUID        `json:"org_unit,omitempty"`
	JobFunction    string            `json:"job_function,omitempty"`
	EngagementType string            `json:"engagement_type,omitempty"`
	Primary        *bool             `json:"primary,omitempty"`
	Extensions     map[string]string `json:"extensions,omitempty"`
	From           *time.Time        `json:"from,omitempty"`
	To             *time.Time        `json:"to,omitempty"`
}

// AddressRequest is the body of POST /api/address (add; Owner, AddressType and Value required) and
// of POST /api/address/{uuid} (edit from From). Visibility is a class UUID or user key; JSON null
// removes the visibility, absence keeps it.
type AddressRequest struct {
	Owner       *uuid.UUID      `json:"owner,omitempty"`
	AddressType string          `json:"address_type,omitempty"`
	Value       *string         `json:"value,omitempty"`
	Name        *string         `json:"name,omitempty"`
	Visibility  json.RawMessage `json:"visibility,omitempty"`
	From        *time.Time      `json:"from,omitempty"`
}

// ManagerRequest is the body of POST /api/org_unit/{uuid}/manager: the manager person, or null
// for a vacant role, from From.
type ManagerRequest struct {
	Person *uuid.UUID `json:"person"`
	From   *time.Time `json:"from,omitempty"`
}

// KLERequest is the body of POST /api/org_unit/{uuid}/kle: KLE number and aspect classes by UUID
// or user key.
type KLERequest struct {
	Numbers []string   `json:"numbers"`
	Aspects []string   `json:"aspects,omitempty"`
	From    *time.Time `json:"from,omitempty"`
}

// ITUserRequest is the body of POST /api/person/{uuid}/ituser (add) and of
// POST /api/ituser/{uuid} (edit from From). ITSystem is an IT system UUID or user key (default
// "Active Directory"; it cannot be edited). The account is linked to the engagements of the person
// listed in Engagements and to Engagement (the older single-link form; both may be given, and
// Engagement then comes first). In an edit, a non-empty UserKey or ExternalID replaces it, and
// Engagement or Engagements, if present, replace the links ("engagements": [] unlinks all).
type ITUserRequest struct {
	ITSystem    string      `json:"itsystem,omitempty"`
	UserKey     string      `json:"user_key"`
	ExternalID  string      `json:"external_id,omitempty"`
	Engagement  *uuid.UUID  `json:"engagement,omitempty"`
	Engagements []uuid.UUID `json:"engagements,omitempty"`
	From        *time.Time  `json:"from,omitempty"`
}

// links returns the engagement links the request gives (Engagement first), or nil when it gives
// none; a present but empty "engagements" list gives an empty, non-nil slice.
func (r ITUserRequest) links() []uuid.UUID {
	if r.Engagement == nil {
		return r.Engagements
	}
	return append([]uuid.UUID{*r.Engagement}, r.Engagements...)
}

// BoundaryRequest is the body of POST /api/events/boundaries.
type BoundaryRequest struct {
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
}

// routes adds the mutation API to mux.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/org_unit", s.handleUpsertOrgUnit)
	mux.HandleFunc("GET /api/org_unit/{uuid}", s.handleGetOrgUnit)
	mux.HandleFunc("POST /api/org_unit/{uuid}/terminate", s.withID(func(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
		var req TerminateRequest
		if err := decodeOptional(r, &req); err != nil {
			return Change{}, err
		}
		return s.TerminateUnit(ctx, id, deref(req.To))
	}))
	mux.HandleFunc("POST /api/org_unit/{uuid}/manager", s.withID(func(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
		var req ManagerRequest
		if err := decode(r, &req); err != nil {
			return Change{}, err
		}
		return s.SetManager(ctx, id, req.Person, deref(req.From))
	}))
	mux.HandleFunc("POST /api/org_unit/{uuid}/manager/terminate", s.terminator(s.ClearManager))
	mux.HandleFunc("POST /api/org_unit/{uuid}/kle", s.withID(func(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
		var req KLERequest
		if err := decode(r, &req); err != nil {
			return Change{}, err
		}
		numbers, err := s.classRefs(req.Numbers)
		if err != nil {
			return Change{}, err
		}
		aspects, err := s.classRefs(req.Aspects)
		if err != nil {
			return Change{}, err
		}
		return s.AddKLE(ctx, id, numbers, aspects, deref(req.From))
	}))
	mux.HandleFunc("POST /api/person", s.handleCreatePerson)
	mux.HandleFunc("GET /api/person/{uuid}", s.handleGetPerson)
	mux.HandleFunc("POST /api/person/{uuid}/terminate", s.terminator(s.TerminatePerson))
	mux.HandleFunc("POST /api/person/{uuid}/engagement", s.withID(s.addEngagementHTTP))
	mux.HandleFunc("POST /api/person/{uuid}/ituser", s.withID(s.addITUserHTTP))
	mux.HandleFunc("POST /api/engagement/{uuid}", s.withID(s.changeEngagementHTTP))
	mux.HandleFunc("POST /api/engagement/{uuid}/terminate", s.terminator(s.EndEngagement))
	mux.HandleFunc("POST /api/address", s.handleAddAddress)
	mux.HandleFunc("POST /api/address/{uuid}", s.withID(s.changeAddressHTTP))
	mux.HandleFunc("POST /api/address/{uuid}/terminate", s.terminator(s.EndAddress))
	mux.HandleFunc("POST /api/kle/{uuid}/terminate", s.terminator(s.RemoveKLE))
	mux.HandleFunc("POST /api/ituser/{uuid}", s.withID(s.changeITUserHTTP))
	mux.HandleFunc("POST /api/ituser/{uuid}/terminate", s.terminator(s.RemoveITUser))
	mux.HandleFunc("POST /api/events/boundaries", s.handleBoundaries)
	mux.HandleFunc("GET /api/events", s.handleEvents)
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		zero = *p
	}
	return zero
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: invalid JSON body: %w", errBadRequest, err)
	}
	return nil
}

func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(r, v)
}

var errBadRequest = errors.New("bad request")

// withID handles POST /api/…/{uuid}… with a mutation.
func (s *Server) withID(f func(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("uuid"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid UUID in path"})
			return
		}
		ch, err := f(r.Context(), id, r)
		s.respond(w, http.StatusOK, ch, err)
	}
}

// terminator handles POST /api/…/{uuid}/terminate with an optional {"to": …}.
func (s *Server) terminator(f func(ctx context.Context, id uuid.UUID, to time.Time) (Change, error)) http.HandlerFunc {
	return s.withID(func(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
		var req TerminateRequest
		if err := decodeOptional(r, &req); err != nil {
			return Change{}, err
		}
		return f(ctx, id, deref(req.To))
	})
}

// respond answers a mutation: the change with its events, or the error with a fitting status (a
// change stored without its events is 502 and still carries the change).
func (s *Server) respond(w http.ResponseWriter, status int, ch Change, err error) {
	resp := ChangeResponse{UUID: ch.UUID, Created: ch.Created}
	for _, e := range ch.Events {
		resp.Events = append(resp.Events, EventRef{ObjectType: e.ObjectType, UUID: e.UUID})
	}
	switch {
	case errors.Is(err, ErrNotPublished):
		resp.Error = err.Error()
		writeJSON(w, http.StatusBadGateway, resp)
		return
	case errors.Is(err, ErrUnknownObject):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, ErrRefused):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	resp.EventPublished = s.opts.Events != nil
	if ch.Created && status == http.StatusOK {
		status = http.StatusCreated
	}
	writeJSON(w, status, resp)
}

func (s *Server) handleUpsertOrgUnit(w http.ResponseWriter, r *http.Request) {
	var req OrgUnitRequest
	if err := decode(r, &req); err != nil {
		s.respond(w, 0, Change{}, err)
		return
	}
	if req.UUID != nil {
		if _, known := s.OrgUnit(*req.UUID); known {
			ch, err := s.EditUnit(r.Context(), *req.UUID, UnitChange{Name: req.Name, UserKey: req.UserKey, Parent: req.Parent,
				UnitType: req.UnitType, Level: req.Level, Hierarchy: req.Hierarchy}, deref(req.From))
			s.respond(w, http.StatusOK, ch, err)
			return
		}
	}
	ch, err := s.CreateUnit(r.Context(), req)
	s.respond(w, http.StatusOK, ch, err)
}

func (s *Server) handleGetOrgUnit(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("uuid"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid UUID in path"})
		return
	}
	u, ok := s.OrgUnit(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown org unit"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// handleGetPerson shows a stored person for debugging, without the CPR number.
func (s *Server) handleGetPerson(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("uuid"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid UUID in path"})
		return
	}
	p, ok := s.Person(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown person"})
		return
	}
	p.CPR = redactCPR(p.CPR)
	type plain model.Person // without the redacting String method, for encoding/json
	writeJSON(w, http.StatusOK, plain(p))
}

func redactCPR(cpr string) string {
	if len(cpr) < 6 {
		return ""
	}
	return cpr[:6] + "-xxxx"
}

func (s *Server) handleCreatePerson(w http.ResponseWriter, r *http.Request) {
	var req PersonRequest
	if err := decode(r, &req); err != nil {
		s.respond(w, 0, Change{}, err)
		return
	}
	p := model.Person{UserKey: req.UserKey, GivenName: req.GivenName, Surname: req.Surname, CPR: req.CPR}
	if req.UUID != nil {
		p.UUID = *req.UUID
	}
	if req.From != nil {
		p.Validity.From = *req.From
	}
	ch, err := s.CreatePerson(r.Context(), p)
	s.respond(w, http.StatusOK, ch, err)
}

func (s *Server) addEngagementHTTP(ctx context.Context, person uuid.UUID, r *http.Request) (Change, error) {
	var req EngagementRequest
	if err := decode(r, &req); err != nil {
		return Change{}, err
	}
	if req.OrgUnit == nil || req.JobFunction == "" {
		return Change{}, fmt.Errorf("%w: org_unit and job_function are required", errBadRequest)
	}
	e := model.Engagement{OrgUnit: *req.OrgUnit, Primary: deref(req.Primary)}
	var err error
	if e.JobFunction, err = s.classRef(req.JobFunction); err != nil {
		return Change{}, err
	}
	typ := req.EngagementType
	if typ == "" {
		typ = "Ansat"
	}
	if e.EngagementType, err = s.classRef(typ); err != nil {
		return Change{}, err
	}
	ext, err := extensions(req.Extensions)
	if err != nil {
		return Change{}, err
	}
	for n, v := range ext {
		e.Extensions[n-1] = v
	}
	e.Validity = model.Validity{From: deref(req.From), To: deref(req.To)}
	return s.AddEngagement(ctx, person, e)
}

func (s *Server) changeEngagementHTTP(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
	var req EngagementRequest
	if err := decode(r, &req); err != nil {
		return Change{}, err
	}
	c := EngagementChange{OrgUnit: req.OrgUnit, Primary: req.Primary}
	if req.JobFunction != "" {
		jf, err := s.classRef(req.JobFunction)
		if err != nil {
			return Change{}, err
		}
		c.JobFunction = &jf
	}
	var err error
	if c.Extensions, err = extensions(req.Extensions); err != nil {
		return Change{}, err
	}
	return s.ChangeEngagement(ctx, id, c, deref(req.From))
}

func extensions(in map[string]string) (map[int]string, error) {
	out := map[int]string{}
	for k, v := range in {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > 10 {
			return nil, fmt.Errorf("%w: extensions: key %q is not 1…10", errBadRequest, k)
		}
		out[n] = v
	}
	return out, nil
}

func (s *Server) handleAddAddress(w http.ResponseWriter, r *http.Request) {
	var req AddressRequest
	if err := decode(r, &req); err != nil {
		s.respond(w, 0, Change{}, err)
		return
	}
	ch, err := s.addAddressHTTP(r.Context(), req)
	s.respond(w, http.StatusOK, ch, err)
}

func (s *Server) addAddressHTTP(ctx context.Context, req AddressRequest) (Change, error) {
	if req.Owner == nil || req.AddressType == "" || req.Value == nil {
		return Change{}, fmt.Errorf("%w: owner, address_type and value are required", errBadRequest)
	}
	a := model.Address{Value: *req.Value, Name: deref(req.Name), Validity: model.Validity{From: deref(req.From)}}
	var err error
	if a.Type, err = s.classRef(req.AddressType); err != nil {
		return Change{}, err
	}
	vis, _, err := s.visibilityRef(req.Visibility)
	if err != nil {
		return Change{}, err
	}
	a.Visibility = vis
	return s.AddAddress(ctx, *req.Owner, a)
}

func (s *Server) changeAddressHTTP(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
	var req AddressRequest
	if err := decode(r, &req); err != nil {
		return Change{}, err
	}
	vis, clear, err := s.visibilityRef(req.Visibility)
	if err != nil {
		return Change{}, err
	}
	return s.ChangeAddress(ctx, id, AddressChange{Value: req.Value, Name: req.Name, Visibility: vis, NoVisibility: clear}, deref(req.From))
}

// visibilityRef reads an optional visibility: absent → (nil, false), null → (nil, true).
func (s *Server) visibilityRef(raw json.RawMessage) (*model.Class, bool, error) {
	if len(raw) == 0 {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	var ref string
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, false, fmt.Errorf("%w: visibility must be a string or null", errBadRequest)
	}
	c, err := s.classRef(ref)
	if err != nil {
		return nil, false, err
	}
	return &c, false, nil
}

func (s *Server) addITUserHTTP(ctx context.Context, person uuid.UUID, r *http.Request) (Change, error) {
	var req ITUserRequest
	if err := decode(r, &req); err != nil {
		return Change{}, err
	}
	system := req.ITSystem
	if system == "" {
		system = "Active Directory"
	}
	sys, err := s.classRef(system)
	if err != nil {
		return Change{}, err
	}
	return s.AddITUser(ctx, person, model.ITUser{UserKey: req.UserKey, ExternalID: req.ExternalID, ITSystem: sys,
		Engagements: req.links(), Validity: model.Validity{From: deref(req.From)}})
}

func (s *Server) changeITUserHTTP(ctx context.Context, id uuid.UUID, r *http.Request) (Change, error) {
	var req ITUserRequest
	if err := decode(r, &req); err != nil {
		return Change{}, err
	}
	if req.ITSystem != "" {
		return Change{}, fmt.Errorf("%w: the IT system of an IT user cannot be changed", errBadRequest)
	}
	c := ITUserChange{Engagements: req.links()}
	if req.UserKey != "" {
		c.UserKey = &req.UserKey
	}
	if req.ExternalID != "" {
		c.ExternalID = &req.ExternalID
	}
	return s.ChangeITUser(ctx, id, c, deref(req.From))
}

func (s *Server) handleBoundaries(w http.ResponseWriter, r *http.Request) {
	var req BoundaryRequest
	if err := decode(r, &req); err != nil {
		s.respond(w, 0, Change{}, err)
		return
	}
	until := s.opts.Now()
	if req.Until != nil {
		until = *req.Until
	}
	events, err := s.PublishBoundaryEvents(r.Context(), req.Since, until)
	s.respond(w, http.StatusOK, Change{Events: events}, err)
}

// classRef finds a class or IT system by UUID or user key.
func (s *Server) classRef(ref string) (model.Class, error) {
	if id, err := uuid.Parse(ref); err == nil {
		s.mu.RLock()
		c, ok := s.store.classes[id]
		s.mu.RUnlock()
		if ok {
			return c, nil
		}
	} else if c, ok := s.Class(ref); ok {
		return c, nil
	}
	return model.Class{}, fmt.Errorf("class %q: %w", ref, ErrUnknownObject)
}

func (s *Server) classRefs(refs []string) ([]model.Class, error) {
	out := make([]model.Class, 0, len(refs))
	for _, r := range refs {
		c, err := s.classRef(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
