package cors

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// policy is a Handler's configuration compiled for serving: every header
// value a response can carry is computed here once, and requests only pick
// among them.
type policy struct {
	origins     originMatcher
	credentials bool
	methods     methodSet
	headers     headerSet

	privateNetwork bool
	passthrough    bool
	// reportOnly: change nothing, only compare (see Handler.ReportOnly).
	reportOnly bool
	reporter   *reporter
	reports    *reportCounters
	status     int

	// allowMethods and allowHeaders answer allowed preflights. Empty means
	// the answer must name what was requested, because with credentials a
	// "*" would be read as a literal name.
	allowMethods  string
	allowHeaders  string
	exposeHeaders string
	maxAge        string // "" when no Access-Control-Max-Age is sent

	// varyActual and varyPreflight are the request headers that responses
	// depend on; varyActual is empty when the policy allows every origin
	// alike.
	varyActual    varyList
	varyPreflight varyList
}

// Defaults of the Fetch standard's simple requests, which most APIs need and
// browsers send without asking.
var (
	defaultMethods        = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	defaultAllowedHeaders = []string{"Accept", "Content-Type", "X-Requested-With"}
)

// methodSet is the set of methods a preflight may ask for.
type methodSet struct {
	any  bool
	list []string
}

// allows reports whether a preflight for method m may succeed. Methods are
// compared case-sensitively, as browsers compare them, and the safelisted
// ones are always allowed: browsers never check them against the answer.
func (s *methodSet) allows(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true
	}
	if s.any {
		// Caddy refuses request methods longer than 32 bytes; a longer
		// requested one is refused before it is read.
		return len(m) <= maxMethodLen && isToken(m)
	}
	return slices.Contains(s.list, m)
}

// maxMethodLen bounds the methods a wildcard policy allows.
const maxMethodLen = 32

// configProblem is one configuration error: the field at fault, the element
// of a list field (or -1), and a message that says what to write instead.
type configProblem struct {
	field string
	index int
	msg   string
}

// jsonString phrases the problem for a JSON configuration.
func (p configProblem) jsonString() string {
	if p.index >= 0 {
		return fmt.Sprintf("%s[%d]: %s", p.field, p.index, p.msg)
	}
	return p.field + ": " + p.msg
}

// compile checks a Handler's configuration and builds its policy. It reports
// every problem, not only the first, and the warnings for configurations that
// are legal but risky. The Caddyfile adapter runs it too, so `caddy adapt`
// catches the same mistakes as loading the JSON.
func compile(h *Handler) (*policy, []configProblem, []string) {
	c := &compiler{p: &policy{credentials: h.AllowCredentials}}
	c.origins(h)
	c.methods(h.Methods)
	c.headers(h.AllowedHeaders)
	c.exposed(h.ExposedHeaders)
	c.maxAge((*time.Duration)(h.MaxAge))
	c.preflight(h)
	return c.p, c.problems, c.warnings
}

type compiler struct {
	p        *policy
	problems []configProblem
	warnings []string
}

