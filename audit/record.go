// Package audit is the durable trail of every write to STS Organisation: one Record before the
// write (intent: what is about to be sent, and why) and one after it (outcome: STS's answer),
// appended to a RabbitMQ stream and confirmed by the broker before the write is made, so no write
// can happen without its record. Records never hold a CPR number. Stream appends records and
// declares the stream with its retention; Read reads them back from a point in time with a
// Filter (`stsorgsync audit`).
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Phase says whether a record precedes a write or reports its result.
type Phase string

// The phases of a write. An intent without an outcome means the process stopped (or the trail
// could not be written) between the two: the write may or may not have reached STS, and KOMBIT's
// logs answer which by the transaction UUID.
const (
	PhaseIntent  Phase = "intent"
	PhaseOutcome Phase = "outcome"
)

// Source kinds: what made the write.
const (
	SourceEvent  = "event"  // an OS2MO change event (or a cascade of one)
	SourceReplay = "replay" // an event replayed from the dead-letter queue
	SourceSync   = "sync"   // the full sync (`stsorgsync sync` or SYNC_INTERVAL)
)

// Source is what made a write: an event (its message id and routing key), a replay, or the sync.
type Source struct {
	Kind       string `json:"kind"`
	EventID    string `json:"event_id,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`
	// Object is the OS2MO object the event named (for a cascade, the person or unit queued).
	Object string `json:"event_object,omitempty"`
}

