package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// microBenchmarks are the Go micro-benchmarks of issue 8 item 6, by package.
var microBenchmarks = []struct{ pkg, pattern string }{
	{"./stsclient", "BenchmarkSignRequest|BenchmarkTokenCachedCall"},
	{"./translate", "BenchmarkTranslatePlan|BenchmarkDesiredHash"},
	{"./consumer", "BenchmarkParseEvent"},
}

// microResult is one benchmark line of `go test -bench -benchmem`.
type microResult struct {
	Package     string             `json:"package"`
	Name        string             `json:"name"`
	N           int                `json:"iterations"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Extra       map[string]float64 `json:"extra,omitempty"`
}

// runMicro runs the micro-benchmarks and parses their results; a failing benchmark fails it.
func runMicro(ctx context.Context, goBin, benchtime string, out io.Writer) ([]microResult, error) {
	var all []microResult
	for _, b := range microBenchmarks {
		cmd := exec.CommandContext(ctx, goBin, "test", "-run", "^$", "-bench", "^("+b.pattern+")$", "-benchmem",
			"-benchtime", benchtime, "-count", "1", b.pkg)
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, out)
		cmd.Stderr = io.MultiWriter(&buf, out)
		cmd.Env = append(os.Environ(), "CI=true")
		cmd.WaitDelay = 10 * time.Second
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test -bench %s: %w\n%s", b.pkg, err, tail2(buf.String(), 20))
		}
		res, err := parseBench(&buf)
		if err != nil {
			return nil, err
		}
		if len(res) == 0 {
			return nil, fmt.Errorf("go test -bench '%s' %s ran no benchmark", b.pattern, b.pkg)
		}
		all = append(all, res...)
	}
	return all, nil
}

func tail2(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseBench parses the standard benchmark output format.
func parseBench(r io.Reader) ([]microResult, error) {
	var out []microResult
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's own log line
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		m := microResult{Package: pkg, Name: procSuffix.ReplaceAllString(f[0], ""), N: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			switch f[i+1] {
			case "ns/op":
				m.NsPerOp = v
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			default:
				if m.Extra == nil {
					m.Extra = map[string]float64{}
				}
				m.Extra[f[i+1]] = v
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// pprofTop returns `go tool pprof -top` for the profiles: the header's Duration line and the
// first n rows, flat or by cumulative time.
func pprofTop(ctx context.Context, goBin string, profiles []string, n int, cum bool) ([]string, error) {
	args := []string{"tool", "pprof", "-top", "-nodecount", strconv.Itoa(n)}
	if cum {
		args = append(args, "-cum")
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, profiles...)...)
	data, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %w\n%s", err, data)
	}
	var out []string
	rows := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "Duration:"):
			out = append(out, line)
		case strings.Contains(line, "flat%") && strings.Contains(line, "cum%"):
			rows = true
			out = append(out, line)
		case rows && strings.TrimSpace(line) != "":
			out = append(out, line)
		}
	}
	return out, nil
}
