package report

import (
	"slices"
	"testing"
)

func TestCompareNames(t *testing.T) {
	want := []string{"Aarhus", "aarhus", "Ebeltoft", "Éclair", "Indkøb", "Zealand", "Ærø", "ærø", "Ødis", "Øster", "Åbenrå"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, compareNames)
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"Løn & Personale": "Løn & Personale",
		"a\tb\nc":         `a\tb\nc`,
		"\x1b[31mrød":     `\x1b[31mrød`,
		"bad\xffutf8":     `bad\xffutf8`,
		`quote " and \`:   `quote " and \`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"Børn & <unge>": "Børn & <unge>",
		"a\x01b\tc":     "a\uFFFDb\tc",
		"bad\xffutf8":   "bad\uFFFDutf8",
		"\uFFFE":        "\uFFFD",
	} {
		if got := xmlText(in); got != want {
			t.Errorf("xmlText(%q) = %q, want %q", in, got, want)
		}
	}
}
