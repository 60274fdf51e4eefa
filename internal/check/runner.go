package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
)

// maxRedirects is Fetch's redirect limit (HTTP-redirect fetch step 7).
const maxRedirects = 20

// userAgent is sent on every request: servers that vary on the user
// agent see a browser-like value, and logs show where the request came from.
const userAgent = "Mozilla/5.0 (compatible; caddy-cors-check)"

// isRelevantResponseHeader reports whether a response header is printed:
// the CORS headers and those that decide caching and redirects.
func isRelevantResponseHeader(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "access-control-") || lower == "vary" || lower == "location"
}

// runner holds the state of one check while it walks the redirects.
type runner struct {
	ctx    context.Context
	w      io.Writer
	client *http.Client
	plan   *plan
	// browser is the engine whose console lines the check prints.
	browser browser
	step    int
	caddy   bool // a response said "Server: Caddy": phrase fixes as Caddyfile
	// initial is the URL fetch() was called with, for console lines.
	initial string
	// tainted is set once a redirect made the browser send "Origin: null".
	tainted bool
	// sent is set once the actual request (not only a preflight) went out.
	sent bool
}

func (c *runner) printf(format string, args ...any) {
	fmt.Fprintf(c.w, format, args...)
}

// hop is the request the browser is about to send: the fetch() call at
// first, then each redirect's rewrite of it.
type hop struct {
	url     *url.URL
	method  string
	headers []fetch.Header
	// origin is what the Origin header says: the page's origin, or "null"
	// once a cross-origin redirect tainted the request.
	origin string
	// site is Sec-Fetch-Site: as cross as the crossest hop so far.
	site fetchSite
}

// run walks the fetch: the browser's refusals before any request, then for
// each hop a preflight when one is needed, the request, and its redirect.
func (c *runner) run() (int, error) {
	p := c.plan
	c.describe()
	if urlOrigin(p.url) == p.origin {
		c.printf("\nThe URL has the page's own origin: the browser does not use CORS for it, and the script can read the response.\n")
		return ExitAllowed, nil
	}
	if c.mixedContent() {
		c.printf("\nverdict: BLOCKED before any request is sent\n")
		c.printf("console: Mixed Content: The page at '%s/' was loaded over HTTPS, but requested an insecure resource '%s'. This request has been blocked; the content must be served over HTTPS.\n", p.origin, urlString(p.url))
		c.printf("fix: serve the API over https:// and request it with https://.\n")
		return c.blocked()
	}

	c.initial = urlString(p.url)
	h := &hop{url: p.url, method: p.method, headers: p.headers, origin: p.origin}
	for redirects := 0; ; redirects++ {
		h.site = max(h.site, relation(p.origin, h.url))
		if code, err := c.preflightIfNeeded(h, redirects == 0); code != ExitAllowed || err != nil {
			return code, err
		}
		resp, err := c.send(h)
		if err != nil {
			return ExitError, err
		}
		c.sent = true
		if f := accessFailure(resp.Header, h.origin, p.credentials, false); f != nil {
			c.fail(*f, urlString(h.url), resp)
			if !isRedirect(resp.StatusCode) {
				c.printf("note: the server did receive the request and answered %s; only the script's access to the answer is blocked.\n", resp.Status)
			}
			return c.blocked()
		}
		c.warnings(resp, h.origin)
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return c.allowed(resp)
		}
		if !c.follow(h, resp, loc, redirects+1) {
			return c.blocked()
		}
	}
}

// mixedContent reports whether the browser blocks the fetch as mixed
// content, before any request and any other rule.
func (c *runner) mixedContent() bool {
	p := c.plan
	return strings.HasPrefix(p.origin, "https:") && p.url.Scheme == "http" && !isPotentiallyTrustworthy(p.url)
}

