package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stsorgsync/stsorgsync/reconcile/report"
)

// withKept adds two kept units (one a node of the tree) and a kept user to r.
func withKept(r *report.Report) *report.Report {
	r.Summary.KeptUnits, r.Summary.KeptUsers = 2, 1
	r.Tree[0].Children = append(r.Tree[0].Children, &report.Node{UUID: id(0x110), Name: "Eksterne konsulenter", Status: report.StatusKept})
	return r
}

// TestKeptOrphansAreCountedNotReported: the orphans SYNC_KEEP_UUIDS keeps are counted in every
// rendering and marked in the tree, and are not differences (a report with only kept orphans is
// in sync).
func TestKeptOrphansAreCountedNotReported(t *testing.T) {
	tests := []struct {
		name   string
		report *report.Report
		write  func(*bytes.Buffer, *report.Report) error
		want   []string
	}{
		{"table in sync", withKept(inSync()), func(b *bytes.Buffer, r *report.Report) error { return report.WriteTable(b, r) },
			[]string{"STS Organisation matches OS2MO (3 units, 40 users compared; 2 units and 1 user kept (SYNC_KEEP_UUIDS))\n"}},
		{"table with drift", withKept(drifted()), func(b *bytes.Buffer, r *report.Report) error { return report.WriteTable(b, r) },
			[]string{"\n  kept units                  2\n", "\n  kept users                  1\n"}},
		{"JSON", withKept(inSync()), func(b *bytes.Buffer, r *report.Report) error { return report.WriteJSON(b, r) },
			[]string{`"kept_units": 2,`, `"kept_users": 1,`, `"status": "kept"`}},
		{"HTML", withKept(inSync()), func(b *bytes.Buffer, r *report.Report) error { return report.WriteHTML(b, r) },
			[]string{"2 units and 1 user kept (SYNC_KEEP_UUIDS); no differences.", "<td>Kept units</td>", "<td>Kept users</td>",
				`<span class="badge st-kept">kept</span> <span class="name">Eksterne konsulenter</span>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.report.InSync() != (tt.name != "table with drift") {
				t.Fatalf("InSync() = %v: kept orphans must not count as differences", tt.report.InSync())
			}
			var b bytes.Buffer
			if err := tt.write(&b, tt.report); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
