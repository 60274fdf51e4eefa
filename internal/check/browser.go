package check

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
)

// browser is the engine whose console the check speaks for. The three judge
// alike (the Fetch standard), but each explains a refusal in its own words,
// and a developer searches the web for the words their console shows.
type browser int

const (
	chromium browser = iota // Chrome, Edge and every Chromium
	firefox
	safari // WebKit
)

// Browsers are the names --browser takes.
var Browsers = []string{"chromium", "firefox", "safari"}

func parseBrowser(name string) (browser, error) {
	switch strings.ToLower(name) {
	case "", "chromium", "chrome", "edge":
		return chromium, nil
	case "firefox":
		return firefox, nil
	case "safari", "webkit":
		return safari, nil
	}
	return 0, fmt.Errorf("unknown --browser %q: use one of %s", name, strings.Join(Browsers, ", "))
}

func (b browser) String() string {
	return [...]string{"Chromium", "Firefox", "Safari"}[b]
}

// fetchError is what fetch() rejects with when the CORS check fails.
func (b browser) fetchError() string {
	return [...]string{
		"TypeError: Failed to fetch",
		"TypeError: NetworkError when attempting to fetch resource.",
		"TypeError: Load failed",
	}[b]
}

// authorizationNote explains, for a refusal of Authorization under
// "Access-Control-Allow-Headers: *", what the browser itself does today.
func (b browser) authorizationNote() string {
	switch b {
	case firefox:
		return "Firefox ESR 153 still lets this through by default (the standard's rule sits behind the pref network.cors_preflight.authorization_covered_by_wildcard=false), but the Fetch standard never lets \"*\" cover Authorization: do not rely on it."
	case safari:
		return "Safari (WebKit 2.50) still lets this through, but the Fetch standard never lets \"*\" cover Authorization: do not rely on it."
	}
	return "Chromium 156 still lets this through by default (the standard's rule sits behind --enable-features=CorsNonWildcardRequestHeadersSupport), but the Fetch standard never lets \"*\" cover Authorization: do not rely on it."
}

// console returns the lines the browser writes to the console for f, where
// initialURL is the URL fetch() was called with, lastURL the one whose
// response failed, origin the request's origin and resp that response.
// Each was checked against the real engine (Chromium 156, Firefox ESR 153,
// WebKitGTK 2.50) by the project's browser suite.
func (b browser) console(f failure, initialURL, lastURL, origin string, resp *http.Response) []string {
	switch b {
	case firefox:
		lines := []string{firefoxConsole(f, lastURL, resp)}
		if f.kind == preflightRedirect {
			lines = append(lines, firefoxBlocked(lastURL)+"(Reason: CORS preflight response did not succeed). Status code: "+strconv.Itoa(resp.StatusCode)+".")
		}
		if f.preflight || refusedRedirect(f, resp) {
			// The request the preflight was for fails too, and says so;
			// so does a request whose redirect was refused.
			lines = append(lines, firefoxDidNotSucceed(lastURL))
		}
		return lines
	case safari:
		msg := safariConsole(f, origin, resp)
		if refusedRedirect(f, resp) {
			if next, err := resp.Request.URL.Parse(resp.Header.Get("Location")); err == nil {
				msg = "Cross-origin redirection to " + urlString(next) + " denied by Cross-Origin Resource Sharing policy: " + msg
			}
		}
		return []string{msg, safariCannotLoad(lastURL)}
	}
	return []string{chromiumConsole(f, initialURL, lastURL, origin)}
}

// refusedRedirect tells whether f is the refusal of a redirect the
// browser would otherwise have followed.
func refusedRedirect(f failure, resp *http.Response) bool {
	return !f.preflight && resp.StatusCode/100 == 3 && resp.Header.Get("Location") != ""
}

// tooManyRedirects is what the browser writes when a fetch redirects more
// than 20 times: Chromium shows only the network error, no CORS line.
func (b browser) tooManyRedirects(lastURL string) []string {
	switch b {
	case firefox:
		return []string{firefoxDidNotSucceed(lastURL)}
	case safari:
		return []string{"Load cannot follow more than 20 redirections", safariCannotLoad(lastURL)}
	}
	return nil
}

func firefoxBlocked(url string) string {
	return "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at " + url + ". "
}

// firefoxDidNotSucceed is Firefox's line for a CORS request that got no
// response it could judge.
func firefoxDidNotSucceed(url string) string {
	return firefoxBlocked(url) + "(Reason: CORS request did not succeed). Status code: (null)."
}

func safariCannotLoad(url string) string {
	return "Fetch API cannot load " + url + " due to access control checks."
}

// chromiumConsole is Chromium's line: the URLs, the origin, and f's detail.
func chromiumConsole(f failure, initialURL, lastURL, origin string) string {
	var b strings.Builder
	b.WriteString("Access to fetch at '" + lastURL + "' ")
	if initialURL != lastURL {
		b.WriteString("(redirected from '" + initialURL + "') ")
	}
	b.WriteString("from origin '" + origin + "' has been blocked by CORS policy: ")
	b.WriteString(f.detail())
	return b.String()
}

