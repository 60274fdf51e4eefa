package cors

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"
)

const checkTestOrigin = "http://app.example.test"

// checkTestRun runs the check and returns its exit status and report.
func checkTestRun(t *testing.T, in checkRequest) (int, string, error) {
	t.Helper()
	var out bytes.Buffer
	code, err := checkRun(context.Background(), http.DefaultClient, &out, in)
	return code, out.String(), err
}

// checkTestRecorder remembers the requests a test server received.
type checkTestRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *checkTestRecorder) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
		h(w, req)
	})
}

func (r *checkTestRecorder) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func TestCheckPreflightDecision(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	repeat := func(name, value string, n int) []checkHeader {
		var hs []checkHeader
		for range n {
			hs = append(hs, checkHeader{name, value})
		}
		return hs
	}
	for _, tc := range []struct {
		name       string
		method     string
		headers    []checkHeader
		wantUnsafe []string
		wantFlight bool
	}{
		{"GET without headers goes straight", "GET", nil, nil, false},
		{"lower-case get is normalized and safelisted", "get", nil, nil, false},
		{"HEAD is safelisted", "head", nil, nil, false},
		{"POST with a form type goes straight", "POST", []checkHeader{{"Content-Type", "application/x-www-form-urlencoded"}}, nil, false},
		{"POST multipart with boundary parameter goes straight", "POST", []checkHeader{{"Content-Type", "multipart/form-data; boundary=xyz"}}, nil, false},
		{"text/plain in any case goes straight", "POST", []checkHeader{{"content-type", "TEXT/Plain;charset=utf-8"}}, nil, false},
		{"JSON body type needs a preflight", "POST", []checkHeader{{"Content-Type", "application/json"}}, []string{"content-type"}, true},
		{"quoted MIME parameter is an unsafe byte", "POST", []checkHeader{{"Content-Type", `text/plain; charset="utf-8"`}}, []string{"content-type"}, true},
		{"malformed MIME type is unsafe", "POST", []checkHeader{{"Content-Type", "text"}}, []string{"content-type"}, true},
		{"PUT needs a preflight", "PUT", nil, nil, true},
		{"lower-case delete is normalized but not safelisted", "delete", nil, nil, true},
		{"patch stays lower case and needs a preflight", "patch", nil, nil, true},
		{"Accept with a plain value is safelisted", "GET", []checkHeader{{"Accept", "application/json, text/plain;q=0.9"}}, nil, false},
		{"Accept with a parenthesis is unsafe", "GET", []checkHeader{{"Accept", "text/(html)"}}, []string{"accept"}, true},
		{"Accept-Language with q-values is safelisted", "GET", []checkHeader{{"Accept-Language", "en-US,en;q=0.9"}}, nil, false},
		{"Accept-Language with an underscore is unsafe", "GET", []checkHeader{{"Accept-Language", "en_US"}}, []string{"accept-language"}, true},
		{"Content-Language is safelisted", "GET", []checkHeader{{"Content-Language", "de-DE"}}, nil, false},
		{"Range from a start is safelisted", "GET", []checkHeader{{"Range", "bytes=0-"}}, nil, false},
		{"Range with start and end is safelisted", "GET", []checkHeader{{"Range", "bytes=0-99"}}, nil, false},
		{"suffix Range is not safelisted", "GET", []checkHeader{{"Range", "bytes=-500"}}, []string{"range"}, true},
		{"Range ending before it starts is not safelisted", "GET", []checkHeader{{"Range", "bytes=5-1"}}, []string{"range"}, true},
		{"multiple ranges are not safelisted", "GET", []checkHeader{{"Range", "bytes=0-1,3-4"}}, []string{"range"}, true},
		{"Range with spaces is not safelisted", "GET", []checkHeader{{"Range", "bytes= 0-1"}}, []string{"range"}, true},
		{"custom header needs a preflight", "GET", []checkHeader{{"X-Requested-With", "XMLHttpRequest"}}, []string{"x-requested-with"}, true},
		{"Authorization needs a preflight", "GET", []checkHeader{{"Authorization", "Bearer t"}}, []string{"authorization"}, true},
		{"names are lower-cased, sorted and de-duplicated", "GET", []checkHeader{{"X-B", "1"}, {"x-a", "1"}, {"X-A", "2"}}, []string{"x-a", "x-b"}, true},
		{"a 128-byte value is safelisted", "GET", []checkHeader{{"Accept-Language", long(128)}}, nil, false},
		{"a 129-byte value is not", "GET", []checkHeader{{"Accept-Language", long(129)}}, []string{"accept-language"}, true},
		{"safelisted values totalling 1024 bytes pass", "GET", repeat("Content-Language", long(128), 8), nil, false},
		{"safelisted values over 1024 bytes all become unsafe", "GET",
			append(repeat("Content-Language", long(128), 8), checkHeader{"Accept", "*/*"}),
			[]string{"accept", "content-language"}, true},
		{"unsafe values do not count towards 1024", "GET",
			append(repeat("Content-Language", long(128), 8), checkHeader{"X-Big", long(500)}),
			[]string{"x-big"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := checkNormalizeMethod(tc.method)
			unsafe := checkUnsafeHeaderNames(tc.headers)
			if !slices.Equal(unsafe, tc.wantUnsafe) {
				t.Errorf("unsafe names = %q, want %q", unsafe, tc.wantUnsafe)
			}
			if got := !checkIsSafelistedMethod(method) || len(unsafe) > 0; got != tc.wantFlight {
				t.Errorf("preflight = %v, want %v", got, tc.wantFlight)
			}
		})
	}
}

