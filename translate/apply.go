package translate

import (
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Apply returns the object STS holds after op is performed on current (nil: missing), as the
// service stores it: importer stores the sent registration with LivscyklusKode Importeret (and
// is refused for an existing, not passivated object); ret replaces the three lists and keeps the
// rest (and is refused for a missing or passivated object). It is a pure model of the two
// operations, for tests, dry runs and the idempotence property (re-planning against the result
// of a plan yields nothing). current is not modified.
func Apply(current *oio.Object, op Operation) (*oio.Object, error) {
	switch op.Op {
	case OpImport:
		if current.Exists() {
			return nil, fmt.Errorf("importer %s: already exists", op.Ref())
		}
		o := cloneObject(op.Object)
		o.Registration.Livscyklus = oio.LivscyklusImporteret
		return &o, nil
	case OpUpdate:
		if !current.Exists() {
			return nil, fmt.Errorf("ret %s: does not exist", op.Ref())
		}
		if current.Kind != op.Object.Kind || current.UUID != op.Object.UUID {
			return nil, fmt.Errorf("ret %s: applied to %s %s", op.Ref(), current.Kind, current.UUID)
		}
		o := cloneObject(*current)
		src := cloneObject(op.Object)
		if !op.Object.Registration.Tidspunkt.IsZero() {
			o.Registration.Tidspunkt = op.Object.Registration.Tidspunkt
		}
		o.Registration.Egenskaber = src.Registration.Egenskaber
		o.Registration.Gyldighed = src.Registration.Gyldighed
		o.Registration.Relationer = src.Registration.Relationer
		return &o, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op.Op)
}

// ApplyAll performs ops in order on state (UUID → object), as Apply does; it stops at the first
// refused operation.
func ApplyAll(state map[uuid.UUID]*oio.Object, ops []Operation) error {
	for _, op := range ops {
		o, err := Apply(state[op.Object.UUID], op)
		if err != nil {
			return err
		}
		state[op.Object.UUID] = o
	}
	return nil
}

func cloneObject(o oio.Object) oio.Object {
	o.Registration.Egenskaber = slices.Clone(o.Registration.Egenskaber)
	o.Registration.Gyldighed = slices.Clone(o.Registration.Gyldighed)
	o.Registration.Relationer = slices.Clone(o.Registration.Relationer)
	return o
}
