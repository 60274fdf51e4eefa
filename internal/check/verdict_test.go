package check

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessFailureDiagnosesTheValue pins which failure a wrong
// Access-Control-Allow-Origin is: a value that is no origin at all (no
// scheme, or no host) is invalid; an opaque or another origin is a
// mismatch.
func TestAccessFailureDiagnosesTheValue(t *testing.T) {
	for acao, want := range map[string]kind{
		"https://other.example": allowOriginMismatch,
		"null":                  allowOriginMismatch,
		"mailto:x":              allowOriginMismatch,
		"https:":                invalidAllowOrigin,
		"other.example":         invalidAllowOrigin,
		"https://a, https://b":  multipleAllowOrigin,
	} {
		f := accessFailure(http.Header{"Access-Control-Allow-Origin": {acao}}, pageOrigin, false, false)
		if f == nil || f.kind != want {
			t.Errorf("Access-Control-Allow-Origin %q: failure %+v, want kind %v", acao, f, want)
		}
	}
}

// TestPreflightStatusMustBeOK pins Fetch's ok status, 200 to 299, for a
// preflight answer that otherwise allows the request; WebKit's console
// judges it first, with its own line.
func TestPreflightStatusMustBeOK(t *testing.T) {
	for status, ok := range map[int]bool{199: false, 200: true, 204: true, 299: true, 300: false} {
		resp := &http.Response{StatusCode: status, Header: http.Header{
			"Access-Control-Allow-Origin":  {pageOrigin},
			"Access-Control-Allow-Methods": {"PUT"},
		}}
		f := preflightFailure(resp, pageOrigin, "PUT", nil, false)
		if (f == nil) != ok || f != nil && f.kind != preflightInvalidStatus {
			t.Errorf("status %d: failure %+v, want ok %v", status, f, ok)
		}
		// WebKit's line for a preflight failure names the status first
		// when it is not ok, the origin otherwise.
		msg := safariConsole(failure{kind: missingAllowOrigin, preflight: true}, pageOrigin, resp)
		if got := strings.HasPrefix(msg, "Preflight response is not successful."); got == ok {
			t.Errorf("status %d: WebKit's line %q", status, msg)
		}
	}
}

// TestSafariNamesTheRefusedRedirect pins WebKit's line for a redirect
// it refuses: it names where the redirect pointed.
func TestSafariNamesTheRefusedRedirect(t *testing.T) {
	const url = "http://api.example.test/redir"
	resp := &http.Response{
		StatusCode: http.StatusFound,
		Header:     http.Header{"Location": {"/next"}},
		Request:    httptest.NewRequest("GET", url, nil),
	}
	got := safari.console(failure{kind: missingAllowOrigin}, url, url, pageOrigin, resp)
	if want := "Cross-origin redirection to http://api.example.test/next denied by Cross-Origin Resource Sharing policy: "; len(got) == 0 || !strings.HasPrefix(got[0], want) {
		t.Errorf("console lines %q, the first should start %q", got, want)
	}
}

// TestFixAfterATaintingRedirect pins the advice for a refusal after a
// cross-origin redirect made the browser send "Origin: null": fix the
// page's request, never allow null; other failures keep their own advice.
func TestFixAfterATaintingRedirect(t *testing.T) {
	for k, wantNull := range map[kind]bool{
		missingAllowOrigin:  true,
		allowOriginMismatch: true,
		invalidAllowOrigin:  true,
		multipleAllowOrigin: false,
		wildcardOrigin:      false,
	} {
		c := &runner{plan: &plan{origin: pageOrigin}, tainted: true}
		got := c.fix(failure{kind: k}, &http.Response{Header: http.Header{}})
		if strings.Contains(got, `"Origin: null"`) != wantNull {
			t.Errorf("kind %v after a tainting redirect: fix %q", k, got)
		}
	}
}
