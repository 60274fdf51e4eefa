package cors

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Timing claims live here, never in tests. Compare sub-benchmarks of one run:
//
//	go test -run '^$' -bench . -benchmem -count 8 | benchstat -col /policy -
//	go test -run '^$' -bench BenchmarkHostile -benchmem -count 8 | benchstat -col /request -

// BenchmarkOriginMatch compares a policy of three origins with one of 500
// exact origins and 20 subdomain patterns: the matcher's cost must not grow
// with the policy.
func BenchmarkOriginMatch(b *testing.B) {
	policies := []struct {
		name    string
		origins []string
	}{
		{"3", []string{"https://www.example.com", "https://*.tenant0.example.org", "http://localhost:*"}},
		{"520", append(manyOrigins(500, 20), "http://localhost:*")},
	}
	probes := []struct{ name, origin string }{
		{"exact", "https://www.example.com"},
		{"subdomain", "https://a.b.tenant0.example.org"},
		{"miss", "https://www.example.com.evil.net"},
	}
	for _, probe := range probes {
		for _, pol := range policies {
			b.Run("probe="+probe.name+"/policy="+pol.name, func(b *testing.B) {
				m := newMatcher(b, pol.origins)
				want := probe.name != "miss"
				for b.Loop() {
					if m.match(probe.origin) != want {
						b.Fatal("wrong answer")
					}
				}
			})
		}
	}
}

// BenchmarkHostile compares a normal allowed preflight with preflights
// carrying a 1 MiB Access-Control-Request-Headers and a 64 KiB Origin: a
// hostile header must cost about what a normal one does.
func BenchmarkHostile(b *testing.B) {
	h := provisioned(b, typicalPolicy)
	h.logger = infoLogger()
	requests := []struct {
		name   string
		header http.Header
	}{
		{"normal", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", "authorization,content-type")},
		{"acrh-1MiB", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 1<<19))},
		{"acrh-commas-1MiB", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", strings.Repeat(",", 1<<20))},
		{"acrh-4096-lines", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", "")},
		{"origin-64KiB", pre("https://"+strings.Repeat("a", 64<<10)+".example.org", "PUT")},
	}
	requests[3].header["Access-Control-Request-Headers"] = strings.Split(strings.Repeat("content-type\n", 4096), "\n")
	for _, tc := range requests {
		b.Run("request="+tc.name, func(b *testing.B) {
			serveN(b, h, "OPTIONS", tc.header, nopNext)
		})
	}
}

// BenchmarkServeHTTP measures each kind of request the handler serves.
func BenchmarkServeHTTP(b *testing.B) {
	h := provisioned(b, typicalPolicy)
	h.logger = infoLogger()
	for _, tc := range servedRequests {
		b.Run(tc.name, func(b *testing.B) {
			serveN(b, h, tc.method, tc.header, nopNext)
		})
	}
}

// BenchmarkRealistic measures the requests of BenchmarkServeHTTP that get
// an answer with the headers a real API sends (realisticHeaders, Vary among
// them): the application sets them on actual requests and requests without
// Origin; on preflights, which the module answers itself, the layers in
// front of it did (Caddy's server, a header block before cors).
func BenchmarkRealistic(b *testing.B) {
	h := provisioned(b, typicalPolicy)
	h.logger = infoLogger()
	for _, tc := range realisticRequests {
		b.Run(tc.name, func(b *testing.B) {
			app := newAppResponse(realisticHeaders...)
			var front func(http.Header)
			if tc.method == http.MethodOptions {
				front = app.Add
			}
			serveFrontN(b, h, tc.method, tc.header, front, app)
		})
	}
}

func serveN(b *testing.B, h *Handler, method string, header http.Header, next caddyhttp.Handler) {
	serveFrontN(b, h, method, header, nil, next)
}

// serveFrontN is serveN with front, when not nil, setting response headers
// before the module runs.
func serveFrontN(b *testing.B, h *Handler, method string, header http.Header, front func(http.Header), next caddyhttp.Handler) {
	req := httptest.NewRequest(method, "/", nil)
	req.Header = header
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if front != nil {
			front(w.h)
		}
		h.ServeHTTP(w, req, next)
	}
}

