package cors

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"

	"github.com/caddy-cors/cors/internal/check"
)

// checkPageOrigin is the page the checks run from.
const checkPageOrigin = "http://app.example.test"

// checkReport runs the check and returns its exit status and report.
func checkReport(t *testing.T, in check.Request) (int, string, error) {
	t.Helper()
	var out bytes.Buffer
	code, err := check.Run(context.Background(), http.DefaultClient, &out, in)
	return code, out.String(), err
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
		{"allowed returns nil", []string{"check", srv.URL + "/open", "--origin", checkPageOrigin}, func(err error) bool { return err == nil }},
		{"blocked returns the silent blocked error", []string{"check", srv.URL + "/closed", "--origin", checkPageOrigin}, func(err error) bool { return errors.Is(err, errBlocked) }},
		{"usage error carries status 2 and says what is missing", []string{"check", srv.URL}, exit2Saying("missing --origin")},
		{"unknown flag carries status 2", []string{"check", srv.URL, "--origin", checkPageOrigin, "--bogus"}, isExit2},
		{"two URLs carry status 2 and say so", []string{"check", srv.URL, srv.URL, "--origin", checkPageOrigin}, exit2Saying("one URL only")},
		{"an unknown browser carries status 2", []string{"check", srv.URL + "/open", "--origin", checkPageOrigin, "--browser", "opera"}, isExit2},
		{"blocked for firefox returns the silent blocked error", []string{"check", srv.URL + "/closed", "--origin", checkPageOrigin, "--browser", "firefox"}, func(err error) bool { return errors.Is(err, errBlocked) }},
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

// TestCheckCommandGivesUpOnASilentServer pins that a server that never
// answers ends the check with exit status 2 and a timeout, not a hang.
func TestCheckCommandGivesUpOnASilentServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	defer func(d time.Duration) { checkTimeout = d }(checkTimeout)
	checkTimeout = 100 * time.Millisecond
	root := &cobra.Command{Use: "cors"}
	caddycmd.Commands()["cors"].CobraFunc(root)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"check", srv.URL, "--origin", checkPageOrigin})
	done := make(chan error, 1)
	go func() { done <- root.Execute() }()
	select {
	case err := <-done:
		if !isExit2(err) || !strings.Contains(err.Error(), "Timeout") {
			t.Errorf("Execute() = %v, want exit status 2 naming the timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check still waits for a server that never answers, 10 s on")
	}
}

// isExit2 recognizes caddycmd's unexported exit error: Main exits
// with its status, here 2.
func isExit2(err error) bool {
	return err != nil && fmt.Sprintf("%T", err) == "*caddycmd.exitError" && !errors.Is(err, errBlocked)
}

// exit2Saying recognizes an exit error of status 2 whose message has msg:
// the reason reaches the user, not just the status.
func exit2Saying(msg string) func(error) bool {
	return func(err error) bool { return isExit2(err) && strings.Contains(err.Error(), msg) }
}

