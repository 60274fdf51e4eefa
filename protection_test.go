package cors

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// protectedPolicy trusts an exact origin, a subdomain pattern and a regexp;
// the API it protects is at api.example.com.
var protectedPolicy = Handler{
	Origins:               []string{"https://app.example.com", "https://*.trusted.example"},
	OriginRegexp:          []string{`https://tenant-[0-9]+\.example\.net`},
	CrossOriginProtection: true,
}

const apiHost = "api.example.com"

// protectionRequest builds a request to apiHost from header pairs.
func protectionRequest(method string, header ...string) *http.Request {
	req := httptest.NewRequest(method, "https://"+apiHost+"/items", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

// webSocket returns the header pairs of a browser's HTTP/1.1 handshake.
func webSocket(header ...string) []string {
	return append([]string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, header...)
}

// extendedConnect returns an HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220)
// WebSocket handshake as net/http's and quic-go's servers hand it over.
func extendedConnect(major int, header ...string) *http.Request {
	req := protectionRequest(http.MethodConnect, header...)
	req.ProtoMajor, req.ProtoMinor = major, 0
	req.Host = apiHost // the :authority; httptest reads a CONNECT's target otherwise
	switch major {
	case 2:
		req.Proto = "HTTP/2.0"
		req.Header[":protocol"] = []string{"websocket"}
	case 3:
		req.Proto = "websocket"
	}
	return req
}

const (
	untrusted = "https://evil.example.net"
	sibling   = "https://blog.example.com" // same site as the API, not in the policy
)

func TestCrossOriginProtection(t *testing.T) {
	tests := []struct {
		name string
		req  *http.Request
		want decisionKind // kindWrite or kindWebSocket: refused so; kindActual: passed on
	}{
		{"PostCrossSiteUntrusted", protectionRequest("POST", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PutCrossSiteUntrusted", protectionRequest("PUT", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PatchCrossSiteUntrusted", protectionRequest("PATCH", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"DeleteCrossSiteUntrusted", protectionRequest("DELETE", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"CustomMethodCrossSiteUntrusted", protectionRequest("PROPFIND", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PostSameSiteSiblingNotInPolicy", protectionRequest("POST", "Origin", sibling, "Sec-Fetch-Site", "same-site"), kindWrite},
		{"PostForeignOriginWithoutSecFetchSite", protectionRequest("POST", "Origin", untrusted), kindWrite},
		{"PostOtherSchemeWithoutSecFetchSiteFailsOpenAsNetHTTP", protectionRequest("POST", "Origin", "http://"+apiHost), kindActual},
		{"PostCrossSiteWithoutOrigin", protectionRequest("POST", "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PostNullOrigin", protectionRequest("POST", "Origin", "null", "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PostTwoOriginsOneTrusted", protectionRequest("POST", "Origin", "https://app.example.com", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWrite},
		{"PostTrustedExact", protectionRequest("POST", "Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"), kindActual},
		{"PostTrustedPattern", protectionRequest("POST", "Origin", "https://a.b.trusted.example", "Sec-Fetch-Site", "cross-site"), kindActual},
		{"PostTrustedRegexp", protectionRequest("POST", "Origin", "https://tenant-42.example.net", "Sec-Fetch-Site", "cross-site"), kindActual},
		{"PostTrustedWithoutSecFetchSite", protectionRequest("POST", "Origin", "https://app.example.com"), kindActual},
		{"PostSameOrigin", protectionRequest("POST", "Origin", "https://"+apiHost, "Sec-Fetch-Site", "same-origin"), kindActual},
		{"PostSameOriginOldBrowser", protectionRequest("POST", "Origin", "https://"+apiHost), kindActual},
		{"PostSecFetchSiteNone", protectionRequest("POST", "Sec-Fetch-Site", "none"), kindActual},
		{"PostWithoutOriginOrSecFetchSite", protectionRequest("POST"), kindActual},
		{"GetCrossSiteUntrusted", protectionRequest("GET", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindActual},
		{"HeadCrossSiteUntrusted", protectionRequest("HEAD", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindActual},
		{"PlainOptionsCrossSiteUntrusted", protectionRequest("OPTIONS", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindActual},

		{"WebSocketCrossSiteUntrusted", protectionRequest("GET", webSocket("Origin", untrusted, "Sec-Fetch-Site", "cross-site")...), kindWebSocket},
		{"WebSocketSameSiteSibling", protectionRequest("GET", webSocket("Origin", sibling, "Sec-Fetch-Site", "same-site")...), kindWebSocket},
		{"WebSocketForeignOriginWithoutSecFetchSite", protectionRequest("GET", webSocket("Origin", untrusted)...), kindWebSocket},
		{"WebSocketUpgradeTokenInAnyCase", protectionRequest("GET", "Upgrade", "WebSocket", "Origin", untrusted), kindWebSocket},
		{"WebSocketTrusted", protectionRequest("GET", webSocket("Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site")...), kindActual},
		{"WebSocketSameOrigin", protectionRequest("GET", webSocket("Origin", "https://"+apiHost, "Sec-Fetch-Site", "same-origin")...), kindActual},
		{"WebSocketSameOriginOldBrowser", protectionRequest("GET", webSocket("Origin", "https://"+apiHost)...), kindActual},
		{"WebSocketWithoutOrigin", protectionRequest("GET", webSocket()...), kindActual},
		{"OtherUpgradeIsAGet", protectionRequest("GET", "Upgrade", "h2c", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindActual},
		{"HTTP2ExtendedConnectUntrusted", extendedConnect(2, "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWebSocket},
		{"HTTP2ExtendedConnectTrusted", extendedConnect(2, "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"), kindActual},
		{"HTTP2ExtendedConnectSameOrigin", extendedConnect(2, "Origin", "https://"+apiHost), kindActual},
		{"HTTP3ExtendedConnectUntrusted", extendedConnect(3, "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), kindWebSocket},
		{"HTTP3ExtendedConnectWithoutOrigin", extendedConnect(3), kindActual},
	}
	h := provisioned(t, protectedPolicy)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]float64, numKinds)
			for _, k := range []decisionKind{kindWrite, kindWebSocket} {
				before[k] = counterValue(h.metrics.c[k][resultOrigin])
			}
			method := tc.req.Method
			var reached *http.Request
			rec := httptest.NewRecorder()
			err := h.ServeHTTP(rec, tc.req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				reached = r
				w.WriteHeader(http.StatusOK)
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []decisionKind{kindWrite, kindWebSocket} {
				want := before[k]
				if k == tc.want {
					want++
				}
				if got := counterValue(h.metrics.c[k][resultOrigin]); got != want {
					t.Errorf(`decisions_total{kind=%q,result="origin"} = %v, want %v`, k, got, want)
				}
			}
			if tc.want == kindActual {
				if reached == nil || rec.Code != http.StatusOK {
					t.Fatalf("refused (%d %q), want passed on", rec.Code, rec.Body)
				}
				if reached.Method != method {
					t.Errorf("next handler saw method %s, want %s", reached.Method, method)
				}
				return
			}
			if reached != nil {
				t.Fatal("passed on, want refused")
			}
			if rec.Code != http.StatusForbidden {
				t.Errorf("status %d, want 403", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			wantBody := "request"
			if tc.want == kindWebSocket {
				wantBody = "WebSocket handshake"
			}
			if body := rec.Body.String(); !strings.Contains(body, "cross-origin "+wantBody) || len(body) > 200 {
				t.Errorf("body %q", body)
			}
			if v := rec.Header().Values("Vary"); len(v) != 1 || v[0] != "Origin" {
				t.Errorf("Vary %q, want Origin", v)
			}
			if a := rec.Header().Get("Access-Control-Allow-Origin"); a != "" {
				t.Errorf("refusal grants %q", a)
			}
		})
	}
}

// TestCrossOriginProtectionOffByDefault pins that without the flag the
// module only decides who reads: writes and handshakes pass.
func TestCrossOriginProtectionOffByDefault(t *testing.T) {
	cfg := protectedPolicy
	cfg.CrossOriginProtection = false
	h := provisioned(t, cfg)
	for _, req := range []*http.Request{
		protectionRequest("POST", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"),
		protectionRequest("GET", webSocket("Origin", untrusted, "Sec-Fetch-Site", "cross-site")...),
		extendedConnect(2, "Origin", untrusted, "Sec-Fetch-Site", "cross-site"),
	} {
		called := false
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { called = true; return nil }))
		if !called {
			t.Errorf("%s %v refused without cross_origin_protection", req.Method, req.Header)
		}
	}
}

// TestCrossOriginProtectionLeavesPreflightsToCORS pins that a preflight from
// an untrusted origin is answered by the CORS rules (a bare 403 that counts
// as a preflight refusal), not by the protection.
func TestCrossOriginProtectionLeavesPreflightsToCORS(t *testing.T) {
	h := provisioned(t, protectedPolicy)
	req := protectionRequest("OPTIONS", "Origin", untrusted, "Sec-Fetch-Site", "cross-site", "Access-Control-Request-Method", "PUT")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req, nopNext)
	if rec.Code != http.StatusForbidden || rec.Body.Len() != 0 {
		t.Errorf("preflight answered %d %q, want the CORS rules' bare 403", rec.Code, rec.Body)
	}
	if n := counterValue(h.metrics.c[kindWrite][resultOrigin]); n != 0 {
		t.Errorf("protection counted a preflight: %v", n)
	}
	req = protectionRequest("OPTIONS", "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site", "Access-Control-Request-Method", "POST")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req, nopNext)
	if rec.Code != http.StatusNoContent {
		t.Errorf("trusted preflight answered %d", rec.Code)
	}
}

// TestCrossOriginProtectionLogsRefusalsAtDebugLevel pins the debug line:
// kind, origin, method and Sec-Fetch-Site, and nothing above debug.
func TestCrossOriginProtectionLogsRefusalsAtDebugLevel(t *testing.T) {
	h := provisioned(t, protectedPolicy)
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	h.ServeHTTP(httptest.NewRecorder(), protectionRequest("DELETE", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), nopNext)
	h.ServeHTTP(httptest.NewRecorder(), protectionRequest("GET", webSocket("Origin", sibling, "Sec-Fetch-Site", "same-site")...), nopNext)
	var got []string
	for _, e := range logs.FilterMessage("refused cross-origin request").All() {
		if e.Level != zapcore.DebugLevel {
			t.Errorf("logged at %v", e.Level)
		}
		f := e.ContextMap()
		got = append(got, fmt.Sprint(f["kind"], " ", f["refused"], " ", f["origin"], " ", f["method"], " ", f["sec_fetch_site"]))
	}
	want := []string{
		"write origin [" + untrusted + "] DELETE [cross-site]",
		"websocket origin [" + sibling + "] GET [same-site]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged\n%q\nwant\n%q", got, want)
	}
}

// TestCrossOriginProtectionReportOnly pins that report-only refuses
// nothing, counts every would-be refusal and logs it at warn level, once a
// minute per kind and origin.
func TestCrossOriginProtectionReportOnly(t *testing.T) {
	cfg := protectedPolicy
	cfg.ReportOnly = true
	h := provisioned(t, cfg)
	core, logs := observer.New(zapcore.WarnLevel)
	now := time.Unix(0, 0)
	h.policy.reporter.logger, h.policy.reporter.now = zap.New(core), func() time.Time { return now }
	requests := []*http.Request{
		protectionRequest("POST", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"),
		protectionRequest("PUT", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), // same kind and origin: not logged again
		protectionRequest("POST", "Origin", sibling, "Sec-Fetch-Site", "same-site"),
		protectionRequest("GET", webSocket("Origin", untrusted, "Sec-Fetch-Site", "cross-site")...),
		protectionRequest("POST", "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"), // trusted
	}
	for _, req := range requests {
		called := false
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			called = true
			w.WriteHeader(http.StatusOK)
			return nil
		}))
		if !called || rec.Code != http.StatusOK {
			t.Errorf("%s from %s refused in report-only mode", req.Method, req.Header.Get("Origin"))
		}
	}
	if n := counterValue(h.policy.reports.c[kindWrite][diffRefusal]); n != 3 {
		t.Errorf(`report_only_total{kind="write",difference="refusal"} = %v, want 3`, n)
	}
	if n := counterValue(h.policy.reports.c[kindWebSocket][diffRefusal]); n != 1 {
		t.Errorf(`report_only_total{kind="websocket",difference="refusal"} = %v, want 1`, n)
	}
	if n := counterValue(h.metrics.c[kindWrite][resultOrigin]); n != 0 {
		t.Errorf("report-only counted %v refusals", n)
	}
	var got []string
	for _, e := range logs.FilterMessage("cors report-only: cross-origin protection would refuse this request").All() {
		f := e.ContextMap()
		got = append(got, fmt.Sprint(f["kind"], " ", f["origin"], " ", f["method"], " ", f["difference"]))
	}
	want := []string{
		"write " + untrusted + " POST refusal",
		"write " + sibling + " POST refusal",
		"websocket " + untrusted + " GET refusal",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged\n%q\nwant\n%q", got, want)
	}
	now = now.Add(time.Minute)
	h.ServeHTTP(httptest.NewRecorder(), protectionRequest("PATCH", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), nopNext)
	if n := logs.FilterMessage("cors report-only: cross-origin protection would refuse this request").Len(); n != 4 {
		t.Errorf("%d lines after a minute, want 4", n)
	}
}

func TestCrossOriginProtectionNeedsExplicitOrigins(t *testing.T) {
	for name, cfg := range map[string]Handler{
		"NoOrigins": {CrossOriginProtection: true},
		"Star":      {Origins: []string{"*"}, CrossOriginProtection: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, problems, _ := compile(&cfg)
			if len(problems) != 1 || !strings.HasPrefix(problems[0].jsonString(), "cross_origin_protection: cross_origin_protection trusts the origins the policy allows, and origins allows any origin") ||
				!strings.Contains(problems[0].msg, "list the origins the site trusts in origins") {
				t.Errorf("problems %v", problems)
			}
		})
	}
}

// TestCrossOriginProtectionAllocations pins that the protection, on, adds
// no allocation to requests it passes (a handshake's copy of the request
// stays on the stack), except where net/http parses Origin.
func TestCrossOriginProtectionAllocations(t *testing.T) {
	off := protectedPolicy
	off.CrossOriginProtection = false
	hOff, hOn := provisioned(t, off), provisioned(t, protectedPolicy)
	hOff.logger, hOn.logger = infoLogger(), infoLogger()
	for _, tc := range []struct {
		name  string
		req   *http.Request
		extra float64
	}{
		{"NonCORSGet", protectionRequest("GET"), 0},
		{"TrustedPost", protectionRequest("POST", "Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"), 0},
		{"SameOriginPost", protectionRequest("POST", "Origin", "https://"+apiHost, "Sec-Fetch-Site", "same-origin"), 0},
		{"UntrustedGet", protectionRequest("GET", "Origin", untrusted, "Sec-Fetch-Site", "cross-site"), 0},
		{"TrustedWebSocket", protectionRequest("GET", webSocket("Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")...), 0},
		{"TrustedPostWithoutSecFetchSite", protectionRequest("POST", "Origin", "https://app.example.com"), 0},
		// net/http's fallback, Origin against Host, parses Origin into a
		// url.URL: the one allocation the protection adds, only where
		// browsers send no Sec-Fetch-Site (plain HTTP, browsers before
		// 2023).
		{"SameOriginPostWithoutSecFetchSite", protectionRequest("POST", "Origin", "https://"+apiHost), 1},
		{"SameOriginWebSocket", protectionRequest("GET", webSocket("Origin", "https://"+apiHost, "Sec-Fetch-Site", "same-origin")...), 0},
	} {
		allocs := func(h *Handler) float64 {
			w := &discardWriter{h: http.Header{}}
			return testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, tc.req, nopNext)
			})
		}
		if a, b := allocs(hOff), allocs(hOn); b > a+tc.extra {
			t.Errorf("%s: %v allocations with the protection, %v without", tc.name, b, a)
		}
	}
}

// counterValue reads a counter without a registry.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// BenchmarkCrossOriginProtection compares the protection on and off on the
// requests it passes: off it must cost nothing, on little.
//
//	go test -run '^$' -bench BenchmarkCrossOriginProtection -benchmem -count 8 . | benchstat -col /protection -
func BenchmarkCrossOriginProtection(b *testing.B) {
	off := protectedPolicy
	off.CrossOriginProtection = false
	modes := []struct {
		name string
		h    *Handler
	}{{"off", provisioned(b, off)}, {"on", provisioned(b, protectedPolicy)}}
	requests := []struct {
		name, method string
		header       []string
	}{
		{"non-cors-get", "GET", nil},
		{"trusted-get", "GET", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"}},
		{"trusted-post", "POST", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"}},
		{"same-origin-post", "POST", []string{"Origin", "https://" + apiHost, "Sec-Fetch-Site", "same-origin"}},
		{"trusted-websocket", "GET", webSocket("Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site")},
	}
	for _, rq := range requests {
		for _, m := range modes {
			m.h.logger = infoLogger()
			b.Run("request="+rq.name+"/protection="+m.name, func(b *testing.B) {
				req := protectionRequest(rq.method, rq.header...)
				serveN(b, m.h, rq.method, req.Header, nopNext)
			})
		}
	}
}
