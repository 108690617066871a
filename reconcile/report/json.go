package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes r's Normalized form as indented JSON (two spaces, one trailing newline), for
// monitoring: fields in the order of the model's struct fields, summary.by_kind with every known
// kind, differences in canonical order, tree nodes' differences renumbered to match, and names
// with &, < and > as they are (not \u0026 …). It refuses a report that fails Validate.
// Unmarshalling the output into a Report and writing it again gives the same bytes.
func WriteJSON(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.Normalized()); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	return nil
}
