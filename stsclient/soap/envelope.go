package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"

	"github.com/beevik/etree"
)

// Envelope is a SOAP 1.2 envelope as an etree document. Header and Body are the env:Header and
// env:Body elements of Doc; a security layer may add header blocks (e.g. wsse:Security) and
// sign elements by their wsu:Id before the envelope is serialised.
type Envelope struct {
	Doc    *etree.Document
	Header *etree.Element // nil if the envelope has no header
	Body   *etree.Element
}

// New builds an envelope with the headers of a and payload as the Body's only child. Header
// blocks are written in the order WCF uses: Action (mustUnderstand), RequestHeader, MessageID,
// ReplyTo, To (mustUnderstand), RelatesTo; empty values are omitted. The Body and every WS-
// Addressing header get a wsu:Id ("_1" for the Body, then "_2", "_3", … in header order).
// payload may be nil (empty Body).
func New(a Addressing, payload *etree.Element) *Envelope {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	root := doc.CreateElement("s:Envelope")
	root.CreateAttr("xmlns:s", NSEnvelope)
	root.CreateAttr("xmlns:a", NSAddressing)
	root.CreateAttr("xmlns:u", NSUtility)
	header := root.CreateElement("s:Header")
	body := root.CreateElement("s:Body")
	body.CreateAttr("u:Id", "_1")
	id := 1
	addressing := func(tag, value string, mustUnderstand bool) *etree.Element {
		el := header.CreateElement("a:" + tag)
		if mustUnderstand {
			el.CreateAttr("s:mustUnderstand", "1")
		}
		id++
		el.CreateAttr("u:Id", "_"+strconv.Itoa(id))
		el.SetText(value)
		return el
	}
	if a.Action != "" {
		addressing("Action", a.Action, true)
	}
	if a.TransactionUUID != "" {
		rh := header.CreateElement("h:RequestHeader")
		rh.CreateAttr("xmlns:h", NSRequestHeader)
		rh.CreateAttr("xmlns", NSRequestHeader)
		rh.CreateElement("TransactionUUID").SetText(a.TransactionUUID)
	}
	if a.MessageID != "" {
		addressing("MessageID", a.MessageID, false)
	}
	if a.ReplyTo != "" {
		addressing("ReplyTo", "", false).CreateElement("a:Address").SetText(a.ReplyTo)
	}
	if a.To != "" {
		addressing("To", a.To, true)
	}
	if a.RelatesTo != "" {
		addressing("RelatesTo", a.RelatesTo, false)
	}
	if payload != nil {
		body.AddChild(payload)
	}
	return &Envelope{Doc: doc, Header: header, Body: body}
}

// NewFault builds a fault envelope with the headers of a. A subcode outside the envelope
// namespace gets its namespace declared on the Fault element.
func NewFault(a Addressing, f Fault) *Envelope {
	fault := etree.NewElement("s:Fault")
	code := fault.CreateElement("s:Code")
	code.CreateElement("s:Value").SetText("s:" + f.Code.Local)
	if f.Subcode.Local != "" {
		prefix := "s"
		if f.Subcode.Space != NSEnvelope {
			prefix = "fc"
			fault.CreateAttr("xmlns:fc", f.Subcode.Space)
		}
		code.CreateElement("s:Subcode").CreateElement("s:Value").SetText(prefix + ":" + f.Subcode.Local)
	}
	text := fault.CreateElement("s:Reason").CreateElement("s:Text")
	text.CreateAttr("xml:lang", "en")
	text.SetText(f.Reason)
	return New(a, fault)
}

// Bytes serialises the envelope without indentation (signatures must not be disturbed).
func (e *Envelope) Bytes() ([]byte, error) {
	return e.Doc.WriteToBytes()
}

// ErrMalformed is wrapped by Parse errors for documents that are not SOAP 1.2 envelopes.
var ErrMalformed = errors.New("soap: malformed envelope")

