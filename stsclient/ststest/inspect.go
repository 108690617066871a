package ststest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// CallsView is the JSON of GET /_inspect/calls.
type CallsView struct {
	Total int            `json:"total"`
	Calls map[string]int `json:"calls"` // by "kind/operation"
}

// ObjectView is one object in the JSON of GET /_inspect/objects/{kind}: the latest
// registration, with the values in effect now picked out for humans.
type ObjectView struct {
	UUID          string                    `json:"uuid"`
	Kind          oio.Kind                  `json:"kind"`
	Livscyklus    oio.Livscyklus            `json:"livscyklus"`
	Registered    time.Time                 `json:"registered"`
	Registrations int                       `json:"registrations"`
	Key           string                    `json:"bvn,omitempty"`       // BrugervendtNoegle in effect now
	Name          string                    `json:"name,omitempty"`      // Navn in effect now
	Parent        string                    `json:"parent,omitempty"`    // Overordnet in effect now
	Gyldighed     oio.GyldighedStatus       `json:"gyldighed,omitempty"` // state in effect now
	Relations     map[string][]RelationView `json:"relations,omitempty"`
}

// RelationView is one relation in an ObjectView.
type RelationView struct {
	Ref    string    `json:"ref"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`
	Rolle  string    `json:"rolle,omitempty"`
	Type   string    `json:"type,omitempty"`
	Indeks string    `json:"indeks,omitempty"`
}

func (s *Server) serveCalls(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, CallsView{Total: s.TotalCalls(), Calls: s.Calls()})
}

func (s *Server) serveObjects(w http.ResponseWriter, r *http.Request) {
	kind := oio.Kind(r.PathValue("kind"))
	if !kind.Valid() {
		http.Error(w, "unknown kind", http.StatusNotFound)
		return
	}
	now := s.opts.Now()
	views := []ObjectView{}
	for _, o := range s.Objects(kind) {
		views = append(views, s.view(o, now))
	}
	writeJSON(w, views)
}

func (s *Server) view(o *oio.Object, now time.Time) ObjectView {
	reg := o.Registration
	v := ObjectView{UUID: o.UUID.String(), Kind: o.Kind, Livscyklus: reg.Livscyklus,
		Registered: reg.Tidspunkt, Registrations: len(s.History(o.Kind, o.UUID))}
	for _, e := range reg.Egenskaber {
		if e.Virkning.Covers(now) {
			v.Key, v.Name = e.BrugervendtNoegle, e.Navn
		}
	}
	for _, g := range reg.Gyldighed {
		if g.Virkning.Covers(now) {
			v.Gyldighed = g.Status
		}
	}
	for _, rel := range reg.Relationer {
		ref := rel.URN
		if ref == "" {
			ref = rel.Ref.String()
		}
		if rel.Name == oio.RelOverordnet && rel.Virkning.Covers(now) {
			v.Parent = ref
		}
		if v.Relations == nil {
			v.Relations = map[string][]RelationView{}
		}
		rv := RelationView{Ref: ref, From: rel.Virkning.From, To: rel.Virkning.To, Indeks: rel.Indeks}
		if oio.DynamicRelation(rel.Name) {
			rv.Rolle, rv.Type = rel.Rolle.String(), rel.Type.String()
		}
		v.Relations[string(rel.Name)] = append(v.Relations[string(rel.Name)], rv)
	}
	return v
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
