// Package report is the result of `stsorgsync verify`: the differences between what OS2MO says STS
// Organisation should hold and what it holds, with the organisation tree they belong to, and its
// renderings as a terminal table, JSON for monitoring, and a self-contained HTML page.
package report

import (
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Kind classifies a difference.
type Kind string

// The kinds of difference.
const (
	// MissingInSTS: OS2MO has the object (a relevant unit, a person's user or position, …) and STS
	// does not, or holds it deactivated.
	MissingInSTS Kind = "missing-in-sts"
	// Field: both have the object and a field differs (Field, MO and STS say which and how).
	Field Kind = "field"
	// Stale: STS holds an object active that the sync would end (a terminated position, the user of
	// a person without positions, a manager function of a vacant unit).
	Stale Kind = "stale"
	// Orphan: STS holds an active unit or user that no OS2MO unit or person accounts for (or a
	// function linked to one), whether the sync deactivates it or only reports it
	// (SYNC_ORPHANS=report). The orphans SYNC_KEEP_UUIDS keeps are not differences: the summary
	// counts them (Summary.KeptUnits, KeptUsers) and the tree marks kept units StatusKept.
	Orphan Kind = "orphan"
	// Foreign: STS holds an active object linked to the municipality's units or users that the
	// sync did not write (another tool's UUID, e.g. OS2sync's random function UUIDs).
	Foreign Kind = "foreign"
)

// Difference is one way STS differs from OS2MO. It never holds a CPR number.
type Difference struct {
	Kind       Kind      `json:"kind"`
	ObjectKind oio.Kind  `json:"object_kind"`
	UUID       uuid.UUID `json:"uuid"`
	// Name is the object's name as OS2MO or STS has it, for people reading the report.
	Name string `json:"name,omitempty"`
	// Owner is the bundle key ("org_unit:<uuid>" or "person:<uuid>") the object belongs to, when
	// known.
	Owner string `json:"owner,omitempty"`
	// Unit is the OrganisationEnhed the difference is shown under in the tree (uuid.Nil: the top
	// of the report).
	Unit uuid.UUID `json:"unit"`
	// Field names the differing field for Kind Field: "name", "user_key", "parent", "addresses",
	// "positions", "manager", "kle", "status", "relations", ….
	Field string `json:"field,omitempty"`
	// MO and STS are the field's values on each side (short, human-readable).
	MO  string `json:"mo,omitempty"`
	STS string `json:"sts,omitempty"`
}

// Status of a unit in the tree.
type Status string

// The statuses of a unit.
const (
	StatusOK           Status = "ok"             // the unit and everything under it that it owns match
	StatusDiffers      Status = "differs"        // it or something it owns differs
	StatusMissingInSTS Status = "missing-in-sts" // OS2MO has it, STS does not
	StatusOnlyInSTS    Status = "only-in-sts"    // STS has it active, OS2MO does not export it
	StatusKept         Status = "kept"           // STS has it active, OS2MO does not list it, and it is kept
)

// Node is one unit of the organisation tree.
type Node struct {
	UUID   uuid.UUID `json:"uuid"`
	Name   string    `json:"name"`
	Status Status    `json:"status"`
	// Differences are indexes into Report.Differences shown at this unit. They come before
	// Children so that in JSON a unit's differences stand next to its name, not after its subtree.
	Differences []int   `json:"differences,omitempty"`
	Children    []*Node `json:"children,omitempty"`
}

// Summary counts what was compared and found.
type Summary struct {
	UnitsMO    int `json:"units_mo"`
	UnitsSTS   int `json:"units_sts"`
	PersonsMO  int `json:"persons_mo"`
	UsersSTS   int `json:"users_sts"`
	ObjectsSTS int `json:"objects_sts"`
	// KeptUnits and KeptUsers count the units and users STS holds active that no OS2MO unit or
	// person accounts for and that are kept (SYNC_KEEP_UUIDS): not differences.
	KeptUnits int `json:"kept_units"`
	KeptUsers int `json:"kept_users"`
	// ByKind counts the differences per Kind.
	ByKind map[Kind]int `json:"by_kind"`
}

// Report is the outcome of one verification.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// CVR is the municipality's CVR number; Organisation its Organisation UUID in STS.
	CVR          string       `json:"cvr"`
	Organisation uuid.UUID    `json:"organisation"`
	Summary      Summary      `json:"summary"`
	Tree         []*Node      `json:"tree"`
	Differences  []Difference `json:"differences"`
}

// InSync reports whether no difference was found.
func (r *Report) InSync() bool { return len(r.Differences) == 0 }
