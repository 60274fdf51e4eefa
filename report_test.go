package cors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestJudgeDifferences pins each difference kind, in both directions.
func TestJudgeDifferences(t *testing.T) {
	const o = "https://app.example.com"
	ans := func(kv ...string) answer { return viewOf(hdrOf(kv...)) }
	tests := []struct {
		name          string
		resp, pol     answer
		respOK, polOK bool
		want          difference
	}{
		{"AgreeGrant", ans("Access-Control-Allow-Origin", o, "Vary", "Origin"), ans("Access-Control-Allow-Origin", o), true, true, diffNone},
		{"AgreeRefusal", ans(), ans(), true, true, diffNone},
		{"ResponseGrantsStar", ans("Access-Control-Allow-Origin", "*"), ans(), true, true, diffGrant},
		{"ResponseRefuses", ans(), ans("Access-Control-Allow-Origin", o), true, true, diffRefusal},
		{"ResponseAddsCredentials", ans("Access-Control-Allow-Origin", o, "access-control-allow-credentials", "true", "Vary", "Origin"), ans("Access-Control-Allow-Origin", o), true, true, diffCredentials},
		{"ResponseDropsCredentials", ans("Access-Control-Allow-Origin", o, "Vary", "Origin"), ans("Access-Control-Allow-Origin", o, "Access-Control-Allow-Credentials", "true"), true, true, diffCredentials},
		{"MissingVary", ans("Access-Control-Allow-Origin", o), ans("Access-Control-Allow-Origin", o), true, true, diffVary},
		{"StarWithCredentials", ans("Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true"), ans("Access-Control-Allow-Origin", o), true, true, diffInvalid},
		{"TwoOrigins", ans("Access-Control-Allow-Origin", o, "Access-Control-Allow-Origin", o), ans("Access-Control-Allow-Origin", o), true, true, diffInvalid},
		{"CommaList", ans("Access-Control-Allow-Origin", o+", https://b.com"), ans(), true, true, diffInvalid},
		{"PreflightNotOK", ans("Access-Control-Allow-Origin", o, "Vary", "Origin"), ans("Access-Control-Allow-Origin", o), false, true, diffRefusal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(&tt.resp, &tt.pol, o, tt.respOK, tt.polOK); got != tt.want {
				t.Errorf("judge = %v, want %v", got, tt.want)
			}
		})
	}
}

func hdrOf(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

// TestReportRateLimit pins one log line per distinct difference a minute.
func TestReportRateLimit(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	now := time.Unix(0, 0)
	rp := &reporter{logger: zap.New(core), now: func() time.Time { return now }}
	rp.report(kindActual, "https://a.com", diffGrant, "r", "p")
	rp.report(kindActual, "https://a.com", diffGrant, "r", "p")
	rp.report(kindActual, "https://b.com", diffGrant, "r", "p")
	now = now.Add(time.Minute)
	rp.report(kindActual, "https://a.com", diffGrant, "r", "p")
	if n := logs.Len(); n != 3 {
		t.Errorf("%d lines logged, want 3", n)
	}
}

// TestReportOnlyWriterPaths pins that the comparison runs on every way the
// response leaves, and that report-only still changes nothing.
func TestReportOnlyWriterPaths(t *testing.T) {
	paths := map[string]func(w http.ResponseWriter) error{
		"WriteHeader": func(w http.ResponseWriter) error { w.WriteHeader(200); return nil },
		"Write":       func(w http.ResponseWriter) error { _, err := w.Write([]byte("x")); return err },
		"ReadFrom": func(w http.ResponseWriter) error {
			_, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("x"))
			return err
		},
		"Flush":          func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() },
		"NothingWritten": func(w http.ResponseWriter) error { return nil },
		"Error":          func(w http.ResponseWriter) error { return caddyhttp.Error(502, nil) },
	}
	for name, write := range paths {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			h := provisioned(t, Handler{Origins: []string{origin}, ReportOnly: true})
			h.policy.reporter.logger = zap.New(core)
			req := httptest.NewRequest("GET", "/", nil)
			req.Header = from(otherOrigin)
			rec := httptest.NewRecorder()
			_ = h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				return write(w)
			}))
			if got := rec.Header().Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
				t.Errorf("header changed: %v", rec.Header())
			}
			if logs.Len() != 1 {
				t.Fatalf("%d lines logged, want 1", logs.Len())
			}
			f := logs.All()[0].ContextMap()
			if f["difference"] != "grant" || f["response"] != "grants (Access-Control-Allow-Origin: *)" || f["policy"] != "refuses: origin not allowed" {
				t.Errorf("logged %v", f)
			}
		})
	}
}
