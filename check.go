package cors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/publicsuffix"
)

// This file is `caddy cors check`: it replays what a browser does for one
// fetch() call and explains, step by step, why the script may or may not read
// the response. It follows the Fetch standard ("CORS protocol", "CORS-preflight
// fetch", "CORS check", "HTTP-redirect fetch") and prints the messages
// Chromium writes to the console, which were checked against Chromium 156. It
// talks only HTTP, so it works against any server, with or without this module.

// Exit statuses of the check, the contract of the command.
const (
	checkExitAllowed = 0 // a browser lets the script read the response
	checkExitBlocked = 1 // a browser blocks it
	checkExitError   = 2 // bad usage or a network error: no verdict
)

// checkMaxRedirects is Fetch's redirect limit (HTTP-redirect fetch step 7).
const checkMaxRedirects = 20

// checkUserAgent is sent on every request: servers that vary on the user
// agent see a browser-like value, and logs show where the request came from.
const checkUserAgent = "Mozilla/5.0 (compatible; caddy-cors-check)"

// checkRequest is the fetch() call to replay, as the user wrote it.
type checkRequest struct {
	URL         string   // the resource
	Origin      string   // the origin of the page making the call
	Method      string   // as written; empty means GET, or POST with a body
	Headers     []string // "Name: value", one header list entry each
	Credentials bool     // credentials: "include"
	BodyType    string   // Content-Type of the body; empty means no body
}

// checkHeader is one entry of a Fetch header list. Entries with the same name
// stay separate, as the standard's header list keeps them.
type checkHeader struct {
	Name, Value string
}

// checkKind names a failure Chromium reports; the names follow its CorsError
// enum so the messages can be compared with Chromium's sources.
type checkKind int

const (
	checkMissingAllowOrigin checkKind = iota
	checkMultipleAllowOrigin
	checkInvalidAllowOrigin
	checkAllowOriginMismatch
	checkWildcardOrigin
	checkInvalidAllowCredentials
	checkPreflightInvalidStatus
	checkPreflightRedirect
	checkInvalidAllowMethods
	checkInvalidAllowHeaders
	checkMethodDisallowed
	checkHeaderDisallowed
	checkRedirectCredentials
)

// checkFailure is why a browser refuses a response.
type checkFailure struct {
	kind      checkKind
	hint      string // the value Chromium quotes (header value, method, name)
	preflight bool   // found on the preflight response
}

// detail is the part of Chromium's console message after "blocked by CORS
// policy: ".
func (f checkFailure) detail() string {
	const validValue = " Have the server send the header with a valid value."
	var prefix string
	if f.preflight && f.kind <= checkPreflightRedirect {
		prefix = "Response to preflight request doesn't pass access control check: "
	}
	switch f.kind {
	case checkMissingAllowOrigin:
		return prefix + "No 'Access-Control-Allow-Origin' header is present on the requested resource."
	case checkMultipleAllowOrigin:
		return prefix + "The 'Access-Control-Allow-Origin' header contains multiple values '" + f.hint + "', but only one is allowed." + validValue
	case checkInvalidAllowOrigin:
		return prefix + "The 'Access-Control-Allow-Origin' header contains the invalid value '" + f.hint + "'." + validValue
	case checkAllowOriginMismatch:
		return prefix + "The 'Access-Control-Allow-Origin' header has a value '" + f.hint + "' that is not equal to the supplied origin." + validValue
	case checkWildcardOrigin:
		return prefix + "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."
	case checkInvalidAllowCredentials:
		return prefix + "The value of the 'Access-Control-Allow-Credentials' header in the response is '" + f.hint + "' which must be 'true' when the request's credentials mode is 'include'."
	case checkPreflightInvalidStatus:
		return prefix + "It does not have HTTP ok status."
	case checkPreflightRedirect:
		return prefix + "Redirect is not allowed for a preflight request."
	case checkInvalidAllowMethods:
		return "Cannot parse Access-Control-Allow-Methods response header field in preflight response."
	case checkInvalidAllowHeaders:
		return "Cannot parse Access-Control-Allow-Headers response header field in preflight response."
	case checkMethodDisallowed:
		return "Method " + f.hint + " is not allowed by Access-Control-Allow-Methods in preflight response."
	case checkHeaderDisallowed:
		return "Request header field " + f.hint + " is not allowed by Access-Control-Allow-Headers in preflight response."
	case checkRedirectCredentials:
		return "Redirect location '" + f.hint + "' contains a username and password, which is disallowed for cross-origin requests."
	}
	return "unknown failure"
}

// checkConsoleMessage is the line Chromium writes to the console for f.
func checkConsoleMessage(f checkFailure, initialURL, lastURL, origin string) string {
	var b strings.Builder
	b.WriteString("Access to fetch at '" + lastURL + "' ")
	if initialURL != lastURL {
		b.WriteString("(redirected from '" + initialURL + "') ")
	}
	b.WriteString("from origin '" + origin + "' has been blocked by CORS policy: ")
	b.WriteString(f.detail())
	return b.String()
}

// checkNormalizeMethod upper-cases the methods Fetch normalizes and keeps any
// other as written: fetch("…", {method: "patch"}) really sends "patch".
func checkNormalizeMethod(m string) string {
	switch up := strings.ToUpper(m); up {
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT":
		return up
	}
	return m
}