func TestCheckNormalizesMethodsAsFetch(t *testing.T) {
	for in, want := range map[string]string{
		"get": "GET", "Post": "POST", "delete": "DELETE", "options": "OPTIONS", "put": "PUT", "head": "HEAD",
		"patch": "patch", "PATCH": "PATCH", "Purge": "Purge",
	} {
		if got := checkNormalizeMethod(in); got != want {
			t.Errorf("checkNormalizeMethod(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckSendsPreflightAsChromium(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       checkRequest
		wantACRM string
		wantACRH string // "" means the header must be absent
	}{
		{
			name:     "unsafe names lower-cased, sorted, comma-joined without spaces",
			in:       checkRequest{Method: "PUT", Headers: []string{"X-Zeta: 1", "X-Alpha: 2", "Accept-Language: en"}, BodyType: "application/json"},
			wantACRM: "PUT",
			wantACRH: "content-type,x-alpha,x-zeta",
		},
		{
			name:     "no Access-Control-Request-Headers when only the method is unsafe",
			in:       checkRequest{Method: "delete"},
			wantACRM: "DELETE",
		},
		{
			name:     "method kept as written when fetch does not normalize it",
			in:       checkRequest{Method: "patch"},
			wantACRM: "patch",
		},
		{
			name:     "Authorization is asked for, never sent, even with credentials",
			in:       checkRequest{Headers: []string{"Authorization: Bearer secret"}, Credentials: true},
			wantACRM: "GET",
			wantACRH: "authorization",
		},
		{
			name:     "forbidden headers are dropped before the decision",
			in:       checkRequest{Method: "PUT", Headers: []string{"Cookie: a=b", "Sec-Foo: 1", "X-Ok: 1"}},
			wantACRM: "PUT",
			wantACRH: "x-ok",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec checkTestRecorder
			srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
			}))
			defer srv.Close()
			in := tc.in
			in.URL, in.Origin = srv.URL+"/items", checkTestOrigin
			checkTestRun(t, in)
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
				"Origin": checkTestOrigin, "Accept": "*/*", "Sec-Fetch-Mode": "cors",
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

// checkTestGrant answers like a correct CORS server for checkTestOrigin.
func checkTestGrant(w http.ResponseWriter, r *http.Request) {
	if checkTestGrantHeaders(w, r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	h.Set("X-Total", "42")
	h.Set("X-Secret", "s")
	h.Set("Content-Type", "application/json")
	fmt.Fprintln(w, `{"ok":true}`)
}

// checkTestGrantHeaders sets the CORS headers of a correct server and
// reports whether r is a preflight.
func checkTestGrantHeaders(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("Vary", "Origin")
	if r.Header.Get("Origin") != checkTestOrigin {
		return false
	}
	h.Set("Access-Control-Allow-Origin", checkTestOrigin)
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

func TestCheckAgainstServers(t *testing.T) {
	preflightOnly := func(pf func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions {
				pf(w, r)
				return
			}
			checkTestGrant(w, r)
		}
	}
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		in       checkRequest
		wantCode int
		want     []string // substrings of the report
		notWant  []string
	}{
		{
			name:     "correct server allows a simple GET and shows readable headers",
			handler:  func(w http.ResponseWriter, r *http.Request) { checkTestGrant(w, r) },
			wantCode: checkExitAllowed,
			want: []string{"No preflight", "Result: ALLOWED", "status 200", "  X-Total\n", "  Content-Type\n",
				"Hidden from the script (response.headers.get() returns null): Date, Vary, X-Secret",
				"list it in Access-Control-Expose-Headers"},
			notWant: []string{"warning", "BLOCKED"},
		},
		{
			name:     "correct server allows a preflighted credentialed DELETE",
			handler:  func(w http.ResponseWriter, r *http.Request) { checkTestGrant(w, r) },
			in:       checkRequest{Method: "DELETE", Headers: []string{"X-Foo: 1", "Authorization: Bearer t"}, Credentials: true, BodyType: "application/json"},
			wantCode: checkExitAllowed,
			want: []string{"Step 1: preflight", "method DELETE is not CORS-safelisted", "> Access-Control-Request-Headers: authorization,content-type,x-foo",
				"verdict: preflight passed", "Access-Control-Max-Age 600", "Step 2: request", "> Authorization: Bearer t", "Result: ALLOWED"},
		},
		{
			name: "no CORS headers at all",
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintln(w, "hello")
			},
			wantCode: checkExitBlocked,
			want: []string{"has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				`answer with "Access-Control-Allow-Origin: http://app.example.test"`, "the server did receive the request and answered 200 OK"},
		},
		{
			name: "duplicate Access-Control-Allow-Origin",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Add("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Vary", "Origin")
			},
			wantCode: checkExitBlocked,
			want: []string{"The 'Access-Control-Allow-Origin' header contains multiple values 'http://app.example.test, http://app.example.test', but only one is allowed. Have the server send the header with a valid value.",
				"warning: the response carries 2 Access-Control-Allow-Origin headers"},
		},
		{
			name: "wildcard origin with credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header().Set("Access-Control-Allow-Credentials", "true")
			},
			in:       checkRequest{Credentials: true},
			wantCode: checkExitBlocked,
			want:     []string{"The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."},
		},
		{
			name: "wildcard origin without credentials is fine",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
			},
			wantCode: checkExitAllowed,
			notWant:  []string{"warning"},
		},
		{
			name: "credentials without Access-Control-Allow-Credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Vary", "Origin")
			},
			in:       checkRequest{Credentials: true},
			wantCode: checkExitBlocked,
			want:     []string{"The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'."},
		},
		{
			name: "other origin echoed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "https://app.example.test")
			},
			wantCode: checkExitBlocked,
			want:     []string{"The 'Access-Control-Allow-Origin' header has a value 'https://app.example.test' that is not equal to the supplied origin."},
		},
		{
			name: "origin with a trailing slash is invalid",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "app.example.test")
			},
			wantCode: checkExitBlocked,
			want:     []string{"The 'Access-Control-Allow-Origin' header contains the invalid value 'app.example.test'."},
		},
		{
			name: "missing Vary is a warning, not a failure",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			},
			wantCode: checkExitAllowed,
			want:     []string{`warning: Access-Control-Allow-Origin names one origin but the response has no "Vary: Origin"`, "Result: ALLOWED"},
		},
		{
			name: "preflight redirected",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/items/", http.StatusMovedPermanently)
			}),
			in:       checkRequest{Method: "PUT"},
			wantCode: checkExitBlocked,
			want: []string{"Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.",
				"Only the preflight was sent: the request itself never reached the server."},
		},
		{
			name: "preflight answered 404 with CORS headers",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT")
				w.WriteHeader(http.StatusNotFound)
			}),
			in:       checkRequest{Method: "PUT"},
			wantCode: checkExitBlocked,
			want: []string{"Response to preflight request doesn't pass access control check: It does not have HTTP ok status.",
				"answered 404 Not Found"},
		},
		{
			name: "preflight answered 401 without CORS headers reports the origin first",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}),
			in:       checkRequest{Headers: []string{"Authorization: Bearer t"}},
			wantCode: checkExitBlocked,
			want:     []string{"Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource."},
		},
		{
			name: "method not allowed",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, PUT")
			}),
			in:       checkRequest{Method: "DELETE"},
			wantCode: checkExitBlocked,
			want: []string{"from origin 'http://app.example.test' has been blocked by CORS policy: Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.",
				"fix: list DELETE in Access-Control-Allow-Methods"},
		},
		{
			name: "methods compare case-sensitively",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PATCH")
			}),
			in:       checkRequest{Method: "patch"},
			wantCode: checkExitBlocked,
			want:     []string{"Method patch is not allowed by Access-Control-Allow-Methods in preflight response."},
		},
		{
			name: "method wildcard without credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "*")
			}),
			in:       checkRequest{Method: "DELETE"},
			wantCode: checkExitAllowed,
		},
		{
			name: "method wildcard is literal with credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Methods", "*")
			}),
			in:       checkRequest{Method: "DELETE", Credentials: true},
			wantCode: checkExitBlocked,
			want:     []string{"Method DELETE is not allowed", `With credentials "*" is a literal method name`},
		},
		{
			name: "unparsable method list",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT DELETE")
			}),
			in:       checkRequest{Method: "PUT"},
			wantCode: checkExitBlocked,
			want:     []string{"Cannot parse Access-Control-Allow-Methods response header field in preflight response."},
		},
		{
			name: "header not allowed names the first missing one",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "X-Foo")
			}),
			in:       checkRequest{Headers: []string{"X-Foo: 1", "X-Bar: 2"}},
			wantCode: checkExitBlocked,
			want:     []string{"Request header field x-bar is not allowed by Access-Control-Allow-Headers in preflight response."},
		},
		{
			name: "header lists split over lines with spaces and empty elements",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Add("Access-Control-Allow-Headers", " x-foo ,, ")
				w.Header().Add("Access-Control-Allow-Headers", "X-BAR")
			}),
			in:       checkRequest{Headers: []string{"X-Foo: 1", "X-Bar: 2"}},
			wantCode: checkExitAllowed,
		},
		{
			name: "header wildcard never covers Authorization",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "*")
			}),
			in:       checkRequest{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: checkExitBlocked,
			want: []string{"Request header field authorization is not allowed by Access-Control-Allow-Headers in preflight response.",
				"Chromium 156 still lets this through by default", "list Authorization by name"},
		},
		{
			name: "header wildcard with Authorization listed",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Headers", "*, Authorization")
			}),
			in:       checkRequest{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: checkExitAllowed,
		},
		{
			name: "header wildcard is literal with credentials",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Headers", "*")
			}),
			in:       checkRequest{Headers: []string{"X-Foo: 1"}, Credentials: true},
			wantCode: checkExitBlocked,
			want:     []string{"Request header field x-foo is not allowed", `With credentials "*" is a literal header name`},
		},
		{
			name: "credentialed preflight needs Allow-Credentials too",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "PUT")
			}),
			in:       checkRequest{Method: "PUT", Credentials: true},
			wantCode: checkExitBlocked,
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
			wantCode: checkExitAllowed,
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
			wantCode: checkExitAllowed,
			want:     []string{"  X-Internal\n"},
			notWant:  []string{"Hidden"},
		},
		{
			name: "expose wildcard exposes nothing with credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", checkTestOrigin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Expose-Headers", "*")
				h.Set("Vary", "Origin")
				h.Set("X-Internal", "1")
			},
			in:       checkRequest{Credentials: true},
			wantCode: checkExitAllowed,
			want:     []string{`warning: Access-Control-Expose-Headers "*" means all headers only without credentials`, "X-Internal"},
		},
		{
			name: "an error status that passes the CORS check is readable",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantCode: checkExitAllowed,
			want:     []string{"Result: ALLOWED", "status 500"},
		},
		{
			name: "Caddy servers get Caddyfile fixes",
			handler: preflightOnly(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Server", "Caddy")
				w.Header().Set("Access-Control-Allow-Origin", checkTestOrigin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
				w.WriteHeader(http.StatusNoContent)
			}),
			in:       checkRequest{Method: "DELETE"},
			wantCode: checkExitBlocked,
			want:     []string{"fix: add `methods DELETE` to the cors block"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			in := tc.in
			in.URL, in.Origin = srv.URL+"/items", checkTestOrigin
			code, out, err := checkTestRun(t, in)
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
		})
	}
}

