package translate

import (
	"time"
	_ "time/tzdata" // Europe/Copenhagen must resolve in a static container without zoneinfo.
)

// copenhagen is the zone all Virkning dates are expressed in. It is immutable once loaded, so a
// package-level value is safe; loading cannot fail because time/tzdata is embedded.
var copenhagen = mustLoad("Europe/Copenhagen")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("translate: load time zone " + name + ": " + err.Error())
	}
	return loc
}

// Day returns local midnight (Europe/Copenhagen) of the calendar day t falls on there. Virkning
// in STS Organisation is date-granular; a zero t stays zero (the open boundary).
func Day(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	l := t.In(copenhagen)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, copenhagen)
}
