package stsclient_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/beevik/etree"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/internal/golden"
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

// TestRequestEnvelopes pins the exact requests for importer, ret, laes, soeg and passiver of an
// OrganisationEnhed (deterministic clock and IDs), checks their Content-Type and validates each
// body against the XSD.
func TestRequestEnvelopes(t *testing.T) {
	clock := &testClock{t: clockStart}
	fake := ststest.NewServer(ststest.Options{Now: clock.Now, NewID: sequentialIDs()})
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
	ctx := context.Background()
	steps := []struct {
		op   oio.Operation
		call func() error
	}{
		{oio.OpImporter, func() error { return client.Import(ctx, unit()) }},
		{oio.OpRet, func() error { return client.Update(ctx, renamed(unit())) }},
		{oio.OpLaes, func() error { _, err := client.Read(ctx, oio.KindOrganisationEnhed, unitUUID); return err }},
		{oio.OpSoeg, func() error {
			_, err := client.Search(ctx, &oio.SoegInput{Kind: oio.KindOrganisationEnhed, First: 500, Max: 500,
				Egenskaber: []oio.Egenskab{{BrugervendtNoegle: "OKO"}}, Gyldighed: []oio.Gyldighed{{Status: oio.Aktiv}},
				Relationer: []oio.Relation{{Name: oio.RelOverordnet, Ref: parentB}, {Name: oio.RelTilhoerer, Ref: orgUUID}}})
			return err
		}},
		{oio.OpPassiver, func() error { return client.Passivate(ctx, oio.KindOrganisationEnhed, unitUUID, "Nedlagt i OS2MO") }},
	}
	for _, s := range steps {
		t.Run(string(s.op), func(t *testing.T) {
			if err := s.call(); err != nil {
				t.Fatal(err)
			}
			req := tr.last()
			wantCT := `application/soap+xml; charset=utf-8; action="http://kombit.dk/sts/organisation/organisationenhed/` + string(s.op) + `"`
			if got := req.header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %s, want %s", got, wantCT)
			}
			golden.Assert(t, "request_"+string(s.op)+"_organisationenhed.golden.xml", golden.Indent(t, req.body))
			xsdcheck.Validate(t, oio.KindOrganisationEnhed, payloadDocument(t, req.body))
		})
	}
}
