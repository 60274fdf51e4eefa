package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// protectionScript is what a hostile page does with a visitor's browser: a
// real <form method=post> submitted into a hidden iframe, a no-cors fetch
// POST with credentials (a "simple" request, never preflighted), and a
// WebSocket whose messages it reads. Each path names the page's host, so
// that the backend's record tells the pages apart. The form and the no-cors
// fetch give the script nothing to read either way: the backend's record
// is the verdict.
const protectionScript = `const from = location.host;
const out = [];
await new Promise(resolve => {
  const sink = document.createElement("iframe");
  sink.name = "sink";
  document.body.appendChild(sink);
  sink.onload = resolve;
  setTimeout(resolve, 5000);
  const form = document.createElement("form");
  form.method = "post";
  form.action = API + "/form/" + from;
  form.target = "sink";
  const input = document.createElement("input");
  input.name = "amount";
  input.value = "1000";
  form.appendChild(input);
  document.body.appendChild(form);
  form.submit();
});
out.push({ok: true});
try {
  const r = await fetch(API + "/no-cors/" + from, {method: "POST", mode: "no-cors", credentials: "include", body: "amount=1000"});
  out.push({ok: true, status: r.status});
} catch (e) {
  out.push({ok: false, error: String(e)});
}
out.push(await new Promise(resolve => {
  const ws = new WebSocket(API.replace(/^http/, "ws") + "/ws/" + from);
  ws.onopen = () => ws.send("hello");
  ws.onmessage = e => { resolve({ok: true, body: e.data}); ws.close(); };
  ws.onerror = () => resolve({ok: false, error: "WebSocket error"});
  setTimeout(() => resolve({ok: false, error: "WebSocket timeout"}), 5000);
}));
return out;`

// TestCrossOriginProtection proves cross_origin_protection in each engine,
// judged on the engine's own Sec-Fetch-Site and Origin: pages on origins the
// policy does not trust (same-site and cross-site) get none of the three
// requests to the backend; the same page on the trusted origin gets all
// three through, and its WebSocket echoes. What each engine sent is logged
// (go test -v).
//
// Two APIs: one on a plain-HTTP host name, to which browsers send no
// Sec-Fetch-Site (Fetch metadata goes only to potentially trustworthy
// URLs), so that net/http falls back to Origin against Host; and one on
// localhost, which is potentially trustworthy, so that it gets
// Sec-Fetch-Site.
func TestCrossOriginProtection(t *testing.T) {
	type page = protectedPage
	variants := []struct {
		name, apiHost string
		trusted       string // the trusted page's host
		pages         func(evilPort int) []page
	}{
		{"plain-http-host", "api.example.test", "app.example.test", func(int) []page {
			return []page{
				{host: "evilapp.example.test"}, // same-site, not in the policy
				{host: "localhost"},            // cross-site
				{host: "app.example.test", trusted: true},
			}
		}},
		{"localhost", "localhost", "localhost", func(evilPort int) []page {
			return []page{
				{host: "localhost", port: evilPort}, // same-site: another port
				{host: "127.0.0.1"},                 // cross-site
				{host: "localhost", trusted: true},
			}
		}},
	}
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				appPort, evilPort := freePort(), freePort()
				pages := v.pages(evilPort)
				for i := range pages {
					if pages[i].port == 0 {
						pages[i].port = appPort
					}
				}
				proveProtection(t, e, v.apiHost, fmt.Sprintf("http://%s:%d", v.trusted, appPort), appPort, evilPort, pages)
			})
		}
	})
}

// protectedPage is a page the script runs on.
type protectedPage struct {
	host    string
	port    int // 0: the trusted page's port
	trusted bool
}

// proveProtection runs protectionScript on each page against an API on
// apiHost that trusts the origin trusted, and checks what reached the
// backend.
func proveProtection(t *testing.T, e engine, apiHost, trusted string, appPort, evilPort int, pages []protectedPage) {
	caddyMu.Lock()
	defer caddyMu.Unlock()

	var mu sync.Mutex
	reached := map[string]bool{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached[r.Method+" "+r.URL.Path] = true
		mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/ws/") {
			fmt.Fprint(w, "done")
			return
		}
		// An application that trusts the browser's cookies and checks
		// no Origin: what WebSocket hijacking preys on.
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		typ, msg, err := c.Read(ctx)
		if err == nil {
			_ = c.Write(ctx, typ, msg)
		}
		_, _, _ = c.Read(ctx) // until the page closes
	}))
	defer backend.Close()

	apiPort := freePort()
	api := fmt.Sprintf("http://%s:%d", apiHost, apiPort)
	accessLog := filepath.Join(t.TempDir(), "access.log")
	stop := startCaddy(t, fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
}

http://:%d, http://:%d {
	root * %s
	file_server
}

%s {
	log {
		output file %s
		format json
	}
	cors %s {
		methods GET POST
		allow_credentials
		cross_origin_protection
	}
	reverse_proxy %s
}
`, appPort, evilPort, pageRoot, api, accessLog, trusted, strings.TrimPrefix(backend.URL, "http://")))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	observed := map[string][]outcome{}
	for _, p := range pages {
		origin := fmt.Sprintf("http://%s:%d", p.host, p.port)
		results, console, err := runInPage(e, origin+"/index.html", api, protectionScript, "")
		if err != nil {
			t.Fatalf("page on %s: %v\nconsole:\n%s", origin, err, strings.Join(console, "\n"))
		}
		observed[origin] = results
	}
	stop()
	stopped = true
	entries, err := readAccessLog(accessLog)
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range pages {
		hostPort := fmt.Sprintf("%s:%d", p.host, p.port)
		origin := "http://" + hostPort
		for _, rq := range []struct{ name, method, path string }{
			{"form", "POST", "/form/" + hostPort},
			{"no-cors fetch", "POST", "/no-cors/" + hostPort},
			{"WebSocket", "GET", "/ws/" + hostPort},
		} {
			mu.Lock()
			got := reached[rq.method+" "+rq.path]
			delete(reached, rq.method+" "+rq.path)
			mu.Unlock()
			sent := "never reached Caddy"
			for _, en := range entries {
				if en.Request.URI == rq.path {
					h := en.Request.Headers
					sent = fmt.Sprintf("Caddy answered %d; Sec-Fetch-Site %q, Origin %q, Sec-Fetch-Mode %q",
						en.Status, h["Sec-Fetch-Site"], h["Origin"], h["Sec-Fetch-Mode"])
				}
			}
			t.Logf("page on %s, %s: reached the backend %v; %s", origin, rq.name, got, sent)
			if got != p.trusted {
				t.Errorf("page on %s, %s: reached the backend %v, want %v (%s)", origin, rq.name, got, p.trusted, sent)
			}
		}
		out := observed[origin]
		if len(out) != 3 {
			t.Errorf("page on %s: %d outcomes, want 3: %+v", origin, len(out), out)
			continue
		}
		if p.trusted && (!out[2].OK || out[2].Body != "hello") {
			t.Errorf("page on %s: WebSocket %+v, want the echo of hello", origin, out[2])
		}
		if !p.trusted && out[2].OK {
			t.Errorf("page on %s: WebSocket opened and read %q, want it refused", origin, out[2].Body)
		}
	}
}
