package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is the page template, parsed once.
var htmlTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("report.html.tmpl").Parse(htmlSource)
})

// WriteHTML writes r as one self-contained HTML page: UTF-8, inline CSS, no scripts and no
// external resources. It has a summary header, a legend, the organisation tree (Report.Tree) with
// each unit's status colour-coded and labelled and its differences (Node.Differences) listed
// under it, and a section for the differences no unit refers to. Units with differences or a
// status other than ok, their ancestors and the top units are expanded (<details open>); a unit
// whose subtree is all ok is collapsed and opens with a click. Every difference's object kind,
// name and UUID is visible text. The markup is also well-formed XML, and characters XML does not
// allow (control characters, invalid UTF-8) are replaced by U+FFFD. It refuses a report that
// fails Validate.
func WriteHTML(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	t, err := htmlTemplate()
	if err != nil {
		return fmt.Errorf("report: parse HTML template: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10) // the template writes in many small pieces
	if err := t.Execute(bw, newHTMLPage(r.Normalized())); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

// htmlPage is the template's view of a normalized report: every string ready to print.
type htmlPage struct {
	Title        string
	InSync       bool
	Headline     string
	Subline      string
	Organisation string
	CVR          string
	Generated    string
	Counts       []htmlCount
	Kinds        []htmlKind
	Statuses     []htmlStatus
	Units        int // nodes in the tree
	Tree         []*htmlNode
	Loose        []htmlDiff // differences no node refers to
}

type htmlCount struct{ Label, MO, STS string }

type htmlKind struct {
	Label, Heading, Description, Class string
	Count                              int
}

type htmlStatus struct {
	Label, Description, Class string
	Count                     int
}

type htmlNode struct {
	Name, UUID          string
	Status              statusText
	Open, Expandable    bool
	Diffs               []htmlDiff
	Children            []*htmlNode
	Below, DiffsBelow   int // units and differences in the subtree, this unit excluded
	DiffCount, BelowTxt string
}

type htmlDiff struct {
	Kind                      kindText
	Object, Name, UUID, Field string
	Owner, MO, STS            string
	NoName                    bool
}

func newHTMLPage(r *Report) *htmlPage {
	p := &htmlPage{
		Organisation: r.Organisation.String(),
		CVR:          xmlText(r.CVR),
		Generated:    formatTime(r.GeneratedAt),
		InSync:       r.InSync(),
	}
	if p.CVR == "" {
		p.CVR = "-"
	}
	s := r.Summary
	if p.InSync {
		p.Headline = "STS Organisation matches OS2MO"
		p.Subline = fmt.Sprintf("%d units, %d users compared%s; no differences.", s.UnitsMO, s.PersonsMO, keptText(s, "; "))
	} else {
		p.Headline = "STS Organisation differs from OS2MO: " + plural(len(r.Differences), "difference", "differences")
		p.Subline = fmt.Sprintf("%d units, %d users compared%s.", s.UnitsMO, s.PersonsMO, keptText(s, "; "))
	}
	p.Title = "stsorgsync verify: " + p.Headline + " (CVR " + p.CVR + ")"
	p.Counts = []htmlCount{
		{"Units", fmt.Sprint(s.UnitsMO), fmt.Sprint(s.UnitsSTS)},
		{"Persons / users", fmt.Sprint(s.PersonsMO), fmt.Sprint(s.UsersSTS)},
		{"Objects read", "", fmt.Sprint(s.ObjectsSTS)},
	}
	if s.KeptUnits != 0 {
		p.Counts = append(p.Counts, htmlCount{"Kept units", "", fmt.Sprint(s.KeptUnits)})
	}
	if s.KeptUsers != 0 {
		p.Counts = append(p.Counts, htmlCount{"Kept users", "", fmt.Sprint(s.KeptUsers)})
	}
	for _, k := range summaryKinds(r) {
		kt := describeKind(k)
		p.Kinds = append(p.Kinds, htmlKind{kt.Label, kt.Heading, kt.Description, kt.Class, s.ByKind[k]})
	}

	referenced := make([]bool, len(r.Differences))
	statusCount := map[Status]int{}
	var build func(n *Node, top bool) *htmlNode
	build = func(n *Node, top bool) *htmlNode {
		statusCount[n.Status]++
		p.Units++
		h := &htmlNode{Name: xmlText(n.Name), UUID: n.UUID.String(), Status: describeStatus(n.Status)}
		if h.Name == "" {
			h.Name = "(no name)"
		}
		for _, i := range n.Differences {
			referenced[i] = true
			d := newHTMLDiff(r.Differences[i])
			if d.Owner == "org_unit:"+h.UUID {
				d.Owner = "" // the unit it is shown under
			}
			h.Diffs = append(h.Diffs, d)
		}
		h.Open = top || len(n.Differences) > 0 || n.Status != StatusOK
		for _, c := range n.Children {
			hc := build(c, false)
			h.Children = append(h.Children, hc)
			h.Below += 1 + hc.Below
			h.DiffsBelow += len(hc.Diffs) + hc.DiffsBelow
			h.Open = h.Open || hc.Open
		}
		h.Expandable = len(h.Diffs) > 0 || len(h.Children) > 0
		if len(h.Diffs) > 0 {
			h.DiffCount = plural(len(h.Diffs), "difference", "differences")
		}
		var below []string
		if h.Below > 0 {
			below = append(below, plural(h.Below, "unit", "units"))
		}
		if h.DiffsBelow > 0 {
			below = append(below, plural(h.DiffsBelow, "difference", "differences"))
		}
		if below != nil {
			h.BelowTxt = strings.Join(below, ", ") + " below"
		}
		return h
	}
	for _, n := range r.Tree {
		p.Tree = append(p.Tree, build(n, true))
	}
	for i, d := range r.Differences {
		if !referenced[i] {
			p.Loose = append(p.Loose, newHTMLDiff(d))
		}
	}
	for _, st := range statuses() {
		t := describeStatus(st)
		p.Statuses = append(p.Statuses, htmlStatus{t.Label, t.Description, t.Class, statusCount[st]})
	}
	return p
}

func newHTMLDiff(d Difference) htmlDiff {
	h := htmlDiff{
		Kind:   describeKind(d.Kind),
		Object: objectLabel(d.ObjectKind),
		Name:   xmlText(d.Name),
		UUID:   d.UUID.String(),
		Field:  xmlText(d.Field),
		Owner:  xmlText(d.Owner),
		MO:     xmlText(d.MO),
		STS:    xmlText(d.STS),
	}
	if h.Name == "" {
		h.Name, h.NoName = "(no name)", true
	}
	return h
}

// xmlText replaces what XML 1.0 does not allow in text (control characters other than tab,
// newline and carriage return, U+FFFE, U+FFFF, surrogates, invalid UTF-8) with U+FFFD, so the page
// stays well-formed XML and browsers show a visible mark instead of nothing.
func xmlText(s string) string {
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' ||
			(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
	}
	clean := utf8.ValidString(s)
	for _, r := range s {
		if !ok(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if !ok(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}
