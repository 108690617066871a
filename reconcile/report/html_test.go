package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

func writeHTML(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteHTML(t *testing.T) {
	r := drifted()
	page := writeHTML(t, r)
	doc := parseDOM(t, page, true)

	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n")) {
		t.Error("page does not start with <!DOCTYPE html>")
	}
	if metas := doc.all(func(e *elem) bool { return e.name == "meta" && strings.EqualFold(e.attr["charset"], "utf-8") }); len(metas) != 1 {
		t.Error("page lacks <meta charset=utf-8>")
	}
	// Self-contained and without scripts.
	for _, e := range doc.all(func(e *elem) bool { return true }) {
		switch e.name {
		case "script", "link", "img", "iframe", "object", "embed":
			t.Errorf("page has a <%s> element", e.name)
		}
		for a, v := range e.attr {
			if a == "src" || a == "href" || strings.HasPrefix(a, "on") || strings.Contains(v, "javascript:") {
				t.Errorf("<%s> has attribute %s=%q", e.name, a, v)
			}
		}
	}
	if bytes.Contains(page, []byte("url(")) || bytes.Contains(page, []byte("@import")) {
		t.Error("the CSS loads an external resource")
	}

	// Every difference is visible with its object kind, name and UUID.
	for _, d := range r.Differences {
		name := d.Name
		if name == "" {
			name = "(no name)"
		}
		rs := rows(doc, name, d.UUID.String(), d.Field, d.MO, d.STS)
		if len(rs) != 1 {
			t.Errorf("%s %q %s: %d rows, want 1", d.Kind, name, d.UUID, len(rs))
			continue
		}
		if !rs[0].shown() {
			t.Errorf("%s %q %s: row is hidden (in a closed <details>)", d.Kind, name, d.UUID)
		}
		if !strings.Contains(rs[0].textContent(), d.ObjectKind.ElementName()) {
			t.Errorf("%s %q: row lacks the object kind %s", d.Kind, name, d.ObjectKind.ElementName())
		}
	}

	// Rows under their unit: a unit's difference table follows its summary inside its details.
	buf := unitLines(doc, "Børne- og Ungdomsforvaltningen", uBUF.String())
	if len(buf) != 1 {
		t.Fatalf("unit line of BUF: %d, want 1", len(buf))
	}
	details := buf[0].parent.parent
	if details.name != "details" {
		t.Fatalf("unit line of BUF is in <%s>, want <details><summary>", details.name)
	}
	inBUF := details.all(func(e *elem) bool { return e.name == "tr" && e.hasClass("diff") })
	if len(inBUF) != 4 { // its own 2, Østerbro Skole's and Åbent Værksted's
		var got []string
		for _, e := range inBUF {
			got = append(got, e.textContent())
		}
		t.Errorf("BUF's subtree has %d difference rows, want 4:\n%s", len(inBUF), strings.Join(got, "\n"))
	}

	// Units not ok, and their ancestors, are visible; an all-ok subtree is collapsed.
	for _, u := range []struct {
		name, id string
		shown    bool
		status   string
	}{
		{"Københavns Kommune", uKommune.String(), true, "st-differs"},
		{"Østerbro Skole", uOsterbro.String(), true, "st-missing"},
		{"Gammel enhed", uGammel.String(), true, "st-only"},
		{"Åbent Værksted", uVaerk.String(), true, "st-differs"},
		{"Værksted Nord", uVaerkN.String(), true, "st-ok"},
		{"Økonomiforvaltningen", uOkonomi.String(), true, "st-ok"},
		{"Løn & Personale <HR>", uLon.String(), false, "st-ok"},
		{"Indkøb", uIndkob.String(), false, "st-ok"},
	} {
		ls := unitLines(doc, u.name, u.id)
		if len(ls) != 1 {
			t.Errorf("unit %q: %d unit lines, want 1", u.name, len(ls))
			continue
		}
		if got := ls[0].shown(); got != u.shown {
			t.Errorf("unit %q shown = %v, want %v", u.name, got, u.shown)
		}
		if !ls[0].hasClass(u.status) {
			t.Errorf("unit %q has classes %q, want %s", u.name, ls[0].attr["class"], u.status)
		}
	}

	// Escaped, not interpreted; Danish letters as they are.
	if bytes.Contains(page, []byte("<HR>")) || bytes.Contains(page, []byte("<st. th.>")) {
		t.Error("a name was not escaped")
	}
	for _, want := range []string{"Løn &amp; Personale &lt;HR&gt;", "Søren Ærlig Åberg", "Vej 1 &lt;st. th.&gt; &amp; &#34;Co&#34;"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	text := doc.textContent()
	for _, want := range []string{
		"STS Organisation differs from OS2MO: 11 differences",
		"Differences not under a unit (4)",
		"Organisation tree (10 units)",
		"CVR 64942212",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
}

func TestWriteHTMLInSync(t *testing.T) {
	doc := parseDOM(t, writeHTML(t, inSync()), true)
	text := doc.textContent()
	for _, want := range []string{"STS Organisation matches OS2MO", "3 units, 40 users compared"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if strings.Contains(text, "Differences not under a unit") {
		t.Error("an in-sync page has a section for differences")
	}
	if n := len(doc.all(func(e *elem) bool { return e.name == "tr" && e.hasClass("diff") })); n != 0 {
		t.Errorf("an in-sync page has %d difference rows", n)
	}
	// The top unit is open, so its children show; they are leaves.
	for _, name := range []string{"Københavns Kommune", "Økonomiforvaltningen", "Børne- og Ungdomsforvaltningen"} {
		ls := unitLines(doc, name, "")
		if len(ls) != 1 || !ls[0].shown() {
			t.Errorf("unit %q not shown", name)
		}
	}
}

// TestWriteHTMLOddInput checks that what XML does not allow (control characters, invalid
// UTF-8), empty names, unknown kinds and statuses, and a report without a tree still give a
// well-formed page showing every difference.
func TestWriteHTMLOddInput(t *testing.T) {
	r := &report.Report{
		Differences: []report.Difference{
			{Kind: "renamed-kind", ObjectKind: "somethingnew", UUID: id(1), Name: "ctl\x01\x1b name\xff"},
			{Kind: report.Field, ObjectKind: oio.KindBruger, UUID: id(2), Field: "name", MO: "a\x00b"},
		},
		Tree: []*report.Node{{UUID: id(3), Name: "", Status: "weird", Differences: []int{0}}},
	}
	page := writeHTML(t, r)
	doc := parseDOM(t, page, true)
	for _, want := range []struct{ name, id string }{{"ctl\uFFFD\uFFFD name\uFFFD", id(1).String()}, {"(no name)", id(2).String()}} {
		if rs := rows(doc, want.name, want.id); len(rs) != 1 || !rs[0].shown() {
			t.Errorf("row %q %s not shown once", want.name, want.id)
		}
	}
	ls := unitLines(doc, "(no name)", id(3).String())
	if len(ls) != 1 || !ls[0].hasClass("st-unknown") || !strings.Contains(ls[0].textContent(), "weird") {
		t.Errorf("unit with an unknown status: %d lines", len(ls))
	}
	if !strings.Contains(doc.textContent(), "renamed-kind") {
		t.Error("an unknown kind is not named")
	}
	if doc := parseDOM(t, writeHTML(t, &report.Report{}), true); !strings.Contains(doc.textContent(), "no organisation tree") {
		t.Error("an empty report does not say it has no tree")
	}
}
