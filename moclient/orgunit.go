package moclient

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// OrgUnit returns the current state of the organisation unit id. The error matches
// [ErrNotFound] when OS2MO does not know id and [ErrNotCurrent] when the unit exists but is not
// in effect now (terminated or future); other errors are [*GraphQLError], [*TransientError],
// [*AuthError] or [*HTTPError], wrapped.
//
// Concurrent calls share requests: reads that arrive while earlier ones are under way go
// together in one batched query (see maxBatchesInFlight).
func (c *Client) OrgUnit(ctx context.Context, id uuid.UUID) (*model.OrgUnit, error) {
	u, known, err := c.units.get(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case !known:
		return nil, fmt.Errorf("org unit %s: %w", id, ErrNotFound)
	case u == nil:
		return nil, fmt.Errorf("org unit %s: %w", id, ErrNotCurrent)
	}
	return u, nil
}

// Wire shapes of the OrgUnit query (queries/org_unit.graphql). They mirror the GraphQL selection
// and are converted to the model; they are not part of the API.
type (
	wireRef struct {
		UUID uuid.UUID `json:"uuid"`
	}
	wireClass struct {
		UUID    uuid.UUID `json:"uuid"`
		UserKey string    `json:"user_key"`
		Name    string    `json:"name"`
		Scope   *string   `json:"scope"`
	}
	wireValidity struct {
		From *string `json:"from"` // null only in a person's OpenValidity
		To   *string `json:"to"`
	}
	wireAddress struct {
		UUID        uuid.UUID    `json:"uuid"`
		Value       string       `json:"value"`
		Name        *string      `json:"name"`
		AddressType wireClass    `json:"address_type"`
		Visibility  *wireClass   `json:"visibility"`
		Engagement  *wireRef     `json:"engagement_response"`
		ITUser      *wireRef     `json:"ituser_response"`
		Validity    wireValidity `json:"validity"`
	}
	// wireSpan is one validity of an object (its history).
	wireSpan struct {
		UUID     uuid.UUID    `json:"uuid"`
		Validity wireValidity `json:"validity"`
	}
	wireManager struct {
		UUID           uuid.UUID `json:"uuid"`
		PersonResponse *struct {
			UUID    uuid.UUID `json:"uuid"`
			Current *struct {
				ITUsers []wireITUser `json:"itusers"`
			} `json:"current"`
		} `json:"person_response"`
		Validity wireValidity `json:"validity"`
	}
	wireKLE struct {
		UUID       uuid.UUID    `json:"uuid"`
		KLENumber  []wireClass  `json:"kle_number"`
		KLEAspects []wireClass  `json:"kle_aspects"`
		Validity   wireValidity `json:"validity"`
	}
	wireITUser struct {
		UUID        uuid.UUID `json:"uuid"`
		UserKey     string    `json:"user_key"`
		ExternalID  *string   `json:"external_id"`
		ITSystem    wireClass `json:"itsystem"`
		Engagements struct {
			Objects []wireRef `json:"objects"`
		} `json:"engagements_responses"`
		Validity wireValidity `json:"validity"`
	}
	// wireParent is a unit's parent: its UUID and its IT users.
	wireParent struct {
		UUID    uuid.UUID    `json:"uuid"`
		ITUsers []wireITUser `json:"itusers"`
	}
	wireOrgUnit struct {
		UUID                  uuid.UUID     `json:"uuid"`
		Name                  string        `json:"name"`
		UserKey               string        `json:"user_key"`
		Parent                *wireParent   `json:"parent"`
		Ancestors             []wireRef     `json:"ancestors"`
		UnitType              *wireClass    `json:"unit_type"`
		OrgUnitLevel          *wireClass    `json:"org_unit_level"`
		OrgUnitHierarchyModel *wireClass    `json:"org_unit_hierarchy_model"`
		Addresses             []wireAddress `json:"addresses"`
		AddressHistory        []wireSpan    `json:"address_history"`
		ManagerHistory        []wireSpan    `json:"manager_history"`
		KLEHistory            []wireSpan    `json:"kle_history"`
		ITUserHistory         []wireSpan    `json:"ituser_history"`
		Managers              []wireManager `json:"managers"`
		KLEs                  []wireKLE     `json:"kles"`
		ITUsers               []wireITUser  `json:"itusers"`
		Validity              wireValidity  `json:"validity"`
	}
)

