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
// allocation, the slice holding every header value the request adds (16 to
// 80 bytes), whatever the request and however hostile. The response writer
// wrapper is pooled.
func TestAllocations(t *testing.T) {
	h := provisioned(t, typicalPolicy)
	h.logger = infoLogger() // refusals are logged at debug level, which costs nothing when off
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
