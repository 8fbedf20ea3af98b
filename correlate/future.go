package correlate

import (
	"cmp"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Event time is what correlation compares, and the newest event time seen
// (the watermark) decides what is settled enough to forget. One event
// whose clock is years ahead (an Alertmanager startsAt of 2099, a deploy
// "at" of 9999) would make every deploy and settled incident look
// forgotten-old at the next sweep. So an event too far ahead of the clock
// that received it is refused at intake, and one that is in the log
// anyway (stored before this check, or appended by a tool) is kept but
// neither correlated nor allowed to move the watermark. Both tests read
// only the event (its time against its ReceivedAt), so a replay decides
// the same.

// aheadOf reports how far ev's time is past its receipt plus skew, or 0.
// An event without a receipt time (written by a tool or a test) is taken
// as it is.
func aheadOf(ev *collector.Event, skew time.Duration) time.Duration {
	if skew <= 0 || ev.ReceivedAt.IsZero() {
		return 0
	}
	if d := ev.At.Sub(ev.ReceivedAt); d > skew {
		return d
	}
	return 0
}

// futureField names, for a person, the field of the source's payload an
// event's time came from.
func futureField(ev *collector.Event) string {
	switch ev.Source {
	case collector.SourceAlertmanager:
		if ev.Kind == collector.KindAlertResolved {
			return "endsAt"
		}
		return "startsAt"
	case collector.SourcePagerDuty:
		return "occurred_at"
	case collector.SourceDeploy:
		return "at"
	}
	return "time"
}

// CheckEventTimes refuses events whose own time is more than skew
// (correlation.max_future_skew) ahead of when they were received, with a
// 400 that names the field and the event. Nothing of the request is
// stored then: a sender that retries with the same payload gets the same
// answer, and one with a fixed clock is accepted.
func CheckEventTimes(evs []collector.Event, skew time.Duration) error {
	for i := range evs {
		ev := &evs[i]
		d := aheadOf(ev, skew)
		if d == 0 {
			continue
		}
		what := ev.Source + " event"
		switch {
		case ev.Alert != nil:
			what = "alert " + cmp.Or(ev.Alert.Name, ev.Labels["alertname"])
			if ev.Ref.Fingerprint != "" {
				what += " (fingerprint " + ev.Ref.Fingerprint + ")"
			}
		case ev.Ref.DeployID != "":
			what = "deploy " + ev.Ref.DeployID
		case ev.Ref.PagerDutyIncidentID != "":
			what = "PagerDuty incident " + ev.Ref.PagerDutyIncidentID
		}
		return collector.BadRequest("%s: %s %s is %s ahead of this server's clock (more than correlation.max_future_skew %s); fix the sender's clock",
			what, futureField(ev), ev.At.UTC().Format(time.RFC3339), fmtDur(d), fmtDur(skew))
	}
	return nil
}