// moduleServer serves the cors handler configured by a Caddyfile
// `cors` block in front of a small backend, as Caddy would: the server adds
// "Server: Caddy" and writes the error a handler returns.
func moduleServer(t *testing.T, caddyfileBlock string) *httptest.Server {
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
		in       check.Request
		wantCode int
		want     []string
		// fixed, when set, is the cors block after applying the printed fix;
		// the same check must then pass.
		fixed string
	}{
		{
			name:     "allowed origin reads a simple GET",
			caddy:    "cors http://app.example.test",
			in:       check.Request{},
			wantCode: check.ExitAllowed,
			want:     []string{"No preflight", "< Access-Control-Allow-Origin: http://app.example.test", "< Vary: Origin", "Result: ALLOWED"},
		},
		{
			name:     "refused origin on a simple GET",
			caddy:    "cors https://other.example",
			wantCode: check.ExitBlocked,
			want: []string{"No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				"fix: if pages at http://app.example.test may read this API, allow the origin in the cors block: `origins http://app.example.test`"},
			fixed: "cors https://other.example http://app.example.test",
		},
		{
			name:     "refused origin on a preflight gets a bare 403",
			caddy:    "cors https://other.example",
			in:       check.Request{Method: "PUT"},
			wantCode: check.ExitBlocked,
			want: []string{"< HTTP/1.1 403 Forbidden",
				"Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
				"Only the preflight was sent"},
			fixed: "cors https://other.example {\n origins http://app.example.test\n methods PUT\n}",
		},
		{
			name:     "method outside the default list",
			caddy:    "cors http://app.example.test",
			in:       check.Request{Method: "DELETE"},
			wantCode: check.ExitBlocked,
			want: []string{"Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.",
				"fix: add `methods DELETE` to the cors block"},
			fixed: "cors http://app.example.test {\n methods DELETE\n}",
		},
		{
			name:     "header outside the default list",
			caddy:    "cors http://app.example.test",
			in:       check.Request{Headers: []string{"X-Foo: 1"}, BodyType: "application/json"},
			wantCode: check.ExitBlocked,
			want: []string{"> Access-Control-Request-Headers: content-type,x-foo",
				"Request header field x-foo is not allowed by Access-Control-Allow-Headers in preflight response.",
				"fix: add `allowed_headers x-foo` to the cors block"},
			fixed: "cors http://app.example.test {\n allowed_headers Content-Type x-foo\n}",
		},
		{
			name:     "credentials not enabled",
			caddy:    "cors http://app.example.test",
			in:       check.Request{Credentials: true},
			wantCode: check.ExitBlocked,
			want: []string{"The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true'",
				"fix: add `allow_credentials` to the cors block"},
			fixed: "cors http://app.example.test {\n allow_credentials\n}",
		},
		{
			name:     "any-origin policy with credentials",
			caddy:    "cors",
			in:       check.Request{Credentials: true},
			wantCode: check.ExitBlocked,
			want: []string{"must not be the wildcard '*' when the request's credentials mode is 'include'",
				"replace `origins *` (or a bare `cors`) with `origins http://app.example.test` and add `allow_credentials`"},
			fixed: "cors {\n origins http://app.example.test\n allow_credentials\n}",
		},
		{
			name:     "credentialed preflighted request with everything allowed",
			caddy:    "cors http://app.example.test {\n methods PUT\n allowed_headers Content-Type Authorization\n allow_credentials\n max_age 10m\n}",
			in:       check.Request{Method: "PUT", Headers: []string{"Authorization: Bearer t"}, BodyType: "application/json", Credentials: true},
			wantCode: check.ExitAllowed,
			want:     []string{"> Access-Control-Request-Headers: authorization,content-type", "verdict: preflight passed", "Access-Control-Max-Age 600", "Result: ALLOWED"},
		},
		{
			name:     "header wildcard does not cover Authorization",
			caddy:    "cors {\n origins *\n allowed_headers *\n}",
			in:       check.Request{Headers: []string{"Authorization: Bearer t", "X-Foo: 1"}},
			wantCode: check.ExitBlocked,
			want:     []string{"Request header field authorization is not allowed by Access-Control-Allow-Headers in preflight response."},
			fixed:    "cors {\n origins *\n allowed_headers * Authorization\n}",
		},
		{
			name:     "exposed header readable, others hidden",
			caddy:    "cors http://app.example.test {\n exposed_headers X-Request-Id\n}",
			wantCode: check.ExitAllowed,
			want:     []string{"  X-Request-Id\n", "Hidden from the script (response.headers.get() returns null): Date, Server, Vary"},
		},
		{
			name:     "a backend's own CORS headers are replaced, not duplicated",
			caddy:    "cors http://app.example.test",
			path:     "/own-cors",
			wantCode: check.ExitAllowed,
			want:     []string{"< Access-Control-Allow-Origin: http://app.example.test\n", "Result: ALLOWED"},
		},
		{
			name:     "errors Caddy writes carry the headers too",
			caddy:    "cors http://app.example.test",
			path:     "/broken",
			wantCode: check.ExitAllowed,
			want:     []string{"< HTTP/1.1 502 Bad Gateway", "status 502"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(block string) (int, string) {
				srv := moduleServer(t, block)
				in := tc.in
				in.URL, in.Origin = srv.URL+cmp.Or(tc.path, "/api"), checkPageOrigin
				code, out, err := checkReport(t, in)
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
			if code == check.ExitAllowed && strings.Contains(out, "warning") {
				t.Errorf("the module's answer draws a warning")
			}
			if t.Failed() {
				t.Logf("report:\n%s", out)
			}
			if tc.fixed != "" {
				if code, out := run(tc.fixed); code != check.ExitAllowed {
					t.Errorf("after the fix (%q): exit status %d\n%s", tc.fixed, code, out)
				}
			}
		})
	}
}
