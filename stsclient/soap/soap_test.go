package soap_test

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

func TestAction(t *testing.T) {
	a := soap.Action(oio.KindOrganisationFunktion, oio.OpSoeg)
	if a != "http://kombit.dk/sts/organisation/organisationfunktion/soeg" {
		t.Errorf("Action = %s", a)
	}
	if k, op, err := soap.ParseAction(a); err != nil || k != oio.KindOrganisationFunktion || op != oio.OpSoeg {
		t.Errorf("ParseAction = %s %s %v", k, op, err)
	}
	h := soap.Action(oio.KindOrganisationSystem, oio.OpFremsoegObjekthierarki)
	if h != "http://kombit.dk/sts/organisation/organisationssystem/fremsoegobjekthierarki" {
		t.Errorf("Action = %s", h)
	}
	if k, op, err := soap.ParseAction(h); err != nil || k != oio.KindOrganisationSystem || op != oio.OpFremsoegObjekthierarki {
		t.Errorf("ParseAction = %s %s %v", k, op, err)
	}
	for _, bad := range []string{"", "http://kombit.dk/sts/organisation/enhed/laes", "http://kombit.dk/sts/organisation/bruger/import",
		"http://kombit.dk/sts/organisation/bruger", "urn:x/bruger/laes",
		"http://kombit.dk/sts/organisation/organisationsystem/fremsoegobjekthierarki",
		"http://kombit.dk/sts/organisation/organisationssystem/laes",
		"http://kombit.dk/sts/organisation/organisationenhed/fremsoegobjekthierarki"} {
		if _, _, err := soap.ParseAction(bad); err == nil {
			t.Errorf("ParseAction(%q) succeeded", bad)
		}
	}
}

func TestContentType(t *testing.T) {
	ct := soap.ContentType("http://kombit.dk/sts/organisation/bruger/laes")
	if ct != `application/soap+xml; charset=utf-8; action="http://kombit.dk/sts/organisation/bruger/laes"` {
		t.Errorf("ContentType = %s", ct)
	}
	if a, err := soap.ParseContentType(ct); err != nil || a != "http://kombit.dk/sts/organisation/bruger/laes" {
		t.Errorf("ParseContentType = %q, %v", a, err)
	}
	for _, bad := range []string{"text/xml; charset=utf-8", "application/soap+xml; charset=iso-8859-1", ";;"} {
		if _, err := soap.ParseContentType(bad); err == nil {
			t.Errorf("ParseContentType(%q) succeeded", bad)
		}
	}
}

func TestFaultRoundTrip(t *testing.T) {
	f := soap.Fault{Code: soap.CodeSender,
		Subcode: xml.Name{Space: soap.NSSecurity, Local: "InvalidSecurity"}, Reason: "no Security header"}
	env := soap.NewFault(soap.Addressing{RelatesTo: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"}, f)
	data, err := env.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "fault.golden.xml", golden.Indent(t, data))
	parsed, err := soap.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	got := parsed.Fault()
	if got == nil || *got != f {
		t.Errorf("Fault() = %+v, want %+v", got, f)
	}
	if !strings.Contains(got.Error(), "Sender/InvalidSecurity: no Security header") {
		t.Errorf("Error() = %s", got.Error())
	}
	if parsed.Addressing().RelatesTo != "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e" {
		t.Errorf("Addressing %+v", parsed.Addressing())
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not XML":    "<s:Envelope",
		"SOAP 1.1":   `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body/></Envelope>`,
		"no Body":    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`,
		"extra":      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/><s:Body/></s:Envelope>`,
		"Header 2nd": `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/><s:Header/></s:Envelope>`,
	} {
		if _, err := soap.Parse([]byte(doc)); !errors.Is(err, soap.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	env, err := soap.Parse([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x/></e:Body></e:Envelope>`))
	if err != nil || env.Header != nil || env.Fault() != nil {
		t.Fatalf("minimal envelope: %v %+v", err, env)
	}
	if p, err := env.Payload(); err != nil || p.Tag != "x" {
		t.Errorf("Payload = %v, %v", p, err)
	}
}
