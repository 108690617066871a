package ststest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

var (
	orgUUID = uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874")
	parent  = uuid.MustParse("6e4c1225-b0de-4aaa-95c6-eaa9a594a304")
	now     = time.Date(2024, 6, 1, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
)

func fixedNow() time.Time { return now }

func sequentialIDs() func() uuid.UUID {
	var mu sync.Mutex
	n := 0
	return func() uuid.UUID {
		mu.Lock()
		defer mu.Unlock()
		n++
		return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", n))
	}
}

func unit(id uuid.UUID, name string) *oio.Object {
	v := oio.Virkning{From: now.Add(-24 * time.Hour), Aktoer: orgUUID, AktoerType: oio.AktoerTypeOrganisation}
	return &oio.Object{Kind: oio.KindOrganisationEnhed, UUID: id, Registration: oio.Registration{
		Tidspunkt:  now.Add(-time.Hour),
		Livscyklus: oio.LivscyklusImporteret,
		BrugerRef:  orgUUID,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "U", Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelOverordnet, Virkning: v, Ref: parent}, {Name: oio.RelTilhoerer, Virkning: v, Ref: orgUUID}},
	}}
}

func start(t *testing.T, opts ststest.Options) (*ststest.Server, *httptest.Server, *stsclient.Client) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	fake := ststest.NewServer(opts)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	client, err := stsclient.New(stsclient.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv, client
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestInspectionAPI(t *testing.T) {
	fake, srv, client := start(t, ststest.Options{})
	id := uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	if err := client.Import(t.Context(), unit(id, "Økonomi")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(t.Context(), oio.KindOrganisationEnhed, id); err != nil {
		t.Fatal(err)
	}

	var calls ststest.CallsView
	getJSON(t, srv.URL+"/_inspect/calls", &calls)
	if calls.Total != 2 || calls.Calls["organisationenhed/importer"] != 1 || calls.Calls["organisationenhed/laes"] != 1 {
		t.Errorf("calls %+v", calls)
	}
	var objs []ststest.ObjectView
	getJSON(t, srv.URL+"/_inspect/objects/organisationenhed", &objs)
	if len(objs) != 1 {
		t.Fatalf("objects %+v", objs)
	}
	o := objs[0]
	if o.UUID != id.String() || o.Name != "Økonomi" || o.Parent != parent.String() || o.Gyldighed != oio.Aktiv ||
		o.Livscyklus != oio.LivscyklusImporteret || o.Registrations != 1 || len(o.Relations["Tilhoerer"]) != 1 {
		t.Errorf("object view %+v", o)
	}
	getJSON(t, srv.URL+"/_inspect/objects/bruger", &objs)
	if len(objs) != 0 {
		t.Errorf("bruger objects %+v", objs)
	}

	for path, want := range map[string]int{"/healthz": 200, "/_inspect/objects/enhed": 404, "/organisation/enhed/6/": 405} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	fake.ResetCalls()
	if fake.TotalCalls() != 0 || len(fake.Calls()) != 0 {
		t.Errorf("after ResetCalls: %d %v", fake.TotalCalls(), fake.Calls())
	}
	if got, ok := fake.Object(oio.KindOrganisationEnhed, id); !ok || got.Registration.Egenskaber[0].Navn != "Økonomi" {
		t.Errorf("Object() = %+v, %v", got, ok)
	}
}

// Concurrent imports of one UUID: exactly one wins, the rest get 49; distinct UUIDs all succeed.
func TestConcurrentImports(t *testing.T) {
	fake, _, client := start(t, ststest.Options{})
	shared := uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = client.Import(t.Context(), unit(shared, fmt.Sprint("u", i)))
			if err := client.Import(t.Context(), unit(uuid.New(), "x")); err != nil {
				t.Errorf("distinct import: %v", err)
			}
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, stsclient.ErrAlreadyExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d imports of one UUID succeeded, want 1", wins)
	}
	if got := len(fake.Objects(oio.KindOrganisationEnhed)); got != n+1 {
		t.Errorf("%d objects, want %d", got, n+1)
	}
	if got := fake.TotalCalls(); got != 2*n {
		t.Errorf("TotalCalls = %d, want %d", got, 2*n)
	}
}

// post sends a raw SOAP request and returns the status and parsed response envelope.
func post(t *testing.T, url, contentType string, body string) (int, *soap.Envelope, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	env, _ := soap.Parse(data)
	return resp.StatusCode, env, string(data)
}

func requestXML(action, to, messageID string, payload string) string {
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>` +
		`<a:Action>` + action + `</a:Action>` +
		`<RequestHeader xmlns="http://kombit.dk/xml/schemas/RequestHeader/1/"><TransactionUUID>5b4c1f6e-2f4f-4d53-9d8a-1f1f1f1f1f1f</TransactionUUID></RequestHeader>` +
		`<a:MessageID>` + messageID + `</a:MessageID><a:To>` + to + `</a:To></s:Header><s:Body>` + payload + `</s:Body></s:Envelope>`
}

const laesPayload = `<LaesInput xmlns="http://stoettesystemerne.dk/organisation/organisationenhed/6/"><UUIDIdentifikator xmlns="urn:oio:sagdok:3.0.0">acff2e55-fc97-4cc6-a144-2c641b3b5fa7</UUIDIdentifikator></LaesInput>`

const (
	hierarchyAction  = "http://kombit.dk/sts/organisation/organisationssystem/fremsoegobjekthierarki"
	hierarchyPayload = `<FremsoegObjekthierarkiInput xmlns="http://stoettesystemerne.dk/organisation/organisationsystem/6/" xmlns:sd="urn:oio:sagdok:3.0.0"><sd:FoersteResultatReference>0</sd:FoersteResultatReference></FremsoegObjekthierarkiInput>`
)

func TestProtocolChecks(t *testing.T) {
	_, srv, _ := start(t, ststest.Options{})
	endpoint := srv.URL + "/organisation/organisationenhed/6/"
	hierarchyEndpoint := srv.URL + "/organisation/organisationsystem/6/"
	action := "http://kombit.dk/sts/organisation/organisationenhed/laes"
	msgID := "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"
	ct := soap.ContentType(action)
	tests := []struct {
		name       string
		url, ct    string
		body       string
		wantHTTP   int
		wantFault  string // local name of the subcode, or of the code if no subcode
		wantStatus int    // StandardRetur StatusKode when not a fault
	}{
		{"valid laes of unknown", endpoint, ct, requestXML(action, endpoint, msgID, laesPayload), 200, "", 44},
		{"no action in Content-Type", endpoint, soap.MediaType, requestXML(action, endpoint, msgID, laesPayload), 200, "", 44},
		{"unknown service", srv.URL + "/organisation/enhed/6/", ct, requestXML(action, endpoint, msgID, laesPayload), 404, "", 0},
		{"text/xml", endpoint, "text/xml; charset=utf-8", requestXML(action, endpoint, msgID, laesPayload), 415, "", 0},
		{"malformed XML", endpoint, ct, "<s:Envelope", 500, "Sender", 0},
		{"SOAP 1.1 envelope", endpoint, ct, `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body/></Envelope>`, 500, "Sender", 0},
		{"action of another service", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/bruger/laes"),
			requestXML("http://kombit.dk/sts/organisation/bruger/laes", endpoint, msgID, laesPayload), 500, "ActionNotSupported", 0},
		{"Content-Type action differs", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationenhed/ret"),
			requestXML(action, endpoint, msgID, laesPayload), 500, "ActionNotSupported", 0},
		{"MessageID not urn:uuid", endpoint, ct, requestXML(action, endpoint, "42", laesPayload), 500, "InvalidAddressingHeader", 0},
		{"To of another endpoint", endpoint, ct, requestXML(action, srv.URL+"/organisation/bruger/6/", msgID, laesPayload), 500, "InvalidAddressingHeader", 0},
		{"payload of another operation", endpoint, ct,
			requestXML(action, endpoint, msgID, strings.ReplaceAll(laesPayload, "LaesInput", "PassiverInput")), 200, "", 40},
		{"two payloads", endpoint, ct, requestXML(action, endpoint, msgID, laesPayload+laesPayload), 200, "", 40},
		{"unimplemented slet", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationenhed/slet"),
			requestXML("http://kombit.dk/sts/organisation/organisationenhed/slet", endpoint, msgID, "<x/>"), 500, "Receiver", 0},
		{"list with a foreign payload", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationenhed/list"),
			requestXML("http://kombit.dk/sts/organisation/organisationenhed/list", endpoint, msgID, "<x/>"), 200, "", 40},
		{"list without UUIDs", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationenhed/list"),
			requestXML("http://kombit.dk/sts/organisation/organisationenhed/list", endpoint, msgID,
				`<ListInput xmlns="http://stoettesystemerne.dk/organisation/organisationenhed/6/"/>`), 200, "", 40},
		{"list of unknown", endpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationenhed/list"),
			requestXML("http://kombit.dk/sts/organisation/organisationenhed/list", endpoint, msgID,
				strings.ReplaceAll(laesPayload, "LaesInput", "ListInput")), 200, "", 44},
		{"fremsoeg at the organisationenhed endpoint", endpoint, soap.ContentType(hierarchyAction),
			requestXML(hierarchyAction, endpoint, msgID, hierarchyPayload), 500, "ActionNotSupported", 0},
		{"fremsoeg spelt like the path", hierarchyEndpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationsystem/fremsoegobjekthierarki"),
			requestXML("http://kombit.dk/sts/organisation/organisationsystem/fremsoegobjekthierarki", hierarchyEndpoint, msgID, hierarchyPayload), 500, "ActionNotSupported", 0},
		{"laes at the organisationsystem endpoint", hierarchyEndpoint, soap.ContentType("http://kombit.dk/sts/organisation/organisationssystem/laes"),
			requestXML("http://kombit.dk/sts/organisation/organisationssystem/laes", hierarchyEndpoint, msgID, laesPayload), 500, "ActionNotSupported", 0},
		{"fremsoeg with a soeg payload", hierarchyEndpoint, soap.ContentType(hierarchyAction),
			requestXML(hierarchyAction, hierarchyEndpoint, msgID, laesPayload), 200, "", 40},
		{"fremsoeg", hierarchyEndpoint, soap.ContentType(hierarchyAction),
			requestXML(hierarchyAction, hierarchyEndpoint, msgID, hierarchyPayload), 200, "", 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, env, raw := post(t, tt.url, tt.ct, tt.body)
			if status != tt.wantHTTP {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.wantHTTP, raw)
			}
			// Every SOAP answer, faults included, names the request it answers (if it had a
			// MessageID).
			if req, err := soap.Parse([]byte(tt.body)); env != nil && err == nil {
				if id := req.Addressing().MessageID; env.Addressing().RelatesTo != id {
					t.Errorf("wsa:RelatesTo %q, want the request's MessageID %q", env.Addressing().RelatesTo, id)
				}
			}
			if tt.wantFault != "" {
				f := env.Fault()
				if f == nil {
					t.Fatalf("no fault: %s", raw)
				}
				if got := f.Subcode.Local; got != tt.wantFault && !(got == "" && f.Code.Local == tt.wantFault) {
					t.Errorf("fault %+v, want %s", f, tt.wantFault)
				}
				return
			}
			if tt.wantStatus != 0 {
				p, err := env.Payload()
				if err != nil {
					t.Fatal(err)
				}
				ret, err := oio.UnmarshalStandardRetur(p)
				if err != nil || ret.StatusKode != tt.wantStatus {
					t.Errorf("StandardRetur %+v (%v), want %d: %s", ret, err, tt.wantStatus, raw)
				}
			}
		})
	}
}

// TestResponses pins the fake's response envelopes and validates their bodies against the XSD.
func TestResponses(t *testing.T) {
	fake := ststest.NewServer(ststest.Options{Now: fixedNow, NewID: sequentialIDs()})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	id := uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	fake.Put(unit(id, "Økonomi"))
	fake.Put(unit(uuid.MustParse("0c2b7f38-4a51-4f8e-a1a3-6d1f5b2c9e77"), "Løn"))
	oe := oio.KindOrganisationEnhed
	laes := soap.Action(oe, oio.OpLaes)
	list := soap.Action(oe, oio.OpList)
	listPayload := strings.ReplaceAll(laesPayload, "LaesInput", "ListInput")
	for _, c := range []struct { // in order: response MessageIDs are sequential
		name    string
		kind    oio.Kind
		action  string
		payload string
	}{
		{"laes_found", oe, laes, laesPayload},
		{"laes_unknown", oe, laes, strings.Replace(laesPayload, "acff2e55", "bcff2e55", 1)},
		{"list_found", oe, list, strings.Replace(listPayload, "<UUID", `<UUIDIdentifikator xmlns="urn:oio:sagdok:3.0.0">bcff2e55-fc97-4cc6-a144-2c641b3b5fa7</UUIDIdentifikator>`+
			`<UUIDIdentifikator xmlns="urn:oio:sagdok:3.0.0">0c2b7f38-4a51-4f8e-a1a3-6d1f5b2c9e77</UUIDIdentifikator><UUID`, 1)},
		{"list_unknown", oe, list, strings.Replace(listPayload, "acff2e55", "bcff2e55", 1)},
		{"fremsoegobjekthierarki", oio.KindOrganisationSystem, hierarchyAction, strings.Replace(hierarchyPayload,
			"</FremsoegObjekthierarkiInput>", "<OrganisationEnhedSoegEgenskab><sd:EnhedNavn>Løn</sd:EnhedNavn></OrganisationEnhedSoegEgenskab></FremsoegObjekthierarkiInput>", 1)},
	} {
		name, payload, action := c.name, c.payload, c.action
		endpoint := srv.URL + "/organisation/" + string(c.kind) + "/6/"
		t.Run(name, func(t *testing.T) {
			status, env, raw := post(t, endpoint, soap.ContentType(action),
				requestXML(action, endpoint, "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", payload))
			if status != 200 || env == nil {
				t.Fatalf("HTTP %d: %s", status, raw)
			}
			a := env.Addressing()
			if a.RelatesTo != "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e" || a.TransactionUUID != "5b4c1f6e-2f4f-4d53-9d8a-1f1f1f1f1f1f" {
				t.Errorf("response addressing %+v", a)
			}
			golden.Assert(t, "response_"+name+".golden.xml", golden.Indent(t, []byte(raw)))
			p, err := env.Payload()
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			doc.SetRoot(p.Copy())
			b, err := doc.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			xsdcheck.Validate(t, c.kind, b)
		})
	}
}

func TestLatencyDelaysResponses(t *testing.T) {
	_, _, client := start(t, ststest.Options{Latency: 50 * time.Millisecond})
	began := time.Now()
	_, err := client.Read(t.Context(), oio.KindOrganisationEnhed, uuid.New())
	if !errors.Is(err, stsclient.ErrNotFound) {
		t.Fatalf("Read: %v", err)
	}
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Errorf("response after %v, want ≥ 50ms latency", d)
	}
}

// TestOmitRelatesTo checks that Options.OmitRelatesTo leaves wsa:RelatesTo out of responses and
// faults (and only that).
func TestOmitRelatesTo(t *testing.T) {
	_, srv, _ := start(t, ststest.Options{OmitRelatesTo: true})
	endpoint := srv.URL + "/organisation/organisationenhed/6/"
	action := "http://kombit.dk/sts/organisation/organisationenhed/laes"
	msgID := "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"
	for _, tt := range []struct {
		name, action string
		wantHTTP     int
	}{{"response", action, 200}, {"fault", "http://kombit.dk/sts/organisation/bruger/laes", 500}} {
		t.Run(tt.name, func(t *testing.T) {
			status, env, raw := post(t, endpoint, soap.ContentType(tt.action), requestXML(tt.action, endpoint, msgID, laesPayload))
			if status != tt.wantHTTP || env == nil {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.wantHTTP, raw)
			}
			if a := env.Addressing(); a.RelatesTo != "" || a.Action == "" || a.MessageID == "" {
				t.Errorf("response addressing %+v, want Action and MessageID without RelatesTo", a)
			}
		})
	}
}
