package check

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const pageOrigin = "http://app.example.test"

// run runs the check and returns its exit status and report.
func run(t *testing.T, in Request) (int, string, error) {
	t.Helper()
	var out bytes.Buffer
	code, err := Run(context.Background(), http.DefaultClient, &out, in)
	return code, out.String(), err
}

// recorder remembers the requests a test server received.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
		h(w, req)
	})
}

func (r *recorder) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func TestSendsPreflightAsChromium(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       Request
		wantACRM string
		wantACRH string // "" means the header must be absent
	}{
		{
			name:     "unsafe names lower-cased, sorted, comma-joined without spaces",
			in:       Request{Method: "PUT", Headers: []string{"X-Zeta: 1", "X-Alpha: 2", "Accept-Language: en"}, BodyType: "application/json"},
			wantACRM: "PUT",
			wantACRH: "content-type,x-alpha,x-zeta",
		},
		{
			name:     "no Access-Control-Request-Headers when only the method is unsafe",
			in:       Request{Method: "delete"},
			wantACRM: "DELETE",
		},
		{
			name:     "method kept as written when fetch does not normalize it",
			in:       Request{Method: "patch"},
			wantACRM: "patch",
		},
		{
			name:     "Authorization is asked for, never sent, even with credentials",
			in:       Request{Headers: []string{"Authorization: Bearer secret"}, Credentials: true},
			wantACRM: "GET",
			wantACRH: "authorization",
		},
		{
			name:     "forbidden headers are dropped before the decision",
			in:       Request{Method: "PUT", Headers: []string{"Cookie: a=b", "Sec-Foo: 1", "X-Ok: 1"}},
			wantACRM: "PUT",
			wantACRH: "x-ok",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
			}))
			defer srv.Close()
			in := tc.in
			in.URL, in.Origin = srv.URL+"/items", pageOrigin
			run(t, in)
			reqs := rec.all()
			if len(reqs) != 1 || reqs[0].Method != http.MethodOptions {
				t.Fatalf("got %d requests, want exactly one OPTIONS", len(reqs))
			}
			h := reqs[0].Header
			if got := h.Get("Access-Control-Request-Method"); got != tc.wantACRM {
				t.Errorf("Access-Control-Request-Method = %q, want %q", got, tc.wantACRM)
			}
			if got, ok := h["Access-Control-Request-Headers"]; tc.wantACRH == "" && ok || tc.wantACRH != "" && (len(got) != 1 || got[0] != tc.wantACRH) {
				t.Errorf("Access-Control-Request-Headers = %q, want %q", got, tc.wantACRH)
			}
			for name, want := range map[string]string{
				"Origin": pageOrigin, "Accept": "*/*", "Sec-Fetch-Mode": "cors",
				"Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "cross-site",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			for _, name := range []string{"Authorization", "Cookie", "X-Zeta", "Content-Type", "Sec-Foo"} {
				if v := h.Get(name); v != "" {
					t.Errorf("preflight carries %s: %q", name, v)
				}
			}
		})
	}
}

