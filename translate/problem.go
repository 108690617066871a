package translate

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Problem is something in OS2MO's data the translation had to adjust or leave out: a value
// truncated to the schema's length, an invalid CPR number, an IT account without a usable UUID,
// a period that ends before it starts. Problems never contain CPR numbers, so they may be logged.
type Problem struct {
	// Kind and UUID name the STS object concerned (or the OS2MO object when no STS object
	// results: Kind is empty then).
	Kind oio.Kind
	UUID uuid.UUID
	// Field names the value, e.g. "EnhedNavn" or "CPR-NummerTekst".
	Field string
	// Message says what happened, e.g. "truncated from 230 to 200 characters".
	Message string
}

// String formats the problem for logs.
func (p Problem) String() string {
	obj := p.UUID.String()
	if p.Kind != "" {
		obj = string(p.Kind) + " " + obj
	}
	if p.Field == "" {
		return obj + ": " + p.Message
	}
	return obj + ": " + p.Field + ": " + p.Message
}

// problems collects Problems while one bundle is translated.
type problems struct{ list []Problem }

func (ps *problems) add(kind oio.Kind, id uuid.UUID, field, format string, args ...any) {
	ps.list = append(ps.list, Problem{Kind: kind, UUID: id, Field: field, Message: fmt.Sprintf(format, args...)})
}

// text returns v fit for an XML text value of at most max characters (0 = unlimited): invalid
// UTF-8 and characters XML 1.0 cannot carry are dropped, line breaks are normalised to "\n" (what
// an XML parser reads back), surrounding space is trimmed, and an overlong value is cut at a rune
// boundary. Every change other than trimming is reported.
func (ps *problems) text(kind oio.Kind, id uuid.UUID, field, v string, max int) string {
	clean := cleanText(v)
	if clean != strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")) {
		ps.add(kind, id, field, "characters XML cannot carry were removed")
	}
	if n := utf8.RuneCountInString(clean); max > 0 && n > max {
		clean = strings.TrimSpace(truncateRunes(clean, max))
		ps.add(kind, id, field, "truncated from %d to %d characters", n, max)
	}
	return clean
}

// cleanText drops invalid UTF-8 and characters outside XML 1.0's Char production, normalises
// line breaks and trims surrounding white space.
func cleanText(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	var b strings.Builder
	for i, r := range v {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(v[i:]); size <= 1 {
				continue // invalid byte
			}
		}
		if xmlChar(r) {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func xmlChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// truncateRunes returns the first n runes of s.
func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// normaliseCPR returns the 10 digits of a CPR number written with or without a hyphen or spaces,
// and whether it is valid. It never echoes the number.
func normaliseCPR(v string) (string, bool) {
	v = strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(v))
	if len(v) != 10 {
		return "", false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return v, true
}