// checkIsSafelistedMethod reports whether m never needs a preflight. The
// comparison is case-sensitive because m is already normalized.
func checkIsSafelistedMethod(m string) bool {
	return m == "GET" || m == "HEAD" || m == "POST"
}

// checkIsUnsafeByte is Fetch's CORS-unsafe request-header byte.
func checkIsUnsafeByte(c byte) bool {
	return (c < 0x20 && c != '\t') || c == 0x7f || strings.IndexByte(`"():<>?@[\]{}`, c) >= 0
}

// checkSafelistReason returns "" when (name, value) is a CORS-safelisted
// request-header, and otherwise why it is not.
func checkSafelistReason(name, value string) string {
	lower := strings.ToLower(name)
	switch lower {
	case "accept", "accept-language", "content-language", "content-type", "range":
	default:
		return "not a CORS-safelisted header name"
	}
	if len(value) > 128 {
		return fmt.Sprintf("value is %d bytes, over the 128-byte limit for safelisted headers", len(value))
	}
	switch lower {
	case "accept":
		for i := 0; i < len(value); i++ {
			if checkIsUnsafeByte(value[i]) {
				return fmt.Sprintf("value contains the CORS-unsafe byte %q", value[i])
			}
		}
	case "accept-language", "content-language":
		for i := 0; i < len(value); i++ {
			c := value[i]
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || strings.IndexByte(" *,-.;=", c) >= 0) {
				return fmt.Sprintf("value contains %q; only letters, digits, space and *,-.;= are safelisted", c)
			}
		}
	case "content-type":
		for i := 0; i < len(value); i++ {
			if checkIsUnsafeByte(value[i]) {
				return fmt.Sprintf("value contains the CORS-unsafe byte %q", value[i])
			}
		}
		essence, ok := checkMIMEEssence(value)
		if !ok {
			return "value is not a valid MIME type"
		}
		switch essence {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		default:
			return "type " + essence + " is not application/x-www-form-urlencoded, multipart/form-data or text/plain"
		}
	case "range":
		if !checkIsSimpleRange(value) {
			return `value is not a single range of the form "bytes=<start>-[<end>]"`
		}
	}
	return ""
}

// checkMIMEEssence implements the part of WHATWG's "parse a MIME type" that
// the safelist needs: the lower-cased type/subtype. Parameters never make the
// parse fail, as in the standard.
func checkMIMEEssence(v string) (string, bool) {
	v = strings.Trim(v, " \t\r\n")
	typ, rest, ok := strings.Cut(v, "/")
	if !ok || !isToken(typ) {
		return "", false
	}
	sub, _, _ := strings.Cut(rest, ";")
	sub = strings.TrimRight(sub, " \t\r\n")
	if !isToken(sub) {
		return "", false
	}
	return strings.ToLower(typ + "/" + sub), true
}

// checkIsSimpleRange is Fetch's "parse a single range header value" (without
// whitespace) followed by the safelist's refusal of suffix ranges: it accepts
// "bytes=<digits>-" and "bytes=<digits>-<digits>" with start <= end.
func checkIsSimpleRange(v string) bool {
	rest, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return false
	}
	start, end, ok := strings.Cut(rest, "-")
	if !ok || start == "" || !checkIsDigits(start) || (end != "" && !checkIsDigits(end)) {
		return false
	}
	if end == "" {
		return true
	}
	// Compare the decimal numbers without overflowing.
	s, e := strings.TrimLeft(start, "0"), strings.TrimLeft(end, "0")
	return len(s) < len(e) || (len(s) == len(e) && s <= e)
}

func checkIsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkUnsafeHeaderNames is Fetch's "CORS-unsafe request-header names": the
// lower-cased, sorted, de-duplicated names a preflight must ask for. The
// safelisted headers lose their status together when their values add up to
// more than 1024 bytes.
func checkUnsafeHeaderNames(headers []checkHeader) []string {
	names, _ := checkUnsafeHeaderReasons(headers)
	return names
}

// checkUnsafeHeaderReasons is checkUnsafeHeaderNames plus, for each name, why.
func checkUnsafeHeaderReasons(headers []checkHeader) ([]string, map[string]string) {
	var unsafe, potentially []string
	reasons := make(map[string]string)
	size := 0
	for _, h := range headers {
		name := strings.ToLower(h.Name)
		if r := checkSafelistReason(h.Name, h.Value); r != "" {
			unsafe = append(unsafe, name)
			if _, seen := reasons[name]; !seen {
				reasons[name] = r
			}
			continue
		}
		potentially = append(potentially, name)
		size += len(h.Value)
	}
	if size > 1024 {
		for _, name := range potentially {
			unsafe = append(unsafe, name)
			if _, seen := reasons[name]; !seen {
				reasons[name] = fmt.Sprintf("the safelisted headers' values total %d bytes, over the 1024-byte limit", size)
			}
		}
	}
	slices.Sort(unsafe)
	return slices.Compact(unsafe), reasons
}

// checkIsForbiddenRequestHeader is Fetch's forbidden request-header: a script
// cannot set it, and the browser drops it silently from fetch().
func checkIsForbiddenRequestHeader(name, value string) bool {
	lower := strings.ToLower(name)
	if forbiddenRequestHeader(lower) {
		return true
	}
	switch lower {
	case "x-http-method", "x-http-method-override", "x-method-override":
		for m := range strings.SplitSeq(value, ",") {
			switch strings.ToUpper(strings.Trim(m, " \t")) {
			case "CONNECT", "TRACE", "TRACK":
				return true
			}
		}
	}
	return false
}

