package cors

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// These tests run a real Caddy in-process (caddytest: fixed ports 9080 and
// 2999, so they never run in parallel) and talk to it over loopback. The
// globals keep Caddy out of the home directory: no autosave.json, no storage
// checks or cleaning stamps.

const caddyGlobals = `{
	skip_install_trust
	admin localhost:2999
	persist_config off
	storage_check off
	storage_clean_interval off
	http_port 9080
	https_port 9443
	grace_period 1ns
}
`

// request sends method to the test server with the given header pairs and
// returns the response with its body read.
func request(t *testing.T, tester *caddytest.Tester, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://localhost:9080"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	tester.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func wantHeader(t *testing.T, resp *http.Response, name string, want ...string) {
	t.Helper()
	if got := resp.Header.Values(name); !slices.Equal(got, want) {
		t.Errorf("%s %s: %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, name, got, want)
	}
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want)
	}
}

// deadUpstream returns a loopback address nothing listens on.
func deadUpstream(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestIntegrationCORSOnEveryResponse(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A backend with its own, more generous CORS.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "*")
		w.Header().Set("Vary", "Origin")
		fmt.Fprint(w, "from backend")
	}))
	defer backend.Close()

	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+fmt.Sprintf(`
http://localhost:9080 {
	cors https://app.example.com {
		methods GET POST PUT
		allow_credentials
		exposed_headers X-Request-Id
	}
	basic_auth /private/* {
		alice $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
	redir /old /new 301
	handle /private/* {
		respond "secret"
	}
	handle /proxied/* {
		reverse_proxy %s
	}
	handle /dead/* {
		reverse_proxy %s
	}
	handle /fail/* {
		error "teapot" 418
	}
	handle /ok {
		respond "ok"
	}
	handle {
		error 404
	}
	handle_errors 404 {
		respond "custom {err.status_code} page" 404
	}
}
`, backend.Listener.Addr(), deadUpstream(t)), "caddyfile")

	const o = "https://app.example.com"
	granted := func(t *testing.T, resp *http.Response) {
		t.Helper()
		wantHeader(t, resp, "Access-Control-Allow-Origin", o)
		wantHeader(t, resp, "Access-Control-Allow-Credentials", "true")
		wantHeader(t, resp, "Access-Control-Expose-Headers", "X-Request-Id")
		wantHeader(t, resp, "Vary", "Origin")
	}

	t.Run("PreflightIsAnsweredAheadOfBasicAuth", func(t *testing.T) {
		resp, _ := request(t, tester, "OPTIONS", "/private/x", "Origin", o, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type")
		wantStatus(t, resp, 204)
		wantHeader(t, resp, "Access-Control-Allow-Origin", o)
		wantHeader(t, resp, "Access-Control-Allow-Methods", "GET, POST, PUT")
		wantHeader(t, resp, "Access-Control-Allow-Headers", "Accept, Content-Type, X-Requested-With")
		wantHeader(t, resp, "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	})
	t.Run("AuthFailureCarriesCORSHeaders", func(t *testing.T) {
		resp, _ := request(t, tester, "GET", "/private/x", "Origin", o)
		wantStatus(t, resp, 401)
		granted(t, resp)
	})
	t.Run("RedirectCarriesCORSHeaders", func(t *testing.T) {
		resp, _ := request(t, tester, "GET", "/old", "Origin", o)
		wantStatus(t, resp, 301)
		granted(t, resp)
	})
	t.Run("BackendCORSHeadersAreReplaced", func(t *testing.T) {
		resp, body := request(t, tester, "GET", "/proxied/x", "Origin", o)
		wantStatus(t, resp, 200)
		if body != "from backend" {
			t.Errorf("body = %q", body)
		}
		granted(t, resp)
		wantHeader(t, resp, "Access-Control-Allow-Methods")
	})
	t.Run("BackendGrantIsRemovedForRefusedOrigin", func(t *testing.T) {
		resp, _ := request(t, tester, "GET", "/proxied/x", "Origin", "https://evil.example.net")
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Access-Control-Allow-Origin")
		wantHeader(t, resp, "Access-Control-Allow-Methods")
		wantHeader(t, resp, "Vary", "Origin")
	})
	t.Run("DeadUpstream502CarriesCORSHeaders", func(t *testing.T) {
		resp, _ := request(t, tester, "GET", "/dead/x", "Origin", o)
		wantStatus(t, resp, 502)
		granted(t, resp)
	})
	t.Run("ErrorDirectiveCarriesCORSHeaders", func(t *testing.T) {
		resp, _ := request(t, tester, "GET", "/fail/x", "Origin", o)
		wantStatus(t, resp, 418)
		granted(t, resp)
	})
	t.Run("HandleErrorsPageCarriesCORSHeaders", func(t *testing.T) {
		resp, body := request(t, tester, "GET", "/missing", "Origin", o)
		wantStatus(t, resp, 404)
		if body != "custom 404 page" {
			t.Errorf("body = %q, want the handle_errors page", body)
		}
		granted(t, resp)
	})
	t.Run("RefusedOriginIsServedWithoutGrant", func(t *testing.T) {
		resp, body := request(t, tester, "GET", "/ok", "Origin", "https://app.example.com.evil.net")
		wantStatus(t, resp, 200)
		if body != "ok" {
			t.Errorf("body = %q", body)
		}
		wantHeader(t, resp, "Access-Control-Allow-Origin")
		wantHeader(t, resp, "Vary", "Origin")
	})
	t.Run("PreflightFromRefusedOriginIs403", func(t *testing.T) {
		resp, _ := request(t, tester, "OPTIONS", "/ok", "Origin", "https://evil.example.net", "Access-Control-Request-Method", "PUT")
		wantStatus(t, resp, 403)
		wantHeader(t, resp, "Access-Control-Allow-Origin")
	})
	t.Run("HostileHeadersGetANormalAnswer", func(t *testing.T) {
		resp, _ := request(t, tester, "OPTIONS", "/ok", "Origin", o, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", strings.Repeat("x,", 8<<10))
		wantStatus(t, resp, 403) // beyond the length bound: refused whole, as a refused origin is
		wantHeader(t, resp, "Access-Control-Allow-Origin")
		wantHeader(t, resp, "Access-Control-Allow-Headers")
		resp, _ = request(t, tester, "GET", "/ok", "Origin", "https://"+strings.Repeat("a", 16<<10)+".example.com")
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Access-Control-Allow-Origin")
	})
}

func TestIntegrationMatcherLimitsTheDirective(t *testing.T) {
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+`
http://localhost:9080 {
	cors /api/* https://app.example.com
	respond "ok"
}
`, "caddyfile")
	resp, _ := request(t, tester, "GET", "/api/x", "Origin", "https://app.example.com")
	wantHeader(t, resp, "Access-Control-Allow-Origin", "https://app.example.com")
	resp, _ = request(t, tester, "GET", "/elsewhere", "Origin", "https://app.example.com")
	wantHeader(t, resp, "Access-Control-Allow-Origin")
	resp, _ = request(t, tester, "OPTIONS", "/elsewhere", "Origin", "https://app.example.com", "Access-Control-Request-Method", "PUT")
	wantStatus(t, resp, 200)
	wantHeader(t, resp, "Access-Control-Allow-Origin")
}

func TestIntegrationAnyOriginOnEveryResponse(t *testing.T) {
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+`
http://localhost:9080 {
	cors
	respond "public"
}
`, "caddyfile")
	for _, hdr := range [][]string{nil, {"Origin", "https://anyone.example"}} {
		resp, _ := request(t, tester, "GET", "/", hdr...)
		wantHeader(t, resp, "Access-Control-Allow-Origin", "*")
		wantHeader(t, resp, "Vary")
	}
}

// TestIntegrationLoadErrors pins that a broken config fails to load in a
// real Caddy, Caddyfile and JSON alike, naming what is wrong.
func TestIntegrationLoadErrors(t *testing.T) {
	tests := []struct {
		name, config, adapter, want string
	}{
		{"CaddyfileStarWithCredentials", caddyGlobals + "http://localhost:9080 {\n\tcors {\n\t\torigins *\n\t\tallow_credentials\n\t}\n}\n", "caddyfile",
			"allow_credentials: credentials need explicit origins"},
		{"CaddyfileUnknownSubdirective", caddyGlobals + "http://localhost:9080 {\n\tcors {\n\t\tmax-age 10m\n\t}\n}\n", "caddyfile",
			`unknown subdirective \"max-age\": did you mean max_age?`},
		{"CaddyfileBadOrigin", caddyGlobals + "http://localhost:9080 {\n\tcors https://a.com/\n}\n", "caddyfile",
			`write \"https://a.com\"`},
		{"CaddyfileForbiddenHeader", caddyGlobals + "http://localhost:9080 {\n\tcors {\n\t\tallowed_headers Host\n\t}\n}\n", "caddyfile",
			`\"Host\" is a header browsers never let a script set`},
		{"CaddyfileNegativeMaxAge", caddyGlobals + "http://localhost:9080 {\n\tcors {\n\t\tmax_age -1m\n\t}\n}\n", "caddyfile",
			`max_age \"-1m\" is negative`},
		{"CaddyfileBadStatus", caddyGlobals + "http://localhost:9080 {\n\tcors {\n\t\tpreflight_status 404\n\t}\n}\n", "caddyfile",
			"preflight_status: 404 is not a 2xx status"},
		{"JSONNamesTheFields", `{"admin":{"listen":"localhost:2999","config":{"persist":false}},"apps":{"http":{"servers":{"s":{"listen":[":9080"],"routes":[{"handle":[
			{"handler":"cors","origins":["*"],"allow_credentials":true,"methods":["TRACE"],"max_age":"1.5s"}]}]}}}}}`, "json",
			"allow_credentials: credentials need explicit origins"},
		{"JSONMaxAgeInNanoseconds", `{"admin":{"listen":"localhost:2999","config":{"persist":false}},"apps":{"http":{"servers":{"s":{"listen":[":9080"],"routes":[{"handle":[
			{"handler":"cors","max_age":600}]}]}}}}}`, "json",
			"max_age: 600ns is not whole seconds"},
		{"JSONForbiddenMethod", `{"admin":{"listen":"localhost:2999","config":{"persist":false}},"apps":{"http":{"servers":{"s":{"listen":[":9080"],"routes":[{"handle":[
			{"handler":"cors","methods":["GET","TRACE"]}]}]}}}}}`, "json",
			`methods[1]: \"TRACE\" is a method browsers never let a script send`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caddytest.AssertLoadError(t, tt.config, tt.adapter, tt.want)
			waitForOldServers(t)
		})
	}
}

// TestIntegrationMetrics scrapes a real Caddy's /metrics for the decision
// counters.
func TestIntegrationMetrics(t *testing.T) {
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+`
http://localhost:9080 {
	handle /metrics {
		metrics
	}
	handle {
		cors https://app.example.com {
			methods PUT
		}
		respond "ok"
	}
}
`, "caddyfile")
	const o = "https://app.example.com"
	request(t, tester, "GET", "/", "Origin", o)
	request(t, tester, "GET", "/", "Origin", o)
	request(t, tester, "GET", "/", "Origin", "https://evil.example.net")
	request(t, tester, "OPTIONS", "/", "Origin", o, "Access-Control-Request-Method", "PUT")
	request(t, tester, "OPTIONS", "/", "Origin", o, "Access-Control-Request-Method", "DELETE")
	request(t, tester, "OPTIONS", "/", "Origin", o, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-nope")
	request(t, tester, "OPTIONS", "/", "Origin", "https://evil.example.net", "Access-Control-Request-Method", "PUT")
	request(t, tester, "OPTIONS", "/", "Origin", o, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Method", "PUT")
	request(t, tester, "GET", "/") // not a CORS request: not counted

	_, body := request(t, tester, "GET", "/metrics")
	assertMetrics(t, body, "caddy_http_cors_",
		`caddy_http_cors_decisions_total{kind="actual",result="allowed"} 2`,
		`caddy_http_cors_decisions_total{kind="actual",result="origin"} 1`,
		`caddy_http_cors_decisions_total{kind="preflight",result="allowed"} 1`,
		`caddy_http_cors_decisions_total{kind="preflight",result="method"} 1`,
		`caddy_http_cors_decisions_total{kind="preflight",result="header"} 1`,
		`caddy_http_cors_decisions_total{kind="preflight",result="origin"} 1`,
		`caddy_http_cors_decisions_total{kind="preflight",result="bound"} 1`,
	)
}

// assertMetrics fails t for each sample of want that body, a /metrics
// answer, lacks; then it logs the lines naming prefix, to show what was
// counted instead.
func assertMetrics(t *testing.T, body, prefix string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if t.Failed() {
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, prefix) {
				t.Log(line)
			}
		}
	}
}