// grant answers like a correct CORS server for pageOrigin.
func grant(w http.ResponseWriter, r *http.Request) {
	if grantHeaders(w, r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	h.Set("X-Total", "42")
	h.Set("X-Secret", "s")
	h.Set("Content-Type", "application/json")
	fmt.Fprintln(w, `{"ok":true}`)
}

// grantHeaders sets the CORS headers of a correct server and
// reports whether r is a preflight.
func grantHeaders(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("Vary", "Origin")
	if r.Header.Get("Origin") != pageOrigin {
		return false
	}
	h.Set("Access-Control-Allow-Origin", pageOrigin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
		h.Set("Access-Control-Allow-Headers", "Content-Type, X-Foo, Authorization")
		h.Set("Access-Control-Max-Age", "600")
		return true
	}
	h.Set("Access-Control-Expose-Headers", "X-Total")
	return false
}

func TestAgainstServers(t *testing.T) {
	preflightOnly := func(pf func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions {
				pf(w, r)
				return
			}
			grant(w, r)
		}
	}
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		in       Request
		wantCode int
		want     []string // substrings of the report
		notWant  []string
	}{
		{
			name:     "correct server allows a simple GET and shows readable headers",
			handler:  func(w http.ResponseWriter, r *http.Request) { grant(w, r) },
			wantCode: ExitAllowed,
			want: []string{"No preflight", "Result: ALLOWED", "status 200", "  X-Total\n", "  Content-Type\n",
				"Hidden from the script (response.headers.get() returns null): Date, Vary, X-Secret",
				"list it in Access-Control-Expose-Headers"},
			notWant: []string{"warning", "BLOCKED"},
		},
		{
			name:     "correct server allows a preflighted credentialed DELETE",
			handler:  func(w http.ResponseWriter, r *http.Request) { grant(w, r) },
			in:       Request{Method: "DELETE", Headers: []string{"X-Foo: 1", "Authorization: Bearer t"}, Credentials: true, BodyType: "application/json"},
			wantCode: ExitAllowed,
			want: []string{"Step 1: preflight", "method DELETE is not CORS-safelisted", "> Access-Control-Request-Headers: authorization,content-type,x-foo",
				"verdict: preflight passed", "Access-Control-Max-Age 600", "Step 2: request", "> Authorization: Bearer t", "Result: ALLOWED"},
		},
		{
			name: "no CORS headers at all",
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintln(w, "hello")
			},
			wantCode: ExitBlocked,
			want: []string{"has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				`answer with "Access-Control-Allow-Origin: http://app.example.test"`, "the server did receive the request and answered 200 OK"},
		},
		{
			name: "duplicate Access-Control-Allow-Origin",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Add("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Vary", "Origin")
			},
			wantCode: ExitBlocked,
			want: []string{"The 'Access-Control-Allow-Origin' header contains multiple values 'http://app.example.test, http://app.example.test', but only one is allowed. Have the server send the header with a valid value.",
				"warning: the response carries 2 Access-Control-Allow-Origin headers"},
		},
		{
			name: "wildcard origin with credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header().Set("Access-Control-Allow-Credentials", "true")
			},
			in:       Request{Credentials: true},
			wantCode: ExitBlocked,
			want:     []string{"The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."},
		},
		{
			name: "wildcard origin without credentials is fine",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
			},
			wantCode: ExitAllowed,
			notWant:  []string{"warning"},
		},
		{
			name: "credentials without Access-Control-Allow-Credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Vary", "Origin")
			},
			in:       Request{Credentials: true},
			wantCode: ExitBlocked,
			want:     []string{"The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'."},
		},
		{
			name: "other origin echoed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "https://app.example.test")
			},
			wantCode: ExitBlocked,
			want:     []string{"The 'Access-Control-Allow-Origin' header has a value 'https://app.example.test' that is not equal to the supplied origin."},
		},
		{
			name: "origin with a trailing slash is invalid",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "app.example.test")
			},
			wantCode: ExitBlocked,
			want:     []string{"The 'Access-Control-Allow-Origin' header contains the invalid value 'app.example.test'."},
		},
		{
			name: "missing Vary is a warning, not a failure",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			},
			wantCode: ExitAllowed,
			want:     []string{`warning: Access-Control-Allow-Origin names one origin but the response has no "Vary: Origin"`, "Result: ALLOWED"},
		},
		{
			name: "preflight redirected",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/items/", http.StatusMovedPermanently)
			}),
			in:       Request{Method: "PUT"},
			wantCode: ExitBlocked,
			want: []string{"Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.",
				"Only the preflight was sent: the request itself never reached the server."},
		},
		{
			name: "preflight answered 404 with CORS headers",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT")
				w.WriteHeader(http.StatusNotFound)
			}),
			in:       Request{Method: "PUT"},
			wantCode: ExitBlocked,
			want: []string{"Response to preflight request doesn't pass access control check: It does not have HTTP ok status.",
				"answered 404 Not Found"},
		},
		{
			name: "preflight answered 401 without CORS headers reports the origin first",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}),
			in:       Request{Headers: []string{"Authorization: Bearer t"}},
			wantCode: ExitBlocked,
			want:     []string{"Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource."},
		},
		{
			name: "method not allowed",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, PUT")
			}),
			in:       Request{Method: "DELETE"},
			wantCode: ExitBlocked,
			want: []string{"from origin 'http://app.example.test' has been blocked by CORS policy: Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.",
				"fix: list DELETE in Access-Control-Allow-Methods"},
		},
		{
			name: "methods compare case-sensitively",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PATCH")
			}),
			in:       Request{Method: "patch"},
			wantCode: ExitBlocked,
			want:     []string{"Method patch is not allowed by Access-Control-Allow-Methods in preflight response."},
		},
		{
			name: "method wildcard without credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "*")
			}),
			in:       Request{Method: "DELETE"},
			wantCode: ExitAllowed,
		},
		{
			name: "method wildcard is literal with credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Methods", "*")
			}),
			in:       Request{Method: "DELETE", Credentials: true},
			wantCode: ExitBlocked,
			want:     []string{"Method DELETE is not allowed", `With credentials "*" is a literal method name`},
		},
		{
			name: "unparsable method list",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT DELETE")
			}),
			in:       Request{Method: "PUT"},
			wantCode: ExitBlocked,
			want:     []string{"Cannot parse Access-Control-Allow-Methods response header field in preflight response."},
		},
		{
			name: "header not allowed names the first missing one",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "X-Foo")
			}),
			in:       Request{Headers: []string{"X-Foo: 1", "X-Bar: 2"}},
			wantCode: ExitBlocked,
			want:     []string{"Request header field x-bar is not allowed by Access-Control-Allow-Headers in preflight response."},
		},
		{
			name: "header lists split over lines with spaces and empty elements",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Add("Access-Control-Allow-Headers", " x-foo ,, ")
				w.Header().Add("Access-Control-Allow-Headers", "X-BAR")
			}),
			in:       Request{Headers: []string{"X-Foo: 1", "X-Bar: 2"}},
			wantCode: ExitAllowed,
		},
		{
			name: "header wildcard never covers Authorization",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "*")
			}),
			in:       Request{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: ExitBlocked,
			want: []string{"Request header field authorization is not allowed by Access-Control-Allow-Headers in preflight response.",
				"Chromium 156 still lets this through by default", "list Authorization by name"},
		},
		{
			name: "header wildcard with Authorization listed",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "*, Authorization")
			}),
			in:       Request{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: ExitAllowed,
		},
		{
			name: "header wildcard is literal with credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Headers", "*")
			}),
			in:       Request{Headers: []string{"X-Foo: 1"}, Credentials: true},
			wantCode: ExitBlocked,
			want:     []string{"Request header field x-foo is not allowed", `With credentials "*" is a literal header name`},
		},
		{
			name: "credentialed preflight needs Allow-Credentials too",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT")
			}),
			in:       Request{Method: "PUT", Credentials: true},
			wantCode: ExitBlocked,
			want:     []string{"Response to preflight request doesn't pass access control check: The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true'"},
		},
		{
			name: "exposed header readable, others hidden, Set-Cookie never",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", "*")
				h.Set("Access-Control-Expose-Headers", "x-request-id")
				h.Set("X-Request-Id", "1")
				h.Set("X-Internal", "1")
				h.Set("Set-Cookie", "a=b")
			},
			wantCode: ExitAllowed,
			want:     []string{"  X-Request-Id\n", "Hidden from the script (response.headers.get() returns null): Date, Set-Cookie, X-Internal"},
		},
		{
			name: "expose wildcard exposes all without credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", "*")
				h.Set("Access-Control-Expose-Headers", "*")
				h.Set("X-Internal", "1")
			},
			wantCode: ExitAllowed,
			want:     []string{"  X-Internal\n"},
			notWant:  []string{"Hidden"},
		},
		{
			name: "expose wildcard exposes nothing with credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", pageOrigin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Expose-Headers", "*")
				h.Set("Vary", "Origin")
				h.Set("X-Internal", "1")
			},
			in:       Request{Credentials: true},
			wantCode: ExitAllowed,
			want:     []string{`warning: Access-Control-Expose-Headers "*" means all headers only without credentials`, "X-Internal"},
		},
		{
			name: "an error status that passes the CORS check is readable",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantCode: ExitAllowed,
			want:     []string{"Result: ALLOWED", "status 500"},
		},
		{
			name: "Caddy servers get Caddyfile fixes",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Server", "Caddy")
				w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
				w.WriteHeader(http.StatusNoContent)
			}),
			in:       Request{Method: "DELETE"},
			wantCode: ExitBlocked,
			want:     []string{"fix: add `methods DELETE` to the cors block"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			in := tc.in
			in.URL, in.Origin = srv.URL+"/items", pageOrigin
			code, out, err := run(t, in)
			if err != nil {
				t.Fatalf("unexpected error: %v\n%s", err, out)
			}
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("report lacks %q", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(out, s) {
					t.Errorf("report has %q", s)
				}
			}
			if t.Failed() {
				t.Logf("report:\n%s", out)
			}
			// The whole report, as a user reads it, against its golden
			// file: the substrings above say what matters most, the file
			// holds every line to it.
			compareGolden(t, strings.ReplaceAll(out, srv.Listener.Addr().String(), "127.0.0.1:PORT"))
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/reports")

// compareGolden compares a report with testdata/reports/<subtest>.txt, or
// writes it there with -update.
func compareGolden(t *testing.T, report string) {
	t.Helper()
	// The subtest's name, in characters every shell and file system take.
	name := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return r
		}
		return '_'
	}, t.Name()[strings.IndexByte(t.Name(), '/')+1:])
	path := filepath.Join("testdata", "reports", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/check -run %s -update writes it)", err, t.Name())
	}
	if report != string(want) {
		t.Errorf("the report differs from %s (go test -update rewrites it; review the diff):\n%s", path, report)
	}
}

