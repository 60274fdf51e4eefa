package cors

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestIntegrationSourcesSurviveReloads reloads a config with every kind of
// source 100 times: the cache is kept (the same settings), and no goroutine
// is left behind (list pollers, lookup connections, shared caches).
func TestIntegrationSourcesSurviveReloads(t *testing.T) {
	ask := newAskService(t)
	ask.set("https://kept.example", askAnswer{status: 200})
	file := filepath.Join(t.TempDir(), "origins.txt")
	if err := os.WriteFile(file, []byte("https://listed.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(i int) string {
		return caddyGlobals + fmt.Sprintf(`
http://localhost:9080 {
	cors {
		origin_source http %s/ask
		origin_source file %s {
			refresh 10ms
		}
	}
	respond "config %d"
}
`, ask.URL, file, i%2)
	}
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, config(0), "caddyfile")
	client := reloadProofClient()
	allowed := func(o string) bool {
		t.Helper()
		return getFrom(t, client, o).Header.Get("Access-Control-Allow-Origin") == o
	}
	load := func(i int) {
		t.Helper()
		// Each load replaces the admin endpoint and the servers: the next
		// request waits until the old ones are gone, and goes out on a new
		// connection, so that it can only reach the config just loaded.
		resp, err := client.Post("http://localhost:2999/load", "text/caddyfile", strings.NewReader(config(i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload %d: status %d", i, resp.StatusCode)
		}
		waitForOldServers(t)
		client.CloseIdleConnections()
	}
	if !allowed("https://kept.example") || !allowed("https://listed.example") {
		t.Fatal("origins refused before any reload")
	}
	load(1)
	load(0)
	settle := func(limit int) int {
		var n int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			runtime.GC()
			if n = runtime.NumGoroutine(); n <= limit {
				break
			}
		}
		return n
	}
	before := settle(0)
	asked := ask.count.Load()
	for i := range 100 {
		load(i + 1)
		if !allowed("https://kept.example") || !allowed("https://listed.example") {
			t.Fatalf("reload %d: origins refused", i+1)
		}
		allowed(fmt.Sprintf("https://new%d.example", i)) // a lookup in each config
	}
	if n := ask.count.Load() - asked; n != 100 {
		t.Errorf("%d lookups in 100 reloads, want 100 (one per new origin; the cached one kept)", n)
	}
	if after := settle(before + 2); after > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after 100 reloads, %d before:\n%s", after, before, buf[:runtime.Stack(buf, true)])
	}
	sharedCaches.mu.Lock()
	n := 0
	for key := range sharedCaches.m {
		if strings.Contains(key, ask.URL) {
			n++
		}
	}
	sharedCaches.mu.Unlock()
	if n != 1 {
		t.Errorf("%d shared caches after 100 reloads of one config, want 1", n)
	}
}

// TestIntegrationSourceMetrics scrapes a real Caddy's /metrics for the
// origin source metrics.
func TestIntegrationSourceMetrics(t *testing.T) {
	ask := newAskService(t)
	ask.set("https://a.example", askAnswer{status: 200})
	ask.set("https://broken.example", askAnswer{status: 500})
	tester := caddytest.NewTester(t)
	loadConfig(t, tester, caddyGlobals+fmt.Sprintf(`
http://localhost:9080 {
	handle /metrics {
		metrics
	}
	handle {
		cors {
			origin_source http %s/ask
		}
		respond "ok"
	}
}
`, ask.URL), "caddyfile")
	for _, o := range []string{"https://a.example", "https://a.example", "https://b.example", "https://broken.example"} {
		request(t, tester, "GET", "/", "Origin", o)
	}
	_, body := request(t, tester, "GET", "/metrics")
	assertMetrics(t, body, "caddy_http_cors_origin",
		`caddy_http_cors_origin_lookups_total{result="allowed",source="http"} 1`,
		`caddy_http_cors_origin_lookups_total{result="refused",source="http"} 1`,
		`caddy_http_cors_origin_lookups_total{result="error",source="http"} 1`,
		`caddy_http_cors_origin_cache_total{result="hit"} 1`,
		`caddy_http_cors_origin_cache_total{result="miss"} 3`,
		`caddy_http_cors_origin_lookup_seconds_count{source="http"} 3`,
	)
}

// reloadProofClient makes a new connection for each request: a reload
// closes the old ones.
func reloadProofClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// getFrom sends GET / with Origin o to the test server. A connection the
// old server accepted just as a reload shut it down is closed unanswered,
// so a request is tried again.
func getFrom(t *testing.T, client *http.Client, o string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://localhost:9080/", nil)
	req.Header.Set("Origin", o)
	resp, err := client.Do(req)
	for try := 0; err != nil && try < 5; try++ {
		time.Sleep(20 * time.Millisecond)
		resp, err = client.Do(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
