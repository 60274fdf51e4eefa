package cors

import (
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ServeHTTP decides what the request's Origin may do, answers preflights, and
// passes every other request on with the CORS headers already in place. The
// headers go into the response header map before the next handler runs, so
// they are on every response, including the errors Caddy writes itself when
// a later handler fails; the wrapped writer then puts them back if a later
// handler or an upstream replaced them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := h.policy
	cw := &corsWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		// Not a CORS request. A policy of any origin still answers it with
		// its fixed headers, so that a shared cache never keeps a copy
		// without them; any other policy varies on Origin.
		if p.origins.any {
			cw.allowOrigin(p, "")
			cw.exposeHeaders(p)
		}
		cw.vary = &p.varyActual
		return cw.serve(next, r)
	}
	allowed := len(origin) == 1 && p.origins.match(origin[0])
	if r.Method == http.MethodOptions {
		if acrm := r.Header["Access-Control-Request-Method"]; len(acrm) > 1 || len(acrm) == 1 && acrm[0] != "" {
			return h.preflight(cw, r, next, origin, allowed, acrm)
		}
	}
	cw.vary = &p.varyActual
	if allowed {
		cw.allowOrigin(p, origin[0])
		cw.exposeHeaders(p)
		h.metrics.count(kindActual, resultAllowed)
	} else {
		h.refused(kindActual, resultOrigin, origin, "")
	}
	return cw.serve(next, r)
}

