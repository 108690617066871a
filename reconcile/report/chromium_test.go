//go:build unix

package report_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// visibilityProbe is appended to the page the test renders (never to what WriteHTML writes):
// it records in the DOM what Chromium's layout says is visible, for --dump-dom to report. It
// avoids < and & so that encoding/xml can read the dump.
const visibilityProbe = `<script>
document.querySelectorAll("tr.diff, span.unit-line").forEach(function (e) {
  e.setAttribute("data-visible", String(e.checkVisibility()));
});
</script>`

// TestHTMLInChromium renders the drifted report in headless Chromium (Debian package
// chromium), takes a screenshot and checks from the rendered DOM that every difference and
// every unit that is not ok is visible and the all-ok subtree is collapsed. The page and the
// screenshot are kept with go test -artifacts -outputdir DIR.
func TestHTMLInChromium(t *testing.T) {
	bin := lookChromium(t)
	dir := t.ArtifactDir()
	page := filepath.Join(dir, "verify-report.html")
	shot := filepath.Join(dir, "verify-report.png")

	r := drifted()
	html := writeHTML(t, r)
	probed := bytes.Replace(html, []byte("</body>"), []byte(visibilityProbe+"\n</body>"), 1)
	if err := os.WriteFile(page, probed, 0o644); err != nil {
		t.Fatal(err)
	}

	// One browser start does both: the screenshot and the DOM after layout.
	start := time.Now()
	dom := runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--dump-dom",
		(&url.URL{Scheme: "file", Path: page}).String())
	t.Logf("chromium took %v; page and screenshot in %s", time.Since(start).Round(time.Millisecond), dir)

	checkScreenshot(t, shot)

	doc := parseDOM(t, dom, false)
	if n := len(doc.all(func(e *elem) bool { _, ok := e.attr["data-visible"]; return ok })); n == 0 {
		t.Fatalf("the visibility probe did not run; dumped DOM:\n%s", dom)
	}
	visible := func(e *elem) bool { return e.attr["data-visible"] == "true" && e.shown() }
	for _, d := range r.Differences {
		name := d.Name
		if name == "" {
			name = "(no name)"
		}
		rs := rows(doc, name, d.UUID.String(), d.Field, d.MO, d.STS)
		if len(rs) != 1 || !visible(rs[0]) {
			t.Errorf("%s %q %s is not visible in Chromium (%d rows)", d.Kind, name, d.UUID, len(rs))
		}
	}
	for _, u := range []struct {
		name, id string
		visible  bool
	}{
		{"Københavns Kommune", uKommune.String(), true},
		{"Børne- og Ungdomsforvaltningen", uBUF.String(), true},
		{"Østerbro Skole", uOsterbro.String(), true},
		{"Åbent Værksted", uVaerk.String(), true},
		{"Gammel enhed", uGammel.String(), true},
		{"Teknik- og Miljøforvaltningen", uTMF.String(), true},
		{"Økonomiforvaltningen", uOkonomi.String(), true},
		{"Løn & Personale <HR>", uLon.String(), false}, // in the collapsed all-ok subtree
	} {
		ls := unitLines(doc, u.name, u.id)
		if len(ls) != 1 {
			t.Errorf("unit %q: %d unit lines in Chromium's DOM, want 1", u.name, len(ls))
			continue
		}
		if got := visible(ls[0]); got != u.visible {
			t.Errorf("unit %q visible in Chromium = %v, want %v (data-visible=%q)", u.name, got, u.visible, ls[0].attr["data-visible"])
		}
	}
}

// lookChromium returns the chromium binary; without it the test is skipped, or fails when
// CI=true (CI installs the Debian package chromium).
func lookChromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium not found (apt-get install chromium): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// runChromium runs headless Chromium with a fresh profile and returns its standard output. It
// runs in its own process group, which is killed when the test's deadline or one minute passes
// and after Chromium exits, so no renderer outlives the test.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	home := t.TempDir()
	args = append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(home, "profile"),
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
		"--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home,
		"DBUS_SESSION_BUS_ADDRESS=disabled:")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers of our own group, if any
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = errors.Join(err, ctx.Err())
		}
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 30))
	}
	return stdout.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkScreenshot checks that the PNG decodes, has the window's size, is not blank, and shows
// the colours of the statuses the drifted tree has.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() < 1000 {
		t.Errorf("screenshot is %dx%d, want 1280 wide and at least 1000 high", b.Dx(), b.Dy())
	}
	// The unit lines' colour bars (CSS --differs, --missing, --only) are solid areas.
	targets := []struct {
		name string
		c    color.RGBA
	}{
		{"differs", color.RGBA{0x8a, 0x4b, 0x00, 0xff}},
		{"missing-in-sts", color.RGBA{0xb7, 0x1c, 0x1c, 0xff}},
		{"only-in-sts", color.RGBA{0x5b, 0x1a, 0x8c, 0xff}},
	}
	distinct := map[color.RGBA]bool{}
	hits := make([]int, len(targets))
	// Screenshots are opaque, so RGBA and NRGBA pixels are read alike, without img.At's
	// allocation per pixel.
	pixel := func(x, y int) color.RGBA {
		r, g, bl, _ := img.At(x, y).RGBA()
		return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0xff}
	}
	var pix []uint8
	stride := 0
	switch img := img.(type) {
	case *image.RGBA:
		pix, stride = img.Pix, img.Stride
	case *image.NRGBA:
		pix, stride = img.Pix, img.Stride
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var c color.RGBA
			if pix != nil {
				i := (y-b.Min.Y)*stride + (x-b.Min.X)*4
				c = color.RGBA{pix[i], pix[i+1], pix[i+2], 0xff}
			} else {
				c = pixel(x, y)
			}
			if x%4 == 0 && y%4 == 0 {
				distinct[c] = true
			}
			for i, t := range targets {
				if near(c, t.c) {
					hits[i]++
				}
			}
		}
	}
	if len(distinct) < 50 {
		t.Errorf("screenshot has %d colours; it looks blank", len(distinct))
	}
	for i, tg := range targets {
		if hits[i] < 20 {
			t.Errorf("screenshot shows hardly any of the %s colour %v (%d pixels)", tg.name, tg.c, hits[i])
		}
	}
}

// near reports whether c is within a small distance of want (rendering may shift a colour
// slightly).
func near(c, want color.RGBA) bool {
	return diff(c.R, want.R) <= 6 && diff(c.G, want.G) <= 6 && diff(c.B, want.B) <= 6
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
