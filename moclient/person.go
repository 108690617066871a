package moclient

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// Person returns the current state of the person id, with IT users, current and future
// engagements and addresses. The error matches [ErrNotFound] when OS2MO does not know id and
// [ErrNotCurrent] when the person exists but is not in effect now; other errors are as for
// [Client.OrgUnit]. Concurrent calls share requests, as for [Client.OrgUnit].
func (c *Client) Person(ctx context.Context, id uuid.UUID) (*model.Person, error) {
	p, known, err := c.people.get(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case !known:
		return nil, fmt.Errorf("person %s: %w", id, ErrNotFound)
	case p == nil:
		return nil, fmt.Errorf("person %s: %w", id, ErrNotCurrent)
	}
	return p, nil
}

// Wire shapes of the Person query (queries/person.graphql).
type (
	wirePerson struct {
		UUID              uuid.UUID         `json:"uuid"`
		UserKey           string            `json:"user_key"`
		Name              string            `json:"name"`
		GivenName         string            `json:"given_name"`
		Surname           string            `json:"surname"`
		Nickname          string            `json:"nickname"`
		NicknameGivenName *string           `json:"nickname_given_name"`
		NicknameSurname   *string           `json:"nickname_surname"`
		CPR               *string           `json:"cpr_number"`
		Validity          wireValidity      `json:"validity"`
		ITUsers           []wireITUser      `json:"itusers"`
		Addresses         []wireAddress     `json:"addresses"`
		AddressHistory    []wireSpan        `json:"address_history"`
		ManagerRoles      []wireManagerRole `json:"manager_roles"`
		ITUserHistory     []wireSpan        `json:"ituser_history"`
		Engagements       struct {
			Objects []struct {
				UUID       uuid.UUID        `json:"uuid"`
				Validities []wireEngagement `json:"validities"`
				History    []struct {
					Validity wireValidity `json:"validity"`
				} `json:"history"`
			} `json:"objects"`
		} `json:"engagements_response"`
	}
	wireEngagement struct {
		UUID           uuid.UUID        `json:"uuid"`
		UserKey        string           `json:"user_key"`
		IsPrimary      bool             `json:"is_primary"`
		Fraction       *int             `json:"fraction"`
		Extension1     *string          `json:"extension_1"`
		Extension2     *string          `json:"extension_2"`
		Extension3     *string          `json:"extension_3"`
		Extension4     *string          `json:"extension_4"`
		Extension5     *string          `json:"extension_5"`
		Extension6     *string          `json:"extension_6"`
		Extension7     *string          `json:"extension_7"`
		Extension8     *string          `json:"extension_8"`
		Extension9     *string          `json:"extension_9"`
		Extension10    *string          `json:"extension_10"`
		JobFunction    wireClass        `json:"job_function"`
		EngagementType wireClass        `json:"engagement_type"`
		OrgUnit        wireUnitResponse `json:"org_unit_response"`
		Validity       wireValidity     `json:"validity"`
	}
	// wireUnitResponse is an org_unit_response with the unit's summary (UnitSummaryFields) now.
	wireUnitResponse struct {
		UUID    uuid.UUID        `json:"uuid"`
		Current *wireUnitSummary `json:"current"`
	}
	wireUnitSummary struct {
		UUID                  uuid.UUID     `json:"uuid"`
		Name                  string        `json:"name"`
		UserKey               string        `json:"user_key"`
		Ancestors             []wireRef     `json:"ancestors"`
		UnitType              *wireClass    `json:"unit_type"`
		OrgUnitLevel          *wireClass    `json:"org_unit_level"`
		OrgUnitHierarchyModel *wireClass    `json:"org_unit_hierarchy_model"`
		ITUsers               []wireITUser  `json:"itusers"`
		Addresses             []wireAddress `json:"addresses"` // only with $unit_addresses
	}
	wireManagerRole struct {
		UUID     uuid.UUID        `json:"uuid"`
		OrgUnit  wireUnitResponse `json:"org_unit_response"`
		Validity wireValidity     `json:"validity"`
	}
)

