package ststest

import (
	"encoding/xml"
	"errors"
	"strconv"

	"github.com/stsorgsync/stsorgsync/stsclient/internal/wssec"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// WS-Security fault subcodes (local names in the wsse namespace) the fake answers security
// failures with; the reason starts with the fault string WSS 1.1 defines for the code.
const (
	FaultInvalidSecurity          = "InvalidSecurity"          // Security header missing or malformed, a required part unsigned, a replayed MessageID
	FaultInvalidSecurityToken     = "InvalidSecurityToken"     // assertion not issued by the trusted STS, expired or revoked
	FaultFailedAuthentication     = "FailedAuthentication"     // token for another service, unknown caller
	FaultFailedCheck              = "FailedCheck"              // a digest or the signature does not verify with the holder-of-key certificate
	FaultSecurityTokenUnavailable = "SecurityTokenUnavailable" // no assertion in the Security header
	FaultMessageExpired           = "MessageExpired"           // stale or future Timestamp
	FaultUnsupportedAlgorithm     = "UnsupportedAlgorithm"     // an algorithm other than exc-c14n / RSA-SHA256 / SHA-256
)

// wssReason returns the fault string WSS 1.1 (Table 12) defines for a subcode.
func wssReason(local string) string {
	switch local {
	case FaultInvalidSecurity:
		return "An error was discovered processing the <wsse:Security> header"
	case FaultInvalidSecurityToken:
		return "An invalid security token was provided"
	case FaultFailedAuthentication:
		return "The security token could not be authenticated or authorized"
	case FaultFailedCheck:
		return "The signature or decryption was invalid"
	case FaultSecurityTokenUnavailable:
		return "Referenced security token could not be retrieved"
	case FaultMessageExpired:
		return "The message has expired"
	case FaultUnsupportedAlgorithm:
		return "An unsupported signature or encryption algorithm was used"
	}
	return "Security error"
}

// securityFault builds a Sender fault with a wsse subcode.
func securityFault(local, detail string) *soap.Fault {
	return &soap.Fault{Code: soap.CodeSender, Subcode: xml.Name{Space: soap.NSSecurity, Local: local},
		Reason: wssReason(local) + " (" + detail + ")"}
}

// signatureFault maps a wssec verification error to its fault.
func signatureFault(err error) *soap.Fault {
	switch {
	case errors.Is(err, wssec.ErrDigest), errors.Is(err, wssec.ErrSignature):
		return securityFault(FaultFailedCheck, err.Error())
	case errors.Is(err, wssec.ErrUnsupportedAlgorithm):
		return securityFault(FaultUnsupportedAlgorithm, err.Error())
	}
	return securityFault(FaultInvalidSecurity, err.Error())
}

// STS error codes of the KOMBIT STS interface description (§3.7), sent in the fault reason.
const (
	STSErrorUnexpected    = 100 // unexpected error
	STSErrorConfiguration = 101 // unknown caller, unknown service or no service agreement
	STSErrorMalformed     = 103 // malformed request
)

// stsFault builds the fault of the fake STS: a WS-Trust subcode and "<code>: <text>".
func stsFault(code int, detail string) *soap.Fault {
	sub := "InvalidRequest"
	switch code {
	case STSErrorConfiguration:
		sub = "FailedAuthentication"
	case STSErrorUnexpected:
		sub = "RequestFailed"
	}
	return &soap.Fault{Code: soap.CodeSender, Subcode: xml.Name{Space: wssec.NSTrust, Local: sub},
		Reason: strconv.Itoa(code) + ": " + detail}
}