// preflight answers a CORS-preflight request (or, with preflight_passthrough,
// passes it on). An origin the policy refuses gets a bare 403. An allowed
// origin asking for a method or header the policy refuses gets an ok status
// with the lists the policy does allow, never a wildcard, so that the
// browser's console names exactly what was refused.
func (h *Handler) preflight(cw *corsWriter, r *http.Request, next caddyhttp.Handler, origin []string, allowed bool, acrm []string) error {
	p := h.policy
	cw.vary = &p.varyPreflight
	if !allowed {
		h.refused(kindPreflight, resultOrigin, origin, "")
		if p.passthrough {
			return cw.serve(next, r)
		}
		cw.apply(cw.Header())
		cw.ResponseWriter.WriteHeader(http.StatusForbidden)
		return nil
	}
	cw.allowOrigin(p, origin[0])
	method := acrm[0]
	methodOK := len(acrm) == 1 && p.methods.allows(method)
	acrh := r.Header["Access-Control-Request-Headers"]
	requested, refusedName, headersOK := p.headers.check(acrh)

	if methodOK && headersOK {
		if p.allowMethods != "" {
			cw.add(hAllowMethods, p.allowMethods)
		} else {
			cw.add(hAllowMethods, method)
		}
		if requested {
			if p.allowHeaders != "" {
				cw.add(hAllowHeaders, p.allowHeaders)
			} else {
				cw.addAllowedNames(&p.headers, acrh)
			}
		}
		if p.maxAge != "" {
			cw.add(hMaxAge, p.maxAge)
		}
		if p.privateNetwork {
			if pna := r.Header["Access-Control-Request-Private-Network"]; len(pna) == 1 && pna[0] == "true" {
				cw.add(hAllowPrivateNetwork, "true")
			}
		}
		h.metrics.count(kindPreflight, resultAllowed)
	} else {
		switch {
		case !p.methods.any:
			cw.add(hAllowMethods, p.allowMethods)
		case methodOK:
			cw.add(hAllowMethods, method)
		}
		switch {
		case !p.headers.any:
			cw.add(hAllowHeaders, p.allowHeaders)
		case requested:
			cw.addAllowedNames(&p.headers, acrh)
		}
		if !methodOK {
			h.refused(kindPreflight, resultMethod, origin, method)
		} else {
			h.refused(kindPreflight, resultHeader, origin, refusedName)
		}
	}
	if p.passthrough {
		return cw.serve(next, r)
	}
	cw.apply(cw.Header())
	cw.ResponseWriter.WriteHeader(p.status)
	return nil
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

// corsWriter carries one response's CORS decision and enforces it when the
// response header is written. It is the request's only allocation: the
// header values it puts into the response live in its own arrays, never in a
// slice shared with other requests, which a later handler could modify.
type corsWriter struct {
	caddyhttp.ResponseWriterWrapper

	// want holds the decided values; span[h] says which belong to owned
	// header h. out holds the copies handed to the header map, which a later
	// handler may change in place without changing the decision.
	want []string
	out  []string
	span [numOwned]struct{ start, end uint8 }
	vary *varyList

	wroteHeader bool
	wantArr     [8]string
	outArr      [10]string
}

// add appends a value of owned header h; values of one header are added
// consecutively.
func (cw *corsWriter) add(h int, v string) {
	if cw.want == nil {
		cw.want = cw.wantArr[:0]
	}
	if len(cw.want) >= 255 {
		return // more names than any answer needs; the rest are left out
	}
	s := &cw.span[h]
	if s.end == 0 || int(s.end) != len(cw.want) {
		s.start = uint8(len(cw.want))
	}
	cw.want = append(cw.want, v)
	s.end = uint8(len(cw.want))
}

// allowOrigin adds the headers of an allowed origin: the origin itself (or *
// for a policy of any origin) and credentials.
func (cw *corsWriter) allowOrigin(p *policy, origin string) {
	if p.origins.any {
		cw.add(hAllowOrigin, "*")
	} else {
		cw.add(hAllowOrigin, origin)
	}
	if p.credentials {
		cw.add(hAllowCredentials, "true")
	}
}

// exposeHeaders lets the script read the configured response headers; only
// actual responses need it.
func (cw *corsWriter) exposeHeaders(p *policy) {
	if p.exposeHeaders != "" {
		cw.add(hExposeHeaders, p.exposeHeaders)
	}
}

// addAllowedNames lists the requested header names the policy allows, one
// value each, for answers that must name headers literally.
func (cw *corsWriter) addAllowedNames(s *headerSet, lines []string) {
	start := len(cw.want)
	if cw.want == nil {
		cw.want = cw.wantArr[:0]
	}
	cw.want = s.allowedNames(cw.want, lines)
	if len(cw.want) > 255 {
		cw.want = cw.want[:255]
	}
	if len(cw.want) > start {
		cw.span[hAllowHeaders] = struct{ start, end uint8 }{uint8(start), uint8(len(cw.want))}
	}
}

// apply puts the decision into hdr: the owned headers as decided, the others
// removed, and Vary merged.
func (cw *corsWriter) apply(hdr http.Header) {
	if len(cw.want) > 0 {
		if cap(cw.outArr) >= len(cw.want) {
			cw.out = cw.outArr[:len(cw.want)]
		} else {
			cw.out = make([]string, len(cw.want))
		}
		copy(cw.out, cw.want)
	}
	cw.enforce(hdr)
}

// enforce restores the decision in hdr after other handlers had their turn,
// touching only what they changed. It walks the header map once rather than
// looking up each owned name: the names share a long prefix, which makes
// each lookup of a small map hash the key.
func (cw *corsWriter) enforce(hdr http.Header) {
	var seen uint8
	for k, got := range hdr {
		h, canonical := ownedIndex(k)
		if h < 0 {
			continue
		}
		s := cw.span[h]
		if s.end == 0 || !canonical {
			delete(hdr, k)
			continue
		}
		seen |= 1 << h
		if !equalValues(got, cw.want[s.start:s.end]) {
			cw.restore(hdr, h)
		}
	}
	for h := range numOwned {
		if cw.span[h].end != 0 && seen&(1<<h) == 0 {
			cw.restore(hdr, h)
		}
	}
	cw.mergeVary(hdr)
}

// restore sets owned header h to its decided values, from fresh copies in
// case a later handler changed the old ones in place.
func (cw *corsWriter) restore(hdr http.Header, h int) {
	s := cw.span[h]
	copy(cw.out[s.start:s.end], cw.want[s.start:s.end])
	hdr[ownedHeaders[h]] = cw.out[s.start:s.end:s.end]
}

// ownedIndex tells which owned header k names, in any case, and whether k
// is spelled canonically (the other spellings go out on the wire too).
func ownedIndex(k string) (h int, canonical bool) {
	const prefix = "Access-Control-"
	if len(k) <= len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
		return -1, false
	}
	for h, name := range ownedHeaders {
		if len(name) == len(k) && strings.EqualFold(name[len(prefix):], k[len(prefix):]) {
			return h, k == name
		}
	}
	return -1, false
}

func (cw *corsWriter) mergeVary(hdr http.Header) {
	if cw.vary == nil || len(cw.vary.tokens) == 0 {
		return
	}
	slot := cw.outArr[len(cw.outArr)-1:]
	if len(cw.want) >= len(cw.outArr) {
		slot = nil
	}
	cw.vary.merge(hdr, slot)
}

func equalValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// serve puts the headers in place and calls the next handler.
func (cw *corsWriter) serve(next caddyhttp.Handler, r *http.Request) error {
	cw.apply(cw.Header())
	return next.ServeHTTP(cw, r)
}

// WriteHeader enforces the CORS decision on the final header. Informational
// responses are enforced too (a 103 Early Hints goes to the browser), but do
// not end the handler's turn.
func (cw *corsWriter) WriteHeader(status int) {
	if !cw.wroteHeader {
		cw.enforce(cw.Header())
		cw.wroteHeader = status >= 200 || status == http.StatusSwitchingProtocols
	}
	cw.ResponseWriter.WriteHeader(status)
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