// checkParseList extracts a comma-separated list of tokens the way Chromium
// reads Access-Control-Allow-Methods and -Headers: several header lines are
// one list, whitespace around elements and empty elements are ignored, and
// any element that is not a token makes the whole header unparsable.
func checkParseList(values []string) ([]string, bool) {
	var out []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			e = strings.Trim(e, " \t")
			if e == "" {
				continue
			}
			if !isToken(e) {
				return nil, false
			}
			out = append(out, e)
		}
	}
	return out, true
}

// checkListHasWildcard reports whether the list header name contains "*".
func checkListHasWildcard(h http.Header, name string) bool {
	list, _ := checkParseList(h.Values(name))
	return slices.Contains(list, "*")
}

// checkAccess is Fetch's CORS check, with Chromium's diagnosis of the value
// when it fails. origin is the serialized request origin ("null" once a
// redirect tainted it).
func checkAccess(h http.Header, origin string, credentials, preflight bool) *checkFailure {
	values := h.Values("Access-Control-Allow-Origin")
	fail := func(k checkKind, hint string) *checkFailure {
		return &checkFailure{kind: k, hint: hint, preflight: preflight}
	}
	if len(values) == 0 {
		return fail(checkMissingAllowOrigin, "")
	}
	acao := strings.Join(values, ", ") // as the browser's header map combines them
	switch {
	case acao == "*":
		if credentials {
			return fail(checkWildcardOrigin, "")
		}
		return nil
	case acao != origin:
		if strings.ContainsAny(acao, " ,") {
			return fail(checkMultipleAllowOrigin, acao)
		}
		if acao == "null" {
			return fail(checkAllowOriginMismatch, acao)
		}
		if u, err := url.Parse(acao); err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
			return fail(checkInvalidAllowOrigin, acao)
		}
		return fail(checkAllowOriginMismatch, acao)
	}
	if credentials {
		if acac := strings.Join(h.Values("Access-Control-Allow-Credentials"), ", "); acac != "true" {
			return fail(checkInvalidAllowCredentials, acac)
		}
	}
	return nil
}

// checkPreflight applies the CORS-preflight fetch's checks (step 7) to a
// preflight response that was not a redirect.
func checkPreflight(resp *http.Response, origin, method string, headers []checkHeader, credentials bool) *checkFailure {
	if f := checkAccess(resp.Header, origin, credentials, true); f != nil {
		return f
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &checkFailure{kind: checkPreflightInvalidStatus, preflight: true}
	}
	methods, ok := checkParseList(resp.Header.Values("Access-Control-Allow-Methods"))
	if !ok {
		return &checkFailure{kind: checkInvalidAllowMethods, preflight: true}
	}
	allowed, ok := checkParseList(resp.Header.Values("Access-Control-Allow-Headers"))
	if !ok {
		return &checkFailure{kind: checkInvalidAllowHeaders, preflight: true}
	}
	if !checkIsSafelistedMethod(method) && !slices.Contains(methods, method) &&
		(credentials || !slices.Contains(methods, "*")) {
		return &checkFailure{kind: checkMethodDisallowed, hint: method, preflight: true}
	}
	listed := func(name string) bool {
		return slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, name) })
	}
	if !credentials && slices.Contains(allowed, "*") {
		// A wildcard covers every name but Authorization.
		for _, h := range headers {
			if strings.EqualFold(h.Name, "authorization") && !listed("authorization") {
				return &checkFailure{kind: checkHeaderDisallowed, hint: "authorization", preflight: true}
			}
		}
		return nil
	}
	for _, name := range checkUnsafeHeaderNames(headers) {
		if !listed(name) {
			return &checkFailure{kind: checkHeaderDisallowed, hint: name, preflight: true}
		}
	}
	return nil
}

// checkSafelistedResponseHeaders are readable by any CORS response's script.
var checkSafelistedResponseHeaders = []string{
	"Cache-Control", "Content-Language", "Content-Length", "Content-Type",
	"Expires", "Last-Modified", "Pragma",
}

// checkExposedHeaders splits the response's header names into those the
// script can read with response.headers.get() and those it cannot.
func checkExposedHeaders(h http.Header, credentials bool) (readable, hidden []string) {
	exposed, _ := checkParseList(h.Values("Access-Control-Expose-Headers"))
	all := !credentials && slices.Contains(exposed, "*")
	for name := range h {
		lower := strings.ToLower(name)
		if lower == "set-cookie" || lower == "set-cookie2" {
			hidden = append(hidden, name) // never exposed
			continue
		}
		if strings.HasPrefix(lower, "access-control-") {
			continue // the protocol's own headers: nobody needs to read them
		}
		if all || slices.ContainsFunc(checkSafelistedResponseHeaders, func(s string) bool { return strings.EqualFold(s, name) }) ||
			slices.ContainsFunc(exposed, func(s string) bool { return strings.EqualFold(s, name) }) {
			readable = append(readable, name)
		} else {
			hidden = append(hidden, name)
		}
	}
	slices.Sort(readable)
	slices.Sort(hidden)
	return readable, hidden
}

