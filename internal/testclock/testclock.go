// Package testclock provides the clocks tests inject where code takes a `func() time.Time`: a
// settable clock that stands still until moved, and the real clock with an offset that tests move
// on (for a process that must see time pass, such as a fake server's tokens, and jump ahead, such
// as OS2MO's re-offer delay). Both are safe for concurrent use.
package testclock

import (
	"sync"
	"time"
)

// Clock stands at a time until Advance or Set moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Offset is the real clock moved on by Advance: it runs like time.Now, ahead by the sum of the
// advances. The zero value is the real clock.
type Offset struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the real time plus the offset.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().Add(o.offset)
}

// Advance moves the clock on by d.
func (o *Offset) Advance(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.offset += d
}
