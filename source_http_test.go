package cors

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// askService is a real HTTP ask endpoint for the tests: it answers each
// origin as told, counts and records its requests, and can be slow, fail or
// redirect.
type askService struct {
	*httptest.Server

	mu      sync.Mutex
	answers map[string]askAnswer // by origin; absent: 404
	asked   []url.Values
	count   atomic.Int64
}

type askAnswer struct {
	status       int
	cacheControl string
	delay        time.Duration
}

func newAskService(t *testing.T) *askService {
	a := &askService{answers: map[string]askAnswer{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.count.Add(1)
		q := r.URL.Query()
		a.mu.Lock()
		a.asked = append(a.asked, q)
		ans, ok := a.answers[q.Get("origin")]
		a.mu.Unlock()
		if !ok {
			ans.status = http.StatusNotFound
		}
		if ans.delay > 0 {
			select {
			case <-time.After(ans.delay):
			case <-r.Context().Done():
			}
		}
		if ans.cacheControl != "" {
			w.Header().Set("Cache-Control", ans.cacheControl)
		}
		if ans.status/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(ans.status)
		fmt.Fprint(w, strings.Repeat("x", 64<<10)) // more than the source reads
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *askService) set(origin string, ans askAnswer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answers[origin] = ans
}

func (a *askService) questions() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]url.Values(nil), a.asked...)
}