// firefoxConsole is Firefox's line, from its security.properties strings.
func firefoxConsole(f failure, url string, resp *http.Response) string {
	at := firefoxBlocked(url)
	status := ". Status code: " + strconv.Itoa(resp.StatusCode) + "."
	switch f.kind {
	case missingAllowOrigin:
		return at + "(Reason: CORS header ‘Access-Control-Allow-Origin’ missing)" + status
	case multipleAllowOrigin:
		return at + "(Reason: Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed)."
	case invalidAllowOrigin, allowOriginMismatch:
		return at + "(Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘" + f.hint + "’)."
	case wildcardOrigin:
		return "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ‘" + url + "’. " +
			"(Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’)."
	case invalidAllowCredentials:
		return at + "(Reason: expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’)."
	case preflightInvalidStatus:
		return at + "(Reason: CORS preflight response did not succeed)" + status
	case preflightRedirect:
		return at + "(Reason: CORS request external redirect not allowed)."
	case invalidAllowMethods:
		return at + "(Reason: invalid token ‘" + invalidToken(resp.Header.Values("Access-Control-Allow-Methods")) + "’ in CORS header ‘Access-Control-Allow-Methods’)."
	case invalidAllowHeaders:
		return at + "(Reason: invalid token ‘" + invalidToken(resp.Header.Values("Access-Control-Allow-Headers")) + "’ in CORS header ‘Access-Control-Allow-Headers’)."
	case methodDisallowed:
		return at + "(Reason: Did not find method in CORS header ‘Access-Control-Allow-Methods’)."
	case headerDisallowed:
		return at + "(Reason: header ‘" + f.hint + "’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)."
	case redirectCredentials:
		return at + "(Reason: CORS request external redirect not allowed)."
	}
	return at + "(Reason: unknown)."
}

// safariConsole is WebKit's explanation; WebKit follows it with a line
// "Fetch API cannot load <url> due to access control checks.". WebKit judges
// a preflight's status before its Access-Control-Allow-Origin, where Fetch
// (and Chromium) do the reverse: the verdict is the same, the line is not.
func safariConsole(f failure, origin string, resp *http.Response) string {
	status := " Status code: " + strconv.Itoa(resp.StatusCode)
	if f.preflight && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		return "Preflight response is not successful." + status
	}
	switch f.kind {
	case missingAllowOrigin, invalidAllowOrigin, allowOriginMismatch:
		return "Origin " + origin + " is not allowed by Access-Control-Allow-Origin." + status
	case multipleAllowOrigin:
		return "Access-Control-Allow-Origin cannot contain more than one origin."
	case wildcardOrigin:
		return "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true."
	case invalidAllowCredentials:
		return `Credentials flag is true, but Access-Control-Allow-Credentials is not "true".`
	case preflightInvalidStatus, preflightRedirect:
		return "Preflight response is not successful." + status
	case invalidAllowMethods:
		return "Header Access-Control-Allow-Methods has an invalid value: " + strings.Join(resp.Header.Values("Access-Control-Allow-Methods"), ", ")
	case invalidAllowHeaders:
		return "Header Access-Control-Allow-Headers has an invalid value: " + strings.Join(resp.Header.Values("Access-Control-Allow-Headers"), ", ")
	case methodDisallowed:
		return "Method " + f.hint + " is not allowed by Access-Control-Allow-Methods."
	case headerDisallowed:
		return "Request header field " + f.spelled + " is not allowed by Access-Control-Allow-Headers."
	case redirectCredentials:
		return "Redirection URL contains credentials"
	}
	return "unknown failure"
}

// invalidToken is the first entry of a list header that is not a token, as
// Firefox quotes it.
func invalidToken(values []string) string {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.Trim(item, " \t")
			if item != "" && !fetch.IsToken(item) {
				return item
			}
		}
	}
	return ""
}

// maxAgeNote explains how long the browser caches a passed preflight: 5 s
// without Access-Control-Max-Age, and never longer than its cap.
func (b browser) maxAgeNote(values []string) string {
	limit := [...]int64{7200, 86400, 600}[b]
	note := ""
	if b == firefox {
		note = " (Firefox ESR 153 may first cache it only at its second or third preflight of a URL)"
	}
	if len(values) == 0 {
		return fmt.Sprintf("no Access-Control-Max-Age: %s reuses this answer for 5 s%s", b, note)
	}
	n, err := strconv.ParseInt(strings.Join(values, ", "), 10, 64)
	switch {
	case err != nil:
		return fmt.Sprintf("Access-Control-Max-Age %q is not a number: %s reuses this answer for 5 s%s", strings.Join(values, ", "), b, note)
	case n <= 0:
		return fmt.Sprintf("Access-Control-Max-Age %d: the browser preflights every request", n)
	case n > limit:
		return fmt.Sprintf("Access-Control-Max-Age %d: %s caps it at %d s%s", n, b, limit, note)
	}
	return fmt.Sprintf("Access-Control-Max-Age %d: %s reuses this answer for %d s%s", n, b, n, note)
}
