package cors

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-cors/cors/internal/fetch"
)

// policy is a Handler's configuration compiled for serving: every header
// value a response can carry is computed here once, and requests only pick
// among them.
type policy struct {
	origins     allowList
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

	// protect decides which requests are cross-origin, for cross-origin
	// protection (see Handler.CrossOriginProtection); nil when it is off.
	protect *http.CrossOriginProtection

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
	varyActual    responseVary
	varyPreflight responseVary
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
	if fetch.IsSafelistedMethod(m) {
		return true
	}
	if s.any {
		// Caddy refuses request methods longer than 32 bytes; a longer
		// requested one is refused before it is read.
		return len(m) <= maxMethodLen && fetch.IsToken(m)
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
	return p.path() + ": " + p.msg
}

// path names the JSON field at fault, and the element of a list.
func (p configProblem) path() string {
	if p.index >= 0 {
		return fmt.Sprintf("%s[%d]", p.field, p.index)
	}
	return p.field
}

// compile checks a Handler's configuration and builds its policy. It reports
// every problem, not only the first, and the warnings for configurations that
// are legal but risky. The Caddyfile adapter runs it too, so `caddy adapt`
// catches the same mistakes as loading the JSON.
func compile(h *Handler) (*policy, []configProblem, []configProblem) {
	c := &compiler{p: &policy{credentials: h.AllowCredentials}}
	c.origins(h)
	c.methods(h.Methods)
	c.headers(h.AllowedHeaders)
	c.exposed(h.ExposedHeaders)
	c.maxAge((*time.Duration)(h.MaxAge))
	c.preflight(h)
	c.originCache(h)
	c.protection(h)
	return c.p, c.problems, c.warnings
}

// privateNetworkDeprecated is logged at load for allow_private_network:
// users whose page Chrome blocks with a console line that reads like a CORS
// error reach for this setting, and it cannot help them.
const privateNetworkDeprecated = "allow_private_network is deprecated: Chrome replaced Private Network Access with " +
	"the Local Network Access permission prompt (Chrome 142), which no server header satisfies, and no browser " +
	"requires the Access-Control-Allow-Private-Network this setting sends. A page that Local Network Access blocks " +
	"needs the user's permission instead, and a page in a frame also needs the local-network-access permissions " +
	`policy from the page that embeds it (<iframe allow="local-network-access">)`

type compiler struct {
	p        *policy
	problems []configProblem
	warnings []configProblem
}

func (c *compiler) errorf(field string, index int, format string, args ...any) {
	c.problems = append(c.problems, configProblem{field, index, fmt.Sprintf(format, args...)})
}

// warnf records a risky-but-legal setting, positioned like a problem so
// that the Caddyfile adapter can report it at its line.
func (c *compiler) warnf(field string, index int, format string, args ...any) {
	c.warnings = append(c.warnings, configProblem{field, index, fmt.Sprintf(format, args...)})
}

// origins compiles the origin allow-list: the listed origins and patterns,
// then the regexps, then what an empty list or "*" means for the settings
// that need explicit origins.
func (c *compiler) origins(h *Handler) {
	star := c.listedOrigins(h)
	c.originRegexps(h)
	m := &c.p.origins
	if star >= 0 && (len(h.Origins) > 1 || len(h.OriginRegexp) > 0 || len(h.SourcesRaw) > 0) {
		c.errorf("origins", star, `"*" already allows every origin: remove the other origins, origin_regexp and origin_source, or remove "*"`)
	}
	m.any = star >= 0 || len(h.Origins) == 0 && len(h.OriginRegexp) == 0 && len(h.SourcesRaw) == 0
	if m.any {
		if h.AllowCredentials {
			c.errorf("allow_credentials", -1, "credentials need explicit origins (browsers refuse them with Access-Control-Allow-Origin: *): list the origins that may send them, e.g. origins https://app.example.com")
		}
		if h.AllowPrivateNetwork {
			c.errorf("allow_private_network", -1, "private network access needs explicit origins, or any website could reach this server through its visitors: list them, e.g. origins https://app.example.com")
		}
	}
}

// listedOrigins adds Handler.Origins to the allow-list and returns the
// index of "*" in it, or -1.
func (c *compiler) listedOrigins(h *Handler) (star int) {
	star = -1
	parsed := make([]configuredOrigin, 0, len(h.Origins))
	for i, o := range h.Origins {
		switch o {
		case "*":
			star = i
		case "null":
			c.nullOrigin(i, h.AllowCredentials)
		default:
			if strings.EqualFold(o, "null") {
				// Fetch serializes an opaque origin as "null" and compares
				// it byte for byte: no browser sends another spelling.
				c.errorf("origins", i, `%q: the origin of sandboxed and file:// pages is "null", in lower case, and browsers send no other spelling: write null`, o)
				continue
			}
			if p, ok := c.origin(i, o, h.AllowCredentials); ok {
				parsed = append(parsed, configuredOrigin{i, o, p})
				c.p.origins.add(p)
			}
		}
	}
	c.redundantOrigins(parsed)
	return star
}

func (c *compiler) nullOrigin(i int, credentials bool) {
	c.p.origins.null = true
	c.warnf("origins", i, `origin "null" is allowed: sandboxed iframes, file:// pages and some redirects all send it, so any site can make a request that looks like it`)
	if credentials {
		c.errorf("origins", i, `"null" cannot be allowed with allow_credentials: any sandboxed page can send it; remove "null" or allow_credentials`)
	}
}

// origin parses one origin or origin pattern and reports what is wrong or
// risky about it.
func (c *compiler) origin(i int, o string, credentials bool) (allowedOrigin, bool) {
	if c.commaList("origins", i, o) {
		return allowedOrigin{}, false
	}
	p, err := parseAllowedOrigin(o)
	if err == nil && !p.subdomains && !p.anyPort {
		// The matcher looks exact origins up before parsing the request's
		// Origin, which is sound only if each is one a browser sends.
		if _, ok := parseRequestOrigin(p.String()); !ok {
			err = fmt.Errorf("%q is not an origin a browser sends", o)
		}
	}
	if err != nil {
		c.errorf("origins", i, "%v", err)
		return allowedOrigin{}, false
	}
	if p.onPublicSuffix() {
		if credentials {
			c.errorf("origins", i, "%q with allow_credentials hands your users' sessions to every owner of a site under the public suffix %q: list your own domain instead, e.g. https://*.yourname.%s, or remove allow_credentials", o, p.host, p.host)
		} else {
			c.warnf("origins", i, "origin pattern %q matches the sites of every owner under the public suffix %q", o, p.host)
		}
	}
	if credentials && p.scheme == "http" && !p.isLoopback() {
		c.warnf("origins", i, "origin %q is plain HTTP and allowed with allow_credentials: a network attacker can impersonate it; prefer https://", o)
	}
	return p, true
}

// originRegexps compiles Handler.OriginRegexp and probes each regexp with
// origins nobody may be trusted to own.
func (c *compiler) originRegexps(h *Handler) {
	for i, expr := range h.OriginRegexp {
		// Compiled alone first, so that an error shows the user's regexp,
		// not the anchored form the matcher uses.
		if _, err := regexp.Compile(expr); err != nil {
			c.errorf("origin_regexp", i, "%q is not an RE2 regular expression: %v%s", expr, regexpError(err), regexpHint(expr))
			continue
		}
		re := regexp.MustCompile(`^(?:` + expr + `)$`)
		if probe, ok := matchedProbe(re, expr); ok {
			if h.AllowCredentials {
				c.errorf("origin_regexp", i, "%q matches %q, an origin anybody can own, and allow_credentials would let it read with your users' cookies: escape every dot (\\.) and end at your own domain, e.g. https://([a-z0-9-]+\\.)*example\\.com", expr, probe)
			} else {
				c.warnf("origin_regexp", i, "%q matches %q, an origin anybody can own: escape every dot (\\.) and end at your own domain, e.g. https://([a-z0-9-]+\\.)*example\\.com", expr, probe)
			}
		}
		c.p.origins.regexps = append(c.p.origins.regexps, re)
	}
}

// configuredOrigin is an entry of Handler.Origins, as written and parsed.
type configuredOrigin struct {
	index   int
	written string
	pattern allowedOrigin
}

// redundantOrigins warns of an origin written twice in spellings that
// normalize alike, and of an exact origin a pattern already covers: both are
// harmless, but usually a sign that the list says something other than what
// its author meant.
func (c *compiler) redundantOrigins(origins []configuredOrigin) {
	first := map[string]configuredOrigin{}
	for _, o := range origins {
		key := o.pattern.String()
		if prev, dup := first[key]; dup {
			c.warnf("origins", o.index, "origins %q and %q are the same origin (%s): keep one", prev.written, o.written, key)
			continue
		}
		first[key] = o
	}
	// The patterns by host, so that each exact origin looks up its own host
	// and the domains above it rather than trying every pattern: for
	// 100,000 origins and 1,000 patterns, a tenth of a second, not 20.
	patterns := map[string][]configuredOrigin{}
	for _, pat := range origins {
		if pat.pattern.subdomains || pat.pattern.anyPort {
			patterns[pat.pattern.host] = append(patterns[pat.pattern.host], pat)
		}
	}
	if len(patterns) == 0 {
		return
	}
	for _, o := range origins {
		if o.pattern.subdomains || o.pattern.anyPort {
			continue
		}
		var cover *configuredOrigin // the first in the list
		for host := o.pattern.host; ; {
			for i, pat := range patterns[host] {
				if pat.pattern.covers(o.pattern) && (cover == nil || pat.index < cover.index) {
					cover = &patterns[host][i]
				}
			}
			dot := strings.IndexByte(host, '.')
			if dot < 0 {
				break
			}
			host = host[dot+1:]
		}
		if cover != nil {
			c.warnf("origins", o.index, "origin %q is already allowed by %q: remove it, or narrow the pattern", o.written, cover.written)
		}
	}
}

// commaList reports, as a problem, a list value written with commas, the
// way other servers' CORS settings take it: the values are separate words
// here (separate strings in JSON).
func (c *compiler) commaList(field string, index int, v string) bool {
	if !strings.Contains(v, ",") {
		return false
	}
	var words []string
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			words = append(words, w)
		}
	}
	c.errorf(field, index, "%q is a list: separate the values with spaces, not commas (in JSON, one string each): write %s %s", v, field, strings.Join(words, " "))
	return true
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
			continue
		case c.commaList("methods", i, m):
			continue
		case !fetch.IsToken(m):
			c.errorf("methods", i, "%q is not a method: write methods as separate words, e.g. methods GET POST PUT DELETE", m)
			continue
		}
		switch upper := strings.ToUpper(m); {
		case fetch.IsForbiddenMethod(m):
			c.errorf("methods", i, "%q is a method browsers never let a script send (Fetch forbids it): remove it", m)
			continue
		case fetch.NormalizeMethod(m) != m:
			c.errorf("methods", i, "%q never matches: browsers send %s in upper case whatever the script wrote: write %s", m, upper, upper)
			continue
		case m != upper:
			c.warnf("methods", i, "method %q matches only scripts that spell it %q (browsers send it as written, and most scripts write %s): write %s unless your clients send %q", m, m, upper, upper, m)
		}
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	if s.any {
		c.starCovers("methods", methods, list)
	}
	s.list = list
	switch {
	case !s.any:
		c.p.allowMethods = strings.Join(list, ", ")
	case !c.p.credentials:
		c.p.allowMethods = "*"
	}
}

