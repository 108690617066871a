package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stsorgsync/stsorgsync/stsexport"
)

// exportFlags are the flags of `stsorgsync export`.
type exportFlags struct {
	out        string
	withoutCPR bool
}

func (a *app) exportCommand() *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write what STS Organisation holds of what stsorgsync manages as JSON lines (exit strategy, archive)",
		Long: `Read the municipality's STS Organisation as sync and verify read it (the hierarchy of units, users
and functions, the Organisation object, and the addresses and persons they refer to) and write every
object with its current registration — attributes, states and relations with their Virkning — as
JSON lines: a header line (format version, time, CVR, Organisation, counts per kind), then one
object per line (README: "Export (exit strategy)"). It writes nothing to STS and contacts neither
OS2MO, Redis nor RabbitMQ (their settings must still be valid). Person objects carry their CPR
number unless --without-cpr; the file is created
with mode 0600, and only once it is complete (a failed export leaves no file, and an existing one
unchanged). Logs and progress go to stderr. Exit 0 written, 1 failed, 2 usage or configuration.`,
		Example: `  stsorgsync export --out sts-export.jsonl
  stsorgsync export --without-cpr | gzip > sts-export.jsonl.gz`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return exitWith(a.runExport(f, cfg))
		},
	}
	cmd.Flags().StringVar(&f.out, "out", "", "write to `FILE` (mode 0600, replaced only when the export is complete) instead of standard output")
	cmd.Flags().BoolVar(&f.withoutCPR, "without-cpr", false, "leave the CPR number out of every Person object (the header says \"cpr\": \"omitted\")")
	_ = cmd.MarkFlagFilename("out", "jsonl", "json")
	return cmd
}

// runExport is `stsorgsync export`. With --out the export is written to a temporary file in the
// same directory (mode 0600) and renamed to FILE once complete; on failure it is removed.
func (a *app) runExport(f *exportFlags, cfg Config) int {
	logger, progress := progressLog(a.stderr, cfg.LogLevel)
	defer progress.Finish()
	var file *outputFile
	if f.out != "" {
		// Before reading STS, so that an unwritable place fails at once.
		var err error
		if file, err = createOutput(f.out); err != nil {
			failed(a.stderr, logger, "export", err)
			return exitFailure
		}
		defer file.Discard()
	}
	d, code := a.openDeps("export", cfg, logger, exitFailure)
	if d == nil {
		return code
	}
	defer d.close()
	defer a.batchMemory(logger)()
	eng := newEngine(cfg, d, logger, nil)
	eng.Options.Progress = progress.Update
	m, err := eng.ReadManaged(a.ctx)
	progress.Finish()
	if err != nil {
		failed(a.stderr, logger, "export", err)
		return exitFailure
	}
	h := stsexport.Header{ExportedAt: m.ReadAt.UTC(), CVR: cfg.STSCVR, Organisation: cfg.Mapping.Organisation,
		STS: cfg.STSBaseURL, Generator: "stsorgsync " + version}
	opts := stsexport.Options{WithoutCPR: f.withoutCPR}
	var w io.Writer = a.stdout
	if file != nil {
		w = file
	}
	start := time.Now()
	n, err := stsexport.Write(w, h, m.All(), opts)
	if err == nil && file != nil {
		err = file.Commit()
	}
	if err != nil {
		failed(a.stderr, logger, "export", fmt.Errorf("write the export: %w", err))
		return exitFailure
	}
	counts := map[string]int{}
	for _, kind := range stsexport.Kinds() {
		counts[string(kind)] = len(m.Objects[kind])
	}
	cpr := stsexport.CPRIncluded
	if f.withoutCPR {
		cpr = stsexport.CPROmitted
	}
	out := f.out
	if out == "" {
		out = "stdout"
	}
	logger.Info("export done", "out", out, "objects", len(m.All()), "counts", counts, "bytes", n, "cpr", cpr,
		"other_organisations", m.OtherOrganisations, "unresolved_references", m.Unresolved, "sts_calls", m.Calls,
		"took", time.Since(m.ReadAt).Round(time.Millisecond), "write_took", time.Since(start).Round(time.Millisecond))
	if m.Unresolved > 0 {
		logger.Warn("export: addresses or persons referred to that STS does not hold (not in the export)", "unresolved_references", m.Unresolved)
	}
	return exitOK
}