// isRedirect reports whether a status makes fetch() follow the Location.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// describe prints the fetch() call as a script would write it, and what
// fetch() itself changed or dropped.
func (c *runner) describe() {
	p := c.plan
	c.printf("fetch(%q, {method: %q", urlString(p.url), p.method)
	var hs []string
	for _, h := range p.headers[:len(p.headers)-p.implicit] {
		hs = append(hs, fmt.Sprintf("[%q, %q]", h.Name, h.Value))
	}
	if len(hs) > 0 {
		c.printf(", headers: [%s]", strings.Join(hs, ", "))
	}
	if p.body {
		c.printf(", body: ...")
	}
	if p.credentials {
		c.printf(`, credentials: "include"`)
	}
	c.printf("})\nfrom a page at %s\n", p.origin)
	for _, n := range p.notes {
		c.printf("note: %s\n", n)
	}
	if p.credentials {
		c.printf("note: credentials are checked as a browser would, but this tool has no cookies to send\n")
	}
}

// follow applies HTTP-redirect fetch to h: it reports false, having printed
// the verdict, when the browser refuses the redirect, and otherwise rewrites
// h into the next hop as the browser does.
func (c *runner) follow(h *hop, resp *http.Response, loc string, redirects int) bool {
	next, err := h.url.Parse(loc)
	if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
		c.printf("verdict: BLOCKED (network error): the redirect's Location %q is not an http(s) URL\n", loc)
		return false
	}
	if redirects > maxRedirects {
		c.printf("verdict: BLOCKED (network error, net::ERR_TOO_MANY_REDIRECTS): more than %d redirects\n", maxRedirects)
		for _, line := range c.browser.tooManyRedirects(urlString(h.url)) {
			c.printf("console: %s\n", line)
		}
		return false
	}
	if next.User != nil {
		c.fail(failure{kind: redirectCredentials, hint: urlString(next)}, urlString(h.url), resp)
		return false
	}
	c.printf("verdict: redirect allowed (the redirect response passes the CORS check); following it to %s\n", urlString(next))
	if (resp.StatusCode == 301 || resp.StatusCode == 302) && h.method == "POST" ||
		resp.StatusCode == 303 && h.method != "GET" && h.method != "HEAD" {
		c.printf("note: a %d turns %s into GET without a body, and drops the body's headers\n", resp.StatusCode, h.method)
		h.method = "GET"
		h.headers = slices.DeleteFunc(slices.Clone(h.headers), func(hd fetch.Header) bool {
			switch strings.ToLower(hd.Name) {
			case "content-encoding", "content-language", "content-location", "content-type":
				return true
			}
			return false
		})
	}
	if urlOrigin(next) != urlOrigin(h.url) {
		isAuthorization := func(hd fetch.Header) bool { return strings.EqualFold(hd.Name, "authorization") }
		if slices.ContainsFunc(h.headers, isAuthorization) {
			h.headers = slices.DeleteFunc(slices.Clone(h.headers), isAuthorization)
			c.printf("note: the redirect leaves the origin, so the browser drops the Authorization header\n")
		}
		if !c.tainted && urlOrigin(h.url) != c.plan.origin {
			c.tainted = true
			h.origin = "null"
			c.printf("note: a cross-origin resource redirected to another origin, so from here on the browser sends \"Origin: null\" and needs \"Access-Control-Allow-Origin: null\" or \"*\"\n")
		}
	}
	h.url = next
	return true
}