func (c *compiler) errorf(field string, index int, format string, args ...any) {
	c.problems = append(c.problems, configProblem{field, index, fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *compiler) origins(h *Handler) {
	m := &c.p.origins
	star := -1
	for i, o := range h.Origins {
		switch o {
		case "*":
			star = i
			continue
		case "null":
			m.null = true
			c.warnf(`cors: origin "null" is allowed: sandboxed iframes, file:// pages and some redirects all send it, so any site can make a request that looks like it`)
			if h.AllowCredentials {
				c.errorf("origins", i, `"null" cannot be allowed with credentials: any sandboxed page can send it; remove "null" or allow_credentials`)
			}
			continue
		}
		p, err := parseOriginPattern(o)
		if err == nil && !p.subdomains && !p.anyPort {
			// The matcher looks exact origins up before parsing the request's
			// Origin, which is sound only if each is one a browser sends.
			if _, ok := parseRequestOrigin(p.String()); !ok {
				err = fmt.Errorf("%q is not an origin a browser sends", o)
			}
		}
		if err != nil {
			c.errorf("origins", i, "%v", err)
			continue
		}
		if p.onPublicSuffix() {
			if h.AllowCredentials {
				c.errorf("origins", i, "%q matches the sites of every owner under the public suffix %q; with credentials that hands your users' sessions to all of them: list your own domain instead, e.g. https://*.yourname.%s", o, p.host, p.host)
			} else {
				c.warnf("cors: origin pattern %q matches the sites of every owner under the public suffix %q", p.String(), p.host)
			}
		}
		if h.AllowCredentials && p.scheme == "http" && !p.isLoopback() {
			c.warnf("cors: origin %q is plain HTTP and allowed with credentials: a network attacker can impersonate it; prefer https://", p.String())
		}
		m.add(p)
	}
	for i, expr := range h.OriginRegexp {
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			c.errorf("origin_regexp", i, "%q is not an RE2 regular expression: %v", expr, err)
			continue
		}
		m.regexps = append(m.regexps, re)
	}
	if star >= 0 && (len(h.Origins) > 1 || len(h.OriginRegexp) > 0) {
		c.errorf("origins", star, `"*" already allows every origin: remove the other origins and origin_regexp, or remove "*"`)
	}
	m.any = star >= 0 || len(h.Origins) == 0 && len(h.OriginRegexp) == 0
	if m.any {
		if h.AllowCredentials {
			c.errorf("allow_credentials", -1, "credentials need explicit origins (browsers refuse them with Access-Control-Allow-Origin: *): list the origins that may send them, e.g. origins https://app.example.com")
		}
		if h.AllowPrivateNetwork {
			c.errorf("allow_private_network", -1, "private network access needs explicit origins, or any website could reach this server through its visitors: list them, e.g. origins https://app.example.com")
		}
	}
}

func (c *compiler) methods(methods []string) {
	s := &c.p.methods
	if len(methods) == 0 {
		methods = defaultMethods
	}
	var list []string
	for i, m := range methods {
		switch {
		case m == "*":
			s.any = true
			if len(methods) > 1 {
				c.errorf("methods", i, `"*" already allows every method: remove the other methods, or remove "*"`)
			}
			continue
		case !isToken(m):
			c.errorf("methods", i, "%q is not a method: write methods as separate words, e.g. methods GET POST PUT DELETE", m)
			continue
		}
		switch strings.ToUpper(m) {
		case "CONNECT", "TRACE", "TRACK":
			c.errorf("methods", i, "%q is a method browsers never let a script send (Fetch forbids it): remove it", m)
			continue
		}
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	s.list = list
	switch {
	case !s.any:
		c.p.allowMethods = strings.Join(list, ", ")
	case !c.p.credentials:
		c.p.allowMethods = "*"
	}
}

func (c *compiler) headers(names []string) {
	if len(names) == 0 {
		names = defaultAllowedHeaders
	}
	list, star := c.headerList("allowed_headers", names, func(lower string) string {
		switch {
		case forbiddenRequestHeader(lower):
			return "is a header browsers never let a script set, so no preflight asks for it: remove it"
		case strings.HasPrefix(lower, "access-control-"):
			return "is a CORS response header, not a request header: remove it"
		}
		return ""
	})
	if star >= 0 {
		c.p.headers = newHeaderSet(append(list, "*"))
	} else {
		c.p.headers = newHeaderSet(list)
	}
	switch s := &c.p.headers; {
	case !s.any:
		c.p.allowHeaders = strings.Join(list, ", ")
	case !c.p.credentials && s.authorization:
		// The wildcard does not cover Authorization; naming it beside the
		// wildcard lets the browser send it.
		c.p.allowHeaders = "*, Authorization"
	case !c.p.credentials:
		c.p.allowHeaders = "*"
	}
}

func (c *compiler) exposed(names []string) {
	list, star := c.headerList("exposed_headers", names, func(lower string) string {
		switch {
		case lower == "set-cookie" || lower == "set-cookie2":
			return "is never exposed to scripts by browsers: remove it"
		case strings.HasPrefix(lower, "access-control-"):
			return "is a CORS header, which scripts never need to read: remove it"
		}
		return ""
	})
	if star >= 0 {
		if c.p.credentials {
			c.errorf("exposed_headers", star, `"*" exposes nothing when credentials are allowed (browsers read it as a header named "*"): list the headers by name`)
		}
		list = append(list, "*")
	}
	c.p.exposeHeaders = strings.Join(list, ", ")
}

// headerList checks a list of header names: their syntax, and what refuse
// says of each name (given in lower case). It returns the valid names
// without duplicates, and the index of "*" (or -1).
func (c *compiler) headerList(field string, names []string, refuse func(lower string) string) (list []string, star int) {
	star = -1
	for i, n := range names {
		switch {
		case n == "*":
			star = i
			continue
		case !isToken(n):
			c.errorf(field, i, "%q is not a header name: write names as separate words, e.g. %s X-Api-Key X-Request-Id", n, field)
			continue
		case len(n) > maxHeaderNameLen:
			c.errorf(field, i, "%q is longer than %d bytes: no browser sends such a header", n[:32]+"...", maxHeaderNameLen)
			continue
		}
		if why := refuse(strings.ToLower(n)); why != "" {
			c.errorf(field, i, "%q %s", n, why)
			continue
		}
		if !slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, n) }) {
			list = append(list, n)
		}
	}
	return list, star
}

