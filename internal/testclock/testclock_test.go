package testclock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := New(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %s, want %s", c.Now(), start)
	}
	c.Advance(3 * time.Minute)
	if want := start.Add(3 * time.Minute); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %s, want %s", c.Now(), want)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Fatalf("after Set: %s, want %s", c.Now(), start)
	}
}

func TestOffset(t *testing.T) {
	var o Offset
	if d := time.Since(o.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("the zero Offset is %s away from the real clock", d)
	}
	o.Advance(time.Hour)
	if d := time.Until(o.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after Advance(1h) the clock is %s ahead, want 1h", d)
	}
}
