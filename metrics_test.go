package cors

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// series gathers ctx's registry and returns the module's series (names
// starting with caddy_http_cors_) as name{label=value,...} with value.
func series(t *testing.T, ctx caddy.Context) map[string]float64 {
	t.Helper()
	families, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "caddy_http_cors_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			got[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return got
}

// provisionedIn provisions h in ctx, as Caddy provisions each handler of a
// config in the config's context.
func provisionedIn(t *testing.T, ctx caddy.Context, h Handler) *Handler {
	t.Helper()
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { h.Cleanup() })
	return &h
}

// TestHandlersOfAConfigCountIntoOneRegistry pins that every handler of a
// config counts into the config's registry, the one Caddy's /metrics
// serves: the second handler's counters are the first one's, not a copy no
// one scrapes.
func TestHandlersOfAConfigCountIntoOneRegistry(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	raw, _ := scripted(t, allowOnly("https://b.com"))
	for range 2 {
		h := provisionedIn(t, ctx, Handler{
			Origins:    []string{"https://a.com"},
			SourcesRaw: []json.RawMessage{raw},
			ReportOnly: true,
		})
		serve(h, "GET", "https://a.com")
		serve(h, "GET", "https://b.com")
		serve(h, "GET", "https://c.com")
	}
	got := series(t, ctx)
	for name, want := range map[string]float64{
		`caddy_http_cors_decisions_total{kind=actual,result=allowed}`:       4,
		`caddy_http_cors_decisions_total{kind=actual,result=origin}`:        2,
		`caddy_http_cors_report_only_total{difference=refusal,kind=actual}`: 4, // nopNext sends no CORS headers
		`caddy_http_cors_origin_cache_total{result=miss}`:                   2, // one per handler; the second reads the shared cache
		`caddy_http_cors_origin_cache_total{result=hit}`:                    2,
		`caddy_http_cors_origin_lookups_total{result=allowed,source=test}`:  1,
		`caddy_http_cors_origin_lookups_total{result=refused,source=test}`:  1,
		`caddy_http_cors_origin_lookup_seconds{source=test}`:                2,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if t.Failed() {
		t.Logf("gathered: %v", got)
	}
}

// TestCountersExistForEveryPossibleResult pins the series a config shows on
// /metrics from its start, at 0: each result a kind of request can have,
// and no other. A counter left out would panic on its first count.
func TestCountersExistForEveryPossibleResult(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	provisionedIn(t, ctx, Handler{Origins: []string{"https://a.com"}, ReportOnly: true, CrossOriginProtection: true})
	var want []string
	for _, r := range []string{"allowed", "origin", "method", "header", "bound"} {
		want = append(want, "caddy_http_cors_decisions_total{kind=preflight,result="+r+"}")
	}
	for _, r := range []string{"allowed", "origin"} {
		want = append(want, "caddy_http_cors_decisions_total{kind=actual,result="+r+"}")
	}
	for _, k := range []string{"write", "websocket"} {
		want = append(want, "caddy_http_cors_decisions_total{kind="+k+",result=origin}")
		want = append(want, "caddy_http_cors_report_only_total{difference=refusal,kind="+k+"}")
	}
	for _, d := range []string{"grant", "refusal", "credentials", "methods", "headers", "max_age", "vary", "invalid"} {
		want = append(want, "caddy_http_cors_report_only_total{difference="+d+",kind=preflight}")
	}
	for _, d := range []string{"grant", "refusal", "credentials", "exposed", "vary", "invalid"} {
		want = append(want, "caddy_http_cors_report_only_total{difference="+d+",kind=actual}")
	}
	var got []string
	for name, v := range series(t, ctx) {
		got = append(got, name)
		if v != 0 {
			t.Errorf("%s = %v before any request", name, v)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
