package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// WriteTable writes r for a person at a terminal. In sync, it is one line saying so, with the
// counts compared (and kept), and one line naming the organisation. With drift, it is a summary
// (what was compared and kept, the differences per kind), then the differences grouped by kind in
// the order of the
// report's Normalized form, one line each with the object kind, name, UUID, field and the OS2MO
// and STS values, in aligned columns. Names and values are printed with control characters
// escaped, so data cannot break the layout or drive the terminal.
func WriteTable(w io.Writer, r *Report) error {
	n := r.Normalized()
	var b bytes.Buffer
	if n.InSync() {
		fmt.Fprintf(&b, "STS Organisation matches OS2MO (%d units, %d users compared%s)\n",
			n.Summary.UnitsMO, n.Summary.PersonsMO, keptText(n.Summary, "; "))
		fmt.Fprintf(&b, "%s\n", identity(n))
	} else {
		writeTableDrift(&b, n)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}
	return nil
}

// identity names the organisation and the time of the comparison, on one line.
func identity(r *Report) string {
	cvr := r.CVR
	if cvr == "" {
		cvr = "-"
	}
	return fmt.Sprintf("Organisation %s, CVR %s, compared %s", r.Organisation, printable(cvr), formatTime(r.GeneratedAt))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "(unknown time)"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

func writeTableDrift(b *bytes.Buffer, r *Report) {
	fmt.Fprintf(b, "STS Organisation differs from OS2MO: %s\n", plural(len(r.Differences), "difference", "differences"))
	fmt.Fprintf(b, "%s\n\n", identity(r))

	// Counts compared and differences per kind, in two aligned blocks (by hand: tabwriter would
	// pad the blank line between them with trailing spaces).
	s := r.Summary
	ks := summaryKinds(r)
	labels := []string{"units", "persons / users", "objects read", "kept units", "kept users"}
	for _, k := range ks {
		labels = append(labels, describeKind(k).Label)
	}
	lw := 0
	for i, l := range labels {
		if (i != 3 || s.KeptUnits != 0) && (i != 4 || s.KeptUsers != 0) {
			lw = max(lw, utf8.RuneCountInString(l))
		}
	}
	nw := len("OS2MO")
	for _, v := range []int{s.UnitsMO, s.UnitsSTS, s.PersonsMO, s.UsersSTS, s.ObjectsSTS, s.KeptUnits, s.KeptUsers} {
		nw = max(nw, len(strconv.Itoa(v)))
	}
	fmt.Fprintf(b, "%-*s  %*s  %*s\n", lw+2, "Compared", nw, "OS2MO", nw, "STS")
	fmt.Fprintf(b, "  %-*s  %*d  %*d\n", lw, labels[0], nw, s.UnitsMO, nw, s.UnitsSTS)
	fmt.Fprintf(b, "  %-*s  %*d  %*d\n", lw, labels[1], nw, s.PersonsMO, nw, s.UsersSTS)
	fmt.Fprintf(b, "  %-*s  %*s  %*d\n", lw, labels[2], nw, "", nw, s.ObjectsSTS)
	// Kept orphans (SYNC_KEEP_UUIDS) are active in STS only, and are not differences.
	if s.KeptUnits != 0 {
		fmt.Fprintf(b, "  %-*s  %*s  %*d\n", lw, labels[3], nw, "", nw, s.KeptUnits)
	}
	if s.KeptUsers != 0 {
		fmt.Fprintf(b, "  %-*s  %*s  %*d\n", lw, labels[4], nw, "", nw, s.KeptUsers)
	}
	fmt.Fprintf(b, "\nDifferences by kind\n")
	for i, k := range ks {
		fmt.Fprintf(b, "  %-*s  %*d\n", lw, labels[5+i], nw, s.ByKind[k])
	}

	for _, g := range groupByKind(r.Differences) {
		kt := describeKind(g.kind)
		fmt.Fprintf(b, "\n%s (%d)\n", kt.Heading, len(g.diffs))
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  OBJECT\tNAME\tUUID\tFIELD\tOS2MO → STS")
		for _, d := range g.diffs {
			name := printable(d.Name)
			if name == "" {
				name = "-"
			}
			field := printable(d.Field)
			if field == "" {
				field = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", objectLabel(d.ObjectKind), name, d.UUID, field, values(d))
		}
		tw.Flush() // into a bytes.Buffer: cannot fail
	}
}

// keptText says how many units and users are kept (SYNC_KEEP_UUIDS), after sep; "" when none.
func keptText(s Summary, sep string) string {
	var parts []string
	if s.KeptUnits != 0 {
		parts = append(parts, plural(s.KeptUnits, "unit", "units"))
	}
	if s.KeptUsers != 0 {
		parts = append(parts, plural(s.KeptUsers, "user", "users"))
	}
	if parts == nil {
		return ""
	}
	return sep + strings.Join(parts, " and ") + " kept (SYNC_KEEP_UUIDS)"
}

// summaryKinds lists the kinds the summary counts: every known kind, then any other kind found.
func summaryKinds(r *Report) []Kind {
	ks := kinds()
	for _, g := range groupByKind(r.Differences) {
		if kindRank(g.kind) == len(kinds()) {
			ks = append(ks, g.kind)
		}
	}
	return ks
}

// values shows a difference's OS2MO and STS values as `"mo" → "sts"`, quoted so that
// whitespace differences show; "-" when neither is given.
func values(d Difference) string {
	if d.MO == "" && d.STS == "" {
		return "-"
	}
	return quoteValue(d.MO) + " → " + quoteValue(d.STS)
}

func quoteValue(s string) string {
	if s == "" {
		return "(none)"
	}
	return strconv.QuoteToGraphic(s)
}

type kindGroup struct {
	kind  Kind
	diffs []Difference
}

// groupByKind splits sorted differences into runs of one kind.
func groupByKind(ds []Difference) []kindGroup {
	var gs []kindGroup
	for _, d := range ds {
		if len(gs) == 0 || gs[len(gs)-1].kind != d.Kind {
			gs = append(gs, kindGroup{kind: d.Kind})
		}
		gs[len(gs)-1].diffs = append(gs[len(gs)-1].diffs, d)
	}
	return gs
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
