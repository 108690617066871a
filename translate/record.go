package translate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// recordVersion starts every encoded Record; a value without it (an older format) does not parse,
// which makes the consumer re-read the whole bundle once.
const recordVersion = "r1"

// recordGone is the per-object hash of an object the bundle deactivates.
const recordGone = "-"

// recordHashLen is how many hex digits of an object's Hash a Record keeps: 64 bits are plenty to
// notice a change of one object, and keep a person's record under a kilobyte.
const recordHashLen = 16

// Record is what the sync last wrote for one bundle: the bundle's Hash and, per object it names,
// the object's Hash (shortened) or "-" for one it deactivates. The consumer keeps it as the
// last-sent value, so that the next change of the bundle reads and writes only the objects whose
// desired state changed (Desired.Since) instead of the whole bundle.
type Record struct {
	Bundle  string
	Objects map[Ref]string
}

// Record returns the bundle's record, to keep after every object of it was written.
func (d Desired) Record() Record {
	hashes := d.objectHashes()
	r := Record{Bundle: d.hashOf(hashes), Objects: make(map[Ref]string, len(d.Objects)+len(d.Deactivate))}
	for i, o := range d.Objects {
		r.Objects[Ref{o.Kind, o.UUID}] = hashes[i][:recordHashLen]
	}
	for _, ref := range d.Deactivate {
		if _, desired := r.Objects[ref]; !desired {
			r.Objects[ref] = recordGone
		}
	}
	return r
}

// String encodes the record: a header line "r1 <bundle hash>" and one line "<kind> <uuid> <hash>"
// per object, sorted, so that equal records encode equally.
func (r Record) String() string {
	refs := slices.Collect(maps.Keys(r.Objects))
	sortRefs(refs)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", recordVersion, r.Bundle)
	for _, ref := range refs {
		fmt.Fprintf(&b, "%s %s %s\n", ref.Kind, ref.UUID, r.Objects[ref])
	}
	return b.String()
}

// ParseRecord decodes a record encoded by Record.String. Any other value (an older format, a
// truncated value) is an error; the caller then treats the bundle as never written.
func ParseRecord(s string) (Record, error) {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	head := strings.Fields(lines[0])
	if len(head) != 2 || head[0] != recordVersion || head[1] == "" {
		return Record{}, fmt.Errorf("last-sent record: header %q is not %q followed by a hash", truncated(lines[0]), recordVersion)
	}
	r := Record{Bundle: head[1], Objects: make(map[Ref]string, len(lines)-1)}
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 3 {
			return Record{}, fmt.Errorf("last-sent record: line %d %q is not \"<kind> <uuid> <hash>\"", i+2, truncated(line))
		}
		id, err := uuid.Parse(f[1])
		if err != nil {
			return Record{}, fmt.Errorf("last-sent record: line %d: %w", i+2, err)
		}
		kind := oio.Kind(f[0])
		if !kind.Valid() {
			return Record{}, fmt.Errorf("last-sent record: line %d: unknown kind %q", i+2, truncated(f[0]))
		}
		r.Objects[Ref{kind, id}] = f[2]
	}
	return r, nil
}

// RecordHash returns the bundle hash in a last-sent record's header (Record.Bundle, which
// Desired.Hash computes), reading the header line only: the event path's no-op check needs no
// more. ok is false when the header is not one ParseRecord accepts.
func RecordHash(s string) (hash string, ok bool) {
	head, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(head)
	if len(f) != 2 || f[0] != recordVersion || f[1] == "" {
		return "", false
	}
	return f[1], true
}

func truncated(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// Since returns the part of d that changed since prev was recorded; cur is d.Record() (passed in
// so that no object is hashed twice). It is for a consumer that trusts
// prev to describe what STS holds: the objects whose hash differs from prev's or that prev lacks,
// the deactivations prev does not already record, and, as deactivations, the objects prev
// recorded as written that d no longer names and full planning would end (a terminated
// engagement's position, the user of a removed AD account). The owners (Units, Users, Person) are kept, so PlanAll still ends what it reads.
// Planning Since against the objects its Refs name makes the same writes as planning d against
// the whole bundle, provided STS still holds what prev says; reading only those objects is what
// keeps a small change at one read and one write per changed object.
func (d Desired) Since(prev, cur Record) Desired {
	out := Desired{Units: d.Units, Users: d.Users, Person: d.Person, Problems: d.Problems, functionTypes: d.functionTypes}
	named := map[Ref]bool{}
	for _, o := range d.Objects {
		ref := Ref{o.Kind, o.UUID}
		named[ref] = true
		if prev.Objects[ref] == cur.Objects[ref] {
			continue
		}
		out.Objects = append(out.Objects, o)
		if t, ok := d.since[o.UUID]; ok {
			out.setSince(o.UUID, t)
		}
	}
	for _, ref := range d.Deactivate {
		if named[ref] {
			continue
		}
		named[ref] = true
		if prev.Objects[ref] != recordGone {
			out.Deactivate = append(out.Deactivate, ref)
		}
	}
	var dropped []Ref
	for ref, h := range prev.Objects {
		// Full planning ends only functions and users that drop out of a bundle (addresses
		// and Person objects are left), so Since does the same.
		endable := ref.Kind == oio.KindOrganisationFunktion || ref.Kind == oio.KindBruger
		if endable && !named[ref] && h != recordGone {
			dropped = append(dropped, ref)
		}
	}
	sortRefs(dropped)
	out.Deactivate = append(out.Deactivate, dropped...)
	return out
}

// Empty reports whether the bundle names nothing to write or deactivate.
func (d Desired) Empty() bool { return len(d.Objects) == 0 && len(d.Deactivate) == 0 }

// Bundle types for BundleKey: the OS2MO object types a bundle is translated from.
const (
	BundleUnit   = "org_unit"
	BundlePerson = "person"
)

// BundleKey is the key, in the state store, of the lease and the last-sent Record of the bundle
// translated from one OS2MO unit (BundleUnit) or person (BundlePerson): "org_unit:<uuid>" or
// "person:<uuid>". The event path and the full synchronisation use the same keys, so they never
// write one bundle at once.
func BundleKey(bundleType string, id uuid.UUID) string { return bundleType + ":" + id.String() }
