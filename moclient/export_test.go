package moclient

import "context"

// EmbeddedQueries exposes the embedded documents (operation name → text) to the external tests.
func EmbeddedQueries() (map[string]string, error) { return loadQueries() }

// RunRaw sends an arbitrary document, so tests can provoke server-side errors.
func (c *Client) RunRaw(ctx context.Context, operation, query string, vars map[string]any, out any) error {
	head, err := requestHead(operation, query)
	if err != nil {
		return err
	}
	return c.run(ctx, operation, head, vars, out)
}
