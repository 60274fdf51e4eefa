package cors

import (
	"net/http"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/net/http/httpguts"
)

// Cross-origin protection refuses what CORS never governs: a browser sends a
// form POST, a no-cors fetch or a WebSocket handshake to any origin, with the
// user's cookies, and only reading the response is up to CORS. The policy
// already names the origins the site trusts, so the flag refuses those
// requests from every other origin (CSRF and cross-site WebSocket
// hijacking).
//
// Which requests are cross-origin is net/http's decision
// (http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host),
// asked, never reimplemented; which origins are trusted is the policy's
// (Handler.allowsOrigin). The CrossOriginProtection is given no trusted
// origins or bypass patterns of its own: it only ever answers "is this
// cross-origin".

// protectionKind tells which rule of the protection applies to a request.
type protectionKind uint8

const (
	protectNone      protectionKind = iota // a safe method, or a preflight
	protectWrite                           // a method other than GET, HEAD, OPTIONS
	protectWebSocket                       // a WebSocket handshake, on any HTTP version
)

// classify tells which rule applies to r. A WebSocket handshake is an
// HTTP/1.1 GET with Upgrade: websocket (browsers never let a script set
// Upgrade, so only a real handshake carries it), or an extended CONNECT
// (RFC 8441, RFC 9220) for the websocket protocol: net/http's HTTP/2 server
// passes the :protocol pseudo-header in the header map, quic-go's HTTP/3
// server in r.Proto, which is how Caddy's reverse_proxy tells them too.
func classify(r *http.Request) protectionKind {
	switch r.Method {
	case http.MethodGet:
		if up := r.Header["Upgrade"]; len(up) > 0 && httpguts.HeaderValuesContainsToken(up, "websocket") {
			return protectWebSocket
		}
		return protectNone
	case http.MethodHead, http.MethodOptions:
		return protectNone
	case http.MethodConnect:
		if p := r.Header[":protocol"]; len(p) == 1 && p[0] == "websocket" || r.ProtoMajor == 3 && r.Proto == "websocket" {
			return protectWebSocket
		}
	}
	return protectWrite
}

// crossOrigin asks net/http whether r, a request of the given kind, comes
// from another origin than its own.
func (p *policy) crossOrigin(r *http.Request, kind protectionKind) bool {
	if kind == protectWebSocket && r.Method == http.MethodGet {
		// Check passes every GET unexamined, since a safe method needs no
		// protection; a handshake is a GET that opens a two-way channel.
		// So it is asked about a shallow copy that differs only in its
		// method: the same Sec-Fetch-Site, Origin and Host, judged as an
		// unsafe request is. The copy is never served; it stays on the
		// stack, and only handshakes pay for copying it.
		probe := *r
		probe.Method = http.MethodPost
		return p.protect.Check(&probe) != nil
	}
	return p.protect.Check(r) != nil
}

// protectionCheck applies cross-origin protection to r, for which d holds
// the policy's decision, and reports whether it answered r with a refusal.
// In report-only mode it refuses nothing and reports what it would have
// refused.
func (h *Handler) protectionCheck(w http.ResponseWriter, r *http.Request, d *decision) (refused bool) {
	p := h.policy
	kind := classify(r)
	// A trusted origin passes whatever net/http would say, so it is not
	// asked: its fallback parses Origin (one allocation) when a request
	// has no Sec-Fetch-Site.
	if kind == protectNone || d.grantsOrigin() || !p.crossOrigin(r, kind) {
		return false
	}
	origin := r.Header.Get("Origin")
	dk := kindWrite
	if kind == protectWebSocket {
		dk = kindWebSocket
	}
	if p.reportOnly {
		p.reports.count(dk, diffRefusal)
		if p.reporter.allow(dk, origin, diffRefusal) {
			p.reporter.logger.Warn("cors report-only: cross-origin protection would refuse this request",
				zap.String("kind", dk.String()), zap.String("origin", truncate(origin)),
				zap.String("method", truncate(r.Method)), zap.String("difference", diffRefusal.String()))
		}
		return false
	}
	h.metrics.count(dk, resultOrigin)
	if h.logger != nil {
		if c := h.logger.Check(zapcore.DebugLevel, "refused cross-origin request"); c != nil {
			c.Write(
				zap.String("kind", dk.String()),
				zap.String("refused", resultOrigin.String()),
				zap.Strings("origin", truncated(r.Header["Origin"])),
				zap.String("method", truncate(r.Method)),
				zap.Strings("sec_fetch_site", truncated(r.Header["Sec-Fetch-Site"])),
			)
		}
	}
	// The refusal depends on Origin, so it carries the policy's Vary.
	d.enforce(w.Header())
	msg := "403 Forbidden: cross-origin request from an origin this site does not trust"
	if kind == protectWebSocket {
		msg = "403 Forbidden: cross-origin WebSocket handshake from an origin this site does not trust"
	}
	http.Error(w, msg, http.StatusForbidden)
	return true
}

// grantsOrigin tells whether the policy allowed the request's Origin: decide
// asked Handler.allowsOrigin once, and only an allowed origin is granted
// Access-Control-Allow-Origin. (A policy of any origin grants every request
// but cannot be combined with the protection.)
func (d *decision) grantsOrigin() bool {
	return d.sent&(1<<hAllowOrigin) != 0
}

// protection turns cross-origin protection on. With a policy of any origin
// it would trust every origin and so refuse nothing: that is an error.
func (c *compiler) protection(h *Handler) {
	if !h.CrossOriginProtection {
		return
	}
	if c.p.origins.any {
		c.errorf("cross_origin_protection", -1, "cross_origin_protection trusts the origins the policy allows, and origins allows any origin, so it would refuse nothing: list the origins the site trusts in origins (or origin_regexp), e.g. origins https://app.example.com, or remove cross_origin_protection")
		return
	}
	c.p.protect = http.NewCrossOriginProtection()
}
