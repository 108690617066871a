// Package converge owns bringing one bundle of STS objects in line with what it should hold: the
// one write protocol of the event path (package pipeline) and the full sync (package reconcile).
//
// A bundle is what one OS2MO unit or person becomes in STS Organisation (translate.BundleKey
// names it). Converging it means:
//
//   - take the bundle's lease (Store, implemented by package state) and keep it renewed while the
//     work runs; a lease another worker holds is a BusyError, and a lease lost mid-work cancels the
//     work and ends in a LeaseLostError (both retryable);
//   - read what STS holds for the bundle: Read fulfils translate.Lookups (the objects the bundle
//     names, the users linked to its person, the functions of those users and of its unit) and
//     ReadRefs reads named objects, both over an Index: LiveIndex searches and reads STS (the
//     event path), and the full sync's snapshot implements Index over what it read in bulk, so
//     the two read the same objects for a bundle;
//   - plan the writes (translate.PlanAll, by the caller);
//   - forget the bundle's last-sent record before the first write (a write failing half-way must
//     not leave a record of the old state), write in order with one audit line per write
//     ("sts write", with the TransactionUUID sent to STS), and keep the new record only after
//     every write succeeded (Writer.Write), retrying transient failures with backoff and planning
//     again after each (what STS holds after a failed write is uncertain).
package converge
