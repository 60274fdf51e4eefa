package cors

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The module counts its decisions in Caddy's metrics registry, exported on
// Caddy's /metrics endpoint when metrics are enabled. The counters are looked
// up once at provision, so counting is an atomic add and never allocates.

type decisionKind uint8

const (
	kindPreflight decisionKind = iota
	kindActual
	kindWrite     // cross-origin protection: a method other than GET, HEAD, OPTIONS
	kindWebSocket // cross-origin protection: a WebSocket handshake
	numKinds
)

func (k decisionKind) String() string {
	return [...]string{"preflight", "actual", "write", "websocket"}[k]
}

// protected tells whether k is a kind of cross-origin protection, which
// only ever refuses an origin.
func (k decisionKind) protected() bool { return k == kindWrite || k == kindWebSocket }

type decisionResult uint8

const (
	resultAllowed decisionResult = iota
	resultOrigin
	resultMethod
	resultHeader
	resultBound // a preflight beyond one of the module's bounds
	numResults
)

func (r decisionResult) String() string {
	return [...]string{"allowed", "origin", "method", "header", "bound"}[r]
}

// decisionCounters holds caddy_http_cors_decisions_total{kind,result}.
type decisionCounters struct {
	c [numKinds][numResults]prometheus.Counter
}

func newDecisionCounters(ctx caddy.Context) (*decisionCounters, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http",
		Name:      "cors_decisions_total",
		Help:      "CORS requests by kind (preflight, actual; write, websocket for cross-origin protection's refusals) and result (allowed, or the part refused: origin, method, header, or bound for a preflight beyond the module's limits).",
	}, []string{"kind", "result"})
	vec, err := registered(ctx, vec)
	if err != nil {
		return nil, err
	}
	d := new(decisionCounters)
	for k := range numKinds {
		for r := range numResults {
			if k != kindPreflight && (r == resultMethod || r == resultHeader || r == resultBound) ||
				k.protected() && r != resultOrigin {
				continue // only preflights are refused for these; protection only refuses
			}
			d.c[k][r] = vec.WithLabelValues(k.String(), r.String())
		}
	}
	return d, nil
}

func (d *decisionCounters) count(k decisionKind, r decisionResult) {
	if d != nil {
		d.c[k][r].Inc()
	}
}

// reportCounters holds caddy_http_cors_report_only_total{kind,difference}.
type reportCounters struct {
	c [numKinds][numDifferences]prometheus.Counter
}

func newReportCounters(ctx caddy.Context) (*reportCounters, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http",
		Name:      "cors_report_only_total",
		Help:      "Report-only mode: responses whose CORS headers differ from the policy's, by kind (preflight, actual; write, websocket: requests cross-origin protection would refuse) and difference.",
	}, []string{"kind", "difference"})
	vec, err := registered(ctx, vec)
	if err != nil {
		return nil, err
	}
	rc := new(reportCounters)
	for k := range numKinds {
		for d := diffGrant; d < numDifferences; d++ {
			if only := d.onlyFor(); only != numKinds && only != k || k.protected() && d != diffRefusal {
				continue // this kind of request never differs so
			}
			rc.c[k][d] = vec.WithLabelValues(k.String(), d.String())
		}
	}
	return rc, nil
}

func (rc *reportCounters) count(k decisionKind, d difference) {
	if rc != nil {
		rc.c[k][d].Inc()
	}
}

// registered registers c in the config's metrics registry, or returns the
// collector already registered in its place: every handler of a config
// counts into one.
func registered[C prometheus.Collector](ctx caddy.Context, c C) (C, error) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