// checkSerializeOrigin parses an --origin value into the string a browser
// sends, refusing anything a browser would never send.
func checkSerializeOrigin(s string) (string, error) {
	if s == "null" {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("--origin %q is not an origin: write scheme://host[:port], e.g. https://app.example.com", s)
	}
	clean := &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host)}
	if port := u.Port(); (clean.Scheme == "http" && port == "80") || (clean.Scheme == "https" && port == "443") {
		clean.Host = strings.ToLower(u.Hostname())
		if strings.Contains(clean.Host, ":") {
			clean.Host = "[" + clean.Host + "]"
		}
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("--origin %q is a URL, not an origin: a browser sends %q", s, clean.String())
	}
	if u.Path == "/" {
		return "", fmt.Errorf("--origin %q has a trailing slash: a browser sends %q", s, clean.String())
	}
	return clean.String(), nil
}

// checkURLOrigin is the serialized origin of an http(s) URL.
func checkURLOrigin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		host += ":" + p
	}
	return u.Scheme + "://" + host
}

// checkURLString serializes u as Chromium prints URLs (a lower-case host and
// at least a "/" path), so console lines match the browser's.
func checkURLString(u *url.URL) string {
	c := *u
	c.Host = strings.ToLower(c.Host)
	c.Fragment, c.RawFragment = "", ""
	if c.Path == "" && c.RawPath == "" {
		c.Path = "/"
	}
	return c.String()
}

// checkSite is the schemeful site of an origin: the scheme plus the
// registrable domain, or the host itself when it has none (IPs, localhost).
func checkSite(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || origin == "null" {
		return ""
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			host = d
		}
	}
	return u.Scheme + "://" + host
}

// checkSiteRelation is what Sec-Fetch-Site says, ordered so that a redirect
// chain takes the maximum over its hops.
type checkSiteRelation int

const (
	checkSameOrigin checkSiteRelation = iota
	checkSameSite
	checkCrossSite
)

func (r checkSiteRelation) String() string {
	return [...]string{"same-origin", "same-site", "cross-site"}[r]
}

// checkFetchSite relates a request from origin to u, for Sec-Fetch-Site.
func checkFetchSite(origin string, u *url.URL) checkSiteRelation {
	switch target := checkURLOrigin(u); {
	case origin == target:
		return checkSameOrigin
	case origin != "null" && checkSite(origin) == checkSite(target):
		return checkSameSite
	}
	return checkCrossSite
}

// checkIsPotentiallyTrustworthy reports whether an http URL's host may be
// fetched from an https page without being blocked as mixed content.
func checkIsPotentiallyTrustworthy(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPlan is a validated checkRequest.
type checkPlan struct {
	url         *url.URL
	origin      string
	method      string
	headers     []checkHeader
	credentials bool
	body        bool
	notes       []string
	implicit    int // trailing headers fetch() adds itself (Accept: */*)
}

// checkPrepare validates in like fetch() and the Headers class do: where
// they throw a TypeError, it returns an error; where the browser silently
// drops a header, it notes it.
func checkPrepare(in checkRequest) (*checkPlan, error) {
	p := &checkPlan{credentials: in.Credentials}
	if in.URL == "" {
		return nil, errors.New("missing the URL to check: caddy cors check <url> --origin <origin>")
	}
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %v", in.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("bad URL %q: only absolute http:// and https:// URLs can be checked", in.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("bad URL %q: fetch() refuses URLs with a username or password", in.URL)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Fragment, u.RawFragment = "", ""
	p.url = u

	if in.Origin == "" {
		return nil, errors.New("missing --origin: the origin of the page that calls fetch(), e.g. --origin https://app.example.com")
	}
	if p.origin, err = checkSerializeOrigin(in.Origin); err != nil {
		return nil, err
	}

	p.method = in.Method
	if p.method == "" {
		p.method = "GET"
		if in.BodyType != "" {
			p.method = "POST"
		}
	}
	if !isToken(p.method) {
		return nil, fmt.Errorf("bad --method %q: a method is an HTTP token", in.Method)
	}
	switch strings.ToUpper(p.method) {
	case "CONNECT", "TRACE", "TRACK":
		return nil, fmt.Errorf("--method %s: fetch() refuses this method", p.method)
	}
	p.method = checkNormalizeMethod(p.method)
	p.body = in.BodyType != ""
	if p.body && (p.method == "GET" || p.method == "HEAD") {
		return nil, fmt.Errorf("--body-type with %s: fetch() refuses a body on GET and HEAD requests", p.method)
	}

	hasType, hasAccept := false, false
	seen := make(map[string]int)
	for _, raw := range in.Headers {
		name, value, ok := strings.Cut(raw, ":")
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("bad --header %q: write 'Name: value'", raw)
		}
		value = strings.Trim(value, " \t\r\n") // Fetch normalizes header values
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("bad --header %q: the value contains a control character", raw)
		}
		if checkIsForbiddenRequestHeader(name, value) {
			p.notes = append(p.notes, fmt.Sprintf("%s is a forbidden request header: fetch() drops it silently, so it is not sent", name))
			continue
		}
		lower := strings.ToLower(name)
		hasType = hasType || lower == "content-type"
		hasAccept = hasAccept || lower == "accept"
		seen[lower]++
		if seen[lower] == 2 {
			p.notes = append(p.notes, fmt.Sprintf("%s is given more than once: the Fetch standard judges each value separately (this check does); Chromium joins them with \", \" first, so its 128-byte limit may trigger a preflight sooner", name))
		}
		p.headers = append(p.headers, checkHeader{Name: name, Value: value})
	}
	if p.body && !hasType {
		p.headers = append(p.headers, checkHeader{Name: "Content-Type", Value: in.BodyType})
	}
	// fetch() adds Accept before deciding on a preflight, so it counts
	// towards the 1024-byte limit.
	if !hasAccept {
		p.headers = append(p.headers, checkHeader{Name: "Accept", Value: "*/*"})
		p.implicit = 1
	}
	return p, nil
}

