package wssec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// ErrExpired is wrapped by CheckTimestamp errors: the message is too old or from the future.
var ErrExpired = errors.New("wssec: message expired")

// Header is the wsse:Security header of a message with what the profile requires in it.
type Header struct {
	Security  *etree.Element
	Timestamp *etree.Element
	Created   time.Time
	Expires   time.Time // zero if the Timestamp has no Expires
	// Signature is the header's ds:Signature, nil if it has none.
	Signature *etree.Element
	// Index resolves the Ids of the whole envelope.
	Index Index
}

// ParseHeader finds the envelope's only wsse:Security header block, its wsu:Timestamp and its
// ds:Signature (at most one each), and indexes the envelope's Ids. Errors wrap ErrMalformed
// (missing or duplicated parts) or ErrReference (duplicate Ids).
func ParseHeader(env *soap.Envelope) (*Header, error) {
	var secs []*etree.Element
	if env.Header != nil {
		secs = Children(env.Header, NSSecExt, "Security")
	}
	switch len(secs) {
	case 0:
		return nil, fmt.Errorf("%w: no wsse:Security header", ErrMalformed)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d wsse:Security headers", ErrMalformed, len(secs))
	}
	h := &Header{Security: secs[0]}
	tss := Children(h.Security, NSUtility, "Timestamp")
	if len(tss) != 1 {
		return nil, fmt.Errorf("%w: wsse:Security must hold one wsu:Timestamp, has %d", ErrMalformed, len(tss))
	}
	h.Timestamp = tss[0]
	created := Child(h.Timestamp, NSUtility, "Created")
	if created == nil {
		return nil, fmt.Errorf("%w: wsu:Timestamp lacks Created", ErrMalformed)
	}
	var err error
	if h.Created, err = ParseTime(created.Text()); err != nil {
		return nil, err
	}
	if exp := Child(h.Timestamp, NSUtility, "Expires"); exp != nil {
		if h.Expires, err = ParseTime(exp.Text()); err != nil {
			return nil, err
		}
	}
	switch sigs := Children(h.Security, NSDSig, "Signature"); len(sigs) {
	case 0:
	case 1:
		h.Signature = sigs[0]
	default:
		return nil, fmt.Errorf("%w: %d ds:Signature elements in wsse:Security", ErrMalformed, len(sigs))
	}
	if h.Index, err = IndexIDs(env.Doc.Root()); err != nil {
		return nil, err
	}
	return h, nil
}

// MustUnderstand reports whether the Security header is marked mustUnderstand, as the OIO
// IDWS SOAP profile requires of requests.
func (h *Header) MustUnderstand() bool {
	mu, ok := AttrNS(h.Security, soap.NSEnvelope, "mustUnderstand")
	return ok && (mu == "1" || mu == "true")
}

// CheckTimestamp checks that the Timestamp is current at now: Created not later than now+skew
// and Expires (if present) later than now-skew. Errors wrap ErrExpired.
func (h *Header) CheckTimestamp(now time.Time, skew time.Duration) error {
	if h.Created.After(now.Add(skew)) {
		return fmt.Errorf("%w: wsu:Created %s is in the future", ErrExpired, FormatTime(h.Created))
	}
	if !h.Expires.IsZero() && !h.Expires.After(now.Add(-skew)) {
		return fmt.Errorf("%w: wsu:Expires %s has passed", ErrExpired, FormatTime(h.Expires))
	}
	return nil
}

// Part is a message part a signature must cover.
type Part struct {
	Name    string // for error messages, e.g. "wsa:To"
	Element *etree.Element
}

// AddressingParts returns the Body and the WS-Addressing header blocks of env as parts a
// signature must cover: all of them (Action, MessageID, To, ReplyTo, RelatesTo, …) if only is
// empty, else those with the listed local names.
func AddressingParts(env *soap.Envelope, only ...string) []Part {
	parts := []Part{{Name: "soap:Body", Element: env.Body}}
	if env.Header != nil {
		for _, h := range env.Header.ChildElements() {
			if h.NamespaceURI() == soap.NSAddressing && (len(only) == 0 || slices.Contains(only, h.Tag)) {
				parts = append(parts, Part{Name: "wsa:" + h.Tag, Element: h})
			}
		}
	}
	return parts
}

// ErrUnsigned is wrapped by RequireCovered errors: a required part is not signed.
var ErrUnsigned = errors.New("wssec: required message part not signed")

// RequireCovered checks that every part was digested by a verified reference.
func RequireCovered(vs []Verified, parts ...Part) error {
	var missing []string
	for _, p := range parts {
		if !Covers(vs, p.Element) {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsigned, strings.Join(missing, ", "))
	}
	return nil
}

// IDOf returns the wsu:Id of el ("" if none).
func IDOf(el *etree.Element) string {
	v, _ := AttrNS(el, NSUtility, "Id")
	return v
}
