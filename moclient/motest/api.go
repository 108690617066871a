package motest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// Object types used as AMQP routing keys by OS2MO (new-style events).
const (
	ObjectOrgUnit = "org_unit"
	ObjectPerson  = "person"
	ObjectAddress = "address"
)

// OrgUnitRequest is the body of POST /api/org_unit. Without UUID, or with one the fake does not
// hold, it creates a unit (Name required; From defaults to now). With a known UUID it updates
// the unit: a non-empty Name renames it, a non-nil Parent moves it, a non-empty UserKey changes
// the user key. UnitType is a class UUID already known to the fake.
type OrgUnitRequest struct {
	UUID     *uuid.UUID `json:"uuid,omitempty"`
	Name     string     `json:"name,omitempty"`
	UserKey  string     `json:"user_key,omitempty"`
	Parent   *uuid.UUID `json:"parent,omitempty"`
	UnitType *uuid.UUID `json:"unit_type,omitempty"`
	From     *time.Time `json:"from,omitempty"`
}

// TerminateRequest is the optional body of POST /api/org_unit/{uuid}/terminate; To defaults to
// now.
type TerminateRequest struct {
	To *time.Time `json:"to,omitempty"`
}

// ChangeResponse is the answer of the mutation API.
type ChangeResponse struct {
	UUID uuid.UUID `json:"uuid"`
	// Created is true when a unit was created rather than updated.
	Created bool `json:"created,omitempty"`
	// EventPublished is true when an OS2MO event was published and confirmed by the broker.
	EventPublished bool `json:"event_published"`
	// Error is set when the change was stored but the event could not be published.
	Error string `json:"error,omitempty"`
}

func (s *Server) handleUpsertOrgUnit(w http.ResponseWriter, r *http.Request) {
	var req OrgUnitRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
		return
	}
	id, created, err := s.upsertOrgUnit(req)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrUnknownObject) {
			status = http.StatusNotFound
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.respondChange(r.Context(), w, status, ChangeResponse{UUID: id, Created: created})
}

func (s *Server) upsertOrgUnit(req OrgUnitRequest) (uuid.UUID, bool, error) {
	if req.UUID != nil {
		if u, ok := s.OrgUnit(*req.UUID); ok {
			if req.Name != "" {
				u.Name = req.Name
			}
			if req.UserKey != "" {
				u.UserKey = req.UserKey
			}
			if req.Parent != nil {
				u.Parent = req.Parent
			}
			if req.UnitType != nil {
				c, err := s.class(*req.UnitType)
				if err != nil {
					return uuid.Nil, false, err
				}
				u.UnitType = &c
			}
			return u.UUID, false, s.UpdateOrgUnit(u)
		}
	}
	if req.Name == "" {
		return uuid.Nil, false, errors.New("name is required to create an org unit")
	}
	u := moclient.OrgUnit{UUID: uuid.New(), Name: req.Name, UserKey: req.UserKey, Parent: req.Parent}
	if req.UUID != nil {
		u.UUID = *req.UUID
	}
	if u.UserKey == "" {
		u.UserKey = u.UUID.String()
	}
	u.Validity.From = s.opts.Now()
	if req.From != nil {
		u.Validity.From = *req.From
	}
	if req.UnitType != nil {
		c, err := s.class(*req.UnitType)
		if err != nil {
			return uuid.Nil, false, err
		}
		u.UnitType = &c
	}
	return u.UUID, true, s.AddOrgUnit(u)
}

func (s *Server) class(id uuid.UUID) (moclient.Class, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.store.classes[id]
	if !ok {
		return moclient.Class{}, fmt.Errorf("class %s: %w", id, ErrUnknownObject)
	}
	return c, nil
}

func (s *Server) handleTerminateOrgUnit(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("uuid"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid UUID in path"})
		return
	}
	var req TerminateRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
			return
		}
	}
	to := s.opts.Now()
	if req.To != nil {
		to = *req.To
	}
	if err := s.TerminateOrgUnit(id, to); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrUnknownObject) {
			status = http.StatusNotFound
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	s.respondChange(r.Context(), w, http.StatusOK, ChangeResponse{UUID: id})
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

// respondChange publishes the org_unit event for a stored change, if a publisher is configured,
// and answers; a failed publish is 502 with the change kept (as when OS2MO's event generator
// lags, the state is already visible over GraphQL).
func (s *Server) respondChange(ctx context.Context, w http.ResponseWriter, status int, resp ChangeResponse) {
	if s.opts.Events != nil {
		if err := s.opts.Events.Publish(ctx, ObjectOrgUnit, resp.UUID); err != nil {
			s.log.ErrorContext(ctx, "publishing OS2MO event failed", "object_type", ObjectOrgUnit, "uuid", resp.UUID, "error", err)
			resp.Error = "stored, but publishing the event failed: " + err.Error()
			writeJSON(w, http.StatusBadGateway, resp)
			return
		}
		resp.EventPublished = true
	}
	s.log.InfoContext(ctx, "org unit changed", "uuid", resp.UUID, "created", resp.Created, "event_published", resp.EventPublished)
	writeJSON(w, status, resp)
}
