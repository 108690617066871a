package reconcile

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressPrinter shows Progress on a writer (standard error): on a terminal as one line redrawn
// in place (a bar, done/total, rate and ETA), otherwise as a plain line every Interval. It is safe
// for concurrent use. LogWriter returns a writer for log lines that keeps them from mixing with
// the bar.
type ProgressPrinter struct {
	w        io.Writer
	terminal bool
	now      func() time.Time
	interval time.Duration

	mu        sync.Mutex
	phase     string
	started   time.Time // of the phase
	last      time.Time // last drawn
	lastShown Progress
	drawn     bool // a bar is on the terminal line
}

// NewProgressPrinter returns a printer writing to w; terminal selects the redrawn bar. now is the
// clock (nil: time.Now); interval is how often a plain line is written (0: 5 s); the bar is
// redrawn at most ten times a second.
func NewProgressPrinter(w io.Writer, terminal bool, now func() time.Time, interval time.Duration) *ProgressPrinter {
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &ProgressPrinter{w: w, terminal: terminal, now: now, interval: interval}
}

// Update shows p if enough time has passed since the last update, or the phase changed or ended.
func (pp *ProgressPrinter) Update(p Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	now := pp.now()
	if p.Phase != pp.phase {
		if pp.drawn && pp.terminal {
			fmt.Fprintln(pp.w) // keep the finished phase's last line
			pp.drawn = false
		}
		pp.phase, pp.started, pp.last = p.Phase, now, time.Time{}
	}
	finished := p.Total > 0 && p.Done >= p.Total
	every := pp.interval
	if pp.terminal {
		every = 100 * time.Millisecond
	}
	if !finished && !pp.last.IsZero() && now.Sub(pp.last) < every {
		return
	}
	if finished && pp.lastShown == p && !pp.last.IsZero() {
		return
	}
	pp.last, pp.lastShown = now, p
	line := pp.line(p, now)
	if pp.terminal {
		fmt.Fprintf(pp.w, "\r%s\x1b[K", line)
		pp.drawn = true
		return
	}
	fmt.Fprintln(pp.w, line)
}

// Finish ends the bar's line on a terminal.
func (pp *ProgressPrinter) Finish() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.drawn && pp.terminal {
		fmt.Fprintln(pp.w)
	}
	pp.drawn = false
}

// line formats one progress line: "sync [#####.....]  1,200/48,000  410/s  ETA 1m54s".
func (pp *ProgressPrinter) line(p Progress, now time.Time) string {
	elapsed := now.Sub(pp.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.Done) / elapsed.Seconds()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s", p.Phase)
	if p.Total > 0 {
		const width = 24
		filled := min(width, p.Done*width/p.Total)
		if pp.terminal {
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", filled), strings.Repeat(".", width-filled))
		}
		fmt.Fprintf(&b, " %s/%s", thousands(p.Done), thousands(p.Total))
	} else {
		fmt.Fprintf(&b, " %s", thousands(p.Done))
	}
	fmt.Fprintf(&b, "  %.0f/s", rate)
	switch {
	case p.Total > 0 && p.Done >= p.Total:
		fmt.Fprintf(&b, "  done in %s", elapsed.Round(100*time.Millisecond))
	case p.Total > 0 && rate > 0:
		eta := time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// LogWriter returns a writer for log lines: on a terminal it clears the bar before each write
// and redraws it after, so log lines and the bar do not run together.
func (pp *ProgressPrinter) LogWriter() io.Writer { return logWriter{pp} }

type logWriter struct{ pp *ProgressPrinter }

func (l logWriter) Write(b []byte) (int, error) {
	pp := l.pp
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if !pp.terminal || !pp.drawn {
		return pp.w.Write(b)
	}
	fmt.Fprint(pp.w, "\r\x1b[K")
	n, err := pp.w.Write(b)
	fmt.Fprintf(pp.w, "\r%s\x1b[K", pp.line(pp.lastShown, pp.now()))
	return n, err
}

// thousands formats n with commas every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
