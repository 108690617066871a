package ststest

import (
	"fmt"

	"github.com/beevik/etree"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var ok = oio.StandardRetur{StatusKode: oio.StatusOK, FejlbeskedTekst: "OK"}

func invalid(k oio.Kind, op oio.Operation, err error) *etree.Element {
	return status(k, op, oio.StatusInvalidInput, err.Error())
}

func status(k oio.Kind, op oio.Operation, code int, text string) *etree.Element {
	return oio.MarshalBasicOutput(k, op, oio.StandardRetur{StatusKode: code, FejlbeskedTekst: text})
}

// dispatch runs op on the payload and returns the output element. An error means the fake
// cannot answer (unsupported operation, corrupt stored state) and becomes a Receiver fault.
func (s *Server) dispatch(k oio.Kind, op oio.Operation, payload *etree.Element) (*etree.Element, error) {
	switch op {
	case oio.OpImporter:
		return s.importer(k, payload), nil
	case oio.OpRet:
		return s.ret(k, payload), nil
	case oio.OpLaes:
		return s.laes(k, payload)
	case oio.OpPassiver:
		return s.passiver(k, payload), nil
	}
	return nil, fmt.Errorf("operation %s is not implemented by the fake", op)
}

// active reports whether a registration's object counts as existing for importer/ret/passiver.
func active(r *oio.Registration) bool {
	return r.Livscyklus != oio.LivscyklusPassiveret && r.Livscyklus != oio.LivscyklusSlettet
}

func (s *Server) importer(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpImporter
	o, err := oio.UnmarshalImportInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	now := s.opts.Now()
	reg := o.Registration
	switch {
	case reg.Tidspunkt.IsZero():
		return status(k, op, oio.StatusInvalidInput, "importer requires Registrering/Tidspunkt")
	case reg.Tidspunkt.After(now):
		return status(k, op, oio.StatusFutureRegistration, fmt.Sprintf(
			"Registrering/Tidspunkt %s is later than the server time %s", oio.FormatTime(reg.Tidspunkt), oio.FormatTime(now)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.objects[objectKey{k, o.UUID}]; r != nil && active(r.latest()) {
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s already exists", k, o.UUID))
	}
	reg.Livscyklus = oio.LivscyklusImporteret
	s.appendRegistration(k, o.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

func (s *Server) ret(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpRet
	in, err := oio.UnmarshalRetInput(k, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	switch {
	case r == nil:
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	case !active(r.latest()):
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s is %s", k, in.UUID, r.latest().Livscyklus))
	}
	reg := cloneRegistration(*r.latest())
	reg.Tidspunkt = s.opts.Now()
	if in.Lists&oio.ListAttributter != 0 {
		reg.Egenskaber = in.Egenskaber
	}
	if in.Lists&oio.ListTilstande != 0 {
		reg.Gyldighed = in.Gyldighed
	}
	if in.Lists&oio.ListRelationer != 0 {
		reg.Relationer = in.Relationer
	}
	s.appendRegistration(k, in.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}

func (s *Server) laes(k oio.Kind, payload *etree.Element) (*etree.Element, error) {
	op := oio.OpLaes
	in, err := oio.UnmarshalUUIDInput(k, op, payload)
	if err != nil {
		return invalid(k, op, err), nil
	}
	s.mu.Lock()
	r := s.objects[objectKey{k, in.UUID}]
	var obj *oio.Object
	if r != nil {
		obj = &oio.Object{Kind: k, UUID: in.UUID, Registration: cloneRegistration(*r.latest())}
	}
	s.mu.Unlock()
	if obj == nil {
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID)), nil
	}
	out, err := oio.MarshalLaesOutput(k, ok, obj)
	if err != nil {
		return nil, fmt.Errorf("stored %s %s cannot be written: %w", k, in.UUID, err)
	}
	return out, nil
}

func (s *Server) passiver(k oio.Kind, payload *etree.Element) *etree.Element {
	op := oio.OpPassiver
	in, err := oio.UnmarshalUUIDInput(k, op, payload)
	if err != nil {
		return invalid(k, op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.objects[objectKey{k, in.UUID}]
	switch {
	case r == nil:
		return status(k, op, oio.StatusNotFound, fmt.Sprintf("%s %s does not exist", k, in.UUID))
	case !active(r.latest()):
		return status(k, op, oio.StatusAlreadyExists, fmt.Sprintf("%s %s is already %s", k, in.UUID, r.latest().Livscyklus))
	}
	reg := cloneRegistration(*r.latest())
	reg.Tidspunkt = s.opts.Now()
	reg.Livscyklus = oio.LivscyklusPassiveret
	s.appendRegistration(k, in.UUID, reg)
	return oio.MarshalBasicOutput(k, op, ok)
}
