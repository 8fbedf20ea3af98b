// Package impact puts numbers on an incident by running the configured
// impact queries against Prometheus.
//
// Why: a post-mortem's Impact section is only as good as its numbers. The
// alerts say that something was wrong and for how long; the service's own
// metrics say how much: what share of requests failed, how many, how much
// error budget was burned. Each service may declare such queries in
// services.<name>.impact_queries (spec/config.md), and [Querier.Measure]
// runs them over the incident's span for the draft and the API.
//
// What the numbers mean: every query is an instant query evaluated at the
// incident's end, with $window replaced by the incident's span as a PromQL
// duration (at least one minute, see [Querier.Measure]). So a query such as
//
//	sum(rate(http_requests_total{code=~"5.."}[$window])) / sum(rate(http_requests_total[$window]))
//
// gives the error ratio over the whole incident, and
// sum(increase(...[$window])) the number of failed requests in it. A query
// must return exactly one number (a scalar or a one-element vector); the
// number is reported as it is, under the query's name, and [Summary] turns
// the numbers into a sentence for people. Numbers are not summed across
// series, because only the query's author knows whether that is meaningful.
//
// Failure semantics: impact numbers are an embellishment of a draft, never
// a reason to fail one. Every problem (Prometheus unreachable or slow, a bad
// query, a query returning no series, several series, NaN or ±Inf) comes
// back as a human-readable string naming the service and the query, next to
// the numbers of the queries that did work; [Querier.Measure] has no error
// result and never panics on Prometheus' answers. Each query is bounded by
// prometheus.query_timeout, so a slow Prometheus delays a draft by at most
// that much. A configuration without prometheus.url reports one string
// saying so whenever there are queries to run.
//
// Caching: the numbers of a window that lies in the past do not change, and
// the API serves an incident again on every GET, so results are cached in a
// small LRU (see [Querier.Measure] for the policy). A reload that changes
// anything the queries depend on starts a fresh cache.
package impact