// BenchmarkPolicySize compares the policy of a multi-tenant SaaS, 100,000
// customer origins and 1,000 subdomain patterns, with the 520-origin policy:
// a request must cost about the same whatever the policy's size. Each
// sub-benchmark also reports what provisioning the policy cost (provision-ms)
// and the heap it holds (heap-MiB), measured once outside the timed loop.
//
//	go test -run '^$' -bench BenchmarkPolicySize -benchmem -count 8 . | benchstat -col /policy -
func BenchmarkPolicySize(b *testing.B) {
	sizes := []struct {
		name            string
		exact, patterns int
	}{
		{"520", 500, 20},
		{"101000", 100_000, 1_000},
	}
	requests := []struct {
		name   string
		header http.Header
	}{
		{"exact", from("https://www.example.com")},
		{"subdomain", from("https://a.b.tenant7.example.org")},
		{"miss", from("https://www.example.com.evil.net")},
		{"preflight", pre("https://www.example.com", "PUT", "Access-Control-Request-Headers", "content-type")},
	}
	for _, rq := range requests {
		for _, size := range sizes {
			b.Run("request="+rq.name+"/policy="+size.name, func(b *testing.B) {
				h, provision, heap := provisionMeasured(b, Handler{
					Origins:        manyOrigins(size.exact, size.patterns),
					Methods:        []string{"PUT"},
					AllowedHeaders: []string{"Content-Type"},
				})
				method := "GET"
				if rq.name == "preflight" {
					method = "OPTIONS"
				}
				serveN(b, h, method, rq.header, nopNext)
				b.ReportMetric(float64(provision.Microseconds())/1e3, "provision-ms")
				b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
			})
		}
	}
}

// BenchmarkReportOnly compares report-only mode with the normal mode on an
// allowed actual request and an allowed preflight: report-only must cost at
// most twice as much. The application behind either sends nothing (report
// -only then finds a difference on every request) or exactly the headers the
// policy would (report-only then judges every part of both answers).
//
//	go test -run '^$' -bench BenchmarkReportOnly -benchmem -count 8 . | benchstat -col /mode -
func BenchmarkReportOnly(b *testing.B) {
	report := typicalPolicy
	report.ReportOnly, report.PreflightStatus, report.PreflightPassthrough = true, 0, false
	normal := provisioned(b, typicalPolicy)
	modes := []struct {
		name string
		h    *Handler
	}{{"normal", normal}, {"report", provisioned(b, report)}}
	requests := []struct {
		name, method string
		header       http.Header
	}{
		{"actual", "GET", from("https://app.example.com")},
		{"preflight", "OPTIONS", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", "content-type")},
	}
	for _, rq := range requests {
		// What the policy answers, for an application that agrees.
		req := httptest.NewRequest(rq.method, "/", nil)
		req.Header = rq.header
		rec := httptest.NewRecorder()
		normal.ServeHTTP(rec, req, nopNext)
		agreed := rec.Header()
		agreeing := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			maps.Copy(w.Header(), agreed)
			return nil
		})
		for _, app := range []struct {
			name string
			next caddyhttp.Handler
		}{{"silent", nopNext}, {"agreeing", agreeing}} {
			for _, m := range modes {
				m.h.logger = infoLogger()
				b.Run("request="+rq.name+"/app="+app.name+"/mode="+m.name, func(b *testing.B) {
					serveN(b, m.h, rq.method, rq.header, app.next)
				})
			}
		}
	}
}

// provisionMeasured provisions h as Caddy would and reports how long that
// took and how much heap the provisioned handler keeps alive.
func provisionMeasured(b *testing.B, h Handler) (_ *Handler, took time.Duration, heap uint64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	p := provisioned(b, h)
	took = time.Since(start)
	p.logger = infoLogger()
	h.Origins = nil // only the provisioned policy stays reachable
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	return p, took, after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
}
