package ststest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// controlCall sends body to the control API and returns the status and the body of the answer.
func controlCall(t *testing.T, base, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// statusCode returns the StatusKode of an STS refusal (0 if err is none).
func statusCode(err error) int {
	var se *stsclient.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestControlAPI: each row switches faults over the HTTP control API and checks what a client
// then gets, and what GET /_control reports.
func TestControlAPI(t *testing.T) {
	type step struct {
		method, path, body string
		status             int
	}
	read := func(c *stsclient.Client, kind oio.Kind) error {
		_, err := c.Read(t.Context(), kind, unknown)
		return err
	}
	tests := []struct {
		name  string
		steps []step
		// probe makes calls after the steps and reports what is wrong ("" if nothing).
		probe func(t *testing.T, c *stsclient.Client) string
		// view checks GET /_control after the probe.
		view func(v ststest.ControlView) string
	}{
		{
			name:  "outage on",
			steps: []step{{"PUT", "/_control/outage", `{"on": true}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				for range 3 {
					if err := read(c, oio.KindOrganisationEnhed); !http503(err) {
						return "during the outage: " + errString(err)
					}
				}
				return ""
			},
			view: func(v ststest.ControlView) string { return want(v.Outage && !v.OutageWindow, "outage on") },
		},
		{
			name:  "outage on and off",
			steps: []step{{"PUT", "/_control/outage", `{"on": true}`, 200}, {"PUT", "/_control/outage", `{"on": false}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				return want(errors.Is(read(c, oio.KindOrganisationEnhed), stsclient.ErrNotFound), "after the outage: answered")
			},
			view: func(v ststest.ControlView) string { return want(!v.Outage, "outage off") },
		},
		{
			name:  "next two laes refused with StatusKode 40",
			steps: []step{{"POST", "/_control/failures", `{"operation": "laes", "times": 2, "status_kode": 40}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				codes := []int{statusCode(read(c, oio.KindOrganisationEnhed)), statusCode(read(c, oio.KindBruger))}
				if codes[0] != 40 || codes[1] != 40 {
					return "codes " + jsonOf(codes) + ", want [40,40]"
				}
				return want(errors.Is(read(c, oio.KindOrganisationEnhed), stsclient.ErrNotFound), "third call answered normally")
			},
			view: func(v ststest.ControlView) string { return want(len(v.Failures) == 0, "failures used up") },
		},
		{
			name: "HTTP 503 for one kind only",
			steps: []step{{"POST", "/_control/failures",
				`{"kind": "organisationenhed", "operation": "laes", "times": 3, "http_status": 503}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				if err := read(c, oio.KindBruger); !errors.Is(err, stsclient.ErrNotFound) {
					return "another kind failed: " + errString(err)
				}
				return want(http503(read(c, oio.KindOrganisationEnhed)), "organisationenhed/laes answered 503")
			},
			view: func(v ststest.ControlView) string {
				return want(len(v.Failures) == 1 && v.Failures[0].Times == 2 && v.Failures[0].HTTPStatus == 503 &&
					v.Failures[0].Kind == oio.KindOrganisationEnhed, "two failures left: "+jsonOf(v.Failures))
			},
		},
		{
			name: "importer answered 49, 41 and a Receiver fault, in order",
			steps: []step{
				{"POST", "/_control/failures", `{"operation": "importer", "status_kode": 49}`, 200},
				{"POST", "/_control/failures", `{"operation": "importer", "status_kode": 41}`, 200},
				{"POST", "/_control/failures", `{"operation": "importer", "fault_reason": "database busy"}`, 200},
			},
			probe: func(t *testing.T, c *stsclient.Client) string {
				id := uuid.New()
				var got []string
				for range 4 {
					err := c.Import(t.Context(), unit(id, "Enhed"))
					var fe *stsclient.FaultError
					switch {
					case err == nil:
						got = append(got, "ok")
					case errors.As(err, &fe):
						got = append(got, "fault")
					default:
						got = append(got, jsonOf(statusCode(err)))
					}
				}
				return want(strings.Join(got, ",") == "49,41,fault,ok", "importer outcomes "+strings.Join(got, ","))
			},
		},
		{
			name: "failures cleared",
			steps: []step{
				{"POST", "/_control/failures", `{"http_status": 503, "times": 100}`, 200},
				{"DELETE", "/_control/failures", "", 200},
			},
			probe: func(t *testing.T, c *stsclient.Client) string {
				return want(errors.Is(read(c, oio.KindOrganisationEnhed), stsclient.ErrNotFound), "answered after clearing")
			},
			view: func(v ststest.ControlView) string { return want(len(v.Failures) == 0, "no failures") },
		},
		{
			name:  "latency set",
			steps: []step{{"PUT", "/_control/latency", `{"latency": "80ms"}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				start := time.Now()
				_ = read(c, oio.KindOrganisationEnhed)
				return want(time.Since(start) >= 80*time.Millisecond, "call took "+time.Since(start).String())
			},
			view: func(v ststest.ControlView) string {
				return want(v.Latency == "80ms" && v.LatencyTail == "0s", "latency "+v.Latency+" tail "+v.LatencyTail)
			},
		},
		{
			name:  "error rate 1",
			steps: []step{{"PUT", "/_control/error-rate", `{"rate": 1}`, 200}},
			probe: func(t *testing.T, c *stsclient.Client) string {
				return want(http503(read(c, oio.KindOrganisationEnhed)), "503 at rate 1")
			},
			view: func(v ststest.ControlView) string { return want(v.ErrorRate == 1, "error rate 1") },
		},
		{
			name: "reset ends everything",
			steps: []step{
				{"PUT", "/_control/outage", `{"on": true}`, 200},
				{"PUT", "/_control/latency", `{"latency": "1s", "tail": "1s"}`, 200},
				{"PUT", "/_control/error-rate", `{"rate": 1}`, 200},
				{"POST", "/_control/failures", `{"status_kode": 40, "times": 5}`, 200},
				{"POST", "/_control/reset", "", 200},
			},
			probe: func(t *testing.T, c *stsclient.Client) string {
				start := time.Now()
				err := read(c, oio.KindOrganisationEnhed)
				return want(errors.Is(err, stsclient.ErrNotFound) && time.Since(start) < time.Second, "answered at once: "+errString(err))
			},
			view: func(v ststest.ControlView) string {
				return want(!v.Outage && v.Latency == "0s" && v.ErrorRate == 0 && len(v.Failures) == 0, "all off: "+jsonOf(v))
			},
		},
		{
			name: "bad requests are refused and change nothing",
			steps: []step{
				{"PUT", "/_control/outage", `{"of": true}`, 400},
				{"PUT", "/_control/outage", `{"on": tru`, 400},
				{"PUT", "/_control/latency", `{"latency": "-1s"}`, 400},
				{"PUT", "/_control/latency", `{"latency": "soon"}`, 400},
				{"PUT", "/_control/error-rate", `{"rate": 1.5}`, 400},
				{"POST", "/_control/failures", `{"kind": "enhed", "http_status": 503}`, 400},
				{"POST", "/_control/failures", `{"operation": "delete", "http_status": 503}`, 400},
				{"POST", "/_control/failures", `{"http_status": 503, "status_kode": 40}`, 400},
				{"POST", "/_control/failures", `{}`, 400},
				{"POST", "/_control/failures", `{"http_status": 200}`, 400},
				{"POST", "/_control/failures", `{"status_kode": 20}`, 400},
				{"POST", "/_control/failures", `{"status_kode": 40, "times": -1}`, 400},
				{"GET", "/_control/outage", "", 405},
			},
			probe: func(t *testing.T, c *stsclient.Client) string {
				return want(errors.Is(read(c, oio.KindOrganisationEnhed), stsclient.ErrNotFound), "answered normally")
			},
			view: func(v ststest.ControlView) string {
				return want(!v.Outage && v.Latency == "0s" && v.ErrorRate == 0 && len(v.Failures) == 0, "nothing changed: "+jsonOf(v))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, client := start(t, ststest.Options{})
			for _, s := range tt.steps {
				if status, body := controlCall(t, srv.URL, s.method, s.path, s.body); status != s.status {
					t.Fatalf("%s %s %s: HTTP %d (%s), want %d", s.method, s.path, s.body, status, strings.TrimSpace(body), s.status)
				}
			}
			if msg := tt.probe(t, client); msg != "" {
				t.Error(msg)
			}
			if tt.view != nil {
				var v ststest.ControlView
				getJSON(t, srv.URL+"/_control", &v)
				if msg := tt.view(v); msg != "" {
					t.Errorf("GET /_control: %s", msg)
				}
			}
		})
	}
}

// TestInspectConcurrentWritesAndCallReset: GET /_inspect/concurrent-writes counts a write that
// overlaps another write of the same object; DELETE /_inspect/calls zeroes the call counters.
func TestInspectConcurrentWritesAndCallReset(t *testing.T) {
	_, srv, client := start(t, ststest.Options{WriteHold: 100 * time.Millisecond})
	var cw ststest.ConcurrentWritesView
	getJSON(t, srv.URL+"/_inspect/concurrent-writes", &cw)
	if cw.ConcurrentWrites != 0 {
		t.Fatalf("concurrent writes = %d at start", cw.ConcurrentWrites)
	}
	id := uuid.New()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _ = client.Import(t.Context(), unit(id, "Samme")) }) // one of them gets 49
	}
	wg.Wait()
	getJSON(t, srv.URL+"/_inspect/concurrent-writes", &cw)
	if cw.ConcurrentWrites != 1 {
		t.Errorf("concurrent writes = %d after two overlapping importer calls, want 1", cw.ConcurrentWrites)
	}
	var view ststest.ControlView
	getJSON(t, srv.URL+"/_control", &view)
	if view.ConcurrentWrites != 1 {
		t.Errorf("GET /_control: concurrent_writes = %d, want 1", view.ConcurrentWrites)
	}

	var calls ststest.CallsView
	getJSON(t, srv.URL+"/_inspect/calls", &calls)
	if calls.Total != 2 {
		t.Errorf("calls = %d, want 2", calls.Total)
	}
	if status, body := controlCall(t, srv.URL, "DELETE", "/_inspect/calls", ""); status != 200 {
		t.Fatalf("DELETE /_inspect/calls: %d %s", status, body)
	}
	var after ststest.CallsView
	getJSON(t, srv.URL+"/_inspect/calls", &after)
	if after.Total != 0 || len(after.Calls) != 0 {
		t.Errorf("after DELETE: %+v, want no calls", after)
	}
}

func want(ok bool, what string) string {
	if ok {
		return ""
	}
	return "not so: " + what
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
