package cors

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics of origin sources that are asked (http), looked up once per
// source at provision so that counting never allocates:
// caddy_http_cors_origin_lookups_total{source,result},
// caddy_http_cors_origin_cache_total{result} and
// caddy_http_cors_origin_lookup_seconds{source}.

type cacheResult uint8

const (
	cacheHit cacheResult = iota
	cacheMiss
	cacheStale
	numCacheResults
)

func (r cacheResult) String() string {
	return [...]string{"hit", "miss", "stale"}[r]
}

// sourceCollectors are the metric vectors, shared by every source.
type sourceCollectors struct {
	lookups *prometheus.CounterVec
	cache   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

func newSourceMetrics(ctx caddy.Context) (*sourceCollectors, error) {
	s := &sourceCollectors{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "http",
			Name:      "cors_origin_lookups_total",
			Help:      "Questions asked of CORS origin sources, by source and result (allowed, refused, error).",
		}, []string{"source", "result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "http",
			Name:      "cors_origin_cache_total",
			Help:      "Answers of CORS origin sources taken from the cache (hit), asked for (miss), or used stale while the source failed (stale).",
		}, []string{"result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy",
			Subsystem: "http",
			Name:      "cors_origin_lookup_seconds",
			Help:      "How long CORS origin sources take to answer, by source.",
			Buckets:   []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"source"}),
	}
	var err error
	if s.lookups, err = registered(ctx, s.lookups); err != nil {
		return nil, err
	}
	if s.cache, err = registered(ctx, s.cache); err != nil {
		return nil, err
	}
	if s.seconds, err = registered(ctx, s.seconds); err != nil {
		return nil, err
	}
	return s, nil
}

// sourceMetrics are the metrics of one source.
type sourceMetrics struct {
	allowed, refused, failed prometheus.Counter
	cached                   [numCacheResults]prometheus.Counter
	seconds                  prometheus.Observer
}

func (s *sourceCollectors) forSource(name string) *sourceMetrics {
	m := &sourceMetrics{
		allowed: s.lookups.WithLabelValues(name, "allowed"),
		refused: s.lookups.WithLabelValues(name, "refused"),
		failed:  s.lookups.WithLabelValues(name, "error"),
		seconds: s.seconds.WithLabelValues(name),
	}
	for r := range numCacheResults {
		m.cached[r] = s.cache.WithLabelValues(r.String())
	}
	return m
}

func (m *sourceMetrics) cache(r cacheResult) {
	m.cached[r].Inc()
}

func (m *sourceMetrics) lookup(err error, allowed bool, took time.Duration) {
	m.seconds.Observe(took.Seconds())
	switch {
	case err != nil:
		m.failed.Inc()
	case allowed:
		m.allowed.Inc()
	default:
		m.refused.Inc()
	}
}
