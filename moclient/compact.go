package moclient

import "strings"

// compactDocument returns the GraphQL document doc without what the GraphQL grammar ignores:
// comments, commas, and whitespace other than the single space that separates two names,
// numbers or a name and a spread ("... on"). Strings and block strings are kept as they are.
// The embedded queries explain themselves at length; OS2MO need not receive, read and parse the
// explanations with every request (the Person query shrinks to less than half).
func compactDocument(doc string) string {
	var b strings.Builder
	b.Grow(len(doc))
	space := false // ignored characters were skipped since the last token character
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == '#':
			for i < len(doc) && doc[i] != '\n' && doc[i] != '\r' {
				i++
			}
			space = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
			space = true
		case strings.HasPrefix(doc[i:], "\ufeff"): // a byte order mark is ignored too
			i += len("\ufeff")
			space = true
		default:
			if space && b.Len() > 0 && !punctuator(lastByte(&b)) && !punctuator(c) {
				b.WriteByte(' ')
			}
			space = false
			n := tokenEnd(doc, i)
			b.WriteString(doc[i:n])
			i = n
		}
	}
	return b.String()
}

// tokenEnd returns where the string or block string starting at i ends, or i+1 for any other
// character.
func tokenEnd(doc string, i int) int {
	switch {
	case strings.HasPrefix(doc[i:], `"""`):
		for j := i + 3; j < len(doc); j++ {
			switch {
			case strings.HasPrefix(doc[j:], `\"""`):
				j += 3
			case strings.HasPrefix(doc[j:], `"""`):
				return j + 3
			}
		}
		return len(doc)
	case doc[i] == '"':
		for j := i + 1; j < len(doc); j++ {
			switch doc[j] {
			case '\\':
				j++
			case '"', '\n', '\r':
				return j + 1
			}
		}
		return len(doc)
	}
	return i + 1
}

// punctuator reports whether c is one of GraphQL's one-character punctuators (or a string's
// quote), next to which no space is needed.
func punctuator(c byte) bool {
	return strings.IndexByte(`!$&()[]{}:=@|"`, c) >= 0
}

func lastByte(b *strings.Builder) byte {
	s := b.String()
	return s[len(s)-1]
}