// lifetimes groups the validities of a history by object.
func lifetimes(history []wireSpan, loc *time.Location) (map[uuid.UUID][]model.Validity, error) {
	out := map[uuid.UUID][]model.Validity{}
	for _, h := range history {
		v, err := h.Validity.toModel(loc)
		if err != nil {
			return nil, fmt.Errorf("%s history: %w", h.UUID, err)
		}
		out[h.UUID] = append(out[h.UUID], v)
	}
	return out, nil
}

// validities converts a list of OS2MO validities.
func validities(in []wireValidity, loc *time.Location) ([]model.Validity, error) {
	out := make([]model.Validity, 0, len(in))
	for _, w := range in {
		v, err := w.toModel(loc)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// livesOn returns v with its end moved to the end of the object's life: an edit in OS2MO ends
// the current validity where the next one begins, but the object lives on through every validity
// of history that follows without a gap. Only a real end (a termination, or a gap) ends it.
func livesOn(v model.Validity, history []model.Validity) model.Validity {
	for seen := 0; !v.To.IsZero() && seen <= len(history); seen++ {
		next := slices.IndexFunc(history, func(h model.Validity) bool { return h.From.Equal(v.To) })
		if next < 0 {
			break
		}
		v.To = history[next].To
	}
	return v
}

// toModel converts the current state of a unit; lifetime are all its validities.
func (w *wireOrgUnit) toModel(loc *time.Location, lifetime []model.Validity) (*model.OrgUnit, error) {
	u := &model.OrgUnit{
		UUID:      w.UUID,
		Name:      w.Name,
		UserKey:   w.UserKey,
		UnitType:  w.UnitType.toModel(),
		Level:     w.OrgUnitLevel.toModel(),
		Hierarchy: w.OrgUnitHierarchyModel.toModel(),
	}
	var err error
	if u.Validity, err = w.Validity.toModel(loc); err != nil {
		return nil, fmt.Errorf("validity: %w", err)
	}
	u.Validity = livesOn(u.Validity, lifetime)
	managers, err := lifetimes(w.ManagerHistory, loc)
	if err != nil {
		return nil, fmt.Errorf("manager %w", err)
	}
	kles, err := lifetimes(w.KLEHistory, loc)
	if err != nil {
		return nil, fmt.Errorf("KLE %w", err)
	}
	if w.Parent != nil {
		p := w.Parent.UUID
		u.Parent = &p
		if u.ParentITUsers, err = itUsersToModel(w.Parent.ITUsers, nil, loc); err != nil {
			return nil, fmt.Errorf("parent %s: %w", p, err)
		}
	}
	for _, a := range w.Ancestors {
		u.Ancestors = append(u.Ancestors, a.UUID)
	}
	if u.Addresses, err = addressesToModel(w.Addresses, w.AddressHistory, loc); err != nil {
		return nil, err
	}
	for _, m := range w.Managers {
		mgr := model.Manager{UUID: m.UUID}
		if p := m.PersonResponse; p != nil {
			id := p.UUID
			mgr.Person = &id
			mgr.PersonGone = p.Current == nil
			if p.Current != nil {
				if mgr.PersonITUsers, err = itUsersToModel(p.Current.ITUsers, nil, loc); err != nil {
					return nil, fmt.Errorf("manager %s: %w", m.UUID, err)
				}
			}
		}
		if mgr.Validity, err = m.Validity.toModel(loc); err != nil {
			return nil, fmt.Errorf("manager %s validity: %w", m.UUID, err)
		}
		mgr.Validity = livesOn(mgr.Validity, managers[m.UUID])
		u.Managers = append(u.Managers, mgr)
	}
	for _, k := range w.KLEs {
		kle := model.KLE{UUID: k.UUID}
		for _, n := range k.KLENumber {
			kle.Numbers = append(kle.Numbers, *n.toModel())
		}
		for _, a := range k.KLEAspects {
			kle.Aspects = append(kle.Aspects, *a.toModel())
		}
		if kle.Validity, err = k.Validity.toModel(loc); err != nil {
			return nil, fmt.Errorf("KLE %s validity: %w", k.UUID, err)
		}
		kle.Validity = livesOn(kle.Validity, kles[k.UUID])
		u.KLE = append(u.KLE, kle)
	}
	if u.ITUsers, err = itUsersToModel(w.ITUsers, w.ITUserHistory, loc); err != nil {
		return nil, err
	}
	return u, nil
}

// addressesToModel converts addresses, with the start of each one's earliest validity from
// history; a nil or empty input gives nil.
func addressesToModel(in []wireAddress, history []wireSpan, loc *time.Location) ([]model.Address, error) {
	lives, err := lifetimes(history, loc)
	if err != nil {
		return nil, fmt.Errorf("address %w", err)
	}
	started := map[uuid.UUID]time.Time{}
	for id, vs := range lives {
		for _, v := range vs {
			if s, ok := started[id]; !ok || v.From.Before(s) {
				started[id] = v.From
			}
		}
	}
	var out []model.Address
	for _, a := range in {
		addr := model.Address{UUID: a.UUID, Type: *a.AddressType.toModel(), Visibility: a.Visibility.toModel(), Value: a.Value,
			Engagement: a.Engagement.id(), ITUser: a.ITUser.id()}
		if a.Name != nil {
			addr.Name = *a.Name
		}
		var err error
		if addr.Validity, err = a.Validity.toModel(loc); err != nil {
			return nil, fmt.Errorf("address %s validity: %w", a.UUID, err)
		}
		addr.Validity = livesOn(addr.Validity, lives[a.UUID])
		addr.Started = addr.Validity.From
		if s, ok := started[a.UUID]; ok && s.Before(addr.Started) {
			addr.Started = s
		}
		out = append(out, addr)
	}
	return out, nil
}

// itUsersToModel converts IT users, each living on through its history's validities (nil: the
// current validity is taken as it is); a nil or empty input gives nil.
func itUsersToModel(in []wireITUser, history []wireSpan, loc *time.Location) ([]model.ITUser, error) {
	lives, err := lifetimes(history, loc)
	if err != nil {
		return nil, fmt.Errorf("IT user %w", err)
	}
	var out []model.ITUser
	for _, it := range in {
		itu := model.ITUser{UUID: it.UUID, UserKey: it.UserKey, ITSystem: *it.ITSystem.toModel()}
		for _, e := range it.Engagements.Objects {
			itu.Engagements = append(itu.Engagements, e.UUID)
		}
		if it.ExternalID != nil {
			itu.ExternalID = *it.ExternalID
		}
		var err error
		if itu.Validity, err = it.Validity.toModel(loc); err != nil {
			return nil, fmt.Errorf("IT user %s validity: %w", it.UUID, err)
		}
		itu.Validity = livesOn(itu.Validity, lives[it.UUID])
		out = append(out, itu)
	}
	return out, nil
}

// id returns a copy of the referenced UUID, or nil for a null reference.
func (r *wireRef) id() *uuid.UUID {
	if r == nil {
		return nil
	}
	id := r.UUID
	return &id
}

func (w *wireClass) toModel() *model.Class {
	if w == nil {
		return nil
	}
	c := &model.Class{UUID: w.UUID, UserKey: w.UserKey, Name: w.Name}
	if w.Scope != nil {
		c.Scope = *w.Scope
	}
	return c
}

func (w wireValidity) toModel(loc *time.Location) (model.Validity, error) {
	var v model.Validity
	var err error
	if w.From != nil {
		if v.From, err = ParseTime(*w.From, loc); err != nil {
			return model.Validity{}, fmt.Errorf("from: %w", err)
		}
	}
	if w.To != nil {
		last, err := ParseTime(*w.To, loc)
		if err != nil {
			return model.Validity{}, fmt.Errorf("to: %w", err)
		}
		v.To = exclusiveEnd(last, loc)
	}
	return v, nil
}

// exclusiveEnd turns OS2MO's "to" into the exclusive end the model uses. Up to GraphQL v28
// (the queries are written for v25) OS2MO reports "to" as the start of the last valid day, off by
// one (fixed in v29): "2024-01-31T00:00:00+01:00" means valid through 31 January, so the period
// ends at the start of 1 February, Copenhagen time. A "to" with a time of day is not a day: it
// is an exact end (an OS2MO that keeps intervals exact to the second) and is kept as it is.
func exclusiveEnd(last time.Time, loc *time.Location) time.Time {
	last = last.In(loc)
	if h, m, s := last.Clock(); h != 0 || m != 0 || s != 0 || last.Nanosecond() != 0 {
		return last
	}
	return time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc)
}

// mutoTime formats an instant for OS2MO's DateTime: RFC 3339 with the offset and every digit of
// the fraction. Truncating to whole seconds would read "as of" up to a second earlier and miss a
// change that took effect within that second (OS2MO from v29 keeps intervals exact).
func mutoTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// ParseTime parses an OS2MO DateTime or Date as an instant in loc (normally Europe/Copenhagen).
// Values with an offset ("2021-01-01T00:00:00+01:00") keep their instant; values without one,
// and plain dates ("2021-01-01", local midnight), are read as local time in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("moclient: unrecognised OS2MO time %q", s)
}
