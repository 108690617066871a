package ststest

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Load makes the fake hold objs as STS Organisation would after they were written: each becomes
// its object's latest registration (after any the fake holds already, such as an Organisation
// of Options.Organisations), with its registration time, life cycle and lists as given. It is how
// a fake is filled from `stsorgsync export` (package stsexport; fakests -load). Every object is
// checked first as a laes answer must be (oio.Object.Validate: a kind, a UUID, the schema's
// lists, lengths and patterns) and an object may appear once; if one fails, nothing is loaded.
// Load counts no calls and records no writes.
func (s *Server) Load(objs []*oio.Object) error {
	type key struct {
		kind oio.Kind
		id   uuid.UUID
	}
	seen := make(map[key]bool, len(objs))
	for i, o := range objs {
		if err := o.Validate(); err != nil {
			return fmt.Errorf("ststest: load object %d: %w", i, err)
		}
		k := key{o.Kind, o.UUID}
		if seen[k] {
			return fmt.Errorf("ststest: load object %d: %s %s a second time", i, o.Kind, o.UUID)
		}
		seen[k] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range objs {
		s.appendRegistration(o.Kind, o.UUID, cloneRegistration(o.Registration))
	}
	return nil
}