// starCovers warns that "*" in a list already covers the names written next
// to it, which is legal but suggests the author thought otherwise.
func (c *compiler) starCovers(field string, written, covered []string) {
	if len(covered) == 0 {
		return
	}
	star := slices.Index(written, "*")
	c.warnf(field, star, "%q already covers %s: remove them, or remove %q", "*", strings.Join(covered, ", "), "*")
}

func (c *compiler) headers(names []string) {
	if len(names) == 0 {
		names = defaultAllowedHeaders
	}
	list, star := c.headerList("allowed_headers", names, func(lower string) string {
		switch {
		case fetch.IsForbiddenHeaderName(lower):
			return "is a header browsers never let a script set, so no preflight asks for it: remove it"
		case strings.HasPrefix(lower, "access-control-"):
			return "is a CORS response header, not a request header: remove it"
		}
		return ""
	})
	if star >= 0 {
		c.starCovers("allowed_headers", names, slices.DeleteFunc(slices.Clone(list), func(n string) bool {
			return strings.EqualFold(n, "Authorization") // a wildcard never covers it
		}))
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
			c.errorf("exposed_headers", star, `"*" exposes nothing with allow_credentials (browsers then read it as a header named "*"): list the headers by name, or remove allow_credentials`)
		} else {
			c.starCovers("exposed_headers", names, list)
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
		case c.commaList(field, i, n):
			continue
		case !fetch.IsToken(n):
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
	case *d%time.Second != 0 && *d < time.Second:
		// A bare JSON number is nanoseconds, as everywhere in Caddy's JSON,
		// though Access-Control-Max-Age itself counts seconds.
		c.errorf("max_age", -1, "%v is not whole seconds (a number in JSON is nanoseconds): write \"%ds\" for %d seconds, or a duration string such as \"10m\"", *d, int64(*d), int64(*d))
		return
	case *d%time.Second != 0:
		c.errorf("max_age", -1, "%v is not whole seconds (Access-Control-Max-Age counts seconds): write e.g. \"%ds\"", *d, int64(d.Round(time.Second)/time.Second))
		return
	case *d > maxAgeWarning:
		c.warnf("max_age", -1, "max_age %v is longer than browsers cache preflights: Chromium caps it at 7200 s (2h) and WebKit at 600 s (10m)", *d)
	}
	c.p.maxAge = strconv.FormatInt(int64(*d/time.Second), 10)
}

func (c *compiler) preflight(h *Handler) {
	p := c.p
	p.privateNetwork = h.AllowPrivateNetwork
	if h.AllowPrivateNetwork {
		c.warnf("allow_private_network", -1, "%s", privateNetworkDeprecated)
	}
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
		p.varyActual = newResponseVary("Origin")
		tokens = append(tokens, "Origin")
	}
	tokens = append(tokens, "Access-Control-Request-Method", "Access-Control-Request-Headers")
	if p.privateNetwork {
		tokens = append(tokens, "Access-Control-Request-Private-Network")
	}
	p.varyPreflight = newResponseVary(tokens...)
}
