// Package moclient reads an OS2MO instance over its GraphQL API: organisation units, persons, owner
// look-ups for change events, and paginated listings for full synchronisation. It authenticates
// with Keycloak client credentials and pins one GraphQL API version. It also defines the
// source-side model (OrgUnit, Person, …) that translate maps to STS Organisation objects; that model
// does not depend on OS2MO's wire format.
package moclient
