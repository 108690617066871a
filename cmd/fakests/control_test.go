package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// TestHelpListsControlAPI: -h exits 0 and documents every route of the inspection and control
// API besides the flags.
func TestHelpListsControlAPI(t *testing.T) {
	var out bytes.Buffer
	if code := runWith(t.Context(), []string{"-h"}, func(string) string { return "" }, &out, nil); code != 0 {
		t.Fatalf("-h: exit code %d", code)
	}
	for _, want := range []string{"-latency", "-outage", "GET    /_inspect/calls", "DELETE /_inspect/calls",
		"/_inspect/objects/{kind}", "/_inspect/concurrent-writes", "GET    /_control ", "PUT    /_control/outage",
		"PUT    /_control/latency", "PUT    /_control/error-rate", "POST   /_control/failures",
		"DELETE /_control/failures", "POST   /_control/reset", "status_kode", "http_status"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, out.String())
		}
	}
}

// TestControlOutageOverHTTP: the command's control API starts and ends an outage that a client
// sees as HTTP 503.
func TestControlOutageOverHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"-listen", "127.0.0.1:0"}, func(string) string { return "" }, &syncBuffer{},
			func(addr string) { addrc <- addr })
	}()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	client, err := stsclient.New(stsclient.Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	put := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, base+"/_control/outage", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT /_control/outage %s: %s", body, resp.Status)
		}
	}
	tests := []struct {
		outage string
		want   func(error) bool
	}{
		{`{"on": true}`, func(err error) bool {
			var te *stsclient.TransportError
			return errors.As(err, &te) && te.HTTPStatus == http.StatusServiceUnavailable
		}},
		{`{"on": false}`, func(err error) bool { return errors.Is(err, stsclient.ErrNotFound) }},
	}
	for _, tt := range tests {
		put(tt.outage)
		if _, err := client.Read(t.Context(), oio.KindBruger, uuid.New()); !tt.want(err) {
			t.Errorf("after PUT %s: %v", tt.outage, err)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d", code)
	}
}