func TestCheckFollowsRedirectsLikeCORSFetch(t *testing.T) {
	var recB checkTestRecorder
	other := httptest.NewServer(recB.wrap(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o == "null" {
			w.Header().Set("Access-Control-Allow-Origin", "null")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
		}
	}))
	defer other.Close()
	var recA checkTestRecorder
	srv := httptest.NewServer(recA.wrap(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop-with-cors":
			checkTestGrantHeaders(w, r)
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/hop-without-cors":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/hop-to-bare":
			checkTestGrantHeaders(w, r)
			http.Redirect(w, r, "/bare", http.StatusFound)
		case "/hop-away":
			if checkTestGrantHeaders(w, r) {
				return // preflights are answered, not redirected
			}
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
		case "/post-303":
			checkTestGrantHeaders(w, r)
			http.Redirect(w, r, "/final", http.StatusSeeOther)
		case "/loop":
			checkTestGrantHeaders(w, r)
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/creds":
			checkTestGrantHeaders(w, r)
			w.Header().Set("Location", "http://user:pw@127.0.0.1:1/x")
			w.WriteHeader(http.StatusFound)
		case "/bare":
		default:
			checkTestGrant(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name     string
		path     string
		in       checkRequest
		wantCode int
		want     []string
	}{
		{"each hop passes the CORS check", "/hop-with-cors", checkRequest{}, checkExitAllowed,
			[]string{"redirect allowed", "> GET " + srv.URL + "/final", "Result: ALLOWED"}},
		{"a redirect without CORS headers is refused", "/hop-without-cors", checkRequest{}, checkExitBlocked,
			[]string{"Access to fetch at '" + srv.URL + "/hop-without-cors' from origin"}},
		{"the refusing hop is named with where it came from", "/hop-to-bare", checkRequest{}, checkExitBlocked,
			[]string{"Access to fetch at '" + srv.URL + "/bare' (redirected from '" + srv.URL + "/hop-to-bare') from origin 'http://app.example.test' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header"}},
		{"a cross-origin hop taints the origin and preflights again", "/hop-away", checkRequest{Method: "PUT"}, checkExitAllowed,
			[]string{`"Origin: null"`, "> Origin: null", "Result: ALLOWED"}},
		{"303 turns a POST into a GET without body headers", "/post-303", checkRequest{BodyType: "text/plain"}, checkExitAllowed,
			[]string{"a 303 turns POST into GET", "> GET " + srv.URL + "/final"}},
		{"more than 20 redirects is a network error", "/loop", checkRequest{}, checkExitBlocked,
			[]string{"ERR_TOO_MANY_REDIRECTS"}},
		{"a Location with credentials is refused", "/creds", checkRequest{}, checkExitBlocked,
			[]string{"Redirect location 'http://user:pw@127.0.0.1:1/x' contains a username and password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.URL, in.Origin = srv.URL+tc.path, checkTestOrigin
			code, out, err := checkTestRun(t, in)
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

func TestCheckDecidesWithoutTheNetwork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       checkRequest
		wantCode int
		want     string
	}{
		{"same origin needs no CORS", checkRequest{URL: "http://app.example.test/api", Origin: checkTestOrigin}, checkExitAllowed, "does not use CORS"},
		{"https page cannot fetch an http API", checkRequest{URL: "http://api.example.test/", Origin: "https://app.example.test"}, checkExitBlocked, "Mixed Content: The page at 'https://app.example.test/' was loaded over HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, err := checkTestRun(t, tc.in)
			if code != tc.wantCode || err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("got %d, %v, report:\n%s\nwant %d with %q", code, err, out, tc.wantCode, tc.want)
			}
		})
	}
}

func TestCheckUsageAndNetworkErrorsExitTwo(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		in   checkRequest
		want string
	}{
		{"missing origin", checkRequest{URL: "http://127.0.0.1/"}, "missing --origin"},
		{"missing URL", checkRequest{Origin: checkTestOrigin}, "missing the URL"},
		{"origin with a path", checkRequest{URL: "http://127.0.0.1/", Origin: "http://app.example.test/page"}, `a browser sends "http://app.example.test"`},
		{"origin with a trailing slash", checkRequest{URL: "http://127.0.0.1/", Origin: "http://app.example.test/"}, "trailing slash"},
		{"origin without a scheme", checkRequest{URL: "http://127.0.0.1/", Origin: "app.example.test"}, "not an origin"},
		{"URL with credentials", checkRequest{URL: "http://u:p@127.0.0.1/", Origin: checkTestOrigin}, "username or password"},
		{"non-http URL", checkRequest{URL: "ftp://127.0.0.1/", Origin: checkTestOrigin}, "only absolute http"},
		{"forbidden method", checkRequest{URL: "http://127.0.0.1/", Origin: checkTestOrigin, Method: "trace"}, "fetch() refuses this method"},
		{"invalid method", checkRequest{URL: "http://127.0.0.1/", Origin: checkTestOrigin, Method: "GE T"}, "bad --method"},
		{"body on GET", checkRequest{URL: "http://127.0.0.1/", Origin: checkTestOrigin, Method: "GET", BodyType: "text/plain"}, "refuses a body"},
		{"header without colon", checkRequest{URL: "http://127.0.0.1/", Origin: checkTestOrigin, Headers: []string{"X-Foo"}}, "bad --header"},
		{"connection refused", checkRequest{URL: closed.URL + "/", Origin: checkTestOrigin}, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, err := checkTestRun(t, tc.in)
			if code != checkExitError || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %d, %v, want %d with an error containing %q\n%s", code, err, checkExitError, tc.want, out)
			}
		})
	}
}

func TestCheckCommandMapsVerdictsToExitErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/open" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
	}))
	defer srv.Close()
	reg, ok := caddycmd.Commands()["cors"]
	if !ok {
		t.Fatal("caddy cors is not registered")
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(error) bool
	}{
		{"allowed returns nil", []string{"check", srv.URL + "/open", "--origin", checkTestOrigin}, func(err error) bool { return err == nil }},
		{"blocked returns the silent blocked error", []string{"check", srv.URL + "/closed", "--origin", checkTestOrigin}, func(err error) bool { return errors.Is(err, errCheckBlocked) }},
		{"usage error carries status 2", []string{"check", srv.URL}, checkTestIsExit2},
		{"unknown flag carries status 2", []string{"check", srv.URL, "--origin", checkTestOrigin, "--bogus"}, checkTestIsExit2},
		{"two URLs carry status 2", []string{"check", srv.URL, srv.URL, "--origin", checkTestOrigin}, checkTestIsExit2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := &cobra.Command{Use: "cors"}
			reg.CobraFunc(root)
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			if err := root.Execute(); !tc.check(err) {
				t.Errorf("Execute() = %v (%T)\n%s", err, err, out.String())
			}
		})
	}
}

// checkTestIsExit2 recognizes caddycmd's unexported exit error: Main exits
// with its status, here 2.
func checkTestIsExit2(err error) bool {
	return err != nil && fmt.Sprintf("%T", err) == "*caddycmd.exitError" && !errors.Is(err, errCheckBlocked)
}