// maxAgeWarning is the longest preflight cache Chromium honours (WebKit stops at 600 s).
const maxAgeWarning = 2 * time.Hour

func (c *compiler) maxAge(d *time.Duration) {
	if d == nil {
		return
	}
	switch {
	case *d < 0:
		c.errorf("max_age", -1, "%v is negative: write a duration such as 10m, or 0 to disable caching", *d)
		return
	case *d%time.Second != 0:
		c.errorf("max_age", -1, "%v is not whole seconds (Access-Control-Max-Age counts seconds): write e.g. %ds", *d, int64(d.Round(time.Second)/time.Second))
		return
	case *d > maxAgeWarning:
		c.warnf("cors: max_age %v is longer than browsers cache preflights: Chromium caps it at 7200 s (2h) and WebKit at 600 s (10m)", *d)
	}
	c.p.maxAge = strconv.FormatInt(int64(*d/time.Second), 10)
}

func (c *compiler) preflight(h *Handler) {
	p := c.p
	p.privateNetwork = h.AllowPrivateNetwork
	p.passthrough = h.PreflightPassthrough
	p.status = h.PreflightStatus
	p.reportOnly = h.ReportOnly
	if h.ReportOnly && h.PreflightPassthrough {
		c.errorf("report_only", -1, "report_only already passes every preflight on untouched, and preflight_passthrough would add headers to it: remove preflight_passthrough (JSON: preflight_passthrough) or report_only")
	}
	if h.ReportOnly && h.PreflightStatus != 0 {
		c.errorf("report_only", -1, "report_only never answers a preflight, so preflight_status %d would never be used: remove preflight_status (JSON: preflight_status) while report_only is on", h.PreflightStatus)
	}
	switch {
	case p.status == 0:
		p.status = http.StatusNoContent
	case p.status < 200 || p.status > 299:
		c.errorf("preflight_status", -1, "%d is not a 2xx status, and browsers fail every preflight answered with another: write 204 or 200", p.status)
	}
	var tokens []string
	if !p.origins.any {
		p.varyActual = newVaryList("Origin")
		tokens = append(tokens, "Origin")
	}
	tokens = append(tokens, "Access-Control-Request-Method", "Access-Control-Request-Headers")
	if p.privateNetwork {
		tokens = append(tokens, "Access-Control-Request-Private-Network")
	}
	p.varyPreflight = newVaryList(tokens...)
}
