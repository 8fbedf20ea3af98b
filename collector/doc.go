// Package collector is Hindsight's intake contract: every source (the
// Alertmanager webhook, PagerDuty, deploy notifications) turns what it
// receives into Events and hands them to a Sink.
//
// Invariants every source relies on:
//
//   - An Event's ID is derived from the source's own identity of the thing
//     that happened (an Alertmanager alert state is fingerprint + startsAt +
//     status), never from arrival, so a redelivery carries the same ID and
//     the Sink stores it once.
//   - Event.At is the time the source says the thing happened. Correlation
//     runs on it; ReceivedAt is kept only as evidence.
//   - A nil error from Sink.Ingest means the events are durable and visible
//     to every query that starts afterwards. Only then may a source answer
//     2xx or acknowledge a message.
//   - What a source adds beyond the common fields is typed (Event.Alert,
//     Event.PagerDuty, Event.Deploy) and declared here once, so that
//     correlation and the draft read fields the compiler checks. Labels are
//     the sender's own. Events stored before the PagerDuty and deploy parts
//     were typed carried them as labels; decoding such an event reads them
//     back into the typed part (Lift), and the API still shows them among
//     the labels (Payload.Flatten), so its answers did not change.
package collector