// checkIsRelevantResponseHeader reports whether a response header is printed:
// the CORS headers and those that decide caching and redirects.
func checkIsRelevantResponseHeader(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "access-control-") || lower == "vary" || lower == "location"
}

// checkRun replays the fetch() described by in, writes the explanation to w
// and returns the exit status: checkExitAllowed, checkExitBlocked, or
// checkExitError with the error that prevented a verdict. The client's
// redirect policy and cookie jar are not used: redirects are followed here,
// by the rules of a CORS fetch, and no cookies are sent.
func checkRun(ctx context.Context, client *http.Client, w io.Writer, in checkRequest) (int, error) {
	p, err := checkPrepare(in)
	if err != nil {
		return checkExitError, err
	}
	c := &checkRunner{ctx: ctx, w: w, plan: p}
	hc := *client
	hc.Jar = nil
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = &hc
	return c.run()
}

// checkRunner holds the state of one check while it walks the redirects.
type checkRunner struct {
	ctx    context.Context
	w      io.Writer
	client *http.Client
	plan   *checkPlan
	step   int
	caddy  bool // a response said "Server: Caddy": phrase fixes as Caddyfile
	// tainted is set once a redirect made the browser send "Origin: null".
	tainted bool
	// sent is set once the actual request (not only a preflight) went out.
	sent bool
}

func (c *checkRunner) printf(format string, args ...any) {
	fmt.Fprintf(c.w, format, args...)
}

func (c *checkRunner) run() (int, error) {
	p := c.plan
	c.printf("fetch(%q, {method: %q", checkURLString(p.url), p.method)
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

	if checkURLOrigin(p.url) == p.origin {
		c.printf("\nThe URL has the page's own origin: the browser does not use CORS for it, and the script can read the response.\n")
		return checkExitAllowed, nil
	}
	if strings.HasPrefix(p.origin, "https:") && p.url.Scheme == "http" && !checkIsPotentiallyTrustworthy(p.url) {
		c.printf("\nverdict: BLOCKED before any request is sent\n")
		c.printf("console: Mixed Content: The page at '%s/' was loaded over HTTPS, but requested an insecure resource '%s'. This request has been blocked; the content must be served over HTTPS.\n", p.origin, checkURLString(p.url))
		c.printf("fix: serve the API over https:// and request it with https://.\n")
		return c.blocked()
	}

	initial := checkURLString(p.url)
	cur := p.url
	method, headers := p.method, p.headers
	body := p.body
	tainted := false
	fetchSite := checkSameOrigin
	for redirects := 0; ; redirects++ {
		origin := p.origin
		if tainted {
			origin = "null"
		}
		c.tainted = tainted
		fetchSite = max(fetchSite, checkFetchSite(p.origin, cur)) // as cross as the crossest hop
		unsafe, reasons := checkUnsafeHeaderReasons(headers)
		if !checkIsSafelistedMethod(method) || len(unsafe) > 0 {
			var why []string
			if !checkIsSafelistedMethod(method) {
				why = append(why, "method "+method+" is not CORS-safelisted (only GET, HEAD and POST are)")
			}
			for _, name := range unsafe {
				why = append(why, "request header "+name+": "+reasons[name])
			}
			code, err := c.preflight(cur, origin, fetchSite, method, headers, unsafe, why, initial)
			if code != checkExitAllowed || err != nil {
				return code, err
			}
		} else if redirects == 0 {
			c.printf("\nNo preflight: the method is CORS-safelisted and every request header is CORS-safelisted, so the browser sends the request directly.\n")
		}

		resp, err := c.send(cur, method, origin, fetchSite, headers, body)
		if err != nil {
			return checkExitError, err
		}
		c.sent = true
		isRedirect := resp.StatusCode == 301 || resp.StatusCode == 302 || resp.StatusCode == 303 ||
			resp.StatusCode == 307 || resp.StatusCode == 308
		if f := checkAccess(resp.Header, origin, p.credentials, false); f != nil {
			c.fail(*f, initial, checkURLString(cur), resp)
			if !isRedirect {
				c.printf("note: the server did receive the request and answered %s; only the script's access to the answer is blocked.\n", resp.Status)
			}
			return c.blocked()
		}
		c.warnings(resp, origin)
		loc := resp.Header.Get("Location")
		if !isRedirect || loc == "" {
			return c.allowed(resp)
		}

		// HTTP-redirect fetch.
		next, err := cur.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			c.printf("verdict: BLOCKED (network error): the redirect's Location %q is not an http(s) URL\n", loc)
			return c.blocked()
		}
		if redirects+1 > checkMaxRedirects {
			c.printf("verdict: BLOCKED (network error, net::ERR_TOO_MANY_REDIRECTS): more than %d redirects\n", checkMaxRedirects)
			return c.blocked()
		}
		if next.User != nil {
			c.fail(checkFailure{kind: checkRedirectCredentials, hint: checkURLString(next)}, initial, checkURLString(cur), resp)
			return c.blocked()
		}
		c.printf("verdict: redirect allowed (the redirect response passes the CORS check); following it to %s\n", checkURLString(next))
		if (resp.StatusCode == 301 || resp.StatusCode == 302) && method == "POST" ||
			resp.StatusCode == 303 && method != "GET" && method != "HEAD" {
			c.printf("note: a %d turns %s into GET without a body, and drops the body's headers\n", resp.StatusCode, method)
			method, body = "GET", false
			headers = slices.DeleteFunc(slices.Clone(headers), func(h checkHeader) bool {
				switch strings.ToLower(h.Name) {
				case "content-encoding", "content-language", "content-location", "content-type":
					return true
				}
				return false
			})
		}
		if checkURLOrigin(next) != checkURLOrigin(cur) {
			if slices.ContainsFunc(headers, func(h checkHeader) bool { return strings.EqualFold(h.Name, "authorization") }) {
				headers = slices.DeleteFunc(slices.Clone(headers), func(h checkHeader) bool { return strings.EqualFold(h.Name, "authorization") })
				c.printf("note: the redirect leaves the origin, so the browser drops the Authorization header\n")
			}
			if !tainted && checkURLOrigin(cur) != p.origin {
				tainted = true
				c.printf("note: a cross-origin resource redirected to another origin, so from here on the browser sends \"Origin: null\" and needs \"Access-Control-Allow-Origin: null\" or \"*\"\n")
			}
		}
		cur = next
	}
}

