package ststest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// maxRequestBytes bounds request bodies.
const maxRequestBytes = 8 << 20

// Subcodes of the faults the fake sends for addressing errors.
var (
	subcodeInvalidHeader = xml.Name{Space: soap.NSAddressing, Local: "InvalidAddressingHeader"}
	subcodeBadAction     = xml.Name{Space: soap.NSAddressing, Local: "ActionNotSupported"}
)

// serveSOAP handles POST /organisation/{kind}/6/.
func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request) {
	kind := oio.Kind(r.PathValue("kind"))
	if !kind.Valid() && kind != oio.KindOrganisationSystem {
		http.Error(w, fmt.Sprintf("unknown service %q", kind), http.StatusNotFound)
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		return
	}
	defer release()
	if s.opts.ServiceTime {
		hw := &heldWriter{ResponseWriter: w, s: s, r: r, due: time.Now().Add(s.latency())}
		defer hw.wait() // a client that gave up gets nothing, but not before its time
		w = hw
	} else if !s.delay(r, s.latency()) {
		return
	}
	if s.outage() {
		http.Error(w, "Service Unavailable (outage)", http.StatusServiceUnavailable)
		return
	}
	ctAction, err := soap.ParseContentType(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	env, err := soap.Parse(data)
	if err != nil {
		s.writeFault(w, soap.Addressing{}, soap.Fault{Code: soap.CodeSender, Reason: err.Error()})
		return
	}
	in := env.Addressing()
	reply := soap.Addressing{Action: in.Action + "Response", MessageID: "urn:uuid:" + s.opts.NewID().String(),
		RelatesTo: in.MessageID, TransactionUUID: in.TransactionUUID}
	if s.opts.OmitRelatesTo {
		reply.RelatesTo = "" // a broken or replaying service (tests of the client)
	}
	k, op, err := soap.ParseAction(in.Action)
	switch {
	case err != nil || k != kind:
		s.writeFault(w, reply, soap.Fault{Code: soap.CodeSender, Subcode: subcodeBadAction,
			Reason: fmt.Sprintf("action %q is not served at %s", in.Action, r.URL.Path)})
		return
	case ctAction != "" && ctAction != in.Action:
		s.writeFault(w, reply, soap.Fault{Code: soap.CodeSender, Subcode: subcodeBadAction,
			Reason: fmt.Sprintf("Content-Type action %q differs from wsa:Action %q", ctAction, in.Action)})
		return
	}

	s.mu.Lock()
	s.calls[string(kind)+"/"+string(op)]++
	s.mu.Unlock()
	if s.randomFailure() {
		http.Error(w, "Service Unavailable (injected error rate)", http.StatusServiceUnavailable)
		return
	}

	if err := checkAddressing(in, r.URL.Path); err != nil {
		s.writeFault(w, reply, soap.Fault{Code: soap.CodeSender, Subcode: subcodeInvalidHeader, Reason: err.Error()})
		return
	}
	who := &caller{canWrite: true}
	if s.opts.RequireSecurity {
		var f *soap.Fault
		if who, f = s.checkSecurity(env); f != nil {
			s.writeFault(w, reply, *f)
			return
		}
	}
	s.mu.Lock()
	failure, failing := s.takeFailure(kind, op)
	s.mu.Unlock()
	var out *etree.Element
	switch {
	case failing && failure.HTTPStatus != 0:
		http.Error(w, http.StatusText(failure.HTTPStatus)+" (injected)", failure.HTTPStatus)
		return
	case failing && failure.FaultReason != "":
		s.writeFault(w, reply, soap.Fault{Code: soap.CodeReceiver, Reason: failure.FaultReason})
		return
	case failing:
		out = oio.MarshalBasicOutput(kind, op, oio.StandardRetur{StatusKode: failure.StatusKode, FejlbeskedTekst: "injected failure"})
	case writeOperation(op) && !who.canWrite:
		out = status(kind, op, oio.StatusUnauthorized, fmt.Sprintf(
			"Anvendersystemet har ikke skriveadgang til Organisation for CVR %s (serviceaftalen giver kun udstil)", who.cvr))
	default:
		payload, err := env.Payload()
		if err == nil {
			releaseWrite, ok := s.holdWrite(r, kind, op, payload)
			if !ok {
				return
			}
			// Deferred calls run before net/http flushes the response to the client.
			defer releaseWrite()
		}
		if err != nil {
			out = invalid(kind, op, err)
		} else if out, err = s.dispatch(kind, op, payload, who); err != nil {
			s.writeFault(w, reply, soap.Fault{Code: soap.CodeReceiver, Reason: err.Error()})
			return
		}
		if ret, err := oio.UnmarshalStandardRetur(out); err == nil && writeOperation(op) && ret.StatusKode == oio.StatusOK {
			wr := Write{Kind: kind, Operation: op, TransactionUUID: in.TransactionUUID}
			s.mu.Lock()
			s.writes = append(s.writes, wr)
			s.mu.Unlock()
			if s.opts.OnWrite != nil {
				s.opts.OnWrite(wr)
			}
		}
	}
	resp := soap.New(reply, out)
	if s.opts.RequireSecurity {
		if err := s.signResponse(resp, s.PKI().Service, true); err != nil {
			s.writeFault(w, reply, soap.Fault{Code: soap.CodeReceiver, Reason: err.Error()})
			return
		}
	}
	s.writeEnvelope(w, http.StatusOK, resp)
	if ret, err := oio.UnmarshalStandardRetur(out); err == nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "fakests call", slog.String("kind", string(kind)),
			slog.String("operation", string(op)), slog.Int("status", ret.StatusKode), slog.String("text", ret.FejlbeskedTekst))
	}
}

// writeOperation reports whether op changes data (needs the write part of the agreement).
func writeOperation(op oio.Operation) bool {
	switch op {
	case oio.OpImporter, oio.OpOpret, oio.OpRet, oio.OpPassiver, oio.OpSlet:
		return true
	}
	return false
}

// checkAddressing checks the headers every client sends: MessageID "urn:uuid:…", To naming
// this endpoint (path compared, so the fake works behind proxies), and a TransactionUUID.
func checkAddressing(a soap.Addressing, path string) error {
	var errs []error
	if id, ok := strings.CutPrefix(a.MessageID, "urn:uuid:"); !ok || uuid.Validate(id) != nil {
		errs = append(errs, fmt.Errorf("wsa:MessageID %q is not urn:uuid:<uuid>", a.MessageID))
	}
	if u, err := url.Parse(a.To); err != nil || u.Path != path || !u.IsAbs() {
		errs = append(errs, fmt.Errorf("wsa:To %q does not name this endpoint (%s)", a.To, path))
	}
	if uuid.Validate(a.TransactionUUID) != nil {
		errs = append(errs, fmt.Errorf("RequestHeader/TransactionUUID %q is not a UUID", a.TransactionUUID))
	}
	return errors.Join(errs...)
}

func (s *Server) writeFault(w http.ResponseWriter, a soap.Addressing, f soap.Fault) {
	s.log.Debug("fakests fault", slog.String("code", f.Code.Local), slog.String("subcode", f.Subcode.Local),
		slog.String("reason", f.Reason))
	key := f.Subcode.Local
	if key == "" {
		key = f.Code.Local
	}
	s.mu.Lock()
	s.faults[key]++
	s.mu.Unlock()
	s.writeEnvelope(w, http.StatusInternalServerError, soap.NewFault(a, f))
}

func (s *Server) writeEnvelope(w http.ResponseWriter, status int, env *soap.Envelope) {
	data, err := env.Bytes()
	if err != nil {
		http.Error(w, "serialise response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", soap.MediaType+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
