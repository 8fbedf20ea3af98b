// Package streamlog is the replicated event log: correlate.EventLog on a
// NATS JetStream stream shared by every replica (log.type: jetstream).
package streamlog