// TestCheckAgreesWithChromium runs the same fetch() calls in headless
// Chromium and through the check, and compares the verdicts and the console
// lines. Chromium runs with the standard's Authorization rule switched on
// (CorsNonWildcardRequestHeadersSupport), which the check always applies.
func TestCheckAgreesWithChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	type jsInit = map[string]any
	long := strings.Repeat("a", 128)
	cases := []struct {
		path string
		init jsInit
		in   checkRequest
	}{
		{"/none", jsInit{}, checkRequest{}},
		{"/dup", jsInit{}, checkRequest{}},
		{"/mismatch", jsInit{}, checkRequest{}},
		{"/invalid", jsInit{}, checkRequest{}},
		{"/star", jsInit{"credentials": "include"}, checkRequest{Credentials: true}},
		{"/nocred", jsInit{"credentials": "include"}, checkRequest{Credentials: true}},
		{"/pf-method", jsInit{"method": "DELETE"}, checkRequest{Method: "DELETE"}},
		{"/pf-header", jsInit{"headers": map[string]string{"X-Foo": "1", "X-Bar": "2"}}, checkRequest{Headers: []string{"X-Foo: 1", "X-Bar: 2"}}},
		{"/pf-status", jsInit{"method": "PUT"}, checkRequest{Method: "PUT"}},
		{"/pf-redirect", jsInit{"method": "PUT"}, checkRequest{Method: "PUT"}},
		{"/pf-badlist", jsInit{"method": "PUT"}, checkRequest{Method: "PUT"}},
		{"/pf-none", jsInit{"method": "PUT"}, checkRequest{Method: "PUT"}},
		{"/pf-cred", jsInit{"method": "PUT", "credentials": "include"}, checkRequest{Method: "PUT", Credentials: true}},
		{"/pf-authstar", jsInit{"headers": map[string]string{"Authorization": "x"}}, checkRequest{Headers: []string{"Authorization: x"}}},
		{"/redir", jsInit{}, checkRequest{}},
		{"/redir-to-bare", jsInit{}, checkRequest{}},
		{"/redir-away", jsInit{}, checkRequest{}},
		{"/pf-redir-away", jsInit{"method": "PUT"}, checkRequest{Method: "PUT"}},
		{"/echo?ct", jsInit{"method": "POST", "headers": map[string]string{"Content-Type": "application/json"}}, checkRequest{BodyType: "application/json"}},
		{"/echo?ct-text", jsInit{"method": "POST", "headers": map[string]string{"Content-Type": "text/plain;charset=UTF-8"}}, checkRequest{BodyType: "text/plain;charset=UTF-8"}},
		{"/echo?range", jsInit{"headers": map[string]string{"Range": "bytes=0-"}}, checkRequest{Headers: []string{"Range: bytes=0-"}}},
		{"/echo?suffix", jsInit{"headers": map[string]string{"Range": "bytes=-5"}}, checkRequest{Headers: []string{"Range: bytes=-5"}}},
		{"/echo?al128", jsInit{"headers": map[string]string{"Accept-Language": long}}, checkRequest{Headers: []string{"Accept-Language: " + long}}},
		{"/echo?al129", jsInit{"headers": map[string]string{"Accept-Language": long + "a"}}, checkRequest{Headers: []string{"Accept-Language: " + long + "a"}}},
		{"/echo?patch", jsInit{"method": "patch"}, checkRequest{Method: "patch"}},
		{"/echo?delete", jsInit{"method": "delete"}, checkRequest{Method: "delete"}},
		{"/wild", jsInit{"method": "DELETE", "headers": map[string]string{"X-Foo": "1"}}, checkRequest{Method: "DELETE", Headers: []string{"X-Foo: 1"}}},
		{"/wild", jsInit{"method": "DELETE", "credentials": "include"}, checkRequest{Method: "DELETE", Credentials: true}},
		{"/err500", jsInit{}, checkRequest{}},
	}

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	defer api.Close()
	type jsCase struct {
		Path string `json:"path"`
		Init jsInit `json:"init"`
	}
	var js []jsCase
	for _, c := range cases {
		js = append(js, jsCase{c.path, c.init})
	}
	script, err := json.Marshal(js)
	if err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><script>
