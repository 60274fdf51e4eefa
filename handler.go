package cors

import (
	"context"
	"io"
	"math/bits"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ServeHTTP decides what the request's Origin may do, answers preflights, and
// passes every other request on. The decision goes into the response header
// map when the response leaves, by whatever path (see serve), so it is on
// every response, including the errors Caddy writes itself when a later
// handler fails, and it replaces whatever a later handler or an upstream set
// in its place.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := h.policy
	d := decision{p: p, vary: &p.varyActual}
	status := h.decide(&d, r)
	if p.protect != nil && h.protectionCheck(w, r, &d) {
		return nil
	}
	if p.reportOnly {
		// Report-only changes nothing: the response, preflight or not, is
		// the next handler's alone; the writer compares it with d.
		o := r.Header["Origin"]
		if len(o) != 1 {
			return next.ServeHTTP(w, r)
		}
		q := question{kind: kindActual, origin: o[0]}
		if status != 0 {
			q.kind, q.status = kindPreflight, status
			q.method = r.Header["Access-Control-Request-Method"][0] // decide saw it
			q.headers = r.Header["Access-Control-Request-Headers"]
		}
		return d.serve(w, r, next, &q)
	}
	if status == 0 || p.passthrough {
		return d.serve(w, r, next, nil)
	}
	d.enforce(w.Header())
	w.WriteHeader(status)
	return nil
}

// decide puts into d the module's decision for r, counts it and logs a
// refusal. For a preflight it returns the status of the module's answer;
// for any other request, 0.
func (h *Handler) decide(d *decision, r *http.Request) (preflightStatus int) {
	p := h.policy
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		// Not a CORS request. A policy of any origin still answers it with
		// its fixed headers, so that a shared cache never keeps a copy
		// without them; any other policy varies on Origin.
		if p.origins.any {
			d.allowOrigin("")
			d.exposeHeaders()
		}
		return 0
	}
	allowed := len(origin) == 1 && h.allowsOrigin(r, origin[0])
	if r.Method == http.MethodOptions {
		if acrm := r.Header["Access-Control-Request-Method"]; len(acrm) > 1 || len(acrm) == 1 && acrm[0] != "" {
			return h.preflight(d, r, origin, allowed, acrm)
		}
	}
	if allowed {
		d.allowOrigin(origin[0])
		d.exposeHeaders()
		h.metrics.count(kindActual, resultAllowed)
	} else {
		h.refused(kindActual, resultOrigin, origin, "")
	}
	return 0
}

// allowsOrigin reports whether the policy allows origin, the value of r's
// single Origin header. Every trust decision of the module goes through it.
// The static origins and regexps come first: an origin they allow never
// causes a lookup.
func (h *Handler) allowsOrigin(r *http.Request, origin string) bool {
	if h.sources != nil {
		return h.sources.allowsOrigin(r.Context(), &h.policy.origins, origin, r.Host)
	}
	allowed, _ := h.policy.origins.matchOrigin(origin)
	return allowed
}

// preflight decides a CORS-preflight request. An origin the policy refuses
// gets a bare 403, and so does a preflight beyond one of the module's bounds.
// An allowed origin asking for a method or header the policy refuses gets an
// ok status with the lists the policy does allow, never a wildcard, so that
// the browser's console names exactly what was refused; those lists never
// cover the refused request.
func (h *Handler) preflight(d *decision, r *http.Request, origin []string, allowed bool, acrm []string) (status int) {
	p := h.policy
	d.vary = &p.varyPreflight
	if !allowed {
		h.refused(kindPreflight, resultOrigin, origin, "")
		return http.StatusForbidden
	}
	acrh := r.Header["Access-Control-Request-Headers"]
	if b, limit, got := p.exceeds(acrm, acrh); b != withinBounds {
		h.overBound(origin, b, limit, got)
		return http.StatusForbidden
	}
	d.allowOrigin(origin[0])
	method := acrm[0]
	methodOK := p.methods.allows(method)
	requested, refusedName, headersOK := p.headers.check(acrh)

	if methodOK && headersOK {
		d.send(hAllowMethods)
		if p.allowMethods == "" {
			d.method = method
		}
		if requested {
			if p.allowHeaders == "" {
				d.listAllowedNames(acrh)
			} else {
				d.send(hAllowHeaders)
			}
		}
		if p.maxAge != "" {
			d.send(hMaxAge)
		}
		if p.privateNetwork {
			if pna := r.Header["Access-Control-Request-Private-Network"]; len(pna) == 1 && pna[0] == "true" {
				d.send(hAllowPrivateNetwork)
			}
		}
		h.metrics.count(kindPreflight, resultAllowed)
		return p.status
	}
	switch {
	case !p.methods.any:
		d.send(hAllowMethods)
	case methodOK:
		d.send(hAllowMethods)
		d.method = method
	}
	switch {
	case !p.headers.any:
		d.send(hAllowHeaders)
	case requested:
		d.listAllowedNames(acrh)
	}
	if !methodOK {
		h.refused(kindPreflight, resultMethod, origin, method)
	} else {
		h.refused(kindPreflight, resultHeader, origin, refusedName)
	}
	return p.status
}