func TestFollowsRedirectsLikeCORSFetch(t *testing.T) {
	var recB recorder
	other := httptest.NewServer(recB.wrap(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o == "null" {
			w.Header().Set("Access-Control-Allow-Origin", "null")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
		}
	}))
	defer other.Close()
	var recA recorder
	srv := httptest.NewServer(recA.wrap(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop-with-cors":
			grantHeaders(w, r)
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/hop-without-cors":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/hop-to-bare":
			grantHeaders(w, r)
			http.Redirect(w, r, "/bare", http.StatusFound)
		case "/hop-away":
			if grantHeaders(w, r) {
				return // preflights are answered, not redirected
			}
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
		case "/post-301", "/post-302", "/post-303", "/put-302", "/head-303":
			if grantHeaders(w, r) {
				return // preflights are answered, not redirected
			}
			code, _ := strconv.Atoi(r.URL.Path[len(r.URL.Path)-3:]) // the status ends the path
			http.Redirect(w, r, "/final", code)
		case "/loop":
			grantHeaders(w, r)
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ftp":
			grantHeaders(w, r)
			w.Header().Set("Location", "ftp://127.0.0.1/x")
			w.WriteHeader(http.StatusFound)
		case "/creds":
			grantHeaders(w, r)
			w.Header().Set("Location", "http://user:pw@127.0.0.1:1/x")
			w.WriteHeader(http.StatusFound)
		case "/bare":
		default:
			// /chain/N redirects N times before it answers.
			if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/")); err == nil && n > 0 {
				grantHeaders(w, r)
				http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), http.StatusFound)
				return
			}
			grant(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name     string
		path     string
		in       Request
		wantCode int
		want     []string
	}{
		{"each hop passes the CORS check", "/hop-with-cors", Request{}, ExitAllowed,
			[]string{"redirect allowed", "> GET " + srv.URL + "/final", "Result: ALLOWED"}},
		{"a redirect without CORS headers is refused", "/hop-without-cors", Request{}, ExitBlocked,
			[]string{"Access to fetch at '" + srv.URL + "/hop-without-cors' from origin"}},
		{"the refusing hop is named with where it came from", "/hop-to-bare", Request{}, ExitBlocked,
			[]string{"Access to fetch at '" + srv.URL + "/bare' (redirected from '" + srv.URL + "/hop-to-bare') from origin 'http://app.example.test' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header"}},
		{"a cross-origin hop taints the origin and preflights again", "/hop-away", Request{Method: "PUT"}, ExitAllowed,
			[]string{`"Origin: null"`, "> Origin: null", "Result: ALLOWED"}},
		{"303 turns a POST into a GET without body headers", "/post-303", Request{BodyType: "text/plain"}, ExitAllowed,
			[]string{"a 303 turns POST into GET", "> GET " + srv.URL + "/final"}},
		{"more than 20 redirects is a network error", "/loop", Request{}, ExitBlocked,
			[]string{"ERR_TOO_MANY_REDIRECTS"}},
		{"20 redirects are followed", "/chain/20", Request{}, ExitAllowed,
			[]string{"> GET " + srv.URL + "/chain/0", "Result: ALLOWED"}},
		{"the 21st redirect is not", "/chain/21", Request{}, ExitBlocked,
			[]string{"ERR_TOO_MANY_REDIRECTS"}},
		{"301 turns a POST into a GET too", "/post-301", Request{BodyType: "text/plain"}, ExitAllowed,
			[]string{"a 301 turns POST into GET", "> GET " + srv.URL + "/final"}},
		{"302 turns a POST into a GET too", "/post-302", Request{BodyType: "text/plain"}, ExitAllowed,
			[]string{"a 302 turns POST into GET", "> GET " + srv.URL + "/final"}},
		{"302 keeps a PUT", "/put-302", Request{Method: "PUT"}, ExitAllowed,
			[]string{"> PUT " + srv.URL + "/final"}},
		{"303 keeps a HEAD", "/head-303", Request{Method: "HEAD"}, ExitAllowed,
			[]string{"> HEAD " + srv.URL + "/final"}},
		{"a Location that is not http(s) is a network error", "/ftp", Request{}, ExitBlocked,
			[]string{`the redirect's Location "ftp://127.0.0.1/x" is not an http(s) URL`}},
		{"a Location with credentials is refused", "/creds", Request{}, ExitBlocked,
			[]string{"Redirect location 'http://user:pw@127.0.0.1:1/x' contains a username and password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.URL, in.Origin = srv.URL+tc.path, pageOrigin
			code, out, err := run(t, in)
			if err != nil {
				t.Fatalf("unexpected error: %v\n%s", err, out)
			}
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("report lacks %q", s)
				}
			}
			if t.Failed() {
				t.Logf("report:\n%s", out)
			}
			out = strings.ReplaceAll(out, srv.Listener.Addr().String(), "127.0.0.1:PORT")
			compareGolden(t, strings.ReplaceAll(out, other.Listener.Addr().String(), "127.0.0.1:OTHER"))
		})
	}

	// The tainted hop really carried Origin: null on both of its requests.
	var origins []string
	for _, r := range recB.all() {
		origins = append(origins, r.Method+" "+r.Header.Get("Origin"))
	}
	if !slices.Equal(origins, []string{"OPTIONS null", "PUT null"}) {
		t.Errorf("requests after the cross-origin redirect = %q, want OPTIONS and PUT with Origin null", origins)
	}
}

