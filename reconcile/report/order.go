package report

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// kinds lists the difference kinds in the order the renderings show them.
func kinds() []Kind { return []Kind{MissingInSTS, Field, Stale, Orphan, Foreign} }

// statuses lists the unit statuses in the order the legends show them.
func statuses() []Status {
	return []Status{StatusOK, StatusDiffers, StatusMissingInSTS, StatusOnlyInSTS, StatusKept}
}

// kindRank orders kinds as kinds lists them; unknown kinds come after, by name.
func kindRank(k Kind) int {
	if i := slices.Index(kinds(), k); i >= 0 {
		return i
	}
	return len(kinds())
}

func compareKinds(a, b Kind) int {
	return cmp.Or(cmp.Compare(kindRank(a), kindRank(b)), cmp.Compare(a, b))
}

// objectKinds is the order of object kinds within one difference kind: units, users,
// functions, addresses, then the rest by name.
func objectKinds() []oio.Kind {
	return []oio.Kind{
		oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion, oio.KindAdresse,
		oio.KindPerson, oio.KindOrganisation, oio.KindItSystem,
	}
}

func compareObjectKinds(a, b oio.Kind) int {
	order := objectKinds()
	rank := func(k oio.Kind) int {
		if i := slices.Index(order, k); i >= 0 {
			return i
		}
		return len(order)
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
}

// compareDifferences is the canonical order of differences: by kind (as kinds lists them), object
// kind, name (Danish alphabetical order), UUID, field, and the remaining fields, so that equal
// results sort equally whatever order the comparison produced them in.
func compareDifferences(a, b Difference) int {
	return cmp.Or(
		compareKinds(a.Kind, b.Kind),
		compareObjectKinds(a.ObjectKind, b.ObjectKind),
		compareNames(a.Name, b.Name),
		slices.Compare(a.UUID[:], b.UUID[:]),
		strings.Compare(a.Field, b.Field),
		strings.Compare(a.MO, b.MO),
		strings.Compare(a.STS, b.STS),
		strings.Compare(a.Owner, b.Owner),
		slices.Compare(a.Unit[:], b.Unit[:]),
	)
}

func compareNodes(a, b *Node) int {
	return cmp.Or(compareNames(a.Name, b.Name), slices.Compare(a.UUID[:], b.UUID[:]),
		cmp.Compare(a.Status, b.Status))
}

// compareNames orders names as a Danish reader expects: case-insensitively, with æ, ø and å
// after z (ä and ö as æ and ø, ü as y, é and è as e); exact bytes break ties. The digraph "aa"
// is not treated as å.
func compareNames(a, b string) int {
	ra, rb := a, b
	for ra != "" && rb != "" {
		ca, na := utf8.DecodeRuneInString(ra)
		cb, nb := utf8.DecodeRuneInString(rb)
		if c := cmp.Compare(collationWeight(ca), collationWeight(cb)); c != 0 {
			return c
		}
		ra, rb = ra[na:], rb[nb:]
	}
	return cmp.Or(cmp.Compare(len(ra), len(rb)), strings.Compare(a, b))
}

// collationWeight maps a rune to its primary weight for compareNames. Ordinary runes weigh four
// times their lower-case code point, which leaves room for æ, ø and å right after z.
func collationWeight(r rune) int {
	r = unicode.ToLower(r)
	switch r {
	case 'æ', 'ä':
		return 'z'*4 + 1
	case 'ø', 'ö':
		return 'z'*4 + 2
	case 'å':
		return 'z'*4 + 3
	case 'ü':
		r = 'y'
	case 'é', 'è', 'ê', 'ë':
		r = 'e'
	}
	return int(r) * 4
}

// Validate checks the report's structure: no nil node, no node reached twice in the tree (which
// would make it render forever or twice), and every index in Node.Differences within
// Report.Differences. The renderings call it and refuse an invalid report.
func (r *Report) Validate() error {
	var errs []error
	seen := map[*Node]bool{}
	var walk func(path string, nodes []*Node)
	walk = func(path string, nodes []*Node) {
		for i, n := range nodes {
			switch {
			case n == nil:
				errs = append(errs, fmt.Errorf("tree%s[%d] is nil", path, i))
				continue
			case seen[n]:
				errs = append(errs, fmt.Errorf("unit %s (%s) appears more than once in the tree", n.UUID, n.Name))
				continue
			}
			seen[n] = true
			for _, d := range n.Differences {
				if d < 0 || d >= len(r.Differences) {
					errs = append(errs, fmt.Errorf("unit %s (%s) refers to difference %d; the report has %d",
						n.UUID, n.Name, d, len(r.Differences)))
				}
			}
			walk(fmt.Sprintf("%s[%d].children", path, i), n.Children)
		}
	}
	walk("", r.Tree)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid report: %w", err)
	}
	return nil
}

// Normalized returns a deep copy of a valid report (see Validate) in canonical order, as the
// renderings show it: differences sorted (by kind in the order of kinds, object kind, name, UUID,
// field, …) with every Node.Differences renumbered to match, sorted and without repeats; the
// tree's siblings sorted by name (Danish order) and UUID; Summary.ByKind recomputed from the
// differences, with every known kind present (0 if none); Tree and Differences non-nil, and
// each node's Children and Differences nil when empty. Of an invalid report, indexes out of
// range, nil nodes and repeated nodes are dropped. r is not modified.
func (r *Report) Normalized() *Report {
	out := *r
	order := make([]int, len(r.Differences))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return compareDifferences(r.Differences[a], r.Differences[b])
	})
	newIndex := make([]int, len(r.Differences))
	out.Differences = make([]Difference, len(r.Differences))
	for to, from := range order {
		out.Differences[to] = r.Differences[from]
		newIndex[from] = to
	}

	out.Summary.ByKind = make(map[Kind]int, len(kinds()))
	for _, k := range kinds() {
		out.Summary.ByKind[k] = 0
	}
	for _, d := range out.Differences {
		out.Summary.ByKind[d.Kind]++
	}

	seen := map[*Node]bool{} // a node reached twice (invalid) is copied once
	var copyNodes func([]*Node) []*Node
	copyNodes = func(nodes []*Node) []*Node {
		var cp []*Node
		for _, n := range nodes {
			if n == nil || seen[n] {
				continue
			}
			seen[n] = true
			c := &Node{UUID: n.UUID, Name: n.Name, Status: n.Status, Children: copyNodes(n.Children)}
			for _, d := range n.Differences {
				if d >= 0 && d < len(newIndex) {
					c.Differences = append(c.Differences, newIndex[d])
				}
			}
			slices.Sort(c.Differences)
			c.Differences = slices.Compact(c.Differences)
			cp = append(cp, c)
		}
		slices.SortStableFunc(cp, compareNodes)
		return cp
	}
	out.Tree = copyNodes(r.Tree)
	if out.Tree == nil {
		out.Tree = []*Node{}
	}
	return &out
}
