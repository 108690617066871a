package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// kindText is how the renderings name and explain a difference kind.
type kindText struct {
	Label       string // short, in a summary line or a badge
	Heading     string // heads the kind's group of differences
	Description string // for the legend
	Class       string // CSS class suffix
}

func describeKind(k Kind) kindText {
	switch k {
	case MissingInSTS:
		return kindText{"missing in STS", "Missing in STS",
			"OS2MO has the object; STS does not, or holds it inactive.", "missing"}
	case Field:
		return kindText{"field", "Field differences",
			"Both have the object; a field differs (OS2MO → STS).", "field"}
	case Stale:
		return kindText{"stale", "Stale in STS",
			"STS holds active an object the sync would end: a terminated position, the user of a person without positions, the manager function of a vacant unit.", "stale"}
	case Orphan:
		return kindText{"orphan", "Orphans in STS",
			"STS holds active an object with a UUID the sync writes that no OS2MO unit or person accounts for.", "orphan"}
	case Foreign:
		return kindText{"foreign", "Written by other tools",
			"STS holds active an object linked to the municipality's units or users that the sync did not write (e.g. OS2sync's random-UUID functions and addresses).", "foreign"}
	}
	s := string(k)
	if s == "" {
		s = "(no kind)"
	}
	return kindText{s, s, "", "unknown"}
}

// statusText is how the renderings name and explain a unit status.
type statusText struct {
	Label       string
	Description string
	Class       string
}

func describeStatus(s Status) statusText {
	switch s {
	case StatusOK:
		return statusText{"ok", "The unit and what it owns match.", "ok"}
	case StatusDiffers:
		return statusText{"differs", "The unit or something it owns differs.", "differs"}
	case StatusMissingInSTS:
		return statusText{"missing in STS", "OS2MO has the unit; STS does not.", "missing"}
	case StatusOnlyInSTS:
		return statusText{"only in STS", "STS has the unit active; OS2MO does not export it.", "only"}
	case StatusKept:
		return statusText{"kept", "STS has the unit active; OS2MO does not list it, and it is kept (SYNC_KEEP_UUIDS): not a difference.", "kept"}
	}
	l := string(s)
	if l == "" {
		l = "(no status)"
	}
	return statusText{l, "", "unknown"}
}

// objectLabel names an object kind as STS's schema does ("OrganisationEnhed").
func objectLabel(k oio.Kind) string {
	if n := k.ElementName(); n != "" {
		return n
	}
	if k == "" {
		return "-"
	}
	return printable(string(k))
}

// printable makes s safe for one terminal line: control and other non-graphic characters
// (including tab and newline, which would break the table, and ESC, which could drive the
// terminal) and invalid UTF-8 are written as Go escapes; everything else, æøå included, is kept.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\"`, `"`)
}
