package reconcile

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// WriteSummary writes what the plan was made from and what it contains: the counts read, the
// writes per action and object kind, the deactivations against their limit, the orphans (how many
// are only reported, how many kept), and the adoption.
func (p *Plan) WriteSummary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "OS2MO: %s units (%s exported), %s persons\n", thousands(p.UnitsMO), thousands(p.Exported), thousands(p.PersonsMO))
	fmt.Fprintf(bw, "STS:   %s units, %s users, %s functions active; %s objects read\n",
		thousands(p.UnitsSTS), thousands(p.UsersSTS), thousands(p.FunctionsSTS), thousands(p.ObjectsRead))
	fmt.Fprintf(bw, "Plan:  %s %s for %s of %s bundles (%s in sync)\n", thousands(p.Writes), plural(p.Writes, "write", "writes"),
		thousands(p.Changed), thousands(p.Bundles), thousands(p.Bundles-p.Changed))
	keys := slices.SortedFunc(maps.Keys(p.counts), func(a, b writeKind) int {
		return cmp.Or(cmp.Compare(actionRank(a.action), actionRank(b.action)), strings.Compare(string(a.kind), string(b.kind)))
	})
	for _, k := range keys {
		fmt.Fprintf(bw, "  %-14s %-22s %8s\n", k.action, k.kind, thousands(p.counts[k]))
	}
	fmt.Fprintf(bw, "Deactivations of units and users: %s (limit %s); orphans: %s", thousands(p.Deactivations), thousands(p.Limit), thousands(p.Orphans))
	if p.OrphansReported > 0 {
		fmt.Fprintf(bw, " (%s only reported, left active: SYNC_ORPHANS)", thousands(p.OrphansReported))
	}
	var kept []string
	if p.KeptUnits > 0 {
		kept = append(kept, thousands(p.KeptUnits)+" "+plural(p.KeptUnits, "unit", "units"))
	}
	if p.KeptUsers > 0 {
		kept = append(kept, thousands(p.KeptUsers)+" "+plural(p.KeptUsers, "user", "users"))
	}
	if kept != nil {
		fmt.Fprintf(bw, "; kept: %s (SYNC_KEEP_UUIDS)", strings.Join(kept, " and "))
	}
	fmt.Fprintln(bw)
	if p.Problems > 0 {
		fmt.Fprintf(bw, "Translation problems (adjusted OS2MO data, logged at debug level): %s\n", thousands(p.Problems))
	}
	if !p.Adoption.Empty() {
		fmt.Fprintf(bw, "Adoption: %s\n", p.Adoption)
	}
	return bw.Flush()
}

func actionRank(a Action) int {
	return slices.Index([]Action{ActionCreate, ActionReactivate, ActionUpdate, ActionDeactivate, ActionOrphan, ActionForeign, ActionEndRelations}, a)
}

// WriteOps writes one line per planned write, in the order the sync makes them: the operation,
// object kind, UUID, action, name and bundle. With adopt, the address references of other
// tools that the writes end are listed too, one line each.
func (p *Plan) WriteOps(w io.Writer, adopt bool) error {
	bw := bufio.NewWriter(w)
	for _, op := range p.Ops {
		fmt.Fprintf(bw, "%-8s %-20s %s  %-13s %s  %s\n", op.Op, op.Kind, op.UUID, op.Action, strconv.QuoteToGraphic(op.Name), op.Bundle)
		if adopt {
			for _, r := range op.foreign {
				fmt.Fprintf(bw, "%-8s %-20s %s  %-13s %s  %s\n", "", oio.KindAdresse, r.Ref, "foreign-ref", strconv.QuoteToGraphic(roleLabel(r.Rolle)+" reference ended"), op.Bundle)
			}
		}
	}
	return bw.Flush()
}

// WriteOrphans writes one line per orphan the plan leaves active: each reported one
// (OrphanReport) and, with kept, each kept one (Options.Keep), with its action, object kind,
// UUID, name and why OS2MO does not account for it (and why it is kept). The orphans the plan
// deactivates are among its writes (WriteOps).
func (p *Plan) WriteOrphans(w io.Writer, kept bool) error {
	bw := bufio.NewWriter(w)
	for _, orp := range p.OrphanList {
		why := orp.Why
		switch {
		case orp.Action == OrphanKeep && kept:
			why += "; kept: " + orp.Kept
		case orp.Action != OrphanReport:
			continue
		}
		fmt.Fprintf(bw, "%-10s %-20s %s  %s  %s\n", orp.Action, orp.Kind, orp.UUID, strconv.QuoteToGraphic(orp.Name), why)
	}
	return bw.Flush()
}

// WriteAdoption writes one line per object written by another tool that the plan ends: each
// foreign function, and each foreign address reference of the municipality's units and users.
func (p *Plan) WriteAdoption(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, op := range p.Ops {
		if op.Action == ActionForeign {
			fmt.Fprintf(bw, "ended    %-20s %s  %s  %s\n", op.Kind, op.UUID, strconv.QuoteToGraphic(op.Name), op.Bundle)
		}
		for _, r := range op.foreign {
			fmt.Fprintf(bw, "unlinked %-20s %s  %s  %s\n", oio.KindAdresse, r.Ref, strconv.QuoteToGraphic(roleLabel(r.Rolle)+" of "+op.Name), op.Bundle)
		}
	}
	return bw.Flush()
}

// WriteSummary writes the outcome of a sync on a few lines.
func (r *Result) WriteSummary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Sync:  %s bundles written, %s already in sync, %s left to the event path (%s busy, %s written by it meanwhile), %s failed\n",
		thousands(r.Converged), thousands(r.InSync), thousands(r.Busy+r.Changed), thousands(r.Busy), thousands(r.Changed), thousands(len(r.Failed)))
	rate := ""
	if r.Took > 0 && r.Writes > 0 {
		rate = fmt.Sprintf(", %.0f writes/s", float64(r.Writes)/r.Took.Seconds())
	}
	fmt.Fprintf(bw, "STS calls: %s reads, %s writes in %s%s\n", thousands(r.Reads), thousands(r.Writes), r.Took.Round(time.Millisecond), rate)
	for i, f := range r.Failed {
		if i == 20 {
			fmt.Fprintf(bw, "  … and %d more (see the log)\n", len(r.Failed)-i)
			break
		}
		fmt.Fprintf(bw, "  FAILED %s\n", f)
	}
	return bw.Flush()
}
