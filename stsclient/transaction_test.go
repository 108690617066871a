package stsclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// captureTransport records request bodies and fails every request.
type captureTransport struct{ bodies [][]byte }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	c.bodies = append(c.bodies, b)
	return nil, errors.New("captured")
}

// TestWithTransactionUUID: a context's transaction id is sent as RequestHeader/TransactionUUID;
// without one each call gets a fresh id.
func TestWithTransactionUUID(t *testing.T) {
	capture := &captureTransport{}
	c, err := stsclient.New(stsclient.Config{BaseURL: "http://sts.invalid", HTTPClient: &http.Client{Transport: capture}})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse("0f0e0d0c-0b0a-4908-8706-050403020100")
	tests := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"given", stsclient.WithTransactionUUID(context.Background(), id), true},
		{"fresh", context.Background(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capture.bodies = nil
			_, _ = c.Read(tt.ctx, oio.KindOrganisationEnhed, uuid.New())
			if len(capture.bodies) == 0 {
				t.Fatal("no request sent")
			}
			for _, b := range capture.bodies {
				has := bytes.Contains(b, []byte("TransactionUUID>"+id.String()+"<"))
				if has != tt.want {
					t.Errorf("request carries the given TransactionUUID: %v; want %v", has, tt.want)
				}
				if !bytes.Contains(b, []byte("TransactionUUID>")) {
					t.Error("request has no TransactionUUID")
				}
			}
		})
	}
}
