package motest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// ver is one validity of an object: its state d during [val.From, val.To) (zero To: open-ended).
type ver[T any] struct {
	id  uuid.UUID
	val model.Validity
	d   T
}

// hist is the history of one object: its validities in time order, not overlapping. An object
// terminated on its first day keeps one empty validity [From, From), so OS2MO still "knows" it.
type hist[T any] struct {
	id uuid.UUID
	vs []*ver[T]
}

func newHist[T any](id uuid.UUID, v model.Validity, d T) *hist[T] {
	return &hist[T]{id: id, vs: []*ver[T]{{id: id, val: v, d: d}}}
}

// at returns the validity containing t, or nil.
func (h *hist[T]) at(t time.Time) *ver[T] {
	if h == nil {
		return nil
	}
	for _, v := range h.vs {
		if validAt(v.val, t) {
			return v
		}
	}
	return nil
}

// within returns the validities that meet the closed window [from, to] (nil bounds: unbounded).
func (h *hist[T]) within(from, to *time.Time) []*ver[T] {
	if h == nil {
		return nil
	}
	var out []*ver[T]
	for _, v := range h.vs {
		if overlaps(v.val, from, to) {
			out = append(out, v)
		}
	}
	return out
}

// nowOrLast returns the validity containing t, else the first one starting after t, else the last
// (nil for a nil history).
func (h *hist[T]) nowOrLast(t time.Time) *ver[T] {
	if h == nil {
		return nil
	}
	if v := h.at(t); v != nil {
		return v
	}
	for _, v := range h.vs {
		if v.val.From.After(t) {
			return v
		}
	}
	return h.vs[len(h.vs)-1]
}

// start is the earliest start over all validities.
func (h *hist[T]) start() time.Time { return h.vs[0].val.From }

// errNotInEffect means a change was asked for a date at or after which the object has no validity.
var errNotInEffect = errors.New("not in effect at or after that date")

// change applies f to the object's state from "from" onward, splitting the validity that
// contains from, as an OS2MO edit without an end date does. f gets a copy of each later state and
// must replace, not modify, any slices in it.
func (h *hist[T]) change(from time.Time, f func(*T)) error {
	var out []*ver[T]
	changed := false
	for _, v := range h.vs {
		if !v.val.To.IsZero() && !v.val.To.After(from) {
			out = append(out, v)
			continue
		}
		changed = true
		if v.val.From.Before(from) {
			head := &ver[T]{id: h.id, val: model.Validity{From: v.val.From, To: from}, d: v.d}
			tail := &ver[T]{id: h.id, val: model.Validity{From: from, To: v.val.To}, d: v.d}
			f(&tail.d)
			out = append(out, head, tail)
			continue
		}
		nv := &ver[T]{id: h.id, val: v.val, d: v.d}
		f(&nv.d)
		out = append(out, nv)
	}
	if !changed {
		return fmt.Errorf("%s: %w %s", h.id, errNotInEffect, from.Format(time.RFC3339))
	}
	h.vs = out
	return nil
}

// end terminates the object at to (exclusive): later validities are dropped and the one containing
// to is cut short. It reports whether anything changed; ending before the object's start is an
// error, ending at or after its current end changes nothing.
func (h *hist[T]) end(to time.Time) (bool, error) {
	if to.Before(h.start()) {
		return false, fmt.Errorf("%s: end %s is before its start %s", h.id, to.Format(time.RFC3339), h.start().Format(time.RFC3339))
	}
	last := h.vs[len(h.vs)-1].val
	if !last.To.IsZero() && !to.Before(last.To) {
		return false, nil
	}
	out := make([]*ver[T], 0, len(h.vs))
	for _, v := range h.vs {
		if !v.val.From.Before(to) && len(out) > 0 {
			break
		}
		nv := &ver[T]{id: h.id, val: v.val, d: v.d}
		if nv.val.To.IsZero() || nv.val.To.After(to) {
			nv.val.To = to
		}
		out = append(out, nv)
	}
	h.vs = out
	return true, nil
}

// hasBoundary reports whether a validity starts or ends in (since, until].
func (h *hist[T]) hasBoundary(since, until time.Time) bool {
	in := func(t time.Time) bool { return !t.IsZero() && t.After(since) && !t.After(until) }
	for _, v := range h.vs {
		if in(v.val.From) || in(v.val.To) {
			return true
		}
	}
	return false
}

// keyed is implemented by the stored states: the object's user key.
type keyed interface{ key() string }

// table holds all objects of one type, with their UUIDs sorted for keyset pagination.
type table[T keyed] struct {
	m      map[uuid.UUID]*hist[T]
	sorted []uuid.UUID
	dirty  bool
	// day, when set, maps every validity boundary of a stored history to the start of its day
	// (OS2MO ≤ v28's date granularity).
	day func(time.Time) time.Time
}

func newTable[T keyed](day func(time.Time) time.Time) *table[T] {
	return &table[T]{m: map[uuid.UUID]*hist[T]{}, day: day}
}

func (t *table[T]) get(id uuid.UUID) *hist[T] { return t.m[id] }

func (t *table[T]) put(h *hist[T]) {
	if _, ok := t.m[h.id]; !ok {
		t.dirty = true
	}
	if t.day != nil {
		for _, v := range h.vs {
			v.val = model.Validity{From: dayOrZero(t.day, v.val.From), To: dayOrZero(t.day, v.val.To)}
		}
	}
	t.m[h.id] = h
}

// dayOrZero is day(x), or zero for a zero x (an open bound).
func dayOrZero(day func(time.Time) time.Time, x time.Time) time.Time {
	if x.IsZero() {
		return x
	}
	return day(x)
}

func (t *table[T]) del(id uuid.UUID) {
	if _, ok := t.m[id]; ok {
		delete(t.m, id)
		t.dirty = true
	}
}

// finish re-sorts the UUIDs after changes; the store calls it before releasing its write lock.
func (t *table[T]) finish() {
	if !t.dirty {
		return
	}
	t.sorted = t.sorted[:0]
	for id := range t.m {
		t.sorted = append(t.sorted, id)
	}
	slices.SortFunc(t.sorted, compareUUID)
	t.dirty = false
}

func compareUUID(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

// validAt reports whether v contains the instant t ([From, To), zero To open-ended; a zero From,
// which only persons have, is unbounded).
func validAt(v model.Validity, t time.Time) bool {
	return !t.Before(v.From) && (v.To.IsZero() || t.Before(v.To))
}

// overlaps reports whether v meets the closed window [from, to]; nil bounds are unbounded.
func overlaps(v model.Validity, from, to *time.Time) bool {
	if to != nil && v.From.After(*to) {
		return false
	}
	if from != nil && !v.To.IsZero() && !v.To.After(*from) {
		return false
	}
	return true
}
