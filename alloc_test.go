package cors

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-cors/cors/internal/realistic"
)

// discardWriter is a ResponseWriter that keeps one header map across
// requests (cleared, not reallocated), so that only the handler's own
// allocations are counted.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var nopNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// servedRequest is a request the handler serves, for allocation tests and
// benchmarks alike.
type servedRequest struct {
	name   string
	method string
	header http.Header
}

var typicalPolicy = Handler{
	Origins:        []string{"https://app.example.com", "https://*.example.org"},
	Methods:        []string{"GET", "POST", "PUT", "DELETE"},
	AllowedHeaders: []string{"Content-Type", "Authorization", "X-Request-Id"},
	ExposedHeaders: []string{"X-Total-Count"},
	MaxAge:         maxAge(600e9),
}

var servedRequests = []struct {
	servedRequest
	maxAllocs float64
}{
	{servedRequest{"NonCORS", "GET", http.Header{}}, 1},
	{servedRequest{"AllowedActual", "GET", from("https://app.example.com")}, 1},
	{servedRequest{"RefusedActual", "GET", from("https://evil.example.net")}, 1},
	{servedRequest{"AllowedPreflight", "OPTIONS", pre("https://a.example.org", "PUT", "Access-Control-Request-Headers", "content-type,authorization")}, 1},
	{servedRequest{"PreflightRefusedByOrigin", "OPTIONS", pre("https://evil.example.net", "PUT")}, 1},
	{servedRequest{"PreflightRefusedByMethod", "OPTIONS", pre("https://app.example.com", "PATCH")}, 1},
	{servedRequest{"PreflightRefusedByHeader", "OPTIONS", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", "x-other")}, 1},
	{servedRequest{"HostileRequestHeaders", "OPTIONS", pre("https://app.example.com", "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 1<<19))}, 1},
	{servedRequest{"HostileOrigin", "OPTIONS", pre("https://"+strings.Repeat("a.", 32<<10)+"example.org", "PUT")}, 1},
}

// realisticRequests are the requests BenchmarkRealistic answers with
// realisticHeaders.
var realisticRequests = []servedRequest{
	{"NonCORS", "GET", http.Header{}},
	{"AllowedActual", "GET", from("https://app.example.com")},
	{"AllowedPreflight", "OPTIONS", pre("https://a.example.org", "PUT", "Access-Control-Request-Headers", "content-type,authorization")},
}

func infoLogger() *zap.Logger {
	core, _ := observer.New(zapcore.InfoLevel)
	return zap.New(core)
}

// TestRefusalsAreLoggedAtDebugLevel pins that each refusal says why, and
// only at debug level.
func TestRefusalsAreLoggedAtDebugLevel(t *testing.T) {
	h := provisioned(t, typicalPolicy)
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	for _, tc := range servedRequests {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.Header = tc.header
		h.ServeHTTP(httptest.NewRecorder(), req, nopNext)
	}
	var got []string
	for _, e := range logs.All() {
		if e.Level != zapcore.DebugLevel {
			t.Errorf("logged at %v: %s", e.Level, e.Message)
		}
		f := e.ContextMap()
		value, tail := f[fmt.Sprint(f["refused"])], ""
		if f["refused"] == "bound" {
			tail = fmt.Sprintf(" limit %v got %v", f["limit"], f["got"])
		}
		if line := fmt.Sprintf("%v %v %v%s", f["kind"], f["refused"], value, tail); len(line) > 300 {
			t.Errorf("log line of %d bytes: hostile values must be truncated", len(line))
		}
		// Only the value the request sent is cut, to keep the table
		// short: what the handler adds is compared whole.
		got = append(got, fmt.Sprintf("%v %v %.60v%s", f["kind"], f["refused"], value, tail))
	}
	// typicalPolicy allows three header names of 12, 13 and 12 bytes:
	// 4*(14+15+14)+256 = 428 bytes of Access-Control-Request-Headers.
	want := []string{
		"actual origin [https://evil.example.net]",
		"preflight origin [https://evil.example.net]",
		"preflight method PATCH",
		"preflight header x-other",
		"preflight bound Access-Control-Request-Headers length limit 428 got 1048576",
		"preflight origin [" + ("https://" + strings.Repeat("a.", 32<<10))[:60] + "]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("debug log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAllocations pins what a request costs the garbage collector: one
// allocation, the slice holding every header value the request adds (and
// the Vary lines it merges with the response's), whatever the request,
// however hostile, and whatever the response. The response writer wrapper
// is pooled.
func TestAllocations(t *testing.T) {
	h := provisioned(t, typicalPolicy)
	h.logger = infoLogger() // refusals are logged at debug level, which costs nothing when off
	testRealisticAllocations(t, h)
	for _, tc := range servedRequests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", nil)
			req.Header = tc.header
			w := &discardWriter{h: make(http.Header)}
			got := testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, req, nopNext)
			})
			if got > tc.maxAllocs {
				t.Errorf("%s: %v allocations per request, want at most %v", tc.name, got, tc.maxAllocs)
			}
		})
	}
}

// TestReportOnlyAllocations pins that report-only mode allocates nothing,
// a disagreement already logged this minute included (nopNext sends no CORS
// header, so allowed requests disagree): it adds no header, and what it
// keeps of the request lives in the pooled writer.
func TestReportOnlyAllocations(t *testing.T) {
	report := typicalPolicy
	report.ReportOnly, report.PreflightStatus, report.PreflightPassthrough = true, 0, false
	h := provisioned(t, report)
	h.logger = infoLogger()
	for _, tc := range servedRequests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", nil)
			req.Header = tc.header
			w := &discardWriter{h: make(http.Header)}
			h.ServeHTTP(w, req, nopNext) // the one log line of the minute
			got := testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, req, nopNext)
			})
			if got > 0 {
				t.Errorf("%s: %v allocations per request, want none", tc.name, got)
			}
		})
	}
}

