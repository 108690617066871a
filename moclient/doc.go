// Package moclient reads an OS2MO instance over its GraphQL API (pinned version, v25): organisation
// units ([Client.OrgUnit]) and persons ([Client.Person]) with everything the translator needs,
// owner look-ups for change events over all validities ([Client.Owners]), the persons engaged in a
// unit and the subtree below it ([Client.UnitPersons], [Client.Subtree]), and paginated listings
// for full synchronisation ([Client.ListUnits], [Client.ListPersons]). It authenticates with
// Keycloak client credentials, caches the token until shortly before expiry, refreshes it once on
// HTTP 401, and retries network errors and HTTP 5xx with bounded exponential back-off.
// [Config.Observe] is told of every HTTP request (operation, result, duration), for metrics.
//
// The queries are GraphQL documents embedded from queries/*.graphql; a test validates each against
// the real v25 schema. Times are instants in Europe/Copenhagen (time zone data is embedded, so a
// static container needs no zoneinfo).
//
// The package also defines the source-side model (OrgUnit, Person, …) that translate maps to STS
// Organisation objects; that model does not depend on OS2MO's wire format. A [Person] holds a CPR
// number and redacts it (and names) whenever it is logged or printed.
package moclient