// preflightIfNeeded sends the CORS-preflight request when the hop's method
// or headers are not CORS-safelisted, and applies its checks.
func (c *runner) preflightIfNeeded(h *hop, first bool) (int, error) {
	unsafe, reasons := fetch.UnsafeHeaderNames(h.headers)
	if fetch.IsSafelistedMethod(h.method) && len(unsafe) == 0 {
		if first {
			c.printf("\nNo preflight: the method is CORS-safelisted and every request header is CORS-safelisted, so the browser sends the request directly.\n")
		}
		return ExitAllowed, nil
	}
	c.step++
	c.printf("\n== Step %d: preflight ==\n", c.step)
	c.printf("The browser asks first, because:\n")
	if !fetch.IsSafelistedMethod(h.method) {
		c.printf("  - method %s is not CORS-safelisted (only GET, HEAD and POST are)\n", h.method)
	}
	for _, name := range unsafe {
		c.printf("  - request header %s: %s\n", name, reasons[name])
	}
	hdr := make(http.Header)
	hdr.Set("Accept", "*/*")
	hdr.Set("Access-Control-Request-Method", h.method)
	if len(unsafe) > 0 {
		hdr.Set("Access-Control-Request-Headers", strings.Join(unsafe, ","))
	}
	resp, err := c.roundTrip(http.MethodOptions, h, hdr)
	if err != nil {
		return ExitError, err
	}
	if isRedirect(resp.StatusCode) && resp.Header.Get("Location") != "" {
		c.fail(failure{kind: preflightRedirect, preflight: true}, urlString(h.url), resp)
		return c.blocked()
	}
	if f := preflightFailure(resp, h.origin, h.method, h.headers, c.plan.credentials); f != nil {
		c.fail(*f, urlString(h.url), resp)
		return c.blocked()
	}
	var ok []string
	if fetch.IsSafelistedMethod(h.method) {
		ok = append(ok, h.method+" needs no listing")
	} else {
		ok = append(ok, h.method+" is allowed by Access-Control-Allow-Methods")
	}
	if len(unsafe) > 0 {
		ok = append(ok, strings.Join(unsafe, ", ")+" allowed by Access-Control-Allow-Headers")
	}
	c.printf("verdict: preflight passed (%s; %s)\n", c.originGrant(resp.Header), strings.Join(ok, "; "))
	c.printf("cache: %s\n", c.browser.maxAgeNote(resp.Header.Values("Access-Control-Max-Age")))
	c.warnings(resp, h.origin)
	return ExitAllowed, nil
}

// originGrant describes the origin part of a passed preflight.
func (c *runner) originGrant(h http.Header) string {
	acao := h.Get("Access-Control-Allow-Origin")
	s := "Access-Control-Allow-Origin " + acao + " matches"
	if acao == "*" {
		s = "Access-Control-Allow-Origin * allows any origin"
	}
	if c.plan.credentials {
		s += ", with Access-Control-Allow-Credentials: true"
	}
	return s
}

// send makes the actual request (or a redirected hop of it).
func (c *runner) send(h *hop) (*http.Response, error) {
	c.step++
	c.printf("\n== Step %d: request ==\n", c.step)
	hdr := make(http.Header)
	for _, hd := range h.headers {
		hdr.Add(hd.Name, hd.Value)
	}
	return c.roundTrip(h.method, h, hdr)
}