func TestDecidesWithoutTheNetwork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       Request
		wantCode int
		want     string
	}{
		{"same origin needs no CORS", Request{URL: "http://app.example.test/api", Origin: pageOrigin}, ExitAllowed, "does not use CORS"},
		{"https page cannot fetch an http API", Request{URL: "http://api.example.test/", Origin: "https://app.example.test"}, ExitBlocked, "Mixed Content: The page at 'https://app.example.test/' was loaded over HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, err := run(t, tc.in)
			if code != tc.wantCode || err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("got %d, %v, report:\n%s\nwant %d with %q", code, err, out, tc.wantCode, tc.want)
			}
			compareGolden(t, out)
		})
	}
}

// TestRefererFollowsTheDefaultPolicy pins the Referer the check sends as
// strict-origin-when-cross-origin, the browsers' default, does: the page's
// origin, except from an https page to an http URL (a loopback one, which
// mixed-content blocking lets through).
func TestRefererFollowsTheDefaultPolicy(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(rec.wrap(grant))
	defer srv.Close()
	for origin, want := range map[string]string{
		pageOrigin:                 pageOrigin + "/",
		"https://app.example.test": "",
	} {
		before := len(rec.all())
		if _, out, err := run(t, Request{URL: srv.URL + "/items", Origin: origin}); err != nil {
			t.Fatalf("page %s: %v\n%s", origin, err, out)
		}
		for _, r := range rec.all()[before:] {
			if got := r.Header.Get("Referer"); got != want {
				t.Errorf("page %s: Referer %q, want %q", origin, got, want)
			}
		}
	}
}

