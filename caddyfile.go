package cors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("cors", parseCaddyfile)
	// Before header, and so before redir, basic_auth, forward_auth, rate
	// limiters and proxies: a preflight carries no credentials and must be
	// answered before anything demands them.
	httpcaddyfile.RegisterDirectiveOrder("cors", httpcaddyfile.Before, "header")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	c := new(Handler)
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return c, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	cors [<matcher>] [<origin>...] {
//		origins               <origin>...
//		origin_regexp         <regexp>...
//		methods               <method>...
//		allowed_headers       <header>...
//		exposed_headers       <header>...
//		allow_credentials     [true|false]
//		max_age               <duration>
//		allow_private_network # deprecated
//		preflight_passthrough
//		preflight_status      <code>
//		report_only
//		origin_source         <source> [<args>...] { ... }
//		origin_cache          { ... }
//		cross_origin_protection
//	}
//
// Origins on the directive line and in `origins` add up, as do repeated list
// subdirectives. With no origin at all, any origin is allowed. A first
// argument `*`, `/path` or `@name` is Caddy's request matcher, not an origin:
// write `origins *` for any origin next to other settings.
//
// Every mistake in the block is reported, each with its file and line and
// what to write instead, including those that need several subdirectives to
// see (`origins *` with `allow_credentials`), reported at the directive.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	directive := tokenPos{d.File(), d.Line()}
	var errs []error
	errorf := func(format string, args ...any) {
		errs = append(errs, d.Errf("cors: "+format, args...))
	}
	pos := map[string][]tokenPos{}
	list := func(field string, dst *[]string) {
		if !d.NextArg() {
			errorf("%s needs at least one value, e.g. %s", field, listExample[field])
			return
		}
		for {
			*dst = append(*dst, d.Val())
			pos[field] = append(pos[field], tokenPos{d.File(), d.Line()})
			if !d.NextArg() {
				return
			}
		}
	}
	for d.NextArg() {
		h.Origins = append(h.Origins, d.Val())
		pos["origins"] = append(pos["origins"], tokenPos{d.File(), d.Line()})
	}

	seen := map[string]bool{}
	for d.NextBlock(0) {
		sub := d.Val()
		if _, single := singleValued[sub]; single {
			if seen[sub] {
				errorf("%s is given twice: keep one", sub)
				d.RemainingArgs()
				continue
			}
			seen[sub] = true
		}
		switch sub {
		case "origins":
			list("origins", &h.Origins)
		case "origin_regexp":
			list("origin_regexp", &h.OriginRegexp)
		case "methods":
			list("methods", &h.Methods)
		case "allowed_headers":
			list("allowed_headers", &h.AllowedHeaders)
		case "exposed_headers":
			list("exposed_headers", &h.ExposedHeaders)
		case "allow_credentials":
			switch args := d.RemainingArgs(); {
			case len(args) == 0 || len(args) == 1 && args[0] == "true":
				h.AllowCredentials = true
			case len(args) == 1 && args[0] == "false":
				h.AllowCredentials = false
			default:
				errorf("allow_credentials takes no value, or true or false, not %q: write allow_credentials", strings.Join(args, " "))
			}
		case "max_age":
			args := d.RemainingArgs()
			if len(args) != 1 {
				errorf("max_age takes one duration, e.g. max_age 10m or max_age 600 (seconds)%s", extraArgs(args))
				continue
			}
			dur, err := parseMaxAge(args[0])
			switch {
			case err != nil:
				errorf("max_age %q: %v: write a duration such as 10m, or whole seconds such as 600", args[0], err)
				continue
			case dur < 0:
				errorf("max_age %q is negative: write a duration such as 10m, or 0 to disable caching", args[0])
				continue
			case dur%time.Second != 0:
				errorf("max_age %q is not whole seconds (Access-Control-Max-Age counts seconds): write e.g. max_age %ds", args[0], int64(dur.Round(time.Second)/time.Second))
				continue
			}
			md := caddy.Duration(dur)
			h.MaxAge = &md
			pos["max_age"] = []tokenPos{{d.File(), d.Line()}}
		case "report_only", "cross_origin_protection":
			if d.NextArg() {
				errorf("%s takes no value, not %q: write %s alone", sub, d.Val(), sub)
				d.RemainingArgs()
				continue
			}
			if sub == "report_only" {
				h.ReportOnly = true
			} else {
				h.CrossOriginProtection = true
			}
			pos[sub] = []tokenPos{{d.File(), d.Line()}}
		case "allow_private_network", "preflight_passthrough":
			if d.NextArg() {
				errorf("%s takes no value, not %q: write %s alone", sub, d.Val(), sub)
				d.RemainingArgs()
				continue
			}
			if sub == "allow_private_network" {
				h.AllowPrivateNetwork = true
				pos[sub] = []tokenPos{{d.File(), d.Line()}}
			} else {
				h.PreflightPassthrough = true
			}
		case "preflight_status":
			args := d.RemainingArgs()
			if len(args) != 1 {
				errorf("preflight_status takes one status code, e.g. preflight_status 204%s", extraArgs(args))
				continue
			}
			n, err := strconv.Atoi(args[0])
			if err != nil {
				errorf("preflight_status takes a status code, not %q: write e.g. preflight_status 204", args[0])
				continue
			}
			h.PreflightStatus = n
			pos["preflight_status"] = []tokenPos{{d.File(), d.Line()}}
		case "origin_source":
			pos["origin_sources"] = append(pos["origin_sources"], tokenPos{d.File(), d.Line()})
			if err := h.originSource(d); err != nil {
				errs = append(errs, err)
			}
		case "origin_cache":
			pos["origin_cache"] = []tokenPos{{d.File(), d.Line()}}
			h.originCacheBlock(d, errorf)
		default:
			errorf("unknown subdirective %q: %swrite one of %s", sub, didYouMean(sub), strings.Join(subdirectives, ", "))
			d.RemainingArgs()
		}
	}

	// The checks JSON configs get at load, run now so that `caddy adapt`
	// catches them too, each reported at the token at fault or, for those
	// that need several subdirectives to see, at the directive.
	_, problems, warnings := compile(h)
	at := func(p configProblem) tokenPos {
		if p.index >= 0 && p.index < len(pos[p.field]) {
			return pos[p.field][p.index]
		} else if ps := pos[p.field]; p.index < 0 && len(ps) == 1 {
			return ps[0]
		}
		return directive
	}
	for _, p := range problems {
		errs = append(errs, at(p).errorf("cors: %s: %s", p.field, p.msg))
	}
	if len(errs) == 0 {
		// Caddy's adapter gives a directive no way to return warnings, so
		// they are logged here, where the line is known.
		for _, w := range warnings {
			logAdaptWarning(w, at(w))
		}
	}
	return errors.Join(errs...)
}