// Change is one field or relation a write changes, as in effect at the time of the write: From
// and To are the values (relation targets comma-separated, sorted); a CPR number's values are
// never recorded (Redacted is set instead).
type Change struct {
	Field    string `json:"field"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

// Record is one entry of the trail.
type Record struct {
	Time  time.Time `json:"time"`
	Phase Phase     `json:"phase"`
	// Source is what made the write.
	Source Source `json:"source"`
	// Bundle is the OS2MO unit or person whose bundle the write belongs to ("org_unit:<uuid>",
	// "person:<uuid>"; translate.BundleKey).
	Bundle string `json:"bundle"`
	// Kind and Object name the STS object written; Operation is importer or ret (translate.OpKind).
	Kind      string    `json:"kind"`
	Object    uuid.UUID `json:"object"`
	Operation string    `json:"operation"`
	// TransactionUUID is the RequestHeader TransactionUUID sent to KOMBIT: the key to its logs.
	TransactionUUID uuid.UUID `json:"transaction_uuid"`
	// Changes lists the fields and relations the write changes (intent only).
	Changes []Change `json:"changes,omitempty"`
	// BeforeDigest and AfterDigest are SHA-256 digests of the object before (empty for a new one)
	// and as sent, computed without the CPR number, so two records can be compared with STS.
	BeforeDigest string `json:"before_digest,omitempty"`
	AfterDigest  string `json:"after_digest,omitempty"`
	// Result is "ok" or "failed" (outcome only); StatusKode is STS's StatusKode when it answered
	// one, Error the failure without any CPR number.
	Result     string `json:"result,omitempty"`
	StatusKode int    `json:"status_kode,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Unit and Person return the OS2MO unit or person of the record's bundle, or uuid.Nil.
func (r Record) Unit() uuid.UUID   { return bundleID(r.Bundle, translate.BundleUnit) }
func (r Record) Person() uuid.UUID { return bundleID(r.Bundle, translate.BundlePerson) }

func bundleID(bundle, typ string) uuid.UUID {
	t, id, ok := strings.Cut(bundle, ":")
	if !ok || t != typ {
		return uuid.Nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil
	}
	return u
}

// Intent returns the intent record of writing after (before is what STS held; nil for a new
// object) at now.
func Intent(now time.Time, src Source, bundle, operation string, txn uuid.UUID, before *oio.Object, after oio.Object) Record {
	r := Record{
		Time: now.UTC(), Phase: PhaseIntent, Source: src, Bundle: bundle,
		Kind: string(after.Kind), Object: after.UUID, Operation: operation, TransactionUUID: txn,
		Changes: Diff(before, after, now), AfterDigest: Digest(&after),
	}
	if before != nil {
		r.BeforeDigest = Digest(before)
	}
	return r
}

// Outcome returns the outcome record of intent: ok when err is nil, else failed with STS's
// StatusKode (statusKode 0 when none) and the error text, CPR numbers removed.
func Outcome(now time.Time, intent Record, statusKode int, err error) Record {
	r := intent
	r.Time, r.Phase, r.Changes, r.Result = now.UTC(), PhaseOutcome, nil, "ok"
	if err != nil {
		r.Result, r.StatusKode, r.Error = "failed", statusKode, RedactCPR(err.Error())
	}
	return r
}

// Digest is the SHA-256 of o's registration with any CPR number left out.
func Digest(o *oio.Object) string {
	if o == nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s\n", o.Kind, o.UUID, o.Registration.Livscyklus)
	for _, e := range o.Registration.Egenskaber {
		fmt.Fprintf(h, "E|%s|%s|%q|%q|%q|%q\n", instant(e.Virkning.From), instant(e.Virkning.To), e.BrugervendtNoegle, e.Navn, e.BrugerTypeTekst, e.AdresseTekst)
	}
	for _, g := range o.Registration.Gyldighed {
		fmt.Fprintf(h, "G|%s|%s|%s\n", instant(g.Virkning.From), instant(g.Virkning.To), g.Status)
	}
	for _, rel := range o.Registration.Relationer {
		fmt.Fprintf(h, "R|%s|%s|%s|%s|%s|%s|%s|%q\n", rel.Name, instant(rel.Virkning.From), instant(rel.Virkning.To), rel.Ref, rel.URN, rel.Rolle, rel.Type, rel.Indeks)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func instant(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Diff lists what writing after changes in what before held, as in effect at at: each attribute
// (BrugervendtNoegle, Navn, BrugerTypeTekst, AdresseTekst; CPR redacted), the state (Gyldighed) and
// each relation by name (its targets). A new object (before nil) lists every value it sets.
func Diff(before *oio.Object, after oio.Object, at time.Time) []Change {
	var from view
	if before != nil {
		from = viewAt(before, at)
	}
	to := viewAt(&after, at)
	var out []Change
	for _, f := range slices.Sorted(keysOf(from, to)) {
		a, b := from[f], to[f]
		if a == b {
			continue
		}
		if f == fieldCPR {
			out = append(out, Change{Field: f, Redacted: true})
			continue
		}
		out = append(out, Change{Field: f, From: a, To: b})
	}
	return out
}

// fieldCPR is the Person attribute whose values are never recorded.
const fieldCPR = "CPR-NummerTekst"

// view is an object's values in effect at one time, by field name.
type view map[string]string

func keysOf(vs ...view) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, v := range vs {
			for k := range v {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

func viewAt(o *oio.Object, at time.Time) view {
	v := view{}
	in := func(vk oio.Virkning) bool { return vk.Covers(at) }
	for _, e := range o.Registration.Egenskaber {
		if !in(e.Virkning) {
			continue
		}
		for name, val := range map[string]string{
			"BrugervendtNoegle": e.BrugervendtNoegle, "Navn": e.Navn, "BrugerTypeTekst": e.BrugerTypeTekst,
			"AdresseTekst": e.AdresseTekst, fieldCPR: e.CPR,
		} {
			if val != "" {
				v[name] = val
			}
		}
	}
	for _, g := range o.Registration.Gyldighed {
		if in(g.Virkning) {
			v["Gyldighed"] = string(g.Status)
		}
	}
	targets := map[string][]string{}
	for _, r := range o.Registration.Relationer {
		if !in(r.Virkning) {
			continue
		}
		t := r.URN
		if r.Ref != uuid.Nil {
			t = r.Ref.String()
		}
		targets[string(r.Name)] = append(targets[string(r.Name)], t)
	}
	for name, ts := range targets {
		slices.Sort(ts)
		v[name] = strings.Join(ts, ",")
	}
	return v
}

// cprPattern matches a CPR number written as 10 digits, with or without the hyphen.
var cprPattern = regexp.MustCompile(`\b[0-9]{6}-?[0-9]{4}\b`)

// RedactCPR replaces anything shaped like a CPR number in s (an error text that quotes a request)
// with "[CPR]".
func RedactCPR(s string) string { return cprPattern.ReplaceAllString(s, "[CPR]") }