func TestUsageAndNetworkErrorsExitTwo(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		in   Request
		want string
	}{
		{"missing origin", Request{URL: "http://127.0.0.1/"}, "missing --origin"},
		{"missing URL", Request{Origin: pageOrigin}, "missing the URL"},
		{"origin with a path", Request{URL: "http://127.0.0.1/", Origin: "http://app.example.test/page"}, `a browser sends "http://app.example.test"`},
		{"origin with a trailing slash", Request{URL: "http://127.0.0.1/", Origin: "http://app.example.test/"}, "trailing slash"},
		{"origin without a scheme", Request{URL: "http://127.0.0.1/", Origin: "app.example.test"}, "not an origin"},
		{"URL with credentials", Request{URL: "http://u:p@127.0.0.1/", Origin: pageOrigin}, "username or password"},
		{"non-http URL", Request{URL: "ftp://127.0.0.1/", Origin: pageOrigin}, "only absolute http"},
		{"forbidden method", Request{URL: "http://127.0.0.1/", Origin: pageOrigin, Method: "trace"}, "fetch() refuses this method"},
		{"invalid method", Request{URL: "http://127.0.0.1/", Origin: pageOrigin, Method: "GE T"}, "bad --method"},
		{"body on GET", Request{URL: "http://127.0.0.1/", Origin: pageOrigin, Method: "GET", BodyType: "text/plain"}, "refuses a body"},
		{"header without colon", Request{URL: "http://127.0.0.1/", Origin: pageOrigin, Headers: []string{"X-Foo"}}, "bad --header"},
		{"connection refused", Request{URL: closed.URL + "/", Origin: pageOrigin}, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, err := run(t, tc.in)
			if code != ExitError || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %d, %v, want %d with an error containing %q\n%s", code, err, ExitError, tc.want, out)
			}
		})
	}
}

