// Package soap builds and parses the SOAP 1.2 envelopes of STS Organisation 6 ("OIO IDWS SOAP"
// profile): WS-Addressing headers (Action, MessageID, ReplyTo, To, RelatesTo) carrying wsu:Ids
// for signing, KOMBIT's RequestHeader with a TransactionUUID, a Body with a wsu:Id, and SOAP 1.2
// faults. It is shared by stsclient and the fake service in stsclient/ststest. WS-Security
// (the Security header and signatures) is added on top of these envelopes by the caller.
package soap

import (
	"encoding/xml"
	"fmt"
	"mime"
	"strings"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// Namespaces and fixed values of the envelope.
const (
	NSEnvelope       = "http://www.w3.org/2003/05/soap-envelope"
	NSAddressing     = "http://www.w3.org/2005/08/addressing"
	NSUtility        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSSecurity       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSRequestHeader  = "http://kombit.dk/xml/schemas/RequestHeader/1/"
	AnonymousAddress = "http://www.w3.org/2005/08/addressing/anonymous"
	// MediaType is the SOAP 1.2 media type; requests carry it with charset and action parameters.
	MediaType = "application/soap+xml"
	// ActionPrefix starts every Organisation 6 action: ActionPrefix + kind + "/" + operation.
	ActionPrefix = "http://kombit.dk/sts/organisation/"
)

// organisationSystemAction is the service name in the actions of the OrganisationSystem
// service, which (unlike its endpoint path) is spelt with a double s.
const organisationSystemAction = "organisationssystem"

// Action returns the SOAP action of op on kind, e.g.
// "http://kombit.dk/sts/organisation/organisationenhed/importer", or
// "http://kombit.dk/sts/organisation/organisationssystem/fremsoegobjekthierarki" for the
// OrganisationSystem service.
func Action(k oio.Kind, op oio.Operation) string {
	service := string(k)
	if k == oio.KindOrganisationSystem {
		service = organisationSystemAction
	}
	return ActionPrefix + service + "/" + string(op)
}

// ParseAction splits an Organisation 6 action into kind and operation; the kind's service must
// offer the operation (oio.Kind.Offers).
func ParseAction(action string) (oio.Kind, oio.Operation, error) {
	rest, ok := strings.CutPrefix(action, ActionPrefix)
	kind, op, ok2 := strings.Cut(rest, "/")
	k, o := oio.Kind(kind), oio.Operation(op)
	switch k {
	case organisationSystemAction:
		k = oio.KindOrganisationSystem
	case oio.KindOrganisationSystem:
		k = "" // the action spells the service with a double s
	}
	if !ok || !ok2 || !k.Offers(o) {
		return "", "", fmt.Errorf("soap: unknown action %q", action)
	}
	return k, o, nil
}

// ContentType returns the Content-Type of a request with the given action:
// `application/soap+xml; charset=utf-8; action="…"`.
func ContentType(action string) string {
	return MediaType + `; charset=utf-8; action="` + action + `"`
}

// ParseContentType checks that v is a SOAP 1.2 media type and returns its action parameter
// (empty if absent).
func ParseContentType(v string) (action string, err error) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", fmt.Errorf("soap: Content-Type %q: %w", v, err)
	}
	if mt != MediaType {
		return "", fmt.Errorf("soap: Content-Type %q is not %s", v, MediaType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", fmt.Errorf("soap: unsupported charset %q", cs)
	}
	return params["action"], nil
}

// Addressing holds the header values of an envelope.
type Addressing struct {
	Action          string // wsa:Action
	MessageID       string // wsa:MessageID, "urn:uuid:…"
	ReplyTo         string // wsa:ReplyTo/wsa:Address; requests use AnonymousAddress
	To              string // wsa:To, the exact endpoint URL of a request
	RelatesTo       string // wsa:RelatesTo, the request's MessageID in a response
	TransactionUUID string // RequestHeader/TransactionUUID
}

// Fault is a SOAP 1.2 fault.
type Fault struct {
	Code    xml.Name // env:Code/env:Value, e.g. {NSEnvelope}Sender
	Subcode xml.Name // env:Subcode/env:Value (first level), zero if absent
	Reason  string   // env:Reason/env:Text (the first)
}

// Fault codes of SOAP 1.2.
var (
	CodeSender   = xml.Name{Space: NSEnvelope, Local: "Sender"}
	CodeReceiver = xml.Name{Space: NSEnvelope, Local: "Receiver"}
)

// Error formats the fault as "Code[/Subcode]: Reason" with local names.
func (f *Fault) Error() string {
	code := f.Code.Local
	if f.Subcode.Local != "" {
		code += "/" + f.Subcode.Local
	}
	return fmt.Sprintf("SOAP fault %s: %s", code, f.Reason)
}
