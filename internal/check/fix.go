package check

import (
	"fmt"
	"net/http"
)

// fix says what to change on the server, in Caddyfile terms when the server
// is Caddy.
func (c *runner) fix(f failure, resp *http.Response) string {
	origin := c.plan.origin
	cred := c.plan.credentials
	var caddy, plain string
	if k := f.kind; c.tainted && (k == missingAllowOrigin || k == allowOriginMismatch || k == invalidAllowOrigin) {
		return "after a cross-origin redirect the browser sends \"Origin: null\": have the page request the final URL directly, or answer \"Access-Control-Allow-Origin: *\" there (without credentials); allowing `null` would let any sandboxed page in."
	}
	switch f.kind {
	case missingAllowOrigin:
		caddy = fmt.Sprintf("if pages at %s may read this API, allow the origin in the cors block: `origins %s` (or `cors %s` on the directive line).", origin, origin, origin)
		if f.preflight {
			caddy += " If it is already listed, the preflight did not reach the cors handler: check the site address, the matcher and the routes."
		} else {
			caddy += " The cors module puts its headers on every response, errors included: if it is already listed, this response did not pass through the cors handler (site address, matcher, route)."
		}
		plain = fmt.Sprintf("if pages at %s may read this API, answer with \"Access-Control-Allow-Origin: %s\" (echo the allowed Origin) on %s.", origin, origin, map[bool]string{true: "the OPTIONS preflight", false: "every response, errors included"}[f.preflight])
	case multipleAllowOrigin:
		caddy = "send CORS headers from one place only: remove `header Access-Control-Allow-Origin ...` lines and let the cors block answer (it replaces CORS headers set by backends), or remove CORS from the proxy or CDN in front of Caddy."
		plain = "only one layer may add Access-Control-Allow-Origin, with exactly one value: remove it from the proxy or from the application."
	case invalidAllowOrigin, allowOriginMismatch:
		caddy = fmt.Sprintf("list the page's origin exactly (scheme, host and port, no path or trailing slash): `origins %s`.", origin)
		plain = fmt.Sprintf("Access-Control-Allow-Origin must be exactly %q: one origin, no path, no trailing slash, no list.", origin)
	case wildcardOrigin:
		caddy = fmt.Sprintf("with credentials the origin must be named: replace `origins *` (or a bare `cors`) with `origins %s` and add `allow_credentials`.", origin)
		plain = fmt.Sprintf("with credentials answer \"Access-Control-Allow-Origin: %s\" (echo the allowed origin, never *) and \"Access-Control-Allow-Credentials: true\"; or drop credentials: \"include\" if the call needs no cookies.", origin)
	case invalidAllowCredentials:
		caddy = "add `allow_credentials` to the cors block, or drop credentials: \"include\" from the fetch() call if it needs no cookies."
		plain = "answer with \"Access-Control-Allow-Credentials: true\" (exactly, lower case), or drop credentials: \"include\" from the fetch() call if it needs no cookies."
	case preflightInvalidStatus:
		caddy = fmt.Sprintf("the preflight got %s: a handler answered it before or instead of cors (authentication, a method filter, a 404 route). The cors module answers preflights itself with 204 unless `preflight_passthrough` is set; remove `preflight_passthrough`, or make the backend answer OPTIONS with 2xx.", resp.Status)
		plain = fmt.Sprintf("answer OPTIONS requests that carry Access-Control-Request-Method with a 2xx status (204 is usual), before authentication or routing rejects them (it answered %s); a browser never sends credentials on a preflight.", resp.Status)
	case preflightRedirect:
		where := resp.Header.Get("Location")
		caddy = fmt.Sprintf("a browser never follows a redirect on a preflight: request the final URL (%s) from the page, e.g. https:// instead of http:// (Caddy's automatic HTTPS redirect) or the path with its trailing slash.", where)
		plain = fmt.Sprintf("answer the OPTIONS preflight at this URL with 2xx instead of redirecting, or have the page request the final URL (%s).", where)
	case invalidAllowMethods:
		caddy = "Access-Control-Allow-Methods must be a comma-separated list of method tokens: let the cors block's `methods` produce it instead of a `header` directive."
		plain = "Access-Control-Allow-Methods must be a comma-separated list of method tokens, e.g. \"GET, POST, DELETE\" (commas, not spaces)."
	case invalidAllowHeaders:
		caddy = "Access-Control-Allow-Headers must be a comma-separated list of header names: let the cors block's `allowed_headers` produce it instead of a `header` directive."
		plain = "Access-Control-Allow-Headers must be a comma-separated list of header names, e.g. \"Content-Type, X-Requested-With\"."
	case methodDisallowed:
		caddy = fmt.Sprintf("add `methods %s` to the cors block (methods are case-sensitive).", f.hint)
		plain = fmt.Sprintf("list %s in Access-Control-Allow-Methods on the preflight response (methods are case-sensitive).", f.hint)
		if cred && hasWildcard(resp.Header, "Access-Control-Allow-Methods") {
			plain += " With credentials \"*\" is a literal method name, not a wildcard."
		}
	case headerDisallowed:
		caddy = fmt.Sprintf("add `allowed_headers %s` to the cors block (an explicit allowed_headers replaces the default Accept, Content-Type, X-Requested-With: list those you still send).", f.hint)
		plain = fmt.Sprintf("list %s in Access-Control-Allow-Headers on the preflight response.", f.hint)
		if f.hint == "authorization" {
			caddy = "list Authorization by name: `allowed_headers Authorization` (`*` never covers it)."
			plain = "list Authorization by name in Access-Control-Allow-Headers: \"*\" never covers it."
		} else if cred && hasWildcard(resp.Header, "Access-Control-Allow-Headers") {
			plain += " With credentials \"*\" is a literal header name, not a wildcard."
		}
	case redirectCredentials:
		caddy = "redirect to a URL without a username and password."
		plain = caddy
	}
	if c.caddy {
		return caddy
	}
	return plain
}
