package cors

import (
	"context"
	"fmt"
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

// TestJudgeDifferences pins each difference kind, in both directions, as a
// browser would judge each answer.
func TestJudgeDifferences(t *testing.T) {
	const o = "https://app.example.com"
	acao, vary := "Access-Control-Allow-Origin", "Vary"
	ans := func(kv ...string) answer { a := viewOf(hdrOf(kv...)); a.ok = true; return a }
	notOK := func(a answer) answer { a.ok = false; return a }
	actual := &question{kind: kindActual, origin: o}
	pf := func(method string, headers ...string) *question {
		return &question{kind: kindPreflight, origin: o, method: method, headers: headers}
	}
	tests := []struct {
		name      string
		resp, pol answer
		q         *question
		want      finding
	}{
		{"AgreeGrant", ans(acao, o, vary, "Origin"), ans(acao, o), actual, finding{}},
		{"AgreeRefusal", ans(), ans(), actual, finding{}},
		{"ResponseGrantsStar", ans(acao, "*"), ans(), actual, finding{diff: diffGrant}},
		{"ResponseRefuses", ans(), ans(acao, o), actual, finding{diff: diffRefusal}},
		{"ResponseAddsCredentials", ans(acao, o, "access-control-allow-credentials", "true", vary, "Origin"), ans(acao, o), actual, finding{diff: diffCredentials}},
		{"ResponseDropsCredentials", ans(acao, o, vary, "Origin"), ans(acao, o, "Access-Control-Allow-Credentials", "true"), actual, finding{diff: diffCredentials}},
		{"MissingVary", ans(acao, o), ans(acao, o), actual, finding{diff: diffVary}},
		{"VaryStarCounts", ans(acao, o, vary, "*"), ans(acao, o), actual, finding{}},
		{"StarWithCredentials", ans(acao, "*", "Access-Control-Allow-Credentials", "true"), ans(acao, o), actual, finding{diff: diffInvalid}},
		{"VaryInAnotherSpellingCounts", ans(acao, o, "vary", "Origin"), ans(acao, o), actual, finding{}},
		{"TwoOrigins", ans(acao, o, acao, o), ans(acao, o), actual, finding{diff: diffInvalid}},
		{"TwoSpellings", ans(acao, o, "access-control-allow-origin", o), ans(acao, o), actual, finding{diff: diffInvalid}},
		{"CommaList", ans(acao, o+", https://b.com"), ans(), actual, finding{diff: diffInvalid}},
		{"ResponseExposesMore", ans(acao, o, vary, "Origin", "Access-Control-Expose-Headers", "X-Total, X-Page", "X-Total", "1"), ans(acao, o, "Access-Control-Expose-Headers", "X-Page"), actual, finding{diffExposed, "X-Total"}},
		{"ResponseExposesLess", ans(acao, o, vary, "Origin"), ans(acao, o, "Access-Control-Expose-Headers", "X-Page"), actual, finding{diffExposed, "X-Page"}},
		{"ExposedInOtherCaseAgree", ans(acao, o, vary, "Origin", "Access-Control-Expose-Headers", "x-page"), ans(acao, o, "Access-Control-Expose-Headers", "X-Page"), actual, finding{}},
		{"ExposingSafelistedIsNoDifference", ans(acao, o, vary, "Origin", "Access-Control-Expose-Headers", "Content-Type", "Content-Type", "text/plain"), ans(acao, o), actual, finding{}},
		{"ExposedStarWithCredentialsIsAName", ans(acao, o, vary, "Origin", "Access-Control-Allow-Credentials", "true", "Access-Control-Expose-Headers", "*", "X-Total", "1"), ans(acao, o, "Access-Control-Allow-Credentials", "true"), actual, finding{}},
		{"ExposedStarWithoutCredentialsExposesAll", ans(acao, o, vary, "Origin", "Access-Control-Expose-Headers", "*", "X-Total", "1"), ans(acao, o), actual, finding{diffExposed, "X-Total"}},

		{"PreflightAgree", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT"), ans(acao, o, "Access-Control-Allow-Methods", "GET, PUT"), pf("PUT"), finding{}},
		{"PreflightNotOK", notOK(ans(acao, o, vary, "Origin")), ans(acao, o), pf("PUT"), finding{diff: diffRefusal}},
		{"PolicyPreflightNotOK", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT"), notOK(ans()), pf("PUT"), finding{diff: diffGrant}},
		{"ResponseAllowsMethod", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "GET, DELETE"), ans(acao, o, "Access-Control-Allow-Methods", "GET, PUT"), pf("DELETE"), finding{diffMethods, "DELETE"}},
		{"ResponseRefusesMethod", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "GET"), ans(acao, o, "Access-Control-Allow-Methods", "GET, PUT"), pf("PUT"), finding{diffMethods, "PUT"}},
		{"MethodStarCovers", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "*"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{}},
		{"MethodStarWithCredentialsIsAName", ans(acao, o, vary, "Origin", "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "*"), ans(acao, o, "Access-Control-Allow-Credentials", "true", "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{diffMethods, "PUT"}},
		{"MethodCaseMatters", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "patch"), ans(acao, o, "Access-Control-Allow-Methods", "PATCH"), pf("PATCH"), finding{diffMethods, "PATCH"}},
		{"UnparsableMethodsRefuse", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT;"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{diffMethods, "PUT"}},
		{"ResponseAllowsHeader", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "*"), ans(acao, o, "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "content-type"), pf("PUT", "content-type,x-token"), finding{diffHeaders, "x-token"}},
		{"ResponseRefusesHeader", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT"), ans(acao, o, "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "Content-Type"), pf("PUT", "content-type"), finding{diffHeaders, "content-type"}},
		{"StarNeverCoversAuthorization", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "*"), ans(acao, o, "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "authorization"), pf("PUT", "authorization"), finding{diffHeaders, "authorization"}},
		{"HeaderCaseDoesNotMatter", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "X-Token"), ans(acao, o, "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "x-token"), pf("PUT", "x-token"), finding{}},
		{"MaxAgeDiffers", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Max-Age", "86400"), ans(acao, o, "Access-Control-Allow-Methods", "PUT", "Access-Control-Max-Age", "600"), pf("PUT"), finding{diff: diffMaxAge}},
		{"MaxAgeDefaultIsFive", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Max-Age", "5"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{}},
		{"MaxAgeZeroIsNotTheDefault", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Max-Age", "0"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{diff: diffMaxAge}},
		{"MaxAgeNotANumberIsFive", ans(acao, o, vary, "Origin", "Access-Control-Allow-Methods", "PUT", "Access-Control-Max-Age", "ten"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{}},
		{"PreflightMissingVary", ans(acao, o, "Access-Control-Allow-Methods", "PUT"), ans(acao, o, "Access-Control-Allow-Methods", "PUT"), pf("PUT"), finding{diff: diffVary}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			for h, lines := range tt.resp.lines {
				if lines != nil {
					hdr[ownedHeaders[h]] = lines
				}
			}
			if tt.name == "ResponseExposesMore" || strings.HasPrefix(tt.name, "Exposed") {
				hdr["X-Total"] = []string{"1"}
			}
			if got := judge(&tt.resp, &tt.pol, tt.q, hdr); got != tt.want {
				t.Errorf("judge = %+v, want %+v", got, tt.want)
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
	a, b := &question{kind: kindActual, origin: "https://a.com"}, &question{kind: kindActual, origin: "https://b.com"}
	var resp, pol answer
	rp.report(a, finding{diff: diffGrant}, &resp, &pol)
	rp.report(a, finding{diff: diffGrant}, &resp, &pol)
	rp.report(a, finding{diffExposed, "X-Other"}, &resp, &pol)
	rp.report(b, finding{diff: diffGrant}, &resp, &pol)
	now = now.Add(time.Minute)
	rp.report(a, finding{diff: diffGrant}, &resp, &pol)
	if n := logs.Len(); n != 4 {
		t.Errorf("%d lines logged, want 4", n)
	}
}

// TestReportRateLimitKeepsAtMost1024Keys pins the bound on the rate
// limit's memory: within a minute, the first 1,024 distinct differences
// are logged and later ones are not, so that a flood of made-up origins
// neither grows the map nor floods the log.
func TestReportRateLimitKeepsAtMost1024Keys(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	now := time.Unix(0, 0)
	rp := &reporter{logger: zap.New(core), now: func() time.Time { return now }}
	var resp, pol answer
	for i := range maxReportKeys + 1 {
		rp.report(&question{kind: kindActual, origin: fmt.Sprintf("https://%d.example", i)}, finding{diff: diffGrant}, &resp, &pol)
	}
	if n := logs.Len(); n != maxReportKeys {
		t.Errorf("%d lines logged for %d distinct differences, want %d", n, maxReportKeys+1, maxReportKeys)
	}
	if n := len(rp.seen); n != maxReportKeys {
		t.Errorf("%d keys kept, want %d", n, maxReportKeys)
	}
}

// TestExposable pins which response headers exposing could matter to a
// script: not Set-Cookie, and none of the protocol's own headers.
func TestExposable(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Total":                      true,
		"Content-Length":               true,
		"Set-Cookie":                   false,
		"set-cookie2":                  false,
		"Access-Control-Allow-Origin":  false,
		"access-control-":              false, // the prefix alone
		"Access-Control":               true,  // one byte short of it
		"Access-Controls-Allow-Origin": true,
	} {
		if got := exposable(name); got != want {
			t.Errorf("exposable(%q) = %v, want %v", name, got, want)
		}
	}
}

// reportOnlyHandler is a report-only handler for origin whose report lines
// the test reads.
func reportOnlyHandler(t *testing.T) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	h := provisioned(t, Handler{Origins: []string{origin}, ReportOnly: true})
	h.policy.reporter.logger = zap.New(core)
	return h, logs
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
			h, logs := reportOnlyHandler(t)
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

// TestReportOnlyIgnoresAbandonedRequests pins that an answer written once the
// client has gone (reverse_proxy's 499, an error for the cancelled context,
// or the application's own late answer) is not judged: the policy grants
// what the application would, so a line here would blame the application
// for a refusal nobody received.
func TestReportOnlyIgnoresAbandonedRequests(t *testing.T) {
	paths := map[string]func(w http.ResponseWriter) error{
		"ProxyRecords499": func(w http.ResponseWriter) error { w.WriteHeader(499); return nil },
		"ErrorForTheCancelledContext": func(w http.ResponseWriter) error {
			return caddyhttp.Error(http.StatusBadGateway, context.Canceled)
		},
		"LateEmptyAnswer": func(w http.ResponseWriter) error { _, err := w.Write([]byte("x")); return err },
	}
	for name, write := range paths {
		for _, gone := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ClientGone=%t", name, gone), func(t *testing.T) {
				h, logs := reportOnlyHandler(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
				req.Header = from(origin)
				_ = h.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
					if gone {
						cancel()
					}
					return write(w)
				}))
				want := 1 // a present client's empty answer is a refusal
				if gone {
					want = 0
				}
				if logs.Len() != want {
					t.Errorf("%d lines logged, want %d: %v", logs.Len(), want, logs.All())
				}
			})
		}
	}
}

// TestAnswerInvalid pins which origin grants no browser accepts, whatever
// the request: more than one origin (on two lines, or on one, with or
// without a space), and "*" with credentials.
func TestAnswerInvalid(t *testing.T) {
	tests := []struct {
		name string
		hdr  []string
		want bool
	}{
		{"NoGrant", nil, false},
		{"OneOrigin", []string{"Access-Control-Allow-Origin", "https://a.com"}, false},
		{"Star", []string{"Access-Control-Allow-Origin", "*"}, false},
		{"OneOriginWithCredentials", []string{"Access-Control-Allow-Origin", "https://a.com", "Access-Control-Allow-Credentials", "true"}, false},
		{"StarWithCredentials", []string{"Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true"}, true},
		{"StarWithCredentialsOtherThanTrue", []string{"Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "True"}, false},
		{"TwoOriginsWithSpace", []string{"Access-Control-Allow-Origin", "https://a.com, https://b.com"}, true},
		{"TwoOriginsWithoutSpace", []string{"Access-Control-Allow-Origin", "https://a.com,https://b.com"}, true},
		{"TwoLines", []string{"Access-Control-Allow-Origin", "https://a.com", "Access-Control-Allow-Origin", "https://a.com"}, true},
		{"TwoSpellings", []string{"Access-Control-Allow-Origin", "https://a.com", "access-control-allow-origin", "https://a.com"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := viewOf(hdrOf(tt.hdr...))
			if got := a.invalid(); got != tt.want {
				t.Errorf("invalid() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReportOnlyJudgesTheStatusThatGoesOut pins which answer report-only
// mode judges: the header map when the final status is written (not what a
// handler changes later), and, when nothing was written, the status Caddy
// will send: 200 for no error, the error's own status for a handler error.
func TestReportOnlyJudgesTheStatusThatGoesOut(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		next     func(w http.ResponseWriter) error
		wantLogs int
	}{
		{"HeaderSetAfterWriteHeader", "GET", func(w http.ResponseWriter) error {
			w.WriteHeader(200)
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return nil
		}, 0},
		{"NothingWrittenIsA200", "OPTIONS", func(w http.ResponseWriter) error {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return nil
		}, 1},
		{"ErrorWithAnOKStatus", "OPTIONS", func(w http.ResponseWriter) error {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return caddyhttp.Error(http.StatusNoContent, nil)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := reportOnlyHandler(t)
			req := httptest.NewRequest(tt.method, "/", nil)
			req.Header = from(otherOrigin)
			if tt.method == "OPTIONS" {
				req.Header = pre(otherOrigin, "PUT")
			}
			_ = h.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				return tt.next(w)
			}))
			if logs.Len() != tt.wantLogs {
				t.Fatalf("%d lines logged, want %d: %v", logs.Len(), tt.wantLogs, logs.All())
			}
			if tt.wantLogs == 1 {
				if f := logs.All()[0].ContextMap(); f["difference"] != "grant" {
					t.Errorf("logged %v, want a grant difference", f)
				}
			}
		})
	}
}

// TestReportOnlyJudgesAPreflightByItsStatus pins the 2xx range a preflight
// answer must fall in to be a grant: an application's answer with CORS
// headers but a 300 grants nothing, one with 200 or 299 does, and the
// policy's own answer (204) is a grant that an application's bare answer
// refuses.
func TestReportOnlyJudgesAPreflightByItsStatus(t *testing.T) {
	tests := []struct {
		name     string
		origin   string
		status   int
		grant    bool
		wantDiff string
	}{
		{"AGrantWith200", otherOrigin, 200, true, "grant"},
		{"AGrantWith299", otherOrigin, 299, true, "grant"},
		{"NoGrantWith300", otherOrigin, 300, true, ""},
		{"ABareAnswerRefusesWhatThePolicyGrants", origin, 204, false, "refusal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := reportOnlyHandler(t)
			req := httptest.NewRequest("OPTIONS", "/", nil)
			req.Header = pre(tt.origin, "PUT")
			_ = h.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				if tt.grant {
					w.Header().Set("Access-Control-Allow-Origin", "*")
					w.Header().Set("Access-Control-Allow-Methods", "PUT")
				}
				w.WriteHeader(tt.status)
				return nil
			}))
			var got string
			if logs.Len() > 0 {
				got, _ = logs.All()[0].ContextMap()["difference"].(string)
			}
			if logs.Len() > 1 || got != tt.wantDiff {
				t.Errorf("logged %d lines, difference %q; want %q: %v", logs.Len(), got, tt.wantDiff, logs.All())
			}
		})
	}
}
