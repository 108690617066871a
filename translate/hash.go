package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// HashVersion is mixed into every hash. Bump it when a translation rule changes so that every
// object is re-checked against STS once.
const HashVersion = "v2"

// Hash returns a stable digest of a desired object: its kind, UUID and every attribute, state and
// relation with its Virkning. Registration metadata (time, actor, lifecycle) is excluded, so the
// same desired state always hashes the same.
//
// The digest is SHA-256 over lines
//
//	v2\n<kind>\n<uuid>\n
//	E|<virkning>|<bvn>|<navn>|<brugertype>|<adressetekst>|<cpr>\n   (texts Go-quoted)
//	G|<virkning>|<status>\n
//	R|<name>|<virkning>|<ref>|<urn>|<rolle>|<type>|<indeks>\n        (urn and indeks Go-quoted)
//
// with <virkning> = <from>/<to>/<aktør>, instants in RFC 3339 UTC or "-" when open. It is built
// with append functions (not fmt): it runs for every object of every event.
func Hash(o oio.Object) string {
	b := make([]byte, 0, 256+192*(len(o.Registration.Egenskaber)+len(o.Registration.Gyldighed)+len(o.Registration.Relationer)))
	b = append(b, HashVersion...)
	b = append(b, '\n')
	b = append(b, o.Kind...)
	b = append(b, '\n')
	b = appendUUID(b, o.UUID)
	b = append(b, '\n')
	r := o.Registration
	for _, e := range r.Egenskaber {
		b = append(b, "E|"...)
		b = appendVirkning(b, e.Virkning)
		for _, s := range []string{e.BrugervendtNoegle, e.Navn, e.BrugerTypeTekst, e.AdresseTekst, e.CPR} {
			b = append(b, '|')
			b = strconv.AppendQuote(b, s)
		}
		b = append(b, '\n')
	}
	for _, g := range r.Gyldighed {
		b = append(b, "G|"...)
		b = appendVirkning(b, g.Virkning)
		b = append(b, '|')
		b = append(b, g.Status...)
		b = append(b, '\n')
	}
	for _, rel := range r.Relationer {
		b = append(b, "R|"...)
		b = append(b, rel.Name...)
		b = append(b, '|')
		b = appendVirkning(b, rel.Virkning)
		b = append(b, '|')
		b = appendUUID(b, rel.Ref)
		b = append(b, '|')
		b = strconv.AppendQuote(b, rel.URN)
		b = append(b, '|')
		b = appendUUID(b, rel.Rolle)
		b = append(b, '|')
		b = appendUUID(b, rel.Type)
		b = append(b, '|')
		b = strconv.AppendQuote(b, rel.Indeks)
		b = append(b, '\n')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func appendVirkning(b []byte, v oio.Virkning) []byte {
	b = appendInstant(b, v.From)
	b = append(b, '/')
	b = appendInstant(b, v.To)
	b = append(b, '/')
	return appendUUID(b, v.Aktoer)
}

func appendInstant(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	return t.UTC().AppendFormat(b, time.RFC3339)
}

// appendUUID appends id in its canonical text form (as id.String()).
func appendUUID(b []byte, id uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(b, buf[:]...)
}
