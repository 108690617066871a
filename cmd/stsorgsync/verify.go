package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"

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

func (a *app) verifyCommand() *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare STS Organisation with OS2MO without writing (exit 0 in sync, 1 drift, 2 error)",
		Long: `Compare what STS Organisation holds with what OS2MO says it should hold, without writing anything.
The report (every difference, by kind and field) goes to stdout as a table, or as JSON with --json;
--html also writes it as a self-contained page. Logs (and progress, when stderr is not a terminal)
go to stderr as JSON lines. Exit 0 in sync, 1 drift, 2 any error (usage and configuration too), so
it can run from cron or a monitoring check.`,
		Example: `  stsorgsync verify --html report.html
  stsorgsync verify --json > drift.json`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return exitWith(a.runVerify(f, cfg))
		},
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "write the report as JSON (for monitoring) instead of a table")
	cmd.Flags().StringVar(&f.htmlFile, "html", "", "also write the report as a self-contained HTML page to `FILE`")
	_ = cmd.MarkFlagFilename("html", "html")
	return cmd
}

// runVerify is `stsorgsync verify`: a read-only comparison of OS2MO and STS Organisation. The
// report goes to stdout as a table (or JSON with --json), and with --html also to FILE as a
// self-contained page. Exit 0 in sync, 1 drift, 2 error.
func (a *app) runVerify(f *verifyFlags, cfg Config) int {
	logger, progress := progressLog(a.stderr, cfg.LogLevel)
	defer progress.Finish()
	d, code := a.openDeps("verify", cfg, logger, exitError)
	if d == nil {
		return code
	}
	defer d.close()
	defer a.batchMemory(logger)()
	eng := newEngine(cfg, d, logger, nil)
	eng.Options.Progress = progress.Update
	r, err := eng.Verify(a.ctx)
	progress.Finish()
	if err != nil {
		failed(a.stderr, logger, "verify", err)
		return exitError
	}
	return writeReport(r, f.asJSON, f.htmlFile, a.stdout, logger)
}

// writeReport renders r and returns the exit code: exitInSync, exitDrift, or exitError when a
// rendering could not be written.
func writeReport(r *report.Report, asJSON bool, htmlFile string, stdout io.Writer, logger *slog.Logger) int {
	var write renderer = report.WriteTable
	if asJSON {
		write = report.WriteJSON
	}
	if err := write(stdout, r); err != nil {
		logger.Error("verify could not write its report", "error", err)
		return exitError
	}
	if htmlFile != "" {
		if err := writeFile(htmlFile, r, report.WriteHTML); err != nil {
			logger.Error("verify could not write the HTML report (--html)", "file", htmlFile, "error", err)
			return exitError
		}
	}
	if r.InSync() {
		return exitInSync
	}
	return exitDrift
}

// writeFile writes r to path with write (through outputFile: complete or not at all).
func writeFile(path string, r *report.Report, write renderer) error {
	out, err := createOutput(path)
	if err != nil {
		return err
	}
	defer out.Discard()
	if err := write(out, r); err != nil {
		return err
	}
	return out.Commit()
}
