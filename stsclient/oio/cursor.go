package oio

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// cursor walks the child elements of one element in order, so that reading a schema sequence
// with opt/req/many and finishing with end checks element order, cardinality and namespaces.
type cursor struct {
	path string
	kids []*etree.Element
	i    int
}

func newCursor(el *etree.Element, path string) (*cursor, error) {
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok && !cd.IsWhitespace() {
			return nil, invalidf(path, "unexpected text %q", cd.Data)
		}
	}
	return &cursor{path: path, kids: el.ChildElements()}, nil
}

func invalidf(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...))
}

// is reports whether el is {ns}tag.
func is(el *etree.Element, ns, tag string) bool {
	return el.Tag == tag && el.NamespaceURI() == ns
}

func qname(el *etree.Element) string { return "{" + el.NamespaceURI() + "}" + el.Tag }

// opt consumes and returns the next child if it is {ns}tag, else returns nil.
func (c *cursor) opt(ns, tag string) *etree.Element {
	if c.i < len(c.kids) && is(c.kids[c.i], ns, tag) {
		c.i++
		return c.kids[c.i-1]
	}
	return nil
}

// req consumes the next child, which must be {ns}tag.
func (c *cursor) req(ns, tag string) (*etree.Element, error) {
	if el := c.opt(ns, tag); el != nil {
		return el, nil
	}
	if c.i < len(c.kids) {
		return nil, invalidf(c.path, "expected %s, found %s", tag, qname(c.kids[c.i]))
	}
	return nil, invalidf(c.path, "missing %s", tag)
}

// many consumes all consecutive {ns}tag children.
func (c *cursor) many(ns, tag string) []*etree.Element {
	var out []*etree.Element
	for el := c.opt(ns, tag); el != nil; el = c.opt(ns, tag) {
		out = append(out, el)
	}
	return out
}

// next returns the next child without consuming it, or nil.
func (c *cursor) next() *etree.Element {
	if c.i < len(c.kids) {
		return c.kids[c.i]
	}
	return nil
}

// end fails if children are left.
func (c *cursor) end() error {
	if c.i < len(c.kids) {
		return invalidf(c.path, "unexpected element %s", qname(c.kids[c.i]))
	}
	return nil
}

// text returns the text of a simple-content element.
func text(el *etree.Element, path string) (string, error) {
	if len(el.ChildElements()) > 0 {
		return "", invalidf(path, "%s must not have child elements", el.Tag)
	}
	return el.Text(), nil
}

func boundedText(el *etree.Element, path string, max int) (string, error) {
	s, err := text(el, path)
	if err == nil && max > 0 && utf8.RuneCountInString(s) > max {
		err = invalidf(path, "%s longer than %d characters", el.Tag, max)
	}
	return s, err
}

var uuidPattern = regexp.MustCompile(`^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$`)

func uuidText(el *etree.Element, path string) (uuid.UUID, error) {
	s, err := text(el, path)
	if err != nil {
		return uuid.Nil, err
	}
	if !uuidPattern.MatchString(s) {
		return uuid.Nil, invalidf(path, "%s %q is not a UUID", el.Tag, s)
	}
	return uuid.MustParse(s), nil
}

// timeText parses an xs:dateTime that carries an explicit offset.
func timeText(el *etree.Element, path string) (time.Time, error) {
	s, err := text(el, path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, invalidf(path, "%s %q is not a dateTime with offset", el.Tag, s)
	}
	return t, nil
}

func intText(el *etree.Element, path string) (int, error) {
	s, err := text(el, path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, invalidf(path, "%s %q is not an integer", el.Tag, s)
	}
	return n, nil
}

// unikUUID reads a UnikIdType element (choice UUIDIdentifikator | URNIdentifikator) that must
// hold a UUID, optionally followed by sd:Label (UuidLabelInputType), which is ignored.
func unikUUID(el *etree.Element, path string, allowLabel bool) (uuid.UUID, error) {
	path += "/" + el.Tag
	c, err := newCursor(el, path)
	if err != nil {
		return uuid.Nil, err
	}
	idEl, err := c.req(NSSagDok, "UUIDIdentifikator")
	if err != nil {
		return uuid.Nil, err
	}
	id, err := uuidText(idEl, path)
	if err != nil {
		return uuid.Nil, err
	}
	if allowLabel {
		c.opt(NSSagDok, "Label")
	}
	return id, c.end()
}