// TestIntegrationHTTPSource runs the http source in a real Caddy against a
// real ask service.
func TestIntegrationHTTPSource(t *testing.T) {
	ask := newAskService(t)
	t.Setenv("CORS_ASK_TOKEN", "s3cret")
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+fmt.Sprintf(`
http://localhost:9080 {
	handle /slow {
		cors {
			origin_source http %[1]s/ask {
				timeout 300ms
			}
		}
		respond "ok"
	}
	handle {
		cors {
			origin_source http %[1]s/ask?token={env.CORS_ASK_TOKEN} {
				timeout 10s
			}
			origin_cache {
				deny_ttl 1s
			}
			allow_credentials
		}
		respond "ok"
	}
}
`, ask.URL), "caddyfile")

	// Every subtest asks through "/" (a 10 s timeout, so that a loaded
	// machine never times a lookup out), but the one of the slow source,
	// which asks through /slow (300 ms).
	path := "/"

	acao := func(t *testing.T, origins ...string) *http.Response {
		t.Helper()
		header := []string{}
		for _, o := range origins {
			header = append(header, "Origin", o)
		}
		resp, _ := request(t, tester, "GET", path, header...)
		if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("Origin %q: Vary %q, want Origin", origins, resp.Header.Values("Vary"))
		}
		return resp
	}
	allowed := func(t *testing.T, origin string) {
		t.Helper()
		resp := acao(t, origin)
		wantHeader(t, resp, "Access-Control-Allow-Origin", origin)
		wantHeader(t, resp, "Access-Control-Allow-Credentials", "true")
	}
	refused := func(t *testing.T, origins ...string) {
		t.Helper()
		resp := acao(t, origins...)
		wantHeader(t, resp, "Access-Control-Allow-Origin")
		wantHeader(t, resp, "Access-Control-Allow-Credentials")
	}
	asks := func(t *testing.T, want int64, do func()) {
		t.Helper()
		before := ask.count.Load()
		do()
		if got := ask.count.Load() - before; got != want {
			t.Errorf("%d requests to the ask service, want %d", got, want)
		}
	}

	ask.set("https://shop.tenant.example", askAnswer{status: 200})
	t.Run("AllowedOriginAskedOnceWithOriginAndHost", func(t *testing.T) {
		asks(t, 1, func() {
			allowed(t, "https://shop.tenant.example")
			allowed(t, "https://shop.tenant.example")
		})
		q := ask.questions()
		got := q[len(q)-1]
		if got.Get("origin") != "https://shop.tenant.example" || got.Get("host") != "localhost" || got.Get("token") != "s3cret" {
			t.Errorf("ask query %v, want origin, host and the URL's own token", got)
		}
	})
	t.Run("AnswerNeverServesAnotherOrigin", func(t *testing.T) {
		// Well-formed other origins are asked about, and refused.
		for _, o := range []string{"https://shop.tenant.example.evil.net", "http://shop.tenant.example", "https://shop.tenant.example:444"} {
			asks(t, 1, func() { refused(t, o) })
		}
		// Malformed ones never reach the source.
		asks(t, 0, func() {
			refused(t, "https://Shop.tenant.example")
			refused(t, "https://shop.tenant.example.")
			refused(t, "https://shop.tenant.example:443")
			refused(t, "https://shop.tenant.example/")
			refused(t, "null")
			refused(t, "https://shop.tenant.example", "https://shop.tenant.example")
		})
	})
	t.Run("RefusalsAreCached", func(t *testing.T) {
		ask.set("https://forbidden.example", askAnswer{status: 403})
		asks(t, 2, func() { // one each
			refused(t, "https://forbidden.example")
			refused(t, "https://forbidden.example")
			refused(t, "https://unknown.example")
			refused(t, "https://unknown.example")
		})
	})
	for _, tc := range []struct {
		name string
		ans  askAnswer
	}{
		{"RedirectIsAnErrorNeverFollowed", askAnswer{status: 302}},
		{"ServerErrorIsAnError", askAnswer{status: 500}},
		{"OtherStatusIsAnError", askAnswer{status: 401}},
		{"SlowSourceRefusesAtTheTimeout", askAnswer{status: 200, delay: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := "https://" + strings.ToLower(tc.name) + ".example"
			ask.set(o, tc.ans)
			if tc.ans.delay > 0 {
				path = "/slow"
				defer func() { path = "/" }()
			}
			// Refused, and never cached as a refusal: each request asks.
			asks(t, 2, func() {
				refused(t, o)
				refused(t, o)
			})
		})
	}
	t.Run("NoStoreAsksEveryTime", func(t *testing.T) {
		ask.set("https://nostore.example", askAnswer{status: 200, cacheControl: "no-store"})
		asks(t, 2, func() {
			allowed(t, "https://nostore.example")
			allowed(t, "https://nostore.example")
		})
	})
	t.Run("TenantSignsUpWithoutReload", func(t *testing.T) {
		const o = "https://shop.newtenant.example"
		refused(t, o)
		ask.set(o, askAnswer{status: 204})
		refused(t, o) // the refusal is cached for deny_ttl
		time.Sleep(1100 * time.Millisecond)
		allowed(t, o)
	})
	t.Run("OneLookupFor1000ConcurrentRequests", func(t *testing.T) {
		const o = "https://crowd.example"
		ask.set(o, askAnswer{status: 200, delay: 100 * time.Millisecond})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
		defer client.CloseIdleConnections()
		var wg sync.WaitGroup
		var granted atomic.Int64
		before := ask.count.Load()
		for range 1000 {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", "http://localhost:9080/", nil)
				req.Header.Set("Origin", o)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.Header.Get("Access-Control-Allow-Origin") == o {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := ask.count.Load() - before; n != 1 {
			t.Errorf("%d lookups for 1000 concurrent requests, want 1", n)
		}
		if g := granted.Load(); g != 1000 {
			t.Errorf("%d of 1000 requests allowed", g)
		}
	})
}

func TestIntegrationHTTPSourceConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, block, want string
	}{
		{"NotAURL", `origin_source http localhost:5555/ask`, `cors: origin_source http "localhost:5555/ask": not an http:// or https:// URL: write e.g. http://localhost:5555/cors-ask, at Caddyfile:14`},
		{"NoHost", `origin_source http http:///ask`, `has no host`},
		{"NegativeTimeout", "origin_source http http://127.0.0.1:1/ask {\n\t\ttimeout -2s\n\t}", `timeout "-2s" must be positive: write a duration such as 2s, at Caddyfile:15`},
		{"NegativeTTL", "origin_source http http://127.0.0.1:1/ask\n\torigin_cache {\n\t\tallow_ttl -5m\n\t}", `allow_ttl "-5m" is negative: write a duration such as 5m, or leave allow_ttl out for its default, at Caddyfile:16`},
		{"RequestPlaceholder", `origin_source http http://127.0.0.1:1/ask?h={http.request.host}`, `only global placeholders`},
		{"UnknownSource", `origin_source redis 127.0.0.1:6379`, `unknown origin source "redis": write http, file or storage (or the name of a module in http.handlers.cors.origins), at Caddyfile:14`},
		{"StarWithSource", "origins *\n\torigin_source http http://127.0.0.1:1/ask", `"*" already allows every origin`},
		{"CacheWithoutSource", "origins https://a.example\n\torigin_cache {\n\t\tdeny_ttl 5s\n\t}", `origin_cache keeps the answers of origin sources, and there is none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The error comes back inside a JSON string.
			want := strings.ReplaceAll(tc.want, `"`, `\"`)
			caddytest.AssertLoadError(t, caddyGlobals+"\nhttp://localhost:9080 {\n\tcors {\n\t"+tc.block+"\n\t}\n}\n", "caddyfile", want)
			waitForOldServers(t)
		})
	}
}

func TestCacheControlSetsTheAnswersLifetime(t *testing.T) {
	for _, tc := range []struct {
		header  []string
		ttl     time.Duration
		noStore bool
	}{
		{nil, 0, false},
		{[]string{"max-age=60"}, time.Minute, false},
		{[]string{"public, Max-Age=\"30\""}, 30 * time.Second, false},
		{[]string{"max-age=999999999"}, 24 * time.Hour, false},
		{[]string{"max-age=0"}, 0, true},
		{[]string{"no-store"}, 0, true},
		{[]string{"private", "no-cache"}, 0, true},
		{[]string{"max-age=abc"}, 0, false},
		{[]string{"max-age=-5"}, 0, false},
	} {
		ttl, noStore := cacheControl(tc.header)
		if ttl != tc.ttl || noStore != tc.noStore {
			t.Errorf("Cache-Control %q: (%v, %v), want (%v, %v)", tc.header, ttl, noStore, tc.ttl, tc.noStore)
		}
	}
}