func TestParseBrowserTakesEachEngineName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want browser
	}{
		{"", chromium}, {"chromium", chromium}, {"Chrome", chromium}, {"edge", chromium},
		{"firefox", firefox}, {"FIREFOX", firefox}, {"safari", safari}, {"webkit", safari},
	} {
		if got, err := parseBrowser(tc.name); err != nil || got != tc.want {
			t.Errorf("parseBrowser(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := parseBrowser("opera"); err == nil || !strings.Contains(err.Error(), "chromium, firefox, safari") {
		t.Errorf("parseBrowser(opera) = %v; want an error listing the browsers", err)
	}
}

func TestMaxAgeNoteNamesEachBrowsersCap(t *testing.T) {
	for _, tc := range []struct {
		b      browser
		values []string
		want   string
	}{
		{chromium, []string{"86400"}, "Chromium caps it at 7200 s"},
		{firefox, []string{"100000"}, "Firefox caps it at 86400 s"},
		{safari, []string{"601"}, "Safari caps it at 600 s"},
		{safari, []string{"600"}, "Safari reuses this answer for 600 s"},
		{firefox, nil, "Firefox reuses this answer for 5 s (Firefox ESR 153 may first cache it only at its second or third preflight"},
		{chromium, []string{"0"}, "preflights every request"},
	} {
		if got := tc.b.maxAgeNote(tc.values); !strings.Contains(got, tc.want) {
			t.Errorf("%v.maxAgeNote(%q) = %q; want it to say %q", tc.b, tc.values, got, tc.want)
		}
	}
}

// Firefox writes a second line when it refuses to follow a redirect, as it
// does after a refused preflight; Chromium and Safari write their usual ones.
func TestConsoleLinesForARefusedRedirect(t *testing.T) {
	const url = "http://api.example.test/redir"
	didNotSucceed := "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at " + url + ". (Reason: CORS request did not succeed). Status code: (null)."
	for _, tc := range []struct {
		status   int
		b        browser
		lines    int
		lastLine string
	}{
		{http.StatusFound, firefox, 2, didNotSucceed},
		{http.StatusOK, firefox, 1, ""},
		{http.StatusFound, chromium, 1, ""},
		{http.StatusFound, safari, 2, "Fetch API cannot load " + url + " due to access control checks."},
	} {
		resp := &http.Response{
			StatusCode: tc.status,
			Header:     http.Header{"Location": {"/none"}},
			Request:    httptest.NewRequest("GET", url, nil),
		}
		got := tc.b.console(failure{kind: missingAllowOrigin}, url, url, pageOrigin, resp)
		if len(got) != tc.lines || tc.lastLine != "" && got[len(got)-1] != tc.lastLine {
			t.Errorf("%v, status %d: console lines\n\t%s\nwant %d, the last %q", tc.b, tc.status, strings.Join(got, "\n\t"), tc.lines, tc.lastLine)
		}
	}
}

// TestLocalNetworkAccessNote pins the note on Chromium's Local Network
// Access: printed whatever the verdict when a page on a less private address
// fetches a loopback or private one, and only then.
func TestLocalNetworkAccessNote(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/granted" {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		}
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	for _, tc := range []struct {
		name, url, origin string
		wantCode          int
		wantNote          string // "" means no note
	}{
		{"PublicPageLoopbackIPAllowed", srv.URL + "/granted", "https://app.example.com", ExitAllowed,
			"127.0.0.1:" + port + " is a loopback address and the page's origin is public"},
		{"PublicPageLoopbackIPRefused", srv.URL + "/refused", "https://app.example.com", ExitBlocked,
			"127.0.0.1:" + port + " is a loopback address and the page's origin is public"},
		{"PublicPageLocalhost", "http://localhost:" + port + "/granted", "http://app.example.com:8080", ExitAllowed,
			"localhost:" + port + " is a loopback address and the page's origin is public"},
		{"PublicIPPage", srv.URL + "/granted", "http://203.0.113.7", ExitAllowed,
			"127.0.0.1:" + port + " is a loopback address and the page's origin is public"},
		{"PrivatePageLoopback", srv.URL + "/granted", "http://192.168.1.20:3000", ExitAllowed,
			"127.0.0.1:" + port + " is a loopback address and the page's origin is a private address"},
		{"LoopbackPage", srv.URL + "/granted", "http://localhost:5173", ExitAllowed, ""},
		{"LoopbackIPv6Page", srv.URL + "/refused", "http://[::1]:5173", ExitBlocked, ""},
		{"NullPage", srv.URL + "/granted", "null", ExitAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, err := run(t, Request{URL: tc.url, Origin: tc.origin})
			if code != tc.wantCode || err != nil {
				t.Fatalf("got %d, %v, want %d:\n%s", code, err, tc.wantCode, out)
			}
			if tc.wantNote == "" {
				if strings.Contains(out, "Local Network Access") {
					t.Errorf("a Local Network Access note for a page at %s:\n%s", tc.origin, out)
				}
				return
			}
			for _, want := range []string{
				"\nnote: " + tc.wantNote,
				": Chromium (Local Network Access, Chrome 142 and later) asks the user's permission before it sends anything there, whatever the CORS headers say. If the user denies it, fetch() fails and the console shows what reads like a CORS error:\n",
				"  Access to fetch at '" + tc.url + "' from origin '" + tc.origin + "' has been blocked by CORS policy: Permission was denied for this request to access the `unknown` address space.\n",
				`No server header satisfies it: the user must allow the page, and a page in a frame also needs the local-network-access permissions policy from the page that embeds it (<iframe allow="local-network-access">).`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
			if !strings.HasSuffix(out, "(<iframe allow=\"local-network-access\">).\n") {
				t.Errorf("the note is not the report's last word:\n%s", out)
			}
		})
	}
}

// TestAddressSpaces pins where Local Network Access places the hosts the
// check can place without DNS, and when it asks the user.
func TestAddressSpaces(t *testing.T) {
	for _, tc := range []struct {
		origin, url string
		asks        bool
	}{
		{"https://app.example.com", "http://127.0.0.1/", true},
		{"https://app.example.com", "http://127.8.9.10/", true},
		{"https://app.example.com", "http://[::1]/", true},
		{"https://app.example.com", "http://[::ffff:7f00:1]/", true},
		{"https://app.example.com", "http://localhost:8080/", true},
		{"https://app.example.com", "http://api.localhost/", true},
		{"https://app.example.com", "http://10.0.0.1/", true},
		{"https://app.example.com", "http://172.16.0.1/", true},
		{"https://app.example.com", "http://192.168.1.1/", true},
		{"https://app.example.com", "http://169.254.169.254/", true},
		{"https://app.example.com", "http://[fd00::1]/", true},
		{"https://app.example.com", "http://[fe80::1]/", true},
		{"http://192.168.1.2", "http://127.0.0.1/", true},
		{"https://app.example.com", "https://api.example.com/", false}, // a name: only DNS knows
		{"https://app.example.com", "http://router.local/", false},
		{"https://app.example.com", "http://8.8.8.8/", false},
		{"https://app.example.com", "http://172.32.0.1/", false},
		{"http://192.168.1.2", "http://192.168.1.3/", false},
		{"http://localhost:3000", "http://127.0.0.1/", false},
		{"http://127.0.0.1:3000", "http://[::1]/", false},
		{"null", "http://127.0.0.1/", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, asks := localNetworkAccess(tc.origin, u); asks != tc.asks {
			t.Errorf("a page at %s fetching %s: asks = %v, want %v", tc.origin, tc.url, asks, tc.asks)
		}
	}
}
