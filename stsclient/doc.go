// Package stsclient is the client for KOMBIT's STS Organisation 6 ("FK Organisation") object
// services: importer, ret, laes, list, soeg and passiver over SOAP 1.2, and the
// OrganisationSystem service's fremsoegobjekthierarki. Each call is retried only once, after a
// WS-Security fault; List, SearchAll and SearchHierarchyAll make several calls.
//
// A Client posts to {BaseURL}/organisation/{kind}/6/ with the WS-Addressing and RequestHeader
// headers of the OIO IDWS SOAP profile (package soap) and bodies written by package oio.
// Outcomes map to typed errors: a StandardRetur StatusKode other than 20 is a *StatusError
// (matching ErrNotFound, ErrAlreadyExists, … with errors.Is), a SOAP fault is a *FaultError,
// and HTTP or network failures (and token or response-verification failures) are a
// *TransportError. Every error reports through IsRetryable whether the caller may retry.
//
// Security plugs in through Config.Security. The default NoSecurity sends unsigned envelopes,
// which only the fake in stsclient/ststest accepts (without RequireSecurity). For the real
// service:
//
//	creds, err := stsclient.LoadCredentials(p12Path, password, time.Now()) // FOCES/OCES3 .p12
//	stsCerts, err := stsclient.LoadCertificates(stsCertPath)              // KOMBIT "ADG_*"
//	orgCerts, err := stsclient.LoadCertificates(serviceCertPath)          // KOMBIT "ORG_*"
//	tokens, err := stsclient.NewTokenClient(stsclient.TokenConfig{
//		Endpoint: stsclient.STSEndpointTest, EntityID: stsclient.STSEntityIDTest,
//		Credentials: creds, STSCertificates: stsCerts})
//	sec, err := stsclient.NewTokenSecurity(stsclient.SecurityConfig{
//		Tokens: tokens, CVR: "11111111", ServiceCertificates: orgCerts})
//	client, err := stsclient.New(stsclient.Config{BaseURL: stsclient.BaseURLTest, Security: sec})
//
// The TokenClient gets holder-of-key SAML tokens from the STS (signed WS-Trust 1.3 Issue) and
// caches them per certificate, CVR and service until shortly before expiry; TokenSecurity signs
// every request with the token (one XML signature over Body, Action, MessageID, ReplyTo, To,
// Timestamp and, through the STR-Transform, the token) and verifies the service's response
// signatures. Whatever the Security, the Client accepts a response only if its wsa:RelatesTo
// names the request's wsa:MessageID, so that an earlier (signed) response cannot be replayed as
// the answer to a later request. The XML-Signature work is in internal/wssec (goxmldsig's
// canonicaliser, SignedInfo built here).
package stsclient
