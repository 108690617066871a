package main

import (
	"strings"
	"testing"
	"time"
)

func TestTopicMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"org_unit", "org_unit", true},
		{"org_unit", "person", false},
		{"#", "org_unit", true},
		{"#", "employee.address.edit", true},
		{"employee.address.*", "employee.address.edit", true},
		{"employee.address.*", "employee.address", false},
		{"employee.#", "employee.address.edit", true},
		{"employee.#", "employee", true},
		{"*.address.#", "org_unit.address.create", true},
		{"*", "a.b", false},
	} {
		if got := topicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP stsorgsync_events_total OS2MO events settled.
# TYPE stsorgsync_events_total counter
stsorgsync_events_total{class="",outcome="done",type="org_unit"} 300
stsorgsync_events_total{class="",outcome="unhandled",type="kle"} 2
stsorgsync_events_in_flight 3
stsorgsync_build_info{version="a \"quoted\" v"} 1
`
	ms, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d samples, want 4: %+v", len(ms), ms)
	}
	if ms[0].name != "stsorgsync_events_total" || ms[0].labels["outcome"] != "done" || ms[0].labels["type"] != "org_unit" || ms[0].value != 300 {
		t.Errorf("first sample %+v", ms[0])
	}
	if ms[2].name != "stsorgsync_events_in_flight" || ms[2].value != 3 || len(ms[2].labels) != 0 {
		t.Errorf("gauge %+v", ms[2])
	}
	if ms[3].labels["version"] != `a "quoted" v` {
		t.Errorf("escaped label %q", ms[3].labels["version"])
	}
}

func TestParseBench(t *testing.T) {
	in := `goos: linux
pkg: github.com/stsorgsync/stsorgsync/translate
BenchmarkTranslatePlan/unit/initial-2         	    1024	    230040 ns/op	        11.00 ops	   71470 B/op	     515 allocs/op
BenchmarkParseEvent/bare-2 	 5000000	       250.5 ns/op	      48 B/op	       1 allocs/op
BenchmarkFoo logs something
PASS
`
	res, err := parseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(res), res)
	}
	r := res[0]
	if r.Name != "BenchmarkTranslatePlan/unit/initial" || r.N != 1024 || r.NsPerOp != 230040 || r.BytesPerOp != 71470 ||
		r.AllocsPerOp != 515 || r.Extra["ops"] != 11 || r.Package != "github.com/stsorgsync/stsorgsync/translate" {
		t.Errorf("parsed %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	var lats []time.Duration
	for i := 1; i <= 100; i++ {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{.5: 50 * time.Millisecond, .95: 95 * time.Millisecond, .99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := percentile(lats, q); got != want {
			t.Errorf("percentile(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 45000: "45,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}
