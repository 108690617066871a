//go:build !race

package motest_test

const raceEnabled = false