// realisticHeaders is what a real API response carries besides CORS: the
// headers of a JSON answer behind reverse_proxy, Vary among them.
var realisticHeaders = realistic.Headers

// appResponse is an application answering 200 with fixed headers, added
// without allocating (see realistic.Response).
type appResponse struct{ *realistic.Response }

func newAppResponse(headers ...[2]string) appResponse {
	return appResponse{realistic.NewResponse(headers...)}
}

func (rr appResponse) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	rr.Add(w.Header())
	w.WriteHeader(http.StatusOK)
	return nil
}

// with is realisticHeaders and more.
func with(more ...[2]string) [][2]string {
	return append(slices.Clip(realisticHeaders), more...)
}

// realisticResponses are responses that carry many headers, and a Vary or
// an owned header of their own in the shapes the module must handle.
var realisticResponses = []struct {
	name    string
	headers [][2]string
}{
	{"Realistic", realisticHeaders},
	{"VaryNamingOrigin", with([2]string{"Vary", "Origin"})},
	{"VaryDuplicates", with([2]string{"Vary", "origin, Cookie, Origin"}, [2]string{"Vary", "Access-Control-Request-Method"})},
	{"ForeignSpellings", with(
		[2]string{"access-control-allow-origin", "*"},
		[2]string{"ACCESS-CONTROL-ALLOW-CREDENTIALS", "true"},
		[2]string{"Access-Control-Max-Age", "86400"},
		[2]string{"Access-control-expose-headers", "X-Secret"})},
}

// testRealisticAllocations is TestAllocations for responses that carry a
// real API's headers: the response does not change what a request costs,
// however many headers it carries, whatever Vary and foreign CORS headers
// are among them. The application sets them on actual requests; on
// preflights, which the module answers itself, the handlers in front of it
// did.
func testRealisticAllocations(t *testing.T, h *Handler) {
	for _, resp := range realisticResponses {
		for _, tc := range realisticRequests {
			t.Run(resp.name+"/"+tc.name, func(t *testing.T) {
				req := httptest.NewRequest(tc.method, "/", nil)
				req.Header = tc.header
				w := &discardWriter{h: make(http.Header)}
				app := newAppResponse(resp.headers...)
				got := testing.AllocsPerRun(100, func() {
					clear(w.h)
					if tc.method == http.MethodOptions {
						app.Add(w.h)
					}
					h.ServeHTTP(w, req, app)
				})
				if got > 1 {
					t.Errorf("%v allocations per request, want at most 1", got)
				}
			})
		}
	}
}
