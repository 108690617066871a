package reconcile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
)

// ProgressPrinter shows Progress: on a terminal as one line redrawn in place (a bar, done/total,
// rate and ETA; NewProgressPrinter), otherwise as a structured log record every interval
// (NewProgressLog), so a log that is not a terminal holds log records only. It is safe for
// concurrent use. LogWriter returns a writer for log lines that keeps them from mixing with the
// bar.
type ProgressPrinter struct {
	w        io.Writer
	terminal bool
	log      *slog.Logger // set: progress goes to this logger as records
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

// NewProgressLog returns a printer that logs progress to logger as "progress" records (phase,
// done, total, rate_per_second, eta_seconds or took_seconds) every interval (0: 5 s) and at the
// end of each phase. now is the clock (nil: time.Now).
func NewProgressLog(logger *slog.Logger, now func() time.Time, interval time.Duration) *ProgressPrinter {
	pp := NewProgressPrinter(io.Discard, false, now, interval)
	pp.log = logger
	return pp
}

// Update shows p if enough time has passed since the last update, or the phase changed or ended.
func (pp *ProgressPrinter) Update(p Progress) {
	if attrs := pp.update(p); attrs != nil {
		pp.log.LogAttrs(context.Background(), slog.LevelInfo, "progress", attrs...)
	}
}

// update draws p, or returns the attributes of the record to log (outside the lock: the logger
// may write through LogWriter).
func (pp *ProgressPrinter) update(p Progress) []slog.Attr {
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
		return nil
	}
	if finished && pp.lastShown == p && !pp.last.IsZero() {
		return nil
	}
	pp.last, pp.lastShown = now, p
	if pp.log != nil {
		return pp.attrs(p, now)
	}
	line := pp.line(p, now)
	if pp.terminal {
		fmt.Fprintf(pp.w, "\r%s\x1b[K", line)
		pp.drawn = true
		return nil
	}
	fmt.Fprintln(pp.w, line)
	return nil
}

// attrs are the attributes of a progress record.
func (pp *ProgressPrinter) attrs(p Progress, now time.Time) []slog.Attr {
	elapsed := now.Sub(pp.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.Done) / elapsed.Seconds()
	}
	attrs := []slog.Attr{slog.String("phase", p.Phase), slog.Int("done", p.Done)}
	if p.Total > 0 {
		attrs = append(attrs, slog.Int("total", p.Total))
	}
	attrs = append(attrs, slog.Float64("rate_per_second", math.Round(rate*10)/10))
	switch {
	case p.Total > 0 && p.Done >= p.Total:
		attrs = append(attrs, slog.Float64("took_seconds", elapsed.Round(time.Millisecond).Seconds()))
	case p.Total > 0 && rate > 0:
		attrs = append(attrs, slog.Float64("eta_seconds", math.Round(float64(p.Total-p.Done)/rate)))
	}
	return attrs
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
