// Package translate maps OS2MO's model (moclient) to the STS Organisation objects the municipality
// should have (oio), following KOMBIT's registration patterns, and plans the minimal list of STS
// operations that turn the current STS state into the desired one.
//
// The package is pure: no I/O, and the clock is passed in. Everything it produces is deterministic
// for the same input, which is what makes the last-sent hash (Hash) a reliable "nothing changed"
// test and what the golden tests pin down.
package translate
