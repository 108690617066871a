package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// outputFile is a file a command writes (export --out, dlq export --out, verify --html): a
// temporary file (mode 0600) beside path, buffered, that Commit flushes, syncs and renames over
// path. Discard (deferred) removes it unless Commit succeeded, so a failed command leaves no
// partial file and an existing file as it was.
type outputFile struct {
	*bufio.Writer
	f    *os.File
	path string
	done bool
}

// createOutput creates the temporary file for path; call it before the work, so that an
// unwritable place fails at once.
func createOutput(path string) (*outputFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &outputFile{Writer: bufio.NewWriter(f), f: f, path: path}, nil
}

// Commit makes what was written the file path.
func (o *outputFile) Commit() error {
	err := o.Flush()
	for _, step := range []func() error{func() error { return o.f.Chmod(0o600) }, o.f.Sync, o.f.Close} {
		if err != nil {
			break
		}
		err = step()
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	o.done = true
	return nil
}

// Discard removes the temporary file unless Commit succeeded.
func (o *outputFile) Discard() {
	if !o.done {
		_ = o.f.Close()
		_ = os.Remove(o.f.Name())
	}
}
