package motest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

type name struct{ n string }

func (d name) key() string { return d.n }

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

// show renders a history as "[from,to)=state" per validity, days of January 2026; "∞" open.
func show(h *hist[name]) string {
	var parts []string
	for _, v := range h.vs {
		to := "∞"
		if !v.val.To.IsZero() {
			to = fmt.Sprint(v.val.To.Day())
		}
		parts = append(parts, fmt.Sprintf("[%d,%s)=%s", v.val.From.Day(), to, v.d.n))
	}
	return strings.Join(parts, " ")
}

func TestHistoryChangeAndEnd(t *testing.T) {
	rename := func(n string) func(*name) { return func(d *name) { d.n = n } }
	tests := []struct {
		name    string
		ops     func(h *hist[name]) error
		want    string
		wantErr string
	}{
		{"change splits the open validity", func(h *hist[name]) error { return h.change(day(10), rename("B")) }, "[1,10)=A [10,∞)=B", ""},
		{"change at the start replaces", func(h *hist[name]) error { return h.change(day(1), rename("B")) }, "[1,∞)=B", ""},
		{"change before the start changes all", func(h *hist[name]) error { return h.change(day(1).AddDate(0, 0, -5), rename("B")) }, "[1,∞)=B", ""},
		{"two changes", func(h *hist[name]) error {
			return errors.Join(h.change(day(10), rename("B")), h.change(day(20), rename("C")))
		}, "[1,10)=A [10,20)=B [20,∞)=C", ""},
		{"change in the middle changes the rest", func(h *hist[name]) error {
			return errors.Join(h.change(day(20), rename("C")), h.change(day(10), rename("B")))
		}, "[1,10)=A [10,20)=B [20,∞)=B", ""},
		{"end cuts short", func(h *hist[name]) error { _, err := h.end(day(15)); return err }, "[1,15)=A", ""},
		{"end drops later validities", func(h *hist[name]) error {
			_ = h.change(day(20), rename("C"))
			_, err := h.end(day(15))
			return err
		}, "[1,15)=A", ""},
		{"end on the first day leaves an empty validity", func(h *hist[name]) error { _, err := h.end(day(1)); return err }, "[1,1)=A", ""},
		{"end before the start fails", func(h *hist[name]) error { _, err := h.end(day(1).AddDate(0, 0, -1)); return err }, "[1,∞)=A", "before its start"},
		{"change after the end fails", func(h *hist[name]) error {
			_, _ = h.end(day(15))
			return h.change(day(16), rename("B"))
		}, "[1,15)=A", "not in effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHist(uuid.New(), model.Validity{From: day(1)}, name{"A"})
			err := tt.ops(h)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := show(h); got != tt.want {
				t.Fatalf("history %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHistoryQueries(t *testing.T) {
	h := newHist(uuid.New(), model.Validity{From: day(1)}, name{"A"})
	_ = h.change(day(10), func(d *name) { d.n = "B" })
	_, _ = h.end(day(20))
	tests := []struct {
		name, got, want string
	}{
		{"at before", fmt.Sprint(h.at(day(1).AddDate(0, 0, -1)) == nil), "true"},
		{"at first", h.at(day(5)).d.n, "A"},
		{"at switch", h.at(day(10)).d.n, "B"},
		{"at end is outside", fmt.Sprint(h.at(day(20)) == nil), "true"},
		{"nowOrLast after the end", h.nowOrLast(day(25)).d.n, "B"},
		{"nowOrLast before the start", h.nowOrLast(day(1).AddDate(0, 0, -3)).d.n, "A"},
		{"within all", fmt.Sprint(len(h.within(nil, nil))), "2"},
		{"within from day 12", fmt.Sprint(len(h.within(ptr(day(12)), nil))), "1"},
		{"within to day 3", fmt.Sprint(len(h.within(nil, ptr(day(3))))), "1"},
		{"within after the end", fmt.Sprint(len(h.within(ptr(day(20)), nil))), "0"},
		{"boundary at the end", fmt.Sprint(h.hasBoundary(day(19), day(20))), "true"},
		{"no boundary in between", fmt.Sprint(h.hasBoundary(day(11), day(19))), "false"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
