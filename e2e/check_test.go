package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddy-cors/cors/internal/check"
)

// TestCheckAgreesWithEngines makes each fetch() call below in every engine
// and with caddy cors check --browser for that engine, against the same
// server, and requires the same verdict and, for a refusal, the very console
// lines the engine wrote. The server answers each path with one way of
// getting CORS wrong (or right).
func TestCheckAgreesWithEngines(t *testing.T) {
	type jsInit = map[string]any
	long := strings.Repeat("a", 128)
	cases := []struct {
		path string
		init jsInit
		in   check.Request
	}{
		{"/none", jsInit{}, check.Request{}},
		{"/dup", jsInit{}, check.Request{}},
		{"/mismatch", jsInit{}, check.Request{}},
		{"/invalid", jsInit{}, check.Request{}},
		{"/star", jsInit{"credentials": "include"}, check.Request{Credentials: true}},
		{"/nocred", jsInit{"credentials": "include"}, check.Request{Credentials: true}},
		{"/pf-method", jsInit{"method": "DELETE"}, check.Request{Method: "DELETE"}},
		{"/pf-header", jsInit{"headers": map[string]string{"X-Foo": "1", "X-Bar": "2"}}, check.Request{Headers: []string{"X-Foo: 1", "X-Bar: 2"}}},
		{"/pf-status", jsInit{"method": "PUT"}, check.Request{Method: "PUT"}},
		{"/pf-redirect", jsInit{"method": "PUT"}, check.Request{Method: "PUT"}},
		{"/pf-badlist", jsInit{"method": "PUT"}, check.Request{Method: "PUT"}},
		{"/pf-none", jsInit{"method": "PUT"}, check.Request{Method: "PUT"}},
		{"/pf-cred", jsInit{"method": "PUT", "credentials": "include"}, check.Request{Method: "PUT", Credentials: true}},
		{"/pf-authstar", jsInit{"headers": map[string]string{"Authorization": "x"}}, check.Request{Headers: []string{"Authorization: x"}}},
		{"/redir", jsInit{}, check.Request{}},
		{"/redir-to-bare", jsInit{}, check.Request{}},
		{"/redir-away", jsInit{}, check.Request{}},
		{"/pf-redir-away", jsInit{"method": "PUT"}, check.Request{Method: "PUT"}},
		{"/echo?ct", jsInit{"method": "POST", "headers": map[string]string{"Content-Type": "application/json"}}, check.Request{BodyType: "application/json"}},
		{"/echo?ct-text", jsInit{"method": "POST", "headers": map[string]string{"Content-Type": "text/plain;charset=UTF-8"}}, check.Request{BodyType: "text/plain;charset=UTF-8"}},
		{"/echo?range", jsInit{"headers": map[string]string{"Range": "bytes=0-"}}, check.Request{Headers: []string{"Range: bytes=0-"}}},
		{"/echo?suffix", jsInit{"headers": map[string]string{"Range": "bytes=-5"}}, check.Request{Headers: []string{"Range: bytes=-5"}}},
		{"/echo?al128", jsInit{"headers": map[string]string{"Accept-Language": long}}, check.Request{Headers: []string{"Accept-Language: " + long}}},
		{"/echo?al129", jsInit{"headers": map[string]string{"Accept-Language": long + "a"}}, check.Request{Headers: []string{"Accept-Language: " + long + "a"}}},
		{"/echo?patch", jsInit{"method": "patch"}, check.Request{Method: "patch"}},
		{"/echo?delete", jsInit{"method": "delete"}, check.Request{Method: "delete"}},
		{"/wild", jsInit{"method": "DELETE", "headers": map[string]string{"X-Foo": "1"}}, check.Request{Method: "DELETE", Headers: []string{"X-Foo: 1"}}},
		{"/wild", jsInit{"method": "DELETE", "credentials": "include"}, check.Request{Method: "DELETE", Credentials: true}},
		{"/err500", jsInit{}, check.Request{}},
	}

	api := httptest.NewServer(http.HandlerFunc(serveCheckCase))
	defer api.Close()
	// pageServed says, when a page never reports, whether the engine even
	// asked for it.
	var pageServed atomic.Int64
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageServed.Add(1)
		fmt.Fprint(w, pageHTML)
	}))
	defer page.Close()
	pageOrigin := "http://app.example.test:" + port(page.URL)
	apiOrigin := "http://api.example.test:" + port(api.URL)
	// The check resolves the test names as the engines do.
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+p)
		},
	}}

	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			browser := map[string]string{chromium: "chromium", firefox: "firefox", webkit: "safari"}[name]
			if name == chromium {
				// The check follows Fetch on Authorization vs "*", as
				// this Chromium does; Firefox's profile does too.
				name = strictChromium
			}
			e := needEngine(t, name)
			for _, c := range cases {
				t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
					if c.path == "/pf-authstar" && browser == "safari" {
						t.Skip("WebKit lets Access-Control-Allow-Headers: * cover Authorization, and has no switch to follow Fetch there")
					}
					in := c.in
					in.URL, in.Origin, in.Browser = apiOrigin+c.path, pageOrigin, browser
					var report bytes.Buffer
					code, err := check.Run(context.Background(), client, &report, in)
					if err != nil {
						t.Fatalf("check: %v\n%s", err, report.String())
					}
					var want []string
					for _, l := range strings.Split(report.String(), "\n") {
						if s, ok := strings.CutPrefix(l, "console: "); ok {
							want = append(want, s)
						}
					}
					initJSON, _ := json.Marshal(c.init)
					js := fmt.Sprintf("return probe(API + %q, %s)", c.path, initJSON)
					last := ""
					if len(want) > 0 {
						last = want[len(want)-1]
					}
					served := pageServed.Load()
					results, console, err := runInPage(e, pageOrigin+"/", apiOrigin, js, last)
					if err != nil {
						t.Fatalf("%v\nthe page site served %d requests for this page", err, pageServed.Load()-served)
					}
					gotCode := check.ExitAllowed
					if !results[0].OK {
						gotCode = check.ExitBlocked
					}
					got := corsLines(name, console)
					if code != gotCode || !slices.Equal(want, got) {
						t.Errorf("check: exit %d, console:\n\t%s\n%s: exit %d, console:\n\t%s\nreport:\n%s",
							code, strings.Join(want, "\n\t"), name, gotCode, strings.Join(got, "\n\t"), report.String())
					}
				})
			}
		})
	}
}

