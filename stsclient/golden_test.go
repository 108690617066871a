package stsclient_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/xsdcheck"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

func readAll(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// payloadDocument returns the Body's payload of a request as a standalone document.
func payloadDocument(t *testing.T, envelope []byte) []byte {
	t.Helper()
	env, err := soap.Parse(envelope)
	if err != nil {
		t.Fatal(err)
	}
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
	return b
}

// envelopeCase is one request of TestRequestEnvelopes: an operation on a kind, the objects the
// fake holds before, and the call.
type envelopeCase struct {
	kind oio.Kind
	op   oio.Operation
	call func(ctx context.Context, c *stsclient.Client) error
}

// envelopeCases returns the requests the client makes: importer, ret, laes, list, soeg and
// passiver of every kind the sync writes, ret, laes and list of the Organisation, and
// fremsoegobjekthierarki.
func envelopeCases() []envelopeCase {
	var cases []envelopeCase
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindPerson, oio.KindAdresse, oio.KindOrganisationFunktion} {
		cases = append(cases,
			envelopeCase{k, oio.OpImporter, func(ctx context.Context, c *stsclient.Client) error { return c.Import(ctx, fixture(k)) }},
			envelopeCase{k, oio.OpPassiver, func(ctx context.Context, c *stsclient.Client) error {
				return c.Passivate(ctx, k, fixture(k).UUID, "Nedlagt i OS2MO")
			}},
			envelopeCase{k, oio.OpSoeg, func(ctx context.Context, c *stsclient.Client) error {
				_, err := c.Search(ctx, soegTemplate(k))
				return err
			}},
		)
	}
	for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindPerson, oio.KindAdresse, oio.KindOrganisationFunktion, oio.KindOrganisation} {
		cases = append(cases,
			envelopeCase{k, oio.OpRet, func(ctx context.Context, c *stsclient.Client) error { return c.Update(ctx, changed(fixture(k))) }},
			envelopeCase{k, oio.OpLaes, func(ctx context.Context, c *stsclient.Client) error {
				_, err := c.Read(ctx, k, fixture(k).UUID)
				return err
			}},
			envelopeCase{k, oio.OpList, func(ctx context.Context, c *stsclient.Client) error {
				got, err := c.List(ctx, k, []uuid.UUID{fixture(k).UUID, unknownUUID})
				if err == nil && len(got) != 1 {
					err = fmt.Errorf("List returned %d objects, want 1", len(got))
				}
				return err
			}},
		)
	}
	return append(cases, envelopeCase{oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki,
		func(ctx context.Context, c *stsclient.Client) error {
			h, err := c.SearchHierarchy(ctx, &oio.HierarchyInput{Max: 500,
				Egenskaber: map[oio.Kind]oio.Egenskab{oio.KindOrganisationEnhed: {BrugervendtNoegle: "OKO"}}})
			if err == nil && len(h.OrganisationEnheder) != 1 {
				err = fmt.Errorf("hierarchy %+v, want the unit", h)
			}
			return err
		}})
}

// TestRequestEnvelopes pins the exact request of every operation the client makes on every kind
// (deterministic clock and IDs: each case starts with a new client and fake, the fake holding
// the fixture of every kind except the one imported), checks the Content-Type, and validates
// the request body and the fake's response body against the XSD.
func TestRequestEnvelopes(t *testing.T) {
	for _, tc := range envelopeCases() {
		t.Run(string(tc.kind)+"/"+string(tc.op), func(t *testing.T) {
			clock := testclock.New(clockStart)
			fake := ststest.NewServer(ststest.Options{Now: clock.Now, NewID: sequentialIDs()})
			for _, k := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindPerson, oio.KindAdresse, oio.KindOrganisationFunktion, oio.KindOrganisation} {
				if k != tc.kind || tc.op != oio.OpImporter {
					o := fixture(k)
					o.Registration.Tidspunkt, o.Registration.Livscyklus = clockStart.Add(-time.Hour), oio.LivscyklusImporteret
					fake.Put(o)
				}
			}
			tr := &handlerTransport{h: fake.Handler()}
			client, err := stsclient.New(stsclient.Config{
				BaseURL:    "https://organisation.eksterntest-stoettesystemerne.dk/",
				HTTPClient: &http.Client{Transport: tr},
				Now:        clock.Now,
				NewID:      sequentialIDs(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.call(context.Background(), client); err != nil {
				t.Fatal(err)
			}
			req := tr.last()
			wantCT := `application/soap+xml; charset=utf-8; action="` + soap.Action(tc.kind, tc.op) + `"`
			if got := req.header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %s, want %s", got, wantCT)
			}
			golden.Assert(t, "request_"+string(tc.op)+"_"+string(tc.kind)+".golden.xml", golden.Indent(t, req.body))
			xsdcheck.Validate(t, tc.kind, payloadDocument(t, req.body))
			xsdcheck.Validate(t, tc.kind, payloadDocument(t, req.response))
		})
	}
}