// overBound counts a preflight beyond a bound as refused and logs, at debug
// level only, which bound it exceeded and by how much.
func (h *Handler) overBound(origin []string, b bound, limit, got int) {
	h.metrics.count(kindPreflight, resultBound)
	if h.logger == nil {
		return
	}
	if c := h.logger.Check(zapcore.DebugLevel, "refused CORS request"); c != nil {
		c.Write(
			zap.String("kind", kindPreflight.String()),
			zap.String("refused", resultBound.String()),
			zap.Strings("origin", truncated(origin)),
			zap.String("bound", b.String()),
			zap.Int("limit", limit),
			zap.Int("got", got),
		)
	}
}

// refused counts a refusal and logs why, at debug level only: the check
// costs nothing when debug logging is off.
func (h *Handler) refused(kind decisionKind, result decisionResult, origin []string, detail string) {
	h.metrics.count(kind, result)
	if h.logger == nil {
		return
	}
	if c := h.logger.Check(zapcore.DebugLevel, "refused CORS request"); c != nil {
		fields := []zap.Field{
			zap.String("kind", kind.String()),
			zap.String("refused", result.String()),
			zap.Strings("origin", truncated(origin)),
		}
		if detail != "" {
			fields = append(fields, zap.String(result.String(), truncate(detail)))
		}
		c.Write(fields...)
	}
}

// truncate keeps hostile values from flooding the log.
func truncate(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func truncated(list []string) []string {
	const max = 4
	out := make([]string, 0, min(len(list), max))
	for _, s := range list[:min(len(list), max)] {
		out = append(out, truncate(s))
	}
	return out
}

// The response headers the module owns: it decides them alone.
const (
	hAllowOrigin = iota
	hAllowCredentials
	hAllowMethods
	hAllowHeaders
	hAllowPrivateNetwork
	hExposeHeaders
	hMaxAge
	numOwned
)

var ownedHeaders = [numOwned]string{
	hAllowOrigin:         "Access-Control-Allow-Origin",
	hAllowCredentials:    "Access-Control-Allow-Credentials",
	hAllowMethods:        "Access-Control-Allow-Methods",
	hAllowHeaders:        "Access-Control-Allow-Headers",
	hAllowPrivateNetwork: "Access-Control-Allow-Private-Network",
	hExposeHeaders:       "Access-Control-Expose-Headers",
	hMaxAge:              "Access-Control-Max-Age",
}

// decision is what the module decided for one response: which owned headers
// it sends, and the values that are not the policy's own. Its header values
// live in out, one slice allocated for the request and never shared with
// other requests (a later handler could modify a shared one): that slice is
// the request's only allocation.
type decision struct {
	p    *policy
	vary *responseVary

	sent   uint8  // bit h: owned header h is sent
	origin string // Access-Control-Allow-Origin
	method string // Access-Control-Allow-Methods, when the policy cannot name its methods
	names  string // Access-Control-Allow-Headers, when the policy cannot name its headers

	// out holds the values handed to the header map: one per header sent,
	// in the order of ownedHeaders, then the Vary field lines (the
	// response's own among them, when it had a Vary). A later handler may
	// change them in place; the decision above stays as it was.
	out []string
}

func (d *decision) send(h int) { d.sent |= 1 << h }

// value is the decided value of owned header h.
func (d *decision) value(h int) string {
	switch h {
	case hAllowOrigin:
		return d.origin
	case hAllowCredentials, hAllowPrivateNetwork:
		return "true"
	case hAllowMethods:
		if d.method != "" {
			return d.method
		}
		return d.p.allowMethods
	case hAllowHeaders:
		if d.names != "" {
			return d.names
		}
		return d.p.allowHeaders
	case hExposeHeaders:
		return d.p.exposeHeaders
	case hMaxAge:
		return d.p.maxAge
	}
	return ""
}

// allowOrigin decides the headers of an allowed origin: the origin itself
// (or * for a policy of any origin) and credentials.
func (d *decision) allowOrigin(origin string) {
	d.send(hAllowOrigin)
	d.origin = origin
	if d.p.origins.any {
		d.origin = "*"
	}
	if d.p.credentials {
		d.send(hAllowCredentials)
	}
}

// exposeHeaders lets the script read the configured response headers; only
// actual responses need it.
func (d *decision) exposeHeaders() {
	if d.p.exposeHeaders != "" {
		d.send(hExposeHeaders)
	}
}

// listAllowedNames names the requested headers the policy allows, for
// answers that must name headers literally. It allocates, but only policies
// allowing any header with credentials, or refusing Authorization under a
// wildcard, come here.
func (d *decision) listAllowedNames(lines []string) {
	var b strings.Builder
	for _, name := range d.p.headers.allowedNames(nil, lines) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
	}
	if b.Len() > 0 {
		d.names = b.String()
		d.send(hAllowHeaders)
	}
}