// corsLines keeps the console lines in which an engine explains a CORS
// refusal, dropping the page's result line and the engines' other chatter.
func corsLines(engine string, console []string) []string {
	var lines []string
	for _, l := range console {
		switch {
		case strings.Contains(l, resultPrefix):
		case engine == firefox && !strings.HasPrefix(l, "Cross-Origin Request"):
		case strings.HasPrefix(engine, chromium) && !strings.HasPrefix(l, "Access to fetch at"):
		default:
			lines = append(lines, l)
		}
	}
	return lines
}

func port(u string) string { return u[strings.LastIndex(u, ":")+1:] }

// serveCheckCase answers each path of TestCheckAgreesWithEngines.
func serveCheckCase(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	h := w.Header()
	preflight := r.Method == http.MethodOptions
	elsewhere := "http://localhost:" + strings.TrimPrefix(r.Host[strings.LastIndex(r.Host, ":"):], ":")
	switch r.URL.Path {
	case "/dup":
		h.Add("Access-Control-Allow-Origin", o)
		h.Add("Access-Control-Allow-Origin", o)
	case "/mismatch":
		h.Set("Access-Control-Allow-Origin", "http://other.test")
	case "/invalid":
		h.Set("Access-Control-Allow-Origin", "other.test")
	case "/star", "/err500":
		h.Set("Access-Control-Allow-Origin", "*")
		if r.URL.Path == "/err500" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	case "/nocred":
		h.Set("Access-Control-Allow-Origin", o)
	case "/pf-method":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "GET, PUT")
	case "/pf-header":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Headers", "x-foo")
	case "/pf-status":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "PUT")
		if preflight {
			w.WriteHeader(http.StatusNotFound)
		}
	case "/pf-redirect":
		h.Set("Access-Control-Allow-Origin", o)
		if preflight {
			http.Redirect(w, r, "/x", http.StatusFound)
		}
	case "/pf-badlist":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "PUT DELETE")
	case "/pf-none":
		if preflight {
			w.WriteHeader(http.StatusNotFound)
		}
	case "/pf-cred":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "PUT")
	case "/pf-authstar":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Headers", "*")
	case "/redir":
		http.Redirect(w, r, "/none", http.StatusFound)
	case "/redir-to-bare":
		h.Set("Access-Control-Allow-Origin", o)
		http.Redirect(w, r, "/none", http.StatusFound)
	case "/redir-away":
		h.Set("Access-Control-Allow-Origin", o)
		http.Redirect(w, r, elsewhere+"/echo", http.StatusFound)
	case "/pf-redir-away":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "PUT")
		if !preflight {
			http.Redirect(w, r, elsewhere+"/pf-redir-away", http.StatusTemporaryRedirect)
		}
	case "/echo":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "x-foo")
	case "/wild":
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "*")
		h.Set("Access-Control-Allow-Headers", "*")
	}
}
