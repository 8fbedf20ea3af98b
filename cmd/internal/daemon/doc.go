// Package daemon is the Hindsight daemon as a value: New wires every part
// from Options and the configuration file, Run serves until its context
// is done or a part fails. cmd/hindsight is a thin main around it (flags,
// logger, signals); tests start a real daemon in-process with it
// (see the daemontest package).
//
// # Lifecycle
//
// New does everything that can fail at start and names what failed: it
// loads the configuration, checks the web configuration file, opens the
// store, loads the correlation state, binds the HTTP listener and starts
// the embedded NATS server. Run then runs the parts as one
// github.com/oklog/run group, as Prometheus does: the first part to
// return ends the group, and Run returns its error (nil when the context
// was cancelled). Parts are stopped in the order they were added, each
// stop waiting for its part to return, so that shutdown goes: stop
// reporting ready; stop taking requests and let the in-flight ones finish
// (they may wait for their events to be correlated); stop consuming
// deploys and the embedded NATS server; stop the other parts; stop the
// projector; and, once the group is done, close the store.
//
// A part joins the group with [Daemon.Go] in New, before Run:
//
//	d.Go("exporter", exp.Run) // func(ctx context.Context) error
//
// Its function runs until ctx is done and then returns; returning earlier,
// with an error or without, stops the daemon with that error. Such parts
// stop after the HTTP server and the deploy consumer and before the
// projector, so they may still read incidents and write events while they
// stop.
//
// # Readiness
//
// GET /-/ready asks every named check of a [Readiness] registry and
// answers 200 when all pass, else 503 with one line per check that does
// not pass, naming it and saying why. A part adds its check with one line
// in New:
//
//	d.Ready.Add("store", db.CheckWritable) // func(ctx context.Context) error
//
// A check returns nil when the part can do its work, or an error that
// says why not in words an operator can act on. Checks are called on each
// request to /-/ready, so they must be cheap (read a state, do not probe
// the network). GET /-/healthy answers 200 as long as the process serves.
//
// # Reload
//
// SIGHUP (Options.Reload), POST /-/reload and [Daemon.Reload] all go
// through one coordinator goroutine, so reloads never run concurrently.
// A reload loads the file, refuses keys that cannot change while the
// daemon runs ([Reloader.Fixed]; nats.* today) naming the key, prepares
// every part that takes the new configuration ([Reloader.OnReload]) and
// only when all are prepared commits them and swaps the configuration.
// Any failure keeps the running configuration and sets
// hindsight_config_last_reload_successful to 0.
//
// # Access
//
// Every route is registered with an access class (auth.Public, Read,
// Write, Ingest, Metrics); [Daemon.Routes] lists them, and a test checks
// each against every kind of credential. See the auth package and the
// README for the rules.
package daemon