// preflight sends the CORS-preflight request for the request about to go to
// u and applies its checks.
func (c *checkRunner) preflight(u *url.URL, origin string, fetchSite checkSiteRelation, method string, headers []checkHeader, unsafe, why []string, initial string) (int, error) {
	c.step++
	c.printf("\n== Step %d: preflight ==\n", c.step)
	c.printf("The browser asks first, because:\n")
	for _, r := range why {
		c.printf("  - %s\n", r)
	}
	h := make(http.Header)
	h.Set("Accept", "*/*")
	h.Set("Access-Control-Request-Method", method)
	if len(unsafe) > 0 {
		h.Set("Access-Control-Request-Headers", strings.Join(unsafe, ","))
	}
	resp, err := c.roundTrip(http.MethodOptions, u, origin, fetchSite, h, false)
	if err != nil {
		return checkExitError, err
	}
	isRedirect := resp.StatusCode == 301 || resp.StatusCode == 302 || resp.StatusCode == 303 ||
		resp.StatusCode == 307 || resp.StatusCode == 308
	if isRedirect && resp.Header.Get("Location") != "" {
		c.fail(checkFailure{kind: checkPreflightRedirect, preflight: true}, initial, checkURLString(u), resp)
		return c.blocked()
	}
	if f := checkPreflight(resp, origin, method, headers, c.plan.credentials); f != nil {
		c.fail(*f, initial, checkURLString(u), resp)
		return c.blocked()
	}
	var ok []string
	if checkIsSafelistedMethod(method) {
		ok = append(ok, method+" needs no listing")
	} else {
		ok = append(ok, method+" is allowed by Access-Control-Allow-Methods")
	}
	if len(unsafe) > 0 {
		ok = append(ok, strings.Join(unsafe, ", ")+" allowed by Access-Control-Allow-Headers")
	}
	c.printf("verdict: preflight passed (%s; %s)\n", c.originGrant(resp.Header), strings.Join(ok, "; "))
	c.printf("cache: %s\n", checkMaxAgeNote(resp.Header.Values("Access-Control-Max-Age")))
	c.warnings(resp, origin)
	return checkExitAllowed, nil
}

// checkMaxAgeNote explains how long Chromium caches a passed preflight.
func checkMaxAgeNote(values []string) string {
	if len(values) == 0 {
		return "no Access-Control-Max-Age: Chromium reuses this answer for 5 s"
	}
	n, err := strconv.ParseInt(strings.Join(values, ", "), 10, 64)
	switch {
	case err != nil:
		return fmt.Sprintf("Access-Control-Max-Age %q is not a number: Chromium reuses this answer for 5 s", strings.Join(values, ", "))
	case n <= 0:
		return fmt.Sprintf("Access-Control-Max-Age %d: the browser preflights every request", n)
	case n > 7200:
		return fmt.Sprintf("Access-Control-Max-Age %d: Chromium caps it at 7200 s (WebKit at 600 s)", n)
	}
	return fmt.Sprintf("Access-Control-Max-Age %d: the browser reuses this answer for %d s", n, n)
}

