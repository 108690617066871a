package reconcile_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/reconcile"
)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressPrinter(t *testing.T) {
	type step struct {
		after time.Duration // since the previous step
		p     reconcile.Progress
	}
	tests := []struct {
		name     string
		terminal bool
		steps    []step
		want     string
	}{
		{
			name: "plain lines every interval, and the end",
			steps: []step{
				{0, reconcile.Progress{Phase: "sync", Done: 0, Total: 1000}},
				{time.Second, reconcile.Progress{Phase: "sync", Done: 100, Total: 1000}}, // too soon
				{5 * time.Second, reconcile.Progress{Phase: "sync", Done: 500, Total: 1000}},
				{5 * time.Second, reconcile.Progress{Phase: "sync", Done: 1000, Total: 1000}},
			},
			want: "sync         0/1,000  0/s\n" +
				"sync         500/1,000  83/s  ETA 6s\n" +
				"sync         1,000/1,000  91/s  done in 11s\n",
		},
		{
			name:     "a bar redrawn in place on a terminal",
			terminal: true,
			steps: []step{
				{0, reconcile.Progress{Phase: "STS", Done: 500}},
				{time.Second, reconcile.Progress{Phase: "sync", Done: 0, Total: 48000}},
				{2 * time.Second, reconcile.Progress{Phase: "sync", Done: 12000, Total: 48000}},
			},
			want: "\rSTS          500  0/s\x1b[K\n" +
				"\rsync         [........................] 0/48,000  0/s\x1b[K" +
				"\rsync         [######..................] 12,000/48,000  6000/s  ETA 6s\x1b[K",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			pp := reconcile.NewProgressPrinter(&out, tt.terminal, clock.now, 5*time.Second)
			for _, s := range tt.steps {
				clock.t = clock.t.Add(s.after)
				pp.Update(s.p)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("output\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestProgressLogLinesDoNotMixWithTheBar: a log line written while the bar is shown clears the
// bar first and redraws it after.
func TestProgressLogLinesDoNotMixWithTheBar(t *testing.T) {
	var out strings.Builder
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	pp := reconcile.NewProgressPrinter(&out, true, clock.now, 0)
	pp.Update(reconcile.Progress{Phase: "sync", Done: 1, Total: 4})
	if _, err := pp.LogWriter().Write([]byte("{\"msg\":\"sts write\"}\n")); err != nil {
		t.Fatal(err)
	}
	pp.Finish()
	want := "\rsync         [######..................] 1/4  0/s\x1b[K" +
		"\r\x1b[K{\"msg\":\"sts write\"}\n" +
		"\rsync         [######..................] 1/4  0/s\x1b[K\n"
	if got := out.String(); got != want {
		t.Errorf("output\n got %q\nwant %q", got, want)
	}
}

// TestProgressLog: without a terminal, progress is a structured record every interval and at
// the end of a phase, never a plain line.
func TestProgressLog(t *testing.T) {
	var out strings.Builder
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	pp := reconcile.NewProgressLog(logger, clock.now, 5*time.Second)
	for _, s := range []struct {
		after time.Duration
		p     reconcile.Progress
	}{
		{0, reconcile.Progress{Phase: "sync", Done: 0, Total: 1000}},
		{time.Second, reconcile.Progress{Phase: "sync", Done: 100, Total: 1000}}, // too soon
		{5 * time.Second, reconcile.Progress{Phase: "sync", Done: 500, Total: 1000}},
		{5 * time.Second, reconcile.Progress{Phase: "sync", Done: 1000, Total: 1000}},
	} {
		clock.t = clock.t.Add(s.after)
		pp.Update(s.p)
	}
	pp.Finish()
	want := `{"level":"INFO","msg":"progress","phase":"sync","done":0,"total":1000,"rate_per_second":0}
{"level":"INFO","msg":"progress","phase":"sync","done":500,"total":1000,"rate_per_second":83.3,"eta_seconds":6}
{"level":"INFO","msg":"progress","phase":"sync","done":1000,"total":1000,"rate_per_second":90.9,"took_seconds":11}
`
	if got := out.String(); got != want {
		t.Errorf("records\n got %s\nwant %s", got, want)
	}
}