// roundTrip sends one request with the headers a browser adds, prints the
// exchange, and returns the response with its body drained.
func (c *runner) roundTrip(method string, hp *hop, h http.Header) (*http.Response, error) {
	u := hp.url
	h.Set("Origin", hp.origin)
	h.Set("Sec-Fetch-Mode", "cors")
	h.Set("Sec-Fetch-Site", hp.site.String())
	h.Set("Sec-Fetch-Dest", "empty")
	h.Set("User-Agent", userAgent)
	// strict-origin-when-cross-origin, the default referrer policy, sends the
	// page's origin, except on a downgrade to http.
	if c.plan.origin != "null" && !(strings.HasPrefix(c.plan.origin, "https:") && u.Scheme == "http") {
		h.Set("Referer", c.plan.origin+"/")
	}
	// No body is sent ("body: ..." stands for it): without one, Go's
	// client sends Content-Length: 0 on POST, PUT and PATCH and none on
	// other methods, as browsers do for an empty body.
	req, err := http.NewRequestWithContext(c.ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = h
	c.printf("> %s %s\n", method, urlString(u))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range h[k] {
			c.printf("> %s: %s\n", k, v)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.printf("network error: %v\n", err)
		c.printf("(fetch() would reject with %q; that is no CORS verdict)\n", c.browser.fetchError())
		return nil, fmt.Errorf("%s %s: %w", method, urlString(u), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if strings.Contains(strings.ToLower(resp.Header.Get("Server")), "caddy") {
		c.caddy = true
	}
	c.printf("< %s %s\n", resp.Proto, resp.Status)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range resp.Header {
			if isRelevantResponseHeader(k) && !yield(k) {
				return
			}
		}
	}) {
		for _, v := range resp.Header[k] {
			c.printf("< %s: %s\n", k, v)
		}
	}
	return resp, nil
}

// warnings points at problems that do not block this request but break
// others: shared caches and duplicated headers.
func (c *runner) warnings(resp *http.Response, origin string) {
	acao := resp.Header.Values("Access-Control-Allow-Origin")
	if len(acao) == 1 && acao[0] != "*" && !fetch.ListContains(resp.Header.Values("Vary"), "Origin", true) {
		c.printf("warning: Access-Control-Allow-Origin names one origin but the response has no \"Vary: Origin\": a shared cache may serve this copy to another origin (which the browser then refuses) or a copy made for another origin to this one.\n")
		if c.caddy {
			c.printf("  The cors module adds Vary: Origin itself; if it is missing, the CORS headers come from elsewhere (a `header` directive or the backend).\n")
		}
	}
}

// fail prints a failure: verdict, console line and what to change.
func (c *runner) fail(f failure, last string, resp *http.Response) {
	c.printf("verdict: BLOCKED\n")
	for _, line := range c.browser.console(f, c.initial, last, c.plan.origin, resp) {
		c.printf("console: %s\n", line)
	}
	if n := len(resp.Header.Values("Access-Control-Allow-Origin")); n > 1 {
		c.printf("warning: the response carries %d Access-Control-Allow-Origin headers: two layers (a proxy or CDN and the application, or two middlewares) both add CORS headers.\n", n)
	}
	if f.kind == headerDisallowed && f.hint == "authorization" &&
		hasWildcard(resp.Header, "Access-Control-Allow-Headers") {
		c.printf("note: %s\n", c.browser.authorizationNote())
	}
	c.printf("fix: %s\n", c.fix(f, resp))
}

// blocked prints the end of a refused check.
func (c *runner) blocked() (int, error) {
	c.printf("\n== Result: BLOCKED ==\n")
	c.printf("fetch() rejects with %q; the script sees no status, headers or body.\n", c.browser.fetchError())
	if !c.sent && c.step > 0 {
		c.printf("Only the preflight was sent: the request itself never reached the server.\n")
	}
	c.localNetworkNote()
	return ExitBlocked, nil
}

// allowed prints the end of a successful check: what the script can read.
func (c *runner) allowed(resp *http.Response) (int, error) {
	readable, hidden := exposedHeaders(resp.Header, c.plan.credentials)
	c.printf("verdict: response passes the CORS check\n")
	if c.plan.credentials && hasWildcard(resp.Header, "Access-Control-Expose-Headers") {
		c.printf("warning: Access-Control-Expose-Headers \"*\" means all headers only without credentials; here it exposes nothing.\n")
	}
	c.printf("\n== Result: ALLOWED ==\n")
	c.printf("The script can read the response: status %d, the body, and these headers:\n", resp.StatusCode)
	if len(readable) == 0 {
		c.printf("  (none)\n")
	}
	for _, h := range readable {
		c.printf("  %s\n", h)
	}
	if len(hidden) > 0 {
		c.printf("Hidden from the script (response.headers.get() returns null): %s\n", strings.Join(hidden, ", "))
		if c.caddy {
			c.printf("To expose one, add `exposed_headers <name>` to the cors block.\n")
		} else {
			c.printf("To expose one, list it in Access-Control-Expose-Headers.\n")
		}
	}
	c.localNetworkNote()
	return ExitAllowed, nil
}

// localNetworkNote says, whatever the verdict, when Chromium's Local Network
// Access asks the user first: a denial reads like a CORS error, and people
// then look for the server header that fixes it, which does not exist.
func (c *runner) localNetworkNote() {
	p := c.plan
	target, page, asks := localNetworkAccess(p.origin, p.url)
	if !asks || c.mixedContent() {
		return
	}
	pageIs := "public"
	if page != publicSpace {
		pageIs = "a " + page.String() + " address"
	}
	c.printf("\nnote: %s is a %s address and the page's origin is %s: Chromium (Local Network Access, Chrome 142 and later) asks the user's permission before it sends anything there, whatever the CORS headers say. If the user denies it, fetch() fails and the console shows what reads like a CORS error:\n", p.url.Host, target, pageIs)
	c.printf("  Access to fetch at '%s' from origin '%s' has been blocked by CORS policy: Permission was denied for this request to access the `unknown` address space.\n", urlString(p.url), p.origin)
	c.printf("No server header satisfies it: the user must allow the page, and a page in a frame also needs the local-network-access permissions policy from the page that embeds it (<iframe allow=\"local-network-access\">).\n")
}
