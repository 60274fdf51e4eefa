// Package loadtest holds the load test's sites (Caddyfile, driven over
// loopback by run.sh with wrk) and BenchmarkSites, which serves the same
// sites in one process.
package loadtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-cors/cors"
)

// BenchmarkSites sends the load test's two requests (actual.lua and
// preflight.lua) to its sites through Caddy's own server, the
// caddyhttp.Server each site's listener hands its requests to. Over
// loopback a request costs tens of microseconds, most of them in the
// network and HTTP parsing that every site shares, and the host's noise
// moves a 4-second wrk round by 10% or more; here, with those shared parts
// left out, the difference between two sites is the difference between
// their route chains, which is what the load test's pairs mean to compare:
//
//	go test -run '^$' -bench Sites -count 10 ./loadtest | benchstat -col /site -
//
// Divided by the cost of a request under load (1/rate of the load test),
// the difference between realistic-cors and realistic-static is the
// fraction of the rate `cors` can cost that site.
func BenchmarkSites(b *testing.B) {
	servers := startSites(b)
	for _, kind := range kinds {
		for _, site := range sites {
			srv, req := servers[site], kind.request()
			w := &discardWriter{header: http.Header{}}
			srv.ServeHTTP(w, req)
			if err := checkAnswer(kind.name, site, w); err != nil {
				b.Fatal(err)
			}
			b.Run("kind="+kind.name+"/site="+site, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					clear(w.header)
					srv.ServeHTTP(w, req)
				}
			})
		}
	}
}

// TestSitesAnswerAsBenchmarkSitesExpects keeps BenchmarkSites, which no
// test command runs, from rotting unseen: the Caddyfile loads in one
// process and every site answers as the benchmark requires.
func TestSitesAnswerAsBenchmarkSitesExpects(t *testing.T) {
	servers := startSites(t)
	for _, kind := range kinds {
		for _, site := range sites {
			w := &discardWriter{header: http.Header{}}
			servers[site].ServeHTTP(w, kind.request())
			if err := checkAnswer(kind.name, site, w); err != nil {
				t.Error(err)
			}
		}
	}
}

// sites are the load test's sites BenchmarkSites measures, by their names
// in run.sh: all but the recipe, which answers every preflight alike, and
// the sourced site, whose first request asks another site.
var sites = []string{"bare", "static", "cors", "protected", "realistic-static", "realistic-cors"}

// kinds are the load test's two requests, actual.lua and preflight.lua.
var kinds = []requestKind{
	{"actual", http.MethodGet, http.Header{"Origin": {"https://app.example.com"}}},
	{"preflight", http.MethodOptions, http.Header{
		"Origin":                         {"https://app.example.com"},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"authorization,content-type"},
	}},
}

type requestKind struct {
	name   string
	method string
	header http.Header
}

func (k requestKind) request() *http.Request {
	req := httptest.NewRequest(k.method, "http://127.0.0.1/", nil)
	req.Header = k.header
	return req
}

// checkAnswer says what is wrong with a site's answer for the benchmark:
// a failed request, or a pair comparing a grant with a refusal (every site
// but bare answers an actual request as `cors` answers an allowed origin).
func checkAnswer(kind, site string, w *discardWriter) error {
	if w.status != http.StatusOK && w.status != http.StatusNoContent {
		return fmt.Errorf("%s request to %s: status %d", kind, site, w.status)
	}
	if got := w.header.Get("Access-Control-Allow-Origin"); site != "bare" && kind == "actual" && got != "https://app.example.com" {
		return fmt.Errorf("%s request to %s: Access-Control-Allow-Origin %q, want https://app.example.com", kind, site, got)
	}
	return nil
}

// startSites loads the load test's Caddyfile into this process, each site
// on a free loopback port, and returns each site's server by its name in
// run.sh.
func startSites(b testing.TB) map[string]*caddyhttp.Server {
	b.Helper()
	vars := map[string]string{
		"BARE_PORT": "bare", "RECIPE_PORT": "recipe", "STATIC_PORT": "static", "CORS_PORT": "cors",
		"PROTECTED_PORT": "protected", "REALISTIC_STATIC_PORT": "realistic-static",
		"REALISTIC_CORS_PORT": "realistic-cors", "SOURCED_PORT": "sourced", "ASK_PORT": "ask",
	}
	siteOfPort := map[string]string{}
	for v, site := range vars {
		port := freePort(b)
		b.Setenv(v, port)
		siteOfPort[port] = site
	}
	body, err := os.ReadFile("Caddyfile")
	if err != nil {
		b.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		b.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = caddy.Stop() })
	app, err := caddy.ActiveContext().App("http")
	if err != nil {
		b.Fatal(err)
	}
	servers := map[string]*caddyhttp.Server{}
	for _, srv := range app.(*caddyhttp.App).Servers {
		for _, l := range srv.Listen {
			if site, ok := siteOfPort[l[strings.LastIndexByte(l, ':')+1:]]; ok {
				servers[site] = srv
			}
		}
	}
	if len(servers) != len(vars) {
		b.Fatalf("found the servers of %d sites, want %d: %v", len(servers), len(vars), servers)
	}
	return servers
}

func freePort(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// discardWriter keeps the response's header map from one request to the
// next (the benchmark empties it), so that it costs no allocation and what
// is measured is what the handlers store.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
