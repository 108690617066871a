package stsclient

import "github.com/stsorgsync/stsorgsync/stsclient/soap"

// OmitSignedParts makes s leave the named parts out of its signature ("To", "MessageID",
// "Timestamp", "Assertion", …), so that tests can check that the fake insists on them.
func OmitSignedParts(s *TokenSecurity, parts ...string) {
	s.omit = map[string]bool{}
	for _, p := range parts {
		s.omit[p] = true
	}
}

// Sign signs env with tok and the token source's credentials, without asking for a token
// (benchmarks).
func Sign(s *TokenSecurity, env *soap.Envelope, tok *Token) error {
	return s.sign(env, tok, s.cfg.Tokens.Credentials().Signer())
}
