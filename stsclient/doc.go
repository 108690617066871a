// Package stsclient is the client for KOMBIT's STS Organisation 6 ("FK Organisation") object
// services: importer, ret, laes and passiver over SOAP 1.2, one call per method, no retries.
//
// A Client posts to {BaseURL}/organisation/{kind}/6/ with the WS-Addressing and RequestHeader
// headers of the OIO IDWS SOAP profile (package soap) and bodies written by package oio.
// Outcomes map to typed errors: a StandardRetur StatusKode other than 20 is a *StatusError
// (matching ErrNotFound, ErrAlreadyExists, … with errors.Is), a SOAP fault is a *FaultError,
// and HTTP or network failures are a *TransportError. Every error reports through
// IsRetryable whether the caller may retry the same call.
//
// The WS-Security profile (token from KOMBIT's STS, signed requests, verified responses) plugs
// in through Config.Security; the default NoSecurity sends unsigned envelopes, which only the
// fake service in stsclient/ststest accepts.
package stsclient
