package daemon

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector"
	pdcollector "github.com/hindsight-ops/hindsight/collector/pagerduty"
)

// backfillPagerDuty reads PagerDuty incidents and their log entries over a
// window through the REST API (hindsightctl backfill pagerduty). Events
// get the same identities as webhooks, so the two never double up.
func (d *Daemon) backfillPagerDuty(w http.ResponseWriter, r *http.Request) {
	cfg := d.reloader.Config()
	since, until := time.Now().Add(-72*time.Hour), time.Now()
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := parseWhen(s)
		if err != nil {
			collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "since: " + err.Error()})
			return
		}
		since = t
	}
	if s := r.URL.Query().Get("until"); s != "" {
		t, err := parseWhen(s)
		if err != nil {
			collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "until: " + err.Error()})
			return
		}
		until = t
	}
	token, err := cfg.PagerDuty.APIToken()
	if err != nil || token == "" {
		msg := "pagerduty.api_token_file is not set: backfill needs a PagerDuty REST API token"
		if err != nil {
			msg = "pagerduty.api_token_file: " + err.Error()
		}
		collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	b := pdcollector.NewBackfiller(pdcollector.NewClient(token, cfg.PagerDuty.APIURL), d.reloader.Config, d.sink, d.logger)
	stats, err := b.Run(r.Context(), since, until)
	if err != nil {
		collector.WriteJSON(w, http.StatusBadGateway, map[string]any{"error": "backfill: " + err.Error(), "stats": stats})
		return
	}
	collector.WriteJSON(w, http.StatusOK, map[string]any{"since": since.UTC(), "until": until.UTC(), "stats": stats})
}

// parseWhen accepts RFC 3339 or a duration meaning that long ago (72h, 3d).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 72h", s)
	}
	return time.Now().Add(-time.Duration(d)), nil
}
