package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// elem is a node of a parsed page: an element, or a text node (name "").
type elem struct {
	name     string
	attr     map[string]string
	text     string
	parent   *elem
	children []*elem
}

// parseDOM parses a page into a tree. strict parses it as XML (what WriteHTML writes must be
// well-formed); otherwise as HTML the way encoding/xml can (void elements, attributes without
// values, HTML entities), enough for Chromium's serialisation of the same page.
func parseDOM(t *testing.T, page []byte, strict bool) *elem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	if !strict {
		d.Strict = false
		d.AutoClose = xml.HTMLAutoClose
		d.Entity = xml.HTMLEntity
	}
	root := &elem{name: "#document"}
	cur := root
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse (strict %v): %v", strict, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &elem{name: strings.ToLower(tok.Name.Local), attr: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				e.attr[strings.ToLower(a.Name.Local)] = a.Value
			}
			cur.children = append(cur.children, e)
			cur = e
		case xml.EndElement:
			for c := cur; c != root; c = c.parent {
				if c.name == strings.ToLower(tok.Name.Local) {
					cur = c.parent
					break
				}
			}
		case xml.CharData:
			cur.children = append(cur.children, &elem{text: string(tok), parent: cur})
		}
	}
	if cur != root {
		t.Fatalf("page ends inside <%s>", cur.name)
	}
	return root
}

// textContent is the text of e and its descendants.
func (e *elem) textContent() string {
	var b strings.Builder
	var walk func(*elem)
	walk = func(e *elem) {
		b.WriteString(e.text)
		for _, c := range e.children {
			walk(c)
		}
	}
	walk(e)
	return b.String()
}

// all returns the elements under e (e included) for which keep is true, in document order.
func (e *elem) all(keep func(*elem) bool) []*elem {
	var out []*elem
	var walk func(*elem)
	walk = func(e *elem) {
		if e.name != "" && keep(e) {
			out = append(out, e)
		}
		for _, c := range e.children {
			walk(c)
		}
	}
	walk(e)
	return out
}

func (e *elem) hasClass(c string) bool {
	return slices.Contains(strings.Fields(e.attr["class"]), c)
}

// shown reports whether nothing in the markup hides e: no closed <details> around it (except
// in its <summary>), no hidden attribute or inline display:none, and not in <head>.
func (e *elem) shown() bool {
	var prev *elem
	for c := e; c != nil; prev, c = c, c.parent {
		_, hidden := c.attr["hidden"]
		style := strings.ReplaceAll(c.attr["style"], " ", "")
		_, open := c.attr["open"]
		switch {
		case hidden, strings.Contains(style, "display:none"), c.name == "head":
			return false
		case c.name == "details" && !open && (prev == nil || prev.name != "summary"):
			return false
		}
	}
	return true
}

// rows are the difference rows (<tr class="diff">) whose text holds every one of want.
func rows(doc *elem, want ...string) []*elem {
	return doc.all(func(e *elem) bool {
		if e.name != "tr" || !e.hasClass("diff") {
			return false
		}
		text := e.textContent()
		for _, w := range want {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	})
}

// unitLines are the tree's unit lines whose text holds both name and id.
func unitLines(doc *elem, name, id string) []*elem {
	return doc.all(func(e *elem) bool {
		if !e.hasClass("unit-line") {
			return false
		}
		text := e.textContent()
		return strings.Contains(text, name) && strings.Contains(text, id)
	})
}