(async () => {
  for (const c of %s) {
    try { await fetch(%q + c.path, c.init); console.log("RESULT allowed"); }
    catch (e) { console.log("RESULT blocked"); }
  }
})();
</script>`, script, api.URL)
	}))
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--enable-features=CorsNonWildcardRequestHeadersSupport", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=30000", "--dump-dom", page.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	// Each RESULT line closes one case; the CORS lines before it are its own.
	console := regexp.MustCompile(`:INFO:CONSOLE:\d+\] "(.*)", source: `)
	type browserResult struct {
		code  int
		lines []string
	}
	var results []browserResult
	var pending []string
	for _, m := range console.FindAllStringSubmatch(stderr.String(), -1) {
		switch line := m[1]; line {
		case "RESULT allowed", "RESULT blocked":
			code := checkExitAllowed
			if line == "RESULT blocked" {
				code = checkExitBlocked
			}
			results = append(results, browserResult{code, pending})
			pending = nil
		default:
			if strings.HasPrefix(line, "Access to fetch at") {
				pending = append(pending, line)
			}
		}
	}
	if len(results) != len(cases) {
		t.Fatalf("chromium reported %d results for %d cases\n%s", len(results), len(cases), stderr.String())
	}
	for i, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			in := c.in
			in.URL, in.Origin = api.URL+c.path, page.URL
			code, out, err := checkTestRun(t, in)
			if err != nil {
				t.Fatalf("check: %v\n%s", err, out)
			}
			var lines []string
			for _, l := range strings.Split(out, "\n") {
				if s, ok := strings.CutPrefix(l, "console: "); ok {
					lines = append(lines, s)
				}
			}
			if code != results[i].code || !slices.Equal(lines, results[i].lines) {
				t.Errorf("check: exit %d, console %q\nchromium: exit %d, console %q\nreport:\n%s",
					code, lines, results[i].code, results[i].lines, out)
			}
		})
	}
}

// checkTestModuleServer serves the cors handler configured by a Caddyfile
// `cors` block in front of a small backend, as Caddy would: the server adds
// "Server: Caddy" and writes the error a handler returns.
func checkTestModuleServer(t *testing.T, caddyfileBlock string) *httptest.Server {
	t.Helper()
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(caddyfileBlock)); err != nil {
		t.Fatalf("Caddyfile: %v", err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	backend := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		switch r.URL.Path {
		case "/broken":
			return caddyhttp.Error(http.StatusBadGateway, errors.New("upstream down"))
		case "/own-cors":
			// A backend with its own, conflicting CORS headers.
			w.Header().Add("Access-Control-Allow-Origin", "*")
			w.Header().Add("Access-Control-Allow-Origin", "https://backend.example")
		}
		w.Header().Set("X-Request-Id", "r1")
		w.Header().Set("Content-Type", "application/json")
		_, err := fmt.Fprintln(w, `{"ok":true}`)
		return err
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Caddy")
		if err := h.ServeHTTP(w, r, backend); err != nil {
			var he caddyhttp.HandlerError
			status := http.StatusInternalServerError
			if errors.As(err, &he) {
				status = he.StatusCode
			}
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckAgainstTheCorsModule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		caddy    string // the cors block
		path     string
		in       checkRequest
		wantCode int
		want     []string
		// fixed, when set, is the cors block after applying the printed fix;
		// the same check must then pass.
		fixed string
	}{
		{
			name:     "allowed origin reads a simple GET",
			caddy:    "cors http://app.example.test",
			in:       checkRequest{},
			wantCode: checkExitAllowed,
			want:     []string{"No preflight", "< Access-Control-Allow-Origin: http://app.example.test", "< Vary: Origin", "Result: ALLOWED"},
		},
		{
			name:     "refused origin on a simple GET",
			caddy:    "cors https://other.example",
			wantCode: checkExitBlocked,
			want: []string{"No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				"fix: if pages at http://app.example.test may read this API, allow the origin in the cors block: `origins http://app.example.test`"},
			fixed: "cors https://other.example http://app.example.test",
		},
		{
			name:     "refused origin on a preflight gets a bare 403",
			caddy:    "cors https://other.example",
			in:       checkRequest{Method: "PUT"},
			wantCode: checkExitBlocked,
			want: []string{"< HTTP/1.1 403 Forbidden",
				"Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				"Only the preflight was sent"},
			fixed: "cors https://other.example {\n origins http://app.example.test\n methods PUT\n}",
		},
		{
			name:     "method outside the default list",
			caddy:    "cors http://app.example.test",
			in:       checkRequest{Method: "DELETE"},
			wantCode: checkExitBlocked,
			want: []string{"Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.",
				"fix: add `methods DELETE` to the cors block"},
			fixed: "cors http://app.example.test {\n methods DELETE\n}",
		},
		{
			name:     "header outside the default list",
			caddy:    "cors http://app.example.test",
			in:       checkRequest{Headers: []string{"X-Foo: 1"}, BodyType: "application/json"},
			wantCode: checkExitBlocked,
			want: []string{"> Access-Control-Request-Headers: content-type,x-foo",
				"Request header field x-foo is not allowed by Access-Control-Allow-Headers in preflight response.",
				"fix: add `allowed_headers x-foo` to the cors block"},
			fixed: "cors http://app.example.test {\n allowed_headers Content-Type x-foo\n}",
		},
		{
			name:     "credentials not enabled",
			caddy:    "cors http://app.example.test",
			in:       checkRequest{Credentials: true},
			wantCode: checkExitBlocked,
			want: []string{"The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true'",
				"fix: add `allow_credentials` to the cors block"},
			fixed: "cors http://app.example.test {\n allow_credentials\n}",
		},
		{
			name:     "any-origin policy with credentials",
			caddy:    "cors",
			in:       checkRequest{Credentials: true},
			wantCode: checkExitBlocked,
			want: []string{"must not be the wildcard '*' when the request's credentials mode is 'include'",
				"replace `origins *` (or a bare `cors`) with `origins http://app.example.test` and add `allow_credentials`"},
			fixed: "cors {\n origins http://app.example.test\n allow_credentials\n}",
		},
		{
			name:     "credentialed preflighted request with everything allowed",
			caddy:    "cors http://app.example.test {\n methods PUT\n allowed_headers Content-Type Authorization\n allow_credentials\n max_age 10m\n}",
			in:       checkRequest{Method: "PUT", Headers: []string{"Authorization: Bearer t"}, BodyType: "application/json", Credentials: true},
			wantCode: checkExitAllowed,
			want:     []string{"> Access-Control-Request-Headers: authorization,content-type", "verdict: preflight passed", "Access-Control-Max-Age 600", "Result: ALLOWED"},
		},
		{
			name:     "header wildcard does not cover Authorization",
			caddy:    "cors {\n origins *\n allowed_headers *\n}",
			in:       checkRequest{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: checkExitBlocked,
			want:     []string{"Request header field authorization is not allowed by Access-Control-Allow-Headers in preflight response."},
			fixed:    "cors {\n origins *\n allowed_headers * Authorization\n}",
		},
		{
			name:     "exposed header readable, others hidden",
			caddy:    "cors http://app.example.test {\n exposed_headers X-Request-Id\n}",
			wantCode: checkExitAllowed,
			want:     []string{"  X-Request-Id\n", "Hidden from the script (response.headers.get() returns null): Date, Server, Vary"},
		},
		{
			name:     "a backend's own CORS headers are replaced, not duplicated",
			caddy:    "cors http://app.example.test",
			path:     "/own-cors",
			wantCode: checkExitAllowed,
			want:     []string{"< Access-Control-Allow-Origin: http://app.example.test\n", "Result: ALLOWED"},
		},
		{
			name:     "errors Caddy writes carry the headers too",
			caddy:    "cors http://app.example.test",
			path:     "/broken",
			wantCode: checkExitAllowed,
			want:     []string{"< HTTP/1.1 502 Bad Gateway", "status 502"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(block string) (int, string) {
				srv := checkTestModuleServer(t, block)
				in := tc.in
				in.URL, in.Origin = srv.URL+cmp.Or(tc.path, "/api"), checkTestOrigin
				code, out, err := checkTestRun(t, in)
				if err != nil {
					t.Fatalf("unexpected error: %v\n%s", err, out)
				}
				return code, out
			}
			code, out := run(tc.caddy)
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d", code, tc.wantCode)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("report lacks %q", s)
				}
			}
			if code == checkExitAllowed && strings.Contains(out, "warning") {
				t.Errorf("the module's answer draws a warning")
			}
			if t.Failed() {
				t.Logf("report:\n%s", out)
			}
			if tc.fixed != "" {
				if code, out := run(tc.fixed); code != checkExitAllowed {
					t.Errorf("after the fix (%q): exit status %d\n%s", tc.fixed, code, out)
				}
			}
		})
	}
}