// extraArgs names the arguments after the first, for the errors of
// single-valued subdirectives.
func extraArgs(args []string) string {
	if len(args) < 2 {
		return ""
	}
	return fmt.Sprintf(", not %q: remove %q", strings.Join(args, " "), strings.Join(args[1:], " "))
}

// adaptLogger is where adapt-time warnings go: Caddy's default logger, named
// after the module as every line the module logs is. It returns nil while
// `caddy run` buffers its start-up lines (until the config's logs are set
// up): the buffer replays each line's message and fields but drops its
// logger name, so a line logged then would reach no log that filters on the
// module's name (`log { include http.handlers.cors }`).
var adaptLogger = func() *zap.Logger {
	l := caddy.Log()
	if _, buffered := l.Core().(interface{ FlushTo(*zap.Logger) }); buffered {
		return nil
	}
	return l.Named("http.handlers.cors")
}

// adaptWarnings holds the warnings found while adapting, by field and
// message, until the adapted config loads in the same process (as under
// `caddy run`): each says where it stood in the Caddyfile and whether it was
// logged already.
var adaptWarnings = struct {
	sync.Mutex
	pending map[string][]adaptNote
}{pending: map[string][]adaptNote{}}

type adaptNote struct {
	at     tokenPos
	logged bool
}

// logAdaptWarning logs a warning found while adapting, at its place in the
// Caddyfile, or leaves it for Provision to log when the logger would lose
// the module's name (see adaptLogger).
func logAdaptWarning(w configProblem, at tokenPos) {
	logger := adaptLogger()
	if logger != nil {
		logger.Warn("cors: "+w.msg, zap.String("file", at.file), zap.Int("line", at.line))
	}
	adaptWarnings.Lock()
	defer adaptWarnings.Unlock()
	k := w.jsonString()
	adaptWarnings.pending[k] = append(adaptWarnings.pending[k], adaptNote{at, logger != nil})
}

// takeAdaptWarning reports whether w was found while adapting, and where.
// Each note is taken once, so a later load of the same config (a reload)
// logs its warnings as a JSON config's.
func takeAdaptWarning(w configProblem) (adaptNote, bool) {
	adaptWarnings.Lock()
	defer adaptWarnings.Unlock()
	k := w.jsonString()
	notes := adaptWarnings.pending[k]
	if len(notes) == 0 {
		return adaptNote{}, false
	}
	if len(notes) == 1 {
		delete(adaptWarnings.pending, k)
	} else {
		adaptWarnings.pending[k] = notes[1:]
	}
	return notes[0], true
}

var subdirectives = []string{
	"origins", "origin_regexp", "methods", "allowed_headers", "exposed_headers",
	"allow_credentials", "max_age", "allow_private_network", "preflight_passthrough", "preflight_status",
	"report_only", "origin_source", "origin_cache", "cross_origin_protection",
}

// didYouMean suggests the subdirective a typo most likely meant: other
// servers' spellings (max-age, allow-credentials) and singular forms.
func didYouMean(sub string) string {
	s := strings.ToLower(strings.ReplaceAll(sub, "-", "_"))
	for _, known := range subdirectives {
		if s == known || s+"s" == known || strings.TrimPrefix(s, "access_control_") == known ||
			s == strings.TrimPrefix(known, "allow_") {
			return "did you mean " + known + "? "
		}
	}
	return ""
}

// singleValued lists the subdirectives that may be given only once.
var singleValued = map[string]struct{}{
	"allow_credentials": {}, "max_age": {}, "preflight_status": {},
	"allow_private_network": {}, "preflight_passthrough": {}, "report_only": {},
	"cross_origin_protection": {},
}

var listExample = map[string]string{
	"origins":         "origins https://app.example.com https://*.example.com",
	"origin_regexp":   `origin_regexp ^https://[a-z0-9-]+\.example\.com$`,
	"methods":         "methods GET POST PUT DELETE",
	"allowed_headers": "allowed_headers Content-Type Authorization",
	"exposed_headers": "exposed_headers X-Request-Id",
}

// parseMaxAge reads a Caddy duration, or a bare number of seconds as
// Access-Control-Max-Age itself is written.
func parseMaxAge(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(365*24*time.Hour/time.Second) || n < -int64(365*24*time.Hour/time.Second) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	return caddy.ParseDuration(s)
}

// tokenPos is where a Caddyfile token stands, for errors found after
// parsing.
type tokenPos struct {
	file string
	line int
}

// errorf formats an error as caddyfile.Dispenser.Errf does.
func (p tokenPos) errorf(format string, args ...any) error {
	return fmt.Errorf("%s, at %s:%d", fmt.Sprintf(format, args...), p.file, p.line)
}
