// Package cors is a Caddy HTTP handler module that implements the CORS
// protocol of the WHATWG Fetch standard: it answers preflight requests
// itself and adds the Access-Control-* response headers that let a browser
// hand a cross-origin response to the script that asked for it.
//
// The module registers the Caddyfile directive `cors`, ordered before
// `header`, so that preflights are answered before authentication, redirects,
// rate limiters and proxies see them.
package cors

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers CORS preflight requests and adds CORS headers to every
// response that passes through it. It owns the Access-Control-Allow-*,
// Access-Control-Expose-Headers and Access-Control-Max-Age response headers:
// values set by later handlers or by upstreams are replaced by its own
// decision, so a response never carries a grant the policy did not make.
type Handler struct {
	// Origins that may read responses: exact origins such as
	// "https://app.example.com" (scheme, host and optional port; no path),
	// subdomain patterns such as "https://*.example.com" (any depth, never the
	// apex), port wildcards such as "http://localhost:*", the literal "null",
	// or "*" for any origin. Origins are normalized when the config loads
	// to the form browsers send (Fetch's serialized origin: lower case,
	// default port dropped, international names in punycode, IPv6
	// compressed), so that a request's Origin is compared byte for byte; a
	// percent-encoded host is an error showing the decoded origin.
	// No origins and no origin_regexp means any origin.
	Origins []string `json:"origins,omitempty"`

	// Regular expressions (RE2 syntax) that allowed origins may match in
	// addition to Origins. Each is anchored at both ends, and only ever sees
	// well-formed Origin values, so "https://[a-z]+\\.example\\.com" cannot
	// be tricked by a path or a user-info part. At load each is tried against
	// origins nobody can own (hosts under .invalid, and the shapes an
	// unescaped dot or an open end let through, built from the domains the
	// regexp names): a match is an error with credentials, a warning without.
	OriginRegexp []string `json:"origin_regexp,omitempty"`

	// Methods that preflights may ask for, compared case-sensitively as
	// browsers do. GET, HEAD and POST are always allowed since browsers never
	// check them; "*" allows any method. Browsers upper-case DELETE, GET,
	// HEAD, OPTIONS, POST and PUT, so these are refused in any other case;
	// other methods are sent as the script spelled them. Default: GET, HEAD,
	// POST.
	Methods []string `json:"methods,omitempty"`

	// Request header names that preflights may ask for, case-insensitive.
	// "*" allows any header except Authorization, which must always be listed
	// by name (the Fetch standard never lets a wildcard cover it).
	// Default: Accept, Content-Type, X-Requested-With.
	AllowedHeaders []string `json:"allowed_headers,omitempty"`

	// Response header names that scripts may read beyond the CORS-safelisted
	// ones. "*" means all of them, and is only allowed without credentials.
	ExposedHeaders []string `json:"exposed_headers,omitempty"`

	// Whether allowed origins may send cookies and HTTP authentication and read
	// the response (Access-Control-Allow-Credentials: true). Requires explicit
	// origins: browsers refuse credentials with a wildcard origin.
	AllowCredentials bool `json:"allow_credentials,omitempty"`

	// How long browsers may cache a preflight answer
	// (Access-Control-Max-Age). A Caddy duration, as everywhere in Caddy's
	// JSON: a string such as "10m" or "600s", or an integer number of
	// nanoseconds (so 600 is 600ns, refused: write "600s"). It must come to
	// whole seconds, since the header counts seconds. Absent: no header, and
	// browsers cache for 5 seconds. Zero: "Access-Control-Max-Age: 0", which
	// disables caching. Chromium caps the value at 2 hours and WebKit at 10
	// minutes.
	MaxAge *caddy.Duration `json:"max_age,omitempty"`

	// Whether to answer Private Network Access preflights (those with
	// Access-Control-Request-Private-Network: true) with
	// Access-Control-Allow-Private-Network: true. Requires explicit origins.
	//
	// Deprecated: no browser needs it. Chrome never enforced these
	// preflights and replaced them with the Local Network Access permission
	// prompt (Chrome 142), which no response header satisfies: a blocked
	// page needs the user's permission, and in a frame the
	// local-network-access permissions policy. Still honoured, with a
	// warning at load.
	AllowPrivateNetwork bool `json:"allow_private_network,omitempty"`

	// Pass preflight requests on to the next handler (with the CORS headers
	// this module would have answered with) instead of answering them here.
	PreflightPassthrough bool `json:"preflight_passthrough,omitempty"`

	// Status code of preflight answers; must be 2xx, because browsers fail a
	// preflight with any other status. Default: 204.
	PreflightStatus int `json:"preflight_status,omitempty"`

	// Change nothing and only report: pass every request, preflights
	// included, to the next handler untouched, and log and count where the
	// response's own CORS headers differ from what this policy would send.
	// It exists to move CORS out of an application without breaking a client
	// nobody remembered, the way Content-Security-Policy-Report-Only lets a
	// site try a policy first; dropping it is the whole switch-over.
	ReportOnly bool `json:"report_only,omitempty"`

	// Origin sources: modules of the namespace http.handlers.cors.origins
	// that decide at request time about origins the lists above do not
	// name, such as the custom domains of a multi-tenant SaaS ("http" asks
	// an endpoint, "file" and "storage" read a list). They are asked only
	// about well-formed origins that Origins and OriginRegexp refuse. A
	// policy with a source is never an any-origin policy.
	SourcesRaw []json.RawMessage `json:"origin_sources,omitempty" caddy:"namespace=http.handlers.cors.origins inline_key=source"`

	// How long the answers of the sources that are asked (http) are kept;
	// see OriginCache for the defaults.
	OriginCache *OriginCache `json:"origin_cache,omitempty"`

	// Refuse, with 403 before the next handler, what CORS never governs:
	// requests a browser sends from another origin with a method other
	// than GET, HEAD and OPTIONS (a form POST, a no-cors fetch: CSRF), and
	// WebSocket handshakes from another origin (cross-site WebSocket
	// hijacking), unless the policy allows their Origin. Cross-origin means
	// what Go's net/http.CrossOriginProtection decides (Sec-Fetch-Site, else
	// Origin against Host): requests without either header, same-origin
	// ones and Sec-Fetch-Site: none always pass, as do GET, HEAD and
	// preflights. It needs explicit origins. It does not protect GET
	// endpoints that change state, nor replace SameSite cookies.
	CrossOriginProtection bool `json:"cross_origin_protection,omitempty"`

	policy   *policy
	sources  *originSources
	problems []configProblem
	logger   *zap.Logger
	metrics  *decisionCounters
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cors",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the configuration into the policy that ServeHTTP
// consults, so that no request ever parses a configured value.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	p, problems, warnings := compile(h)
	h.policy, h.problems = p, problems
	if len(problems) > 0 {
		return h.Validate()
	}
	for _, w := range warnings {
		switch note, adapted := takeAdaptWarning(w); {
		case !adapted:
			h.logger.Warn("cors: "+w.msg, zap.String("field", w.path()))
		case !note.logged:
			h.logger.Warn("cors: "+w.msg, zap.String("file", note.at.file), zap.Int("line", note.at.line))
		}
	}
	if err := h.provisionSources(ctx); err != nil {
		return err
	}
	var err error
	h.metrics, err = newDecisionCounters(ctx)
	if err != nil || !p.reportOnly {
		return err
	}
	p.reporter = &reporter{logger: h.logger, now: time.Now}
	p.reports, err = newReportCounters(ctx)
	return err
}

// Validate reports every configuration error at once, each naming the JSON
// field at fault and what to write instead.
func (h *Handler) Validate() error {
	if len(h.problems) == 0 {
		return nil
	}
	errs := make([]error, len(h.problems))
	for i, p := range h.problems {
		errs[i] = errors.New(p.jsonString())
	}
	return fmt.Errorf("invalid cors configuration:\n%w", errors.Join(errs...))
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
