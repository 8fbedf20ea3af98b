// Package deploy receives deploy notifications, over HTTP
// (POST /api/v1/ingest/deploys) and from NATS, and turns each step of a
// deploy into a collector.Event.
//
// # Identity
//
// A deploy is one run of one service to one environment, named by the
// sender's `id`; each step of it (started, then succeeded, failed or
// rolled_back) is a separate message with the same id. The event ID is
// derived from id + status only, so a step sent twice (a retried webhook,
// a NATS redelivery, a replayed stream) is the same event and the log
// stores it once, while the steps of one deploy stay distinct and share
// Ref.DeployID.
//
// Foreign shapes are mapped onto the canonical event (deploy-event.md)
// with a stable id of their own: GitHub `github:<repo>:<deployment id>`,
// Flux `flux:<kind>/<namespace>/<name>:<revision>`, Spinnaker
// `spinnaker:<execution id>`, CDEvents `cdevents:<source>:<context id>`.
//
// # Delivery
//
// Over HTTP the answer is 200 only once the sink has made every event
// durable; 400 (never retried by senders) for input that can never be
// stored, 503 with Retry-After when the store is unavailable.
//
// On JetStream (a stream is configured, always in embedded mode) the
// durable pull consumer acknowledges a message only after the sink
// returned nil, and waits for the server to confirm the ack; a message
// that cannot be decoded is terminated (never redelivered), a sink error
// is answered with a delayed nak so the message comes back. This is
// at-least-once; the event ID makes it effectively once. MaxDeliver
// (config nats.max_deliver) bounds the redeliveries of a message the sink
// keeps refusing. Publishers may set the Nats-Msg-Id header so the stream
// itself drops repeats within its duplicate window; since every step of a
// deploy shares the id, the header must be `<id>:<status>`, not the bare
// id, or the stream would drop the second step.
//
// Without a stream (an external NATS server and no nats.stream) deploys
// are read from a plain core subscription: at-most-once, anything
// published while Hindsight is down or while the store refuses it is
// lost.
package deploy