// enforce puts the decision into hdr: the owned headers as decided, every
// other spelling or value of them removed, and Vary merged. It runs when the
// response header is written, or when the response leaves another way, so
// that whatever the other handlers set, before or after the module, the
// decision is what goes out.
//
// Another spelling of an owned name can only be found by looking at every
// key, so enforce walks the header map once (not at all when it is empty).
// A real response carries a dozen keys or more, few of them as long as an
// owned name and fewer still starting with an A: ownedLengths and the first
// byte reject them before any comparison, and only the few candidates left
// are looked at.
func (d *decision) enforce(hdr http.Header) {
	vary := hdr["Vary"]
	var varyOut []string
	if d.out == nil {
		// The request's one allocation: the owned values, then the Vary
		// field lines merging writes, so that merging allocates nothing.
		owned := bits.OnesCount8(d.sent)
		d.out = make([]string, owned+d.vary.slots(vary))
		varyOut = d.out[owned:]
	} else if n := d.vary.slots(vary); n > 0 {
		// Enforced again, after an informational response: the slots of
		// the last merge may be in the map; vary on fresh ones.
		varyOut = make([]string, n)
	}
	var seen uint8
	if len(hdr) > 0 {
		for k := range hdr {
			if ownedLengths>>len(k)&1 == 0 || k[0]|0x20 != 'a' {
				continue
			}
			h, canonical := ownedIndex(k)
			if h < 0 {
				continue
			}
			if d.sent&(1<<h) == 0 || !canonical {
				delete(hdr, k)
				continue
			}
			seen |= 1 << h
			if got := hdr[k]; len(got) != 1 || got[0] != d.value(h) {
				d.put(hdr, h)
			}
		}
	}
	for missing := d.sent &^ seen; missing != 0; missing &= missing - 1 {
		d.put(hdr, bits.TrailingZeros8(missing))
	}
	if len(varyOut) > 0 {
		hdr["Vary"] = d.vary.merge(vary, varyOut)
	}
}

// ownedLengths has bit n set when an owned header name is n bytes long.
const ownedLengths uint64 = 1<<len("Access-Control-Allow-Origin") |
	1<<len("Access-Control-Allow-Credentials") |
	1<<len("Access-Control-Allow-Methods") |
	1<<len("Access-Control-Allow-Headers") |
	1<<len("Access-Control-Allow-Private-Network") |
	1<<len("Access-Control-Expose-Headers") |
	1<<len("Access-Control-Max-Age")

// put sets owned header h to its decided value, in the request's own storage.
func (d *decision) put(hdr http.Header, h int) {
	i := bits.OnesCount8(d.sent & (1<<h - 1))
	d.out[i] = d.value(h)
	hdr[ownedHeaders[h]] = d.out[i : i+1 : i+1]
}