// Parse reads a SOAP 1.2 envelope: env:Envelope with an optional env:Header followed by env:Body
// and nothing else.
func Parse(data []byte) (*Envelope, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || root.NamespaceURI() != NSEnvelope {
		return nil, fmt.Errorf("%w: root is not a SOAP 1.2 Envelope", ErrMalformed)
	}
	env := &Envelope{Doc: doc}
	for i, el := range root.ChildElements() {
		switch {
		case i == 0 && is(el, NSEnvelope, "Header"):
			env.Header = el
		case env.Body == nil && is(el, NSEnvelope, "Body"):
			env.Body = el
		default:
			return nil, fmt.Errorf("%w: unexpected element {%s}%s", ErrMalformed, el.NamespaceURI(), el.Tag)
		}
	}
	if env.Body == nil {
		return nil, fmt.Errorf("%w: no Body", ErrMalformed)
	}
	return env, nil
}

func is(el *etree.Element, ns, tag string) bool { return el.Tag == tag && el.NamespaceURI() == ns }

// Payload returns the Body's only child element (a Fault or an operation element).
func (e *Envelope) Payload() (*etree.Element, error) {
	kids := e.Body.ChildElements()
	if len(kids) != 1 {
		return nil, fmt.Errorf("%w: Body has %d child elements, want 1", ErrMalformed, len(kids))
	}
	return kids[0], nil
}

// Addressing returns the header values found (missing ones are empty).
func (e *Envelope) Addressing() Addressing {
	var a Addressing
	if e.Header == nil {
		return a
	}
	for _, el := range e.Header.ChildElements() {
		switch ns := el.NamespaceURI(); {
		case ns == NSAddressing && el.Tag == "Action":
			a.Action = el.Text()
		case ns == NSAddressing && el.Tag == "MessageID":
			a.MessageID = el.Text()
		case ns == NSAddressing && el.Tag == "To":
			a.To = el.Text()
		case ns == NSAddressing && el.Tag == "RelatesTo":
			a.RelatesTo = el.Text()
		case ns == NSAddressing && el.Tag == "ReplyTo":
			if addr := el.SelectElement("Address"); addr != nil && addr.NamespaceURI() == NSAddressing {
				a.ReplyTo = addr.Text()
			}
		case ns == NSRequestHeader && el.Tag == "RequestHeader":
			if t := el.SelectElement("TransactionUUID"); t != nil && t.NamespaceURI() == NSRequestHeader {
				a.TransactionUUID = t.Text()
			}
		}
	}
	return a
}

// Fault returns the envelope's fault, or nil if the payload is not an env:Fault.
func (e *Envelope) Fault() *Fault {
	p, err := e.Payload()
	if err != nil || !is(p, NSEnvelope, "Fault") {
		return nil
	}
	f := &Fault{}
	if code := child(p, "Code"); code != nil {
		f.Code = qnameValue(child(code, "Value"))
		if sub := child(code, "Subcode"); sub != nil {
			f.Subcode = qnameValue(child(sub, "Value"))
		}
	}
	if reason := child(p, "Reason"); reason != nil {
		if t := child(reason, "Text"); t != nil {
			f.Reason = t.Text()
		}
	}
	return f
}

func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if is(c, NSEnvelope, tag) {
			return c
		}
	}
	return nil
}

// qnameValue resolves the QName text of el against el's in-scope namespaces.
func qnameValue(el *etree.Element) xml.Name {
	if el == nil {
		return xml.Name{}
	}
	space, local := "", el.Text()
	for i := 0; i < len(local); i++ {
		if local[i] == ':' {
			space, local = local[:i], local[i+1:]
			break
		}
	}
	return xml.Name{Space: namespaceOf(el, space), Local: local}
}

// namespaceOf resolves prefix ("" = default namespace) in el's scope.
func namespaceOf(el *etree.Element, prefix string) string {
	key := "xmlns"
	if prefix != "" {
		key = "xmlns:" + prefix
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.FullKey() == key {
				return a.Value
			}
		}
	}
	return ""
}