// originGrant describes the origin part of a passed preflight.
func (c *checkRunner) originGrant(h http.Header) string {
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
func (c *checkRunner) send(u *url.URL, method, origin string, fetchSite checkSiteRelation, headers []checkHeader, body bool) (*http.Response, error) {
	c.step++
	c.printf("\n== Step %d: request ==\n", c.step)
	h := make(http.Header)
	for _, hd := range headers {
		h.Add(hd.Name, hd.Value)
	}
	return c.roundTrip(method, u, origin, fetchSite, h, body)
}

// roundTrip sends one request with the headers a browser adds, prints the
// exchange, and returns the response with its body drained.
func (c *checkRunner) roundTrip(method string, u *url.URL, origin string, fetchSite checkSiteRelation, h http.Header, body bool) (*http.Response, error) {
	h.Set("Origin", origin)
	h.Set("Sec-Fetch-Mode", "cors")
	h.Set("Sec-Fetch-Site", fetchSite.String())
	h.Set("Sec-Fetch-Dest", "empty")
	h.Set("User-Agent", checkUserAgent)
	// strict-origin-when-cross-origin, the default referrer policy, sends the
	// page's origin, except on a downgrade to http.
	if c.plan.origin != "null" && !(strings.HasPrefix(c.plan.origin, "https:") && u.Scheme == "http") {
		h.Set("Referer", c.plan.origin+"/")
	}
	var rb io.Reader
	if body || method == http.MethodPost || method == http.MethodPut {
		rb = http.NoBody
	}
	req, err := http.NewRequestWithContext(c.ctx, method, u.String(), rb)
	if err != nil {
		return nil, err
	}
	req.Header = h
	if rb != nil {
		req.ContentLength = 0
	}
	c.printf("> %s %s\n", method, checkURLString(u))
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
		c.printf("(fetch() would reject with \"TypeError: Failed to fetch\"; that is no CORS verdict)\n")
		return nil, fmt.Errorf("%s %s: %w", method, checkURLString(u), err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if strings.Contains(strings.ToLower(resp.Header.Get("Server")), "caddy") {
		c.caddy = true
	}
	c.printf("< %s %s\n", resp.Proto, resp.Status)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range resp.Header {
			if checkIsRelevantResponseHeader(k) && !yield(k) {
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
func (c *checkRunner) warnings(resp *http.Response, origin string) {
	acao := resp.Header.Values("Access-Control-Allow-Origin")
	if len(acao) == 1 && acao[0] != "*" && !checkVaryHas(resp.Header, "Origin") {
		c.printf("warning: Access-Control-Allow-Origin names one origin but the response has no \"Vary: Origin\": a shared cache may serve this copy to another origin (which the browser then refuses) or a copy made for another origin to this one.\n")
		if c.caddy {
			c.printf("  The cors module adds Vary: Origin itself; if it is missing, the CORS headers come from elsewhere (a `header` directive or the backend).\n")
		}
	}
}

// checkVaryHas reports whether Vary lists name (or is "*").
func checkVaryHas(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for e := range strings.SplitSeq(v, ",") {
			e = strings.Trim(e, " \t")
			if e == "*" || strings.EqualFold(e, name) {
				return true
			}
		}
	}
	return false
}

// fail prints a failure: verdict, console line and what to change.
func (c *checkRunner) fail(f checkFailure, initial, last string, resp *http.Response) {
	c.printf("verdict: BLOCKED\n")
	c.printf("console: %s\n", checkConsoleMessage(f, initial, last, c.plan.origin))
	if n := len(resp.Header.Values("Access-Control-Allow-Origin")); n > 1 {
		c.printf("warning: the response carries %d Access-Control-Allow-Origin headers: two layers (a proxy or CDN and the application, or two middlewares) both add CORS headers.\n", n)
	}
	if f.kind == checkHeaderDisallowed && f.hint == "authorization" &&
		checkListHasWildcard(resp.Header, "Access-Control-Allow-Headers") {
		c.printf("note: Chromium 156 still lets this through by default (the standard's rule sits behind --enable-features=CorsNonWildcardRequestHeadersSupport), but the Fetch standard never lets \"*\" cover Authorization: do not rely on it.\n")
	}
	c.printf("fix: %s\n", c.fix(f, resp))
}

// fix says what to change on the server, in Caddyfile terms when the server
// is Caddy.
func (c *checkRunner) fix(f checkFailure, resp *http.Response) string {
	origin := c.plan.origin
	cred := c.plan.credentials
	var caddy, plain string
	if k := f.kind; c.tainted && (k == checkMissingAllowOrigin || k == checkAllowOriginMismatch || k == checkInvalidAllowOrigin) {
		return "after a cross-origin redirect the browser sends \"Origin: null\": have the page request the final URL directly, or answer \"Access-Control-Allow-Origin: *\" there (without credentials); allowing `null` would let any sandboxed page in."
	}
	switch f.kind {
	case checkMissingAllowOrigin:
		caddy = fmt.Sprintf("if pages at %s may read this API, allow the origin in the cors block: `origins %s` (or `cors %s` on the directive line).", origin, origin, origin)
		if f.preflight {
			caddy += " If it is already listed, the preflight did not reach the cors handler: check the site address, the matcher and the routes."
		} else {
			caddy += " The cors module puts its headers on every response, errors included: if it is already listed, this response did not pass through the cors handler (site address, matcher, route)."
		}
		plain = fmt.Sprintf("if pages at %s may read this API, answer with \"Access-Control-Allow-Origin: %s\" (echo the allowed Origin) on %s.", origin, origin, map[bool]string{true: "the OPTIONS preflight", false: "every response, errors included"}[f.preflight])
	case checkMultipleAllowOrigin:
		caddy = "send CORS headers from one place only: remove `header Access-Control-Allow-Origin ...` lines and let the cors block answer (it replaces CORS headers set by backends), or remove CORS from the proxy or CDN in front of Caddy."
		plain = "only one layer may add Access-Control-Allow-Origin, with exactly one value: remove it from the proxy or from the application."
	case checkInvalidAllowOrigin, checkAllowOriginMismatch:
		caddy = fmt.Sprintf("list the page's origin exactly (scheme, host and port, no path or trailing slash): `origins %s`.", origin)
		plain = fmt.Sprintf("Access-Control-Allow-Origin must be exactly %q: one origin, no path, no trailing slash, no list.", origin)
	case checkWildcardOrigin:
		caddy = fmt.Sprintf("with credentials the origin must be named: replace `origins *` (or a bare `cors`) with `origins %s` and add `allow_credentials`.", origin)
		plain = fmt.Sprintf("with credentials answer \"Access-Control-Allow-Origin: %s\" (echo the allowed origin, never *) and \"Access-Control-Allow-Credentials: true\"; or drop credentials: \"include\" if the call needs no cookies.", origin)
	case checkInvalidAllowCredentials:
		caddy = "add `allow_credentials` to the cors block, or drop credentials: \"include\" from the fetch() call if it needs no cookies."
		plain = "answer with \"Access-Control-Allow-Credentials: true\" (exactly, lower case), or drop credentials: \"include\" from the fetch() call if it needs no cookies."
	case checkPreflightInvalidStatus:
		caddy = fmt.Sprintf("the preflight got %s: a handler answered it before or instead of cors (authentication, a method filter, a 404 route). The cors module answers preflights itself with 204 unless `preflight_passthrough` is set; remove `preflight_passthrough`, or make the backend answer OPTIONS with 2xx.", resp.Status)
		plain = fmt.Sprintf("answer OPTIONS requests that carry Access-Control-Request-Method with a 2xx status (204 is usual), before authentication or routing rejects them (it answered %s); a browser never sends credentials on a preflight.", resp.Status)
	case checkPreflightRedirect:
		where := resp.Header.Get("Location")
		caddy = fmt.Sprintf("a browser never follows a redirect on a preflight: request the final URL (%s) from the page, e.g. https:// instead of http:// (Caddy's automatic HTTPS redirect) or the path with its trailing slash.", where)
		plain = fmt.Sprintf("answer the OPTIONS preflight at this URL with 2xx instead of redirecting, or have the page request the final URL (%s).", where)
	case checkInvalidAllowMethods:
		caddy = "Access-Control-Allow-Methods must be a comma-separated list of method tokens: let the cors block's `methods` produce it instead of a `header` directive."
		plain = "Access-Control-Allow-Methods must be a comma-separated list of method tokens, e.g. \"GET, POST, DELETE\" (commas, not spaces)."
	case checkInvalidAllowHeaders:
		caddy = "Access-Control-Allow-Headers must be a comma-separated list of header names: let the cors block's `allowed_headers` produce it instead of a `header` directive."
		plain = "Access-Control-Allow-Headers must be a comma-separated list of header names, e.g. \"Content-Type, X-Requested-With\"."
	case checkMethodDisallowed:
		caddy = fmt.Sprintf("add `methods %s` to the cors block (methods are case-sensitive).", f.hint)
		plain = fmt.Sprintf("list %s in Access-Control-Allow-Methods on the preflight response (methods are case-sensitive).", f.hint)
		if cred && checkListHasWildcard(resp.Header, "Access-Control-Allow-Methods") {
			plain += " With credentials \"*\" is a literal method name, not a wildcard."
		}
	case checkHeaderDisallowed:
		caddy = fmt.Sprintf("add `allowed_headers %s` to the cors block (an explicit allowed_headers replaces the default Accept, Content-Type, X-Requested-With: list those you still send).", f.hint)
		plain = fmt.Sprintf("list %s in Access-Control-Allow-Headers on the preflight response.", f.hint)
		if f.hint == "authorization" {
			caddy = "list Authorization by name: `allowed_headers Authorization` (`*` never covers it)."
			plain = "list Authorization by name in Access-Control-Allow-Headers: \"*\" never covers it."
		} else if cred && checkListHasWildcard(resp.Header, "Access-Control-Allow-Headers") {
			plain += " With credentials \"*\" is a literal header name, not a wildcard."
		}
	case checkRedirectCredentials:
		caddy = "redirect to a URL without a username and password."
		plain = caddy
	}
	if c.caddy {
		return caddy
	}
	return plain
}

// blocked prints the end of a refused check.
func (c *checkRunner) blocked() (int, error) {
	c.printf("\n== Result: BLOCKED ==\n")
	c.printf("fetch() rejects with \"TypeError: Failed to fetch\"; the script sees no status, headers or body.\n")
	if !c.sent && c.step > 0 {
		c.printf("Only the preflight was sent: the request itself never reached the server.\n")
	}
	return checkExitBlocked, nil
}

// allowed prints the end of a successful check: what the script can read.
func (c *checkRunner) allowed(resp *http.Response) (int, error) {
	readable, hidden := checkExposedHeaders(resp.Header, c.plan.credentials)
	c.printf("verdict: response passes the CORS check\n")
	if c.plan.credentials && checkListHasWildcard(resp.Header, "Access-Control-Expose-Headers") {
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
	return checkExitAllowed, nil
}