// ownedIndex tells which owned header k names, in any case, and whether k
// is spelled canonically (the other spellings go out on the wire too).
func ownedIndex(k string) (h int, canonical bool) {
	switch k {
	case "Access-Control-Allow-Origin":
		return hAllowOrigin, true
	case "Access-Control-Allow-Credentials":
		return hAllowCredentials, true
	case "Access-Control-Allow-Methods":
		return hAllowMethods, true
	case "Access-Control-Allow-Headers":
		return hAllowHeaders, true
	case "Access-Control-Allow-Private-Network":
		return hAllowPrivateNetwork, true
	case "Access-Control-Expose-Headers":
		return hExposeHeaders, true
	case "Access-Control-Max-Age":
		return hMaxAge, true
	}
	if ownedLengths>>len(k)&1 == 0 || k[0]|0x20 != 'a' {
		return -1, false
	}
	for h, name := range ownedHeaders {
		if strings.EqualFold(name, k) {
			return h, false
		}
	}
	return -1, false
}

// serve calls the next handler with a writer that enforces the decision when
// the response header is written. A response can also leave without passing
// through that writer: a handler that returns without writing (net/http then
// sends the header map as it is), one that returns an error (Caddy writes the
// error response itself, with the writer it holds, from the same header map),
// or one that panics (whatever recovers writes the map). So serve enforces
// the decision on the way out too, unless the response has already gone
// through the writer.
//
// The writer is pooled: like any ResponseWriter it is not used once
// ServeHTTP returns, and the values in the header map belong to the
// decision, not to the writer.
func (d *decision) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, q *question) error {
	cw := writerPool.Get().(*corsWriter)
	cw.ResponseWriter, cw.d = w, *d
	if q != nil {
		cw.q = *q // in the pooled writer: report-only allocates nothing more
		cw.ctx = r.Context()
	}
	returned := false
	defer func() {
		if !returned {
			// A panic unwinds through here; the writer is not pooled
			// again, since whoever recovers may still hold it.
			cw.settle()
		}
	}()
	err := next.ServeHTTP(cw, r)
	returned = true
	if !cw.wroteHeader && d.p.reportOnly {
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			if he, ok := err.(caddyhttp.HandlerError); ok && he.StatusCode != 0 {
				status = he.StatusCode
			}
		}
		cw.final(status)
	}
	cw.settle()
	*cw = corsWriter{}
	writerPool.Put(cw)
	return err
}

var writerPool = sync.Pool{New: func() any { return new(corsWriter) }}

// corsWriter enforces a decision when the response header is written.
type corsWriter struct {
	caddyhttp.ResponseWriterWrapper
	d           decision
	q           question        // in report-only mode, what the answers are judged against
	ctx         context.Context // in report-only mode, the request's: done once its client is gone
	wroteHeader bool
}

// WriteHeader enforces the CORS decision on the final header. Informational
// responses are enforced too (a 103 Early Hints goes to the browser), but do
// not end the handler's turn.
func (cw *corsWriter) WriteHeader(status int) {
	if !cw.wroteHeader {
		final := status >= 200 || status == http.StatusSwitchingProtocols
		if !cw.d.p.reportOnly {
			cw.d.enforce(cw.Header())
		} else if final {
			cw.final(status)
		}
		cw.wroteHeader = final
	}
	cw.ResponseWriter.WriteHeader(status)
}

// final is the moment the header becomes final in report-only mode: it
// compares the response with the decision, once. An answer written after the
// client went away (Caddy's 499 for an abandoned request, or an error for the
// cancelled context) reaches nobody and says nothing of the application's
// CORS: it is not judged.
func (cw *corsWriter) final(status int) {
	cw.wroteHeader = true
	if cw.ctx.Err() != nil {
		return
	}
	cw.d.compare(&cw.q, cw.Header(), status)
}

// settle enforces the decision on a response that did not go through
// WriteHeader, for whoever writes it instead.
func (cw *corsWriter) settle() {
	if !cw.wroteHeader && !cw.d.p.reportOnly {
		cw.d.enforce(cw.Header())
	}
}

func (cw *corsWriter) Write(b []byte) (int, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriter.Write(b)
}

// ReadFrom keeps the fast path of the underlying writer (sendfile) without
// letting it write the header behind the module's back.
func (cw *corsWriter) ReadFrom(r io.Reader) (int64, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriterWrapper.ReadFrom(r)
}

// FlushError lets http.ResponseController flush through the wrapper, after
// the header has been enforced.
func (cw *corsWriter) FlushError() error {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(cw.ResponseWriter).Flush()
}

// Interface guards
var (
	_ http.ResponseWriter = (*corsWriter)(nil)
	_ io.ReaderFrom       = (*corsWriter)(nil)
)
