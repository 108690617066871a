package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
)

// Exit codes of `stsorgsync verify`.
const (
	exitInSync = 0
	exitDrift  = 1
	exitError  = 2
)

// renderer writes a verification report (package report's WriteTable, WriteJSON, WriteHTML).
type renderer func(io.Writer, *report.Report) error

// verifyFlags are the flags of `stsorgsync verify`.
type verifyFlags struct {
	asJSON   bool
	htmlFile string
}

// parseVerifyFlags parses `verify [--json] [--html FILE]` without the configuration (so --help
// works without one). The error is flag.ErrHelp after --help, or another one already reported on
// stderr.
func parseVerifyFlags(args []string, stderr io.Writer) (*verifyFlags, error) {
	f := &verifyFlags{}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.asJSON, "json", false, "write the report as JSON (for monitoring) instead of a table")
	fs.StringVar(&f.htmlFile, "html", "", "also write the report as a self-contained HTML page to `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: stsorgsync [--config FILE] verify [--json] [--html FILE]")
		fmt.Fprintln(stderr, "\nCompare STS Organisation with OS2MO without writing: exit 0 in sync, 1 drift, 2 error. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stsorgsync verify: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errors.New("unexpected argument")
	}
	return f, nil
}

// runVerify is `stsorgsync verify`: a read-only comparison of OS2MO and STS Organisation. The
// report goes to stdout as a table (or JSON with --json), and with --html also to FILE as a
// self-contained page. Exit 0 in sync, 1 drift, 2 error.
func runVerify(ctx context.Context, f *verifyFlags, cfg Config, stdout, stderr io.Writer) int {
	asJSON, htmlFile := &f.asJSON, &f.htmlFile
	progress := reconcile.NewProgressPrinter(stderr, isTerminal(stderr), time.Now, 5*time.Second)
	defer progress.Finish()
	logger := newLogger(progress.LogWriter(), cfg.LogLevel)
	d, err := newDeps(cfg, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync verify: %v\n", err)
		return exitError
	}
	defer d.close()
	eng := newEngine(cfg, d, logger, nil)
	eng.Options.Progress = progress.Update
	r, err := eng.Verify(ctx)
	progress.Finish()
	if err != nil {
		logger.Error("verify failed", "error", err)
		fmt.Fprintf(stderr, "stsorgsync verify: %v\n", err)
		return exitError
	}
	return writeReport(r, *asJSON, *htmlFile, stdout, stderr)
}

// writeReport renders r and returns the exit code: exitInSync, exitDrift, or exitError when a
// rendering could not be written.
func writeReport(r *report.Report, asJSON bool, htmlFile string, stdout, stderr io.Writer) int {
	var write renderer = report.WriteTable
	if asJSON {
		write = report.WriteJSON
	}
	if err := write(stdout, r); err != nil {
		fmt.Fprintf(stderr, "stsorgsync verify: %v\n", err)
		return exitError
	}
	if htmlFile != "" {
		if err := writeFile(htmlFile, r, report.WriteHTML); err != nil {
			fmt.Fprintf(stderr, "stsorgsync verify: --html %s: %v\n", htmlFile, err)
			return exitError
		}
	}
	if r.InSync() {
		return exitInSync
	}
	return exitDrift
}

// writeFile writes r to path with write.
func writeFile(path string, r *report.Report, write renderer) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw, r); err != nil {
		_ = f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