// toModel returns the summary, or nil when the unit is not in effect now.
func (w *wireUnitSummary) toModel(loc *time.Location) (*model.UnitSummary, error) {
	if w == nil {
		return nil, nil
	}
	s := &model.UnitSummary{UUID: w.UUID, Name: w.Name, UserKey: w.UserKey,
		UnitType: w.UnitType.toModel(), Level: w.OrgUnitLevel.toModel(), Hierarchy: w.OrgUnitHierarchyModel.toModel()}
	for _, a := range w.Ancestors {
		s.Ancestors = append(s.Ancestors, a.UUID)
	}
	var err error
	if s.ITUsers, err = itUsersToModel(w.ITUsers, nil, loc); err != nil {
		return nil, fmt.Errorf("unit %s: %w", w.UUID, err)
	}
	// The query reads no address history for the unit, so Started is the current validity's
	// start.
	if s.Addresses, err = addressesToModel(w.Addresses, nil, loc); err != nil {
		return nil, fmt.Errorf("unit %s: %w", w.UUID, err)
	}
	return s, nil
}

// toModel converts the current state of a person; lifetime are all its validities.
func (w *wirePerson) toModel(loc *time.Location, lifetime []model.Validity) (*model.Person, error) {
	p := &model.Person{
		UUID: w.UUID, UserKey: w.UserKey, Name: w.Name, GivenName: w.GivenName, Surname: w.Surname,
		Nickname: w.Nickname, NicknameGivenName: deref(w.NicknameGivenName), NicknameSurname: deref(w.NicknameSurname),
		CPR: deref(w.CPR),
	}
	var err error
	if p.Validity, err = w.Validity.toModel(loc); err != nil {
		return nil, fmt.Errorf("validity: %w", err)
	}
	p.Validity = livesOn(p.Validity, lifetime)
	if p.ITUsers, err = itUsersToModel(w.ITUsers, w.ITUserHistory, loc); err != nil {
		return nil, err
	}
	if p.Addresses, err = addressesToModel(w.Addresses, w.AddressHistory, loc); err != nil {
		return nil, err
	}
	for _, obj := range w.Engagements.Objects {
		if len(obj.Validities) == 0 {
			continue // matched the filter window but has no validity from now on (cannot happen in OS2MO)
		}
		// The earliest validity from now on is the one in effect now, or else the next one.
		var e model.Engagement
		for i := range obj.Validities {
			cand, err := obj.Validities[i].toModel(loc)
			if err != nil {
				return nil, fmt.Errorf("engagement %s: %w", obj.UUID, err)
			}
			if i == 0 || cand.Validity.From.Before(e.Validity.From) {
				e = cand
			}
		}
		e.UUID = obj.UUID
		e.Start = e.Validity.From
		history := make([]model.Validity, 0, len(obj.History))
		for _, h := range obj.History {
			v, err := h.Validity.toModel(loc)
			if err != nil {
				return nil, fmt.Errorf("engagement %s history: %w", obj.UUID, err)
			}
			if !v.From.IsZero() && v.From.Before(e.Start) {
				e.Start = v.From
			}
			history = append(history, v)
		}
		// A change planned for later (a move, a new title) ends the current validity; the
		// engagement itself lives on.
		e.Validity = livesOn(e.Validity, history)
		p.Engagements = append(p.Engagements, e)
	}
	for _, m := range w.ManagerRoles {
		r := model.ManagerRole{UUID: m.UUID, OrgUnit: m.OrgUnit.UUID}
		if r.Unit, err = m.OrgUnit.Current.toModel(loc); err != nil {
			return nil, fmt.Errorf("manager role %s: %w", m.UUID, err)
		}
		if r.Validity, err = m.Validity.toModel(loc); err != nil {
			return nil, fmt.Errorf("manager role %s validity: %w", m.UUID, err)
		}
		p.ManagerRoles = append(p.ManagerRoles, r)
	}
	return p, nil
}

func (w *wireEngagement) toModel(loc *time.Location) (model.Engagement, error) {
	e := model.Engagement{
		UUID: w.UUID, UserKey: w.UserKey, Primary: w.IsPrimary, Fraction: w.Fraction,
		OrgUnit: w.OrgUnit.UUID, JobFunction: *w.JobFunction.toModel(), EngagementType: *w.EngagementType.toModel(),
	}
	for i, x := range []*string{w.Extension1, w.Extension2, w.Extension3, w.Extension4, w.Extension5,
		w.Extension6, w.Extension7, w.Extension8, w.Extension9, w.Extension10} {
		e.Extensions[i] = deref(x)
	}
	var err error
	if e.Unit, err = w.OrgUnit.Current.toModel(loc); err != nil {
		return model.Engagement{}, err
	}
	if e.Validity, err = w.Validity.toModel(loc); err != nil {
		return model.Engagement{}, fmt.Errorf("validity: %w", err)
	}
	return e, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
