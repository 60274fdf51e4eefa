package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-cors/cors/internal/fetch"
	"go.uber.org/zap"
)

// Report-only mode compares the response's own CORS headers with what the
// policy would send, judging each answer as a browser would, and reports
// where they differ.

// answer is the part of a response a browser's CORS check reads: the field
// lines of each owned header, in any spelling, and whether Vary names Origin.
type answer struct {
	lines [numOwned][]string
	vary  bool // Vary names Origin (or *)
	ok    bool // a preflight answer's status is an ok status; always, for others
}

func viewOf(hdr http.Header) (a answer) {
	for k, v := range hdr {
		if k == "Vary" || len(k) == len("Vary") && strings.EqualFold(k, "Vary") {
			a.vary = a.vary || fetch.ListContains(v, "Origin", true)
			continue
		}
		h, _ := ownedIndex(k)
		if h < 0 || len(v) == 0 {
			continue
		}
		if a.lines[h] == nil {
			a.lines[h] = v
		} else {
			// The same header in two spellings: both go out, as one list.
			a.lines[h] = append(slices.Clip(a.lines[h]), v...)
		}
	}
	return a
}

// value is the answer's header h as a browser's header map combines it.
func (a *answer) value(h int) string {
	if len(a.lines[h]) == 1 {
		return a.lines[h][0]
	}
	return strings.Join(a.lines[h], ", ")
}

// invalid tells whether no browser accepts the answer's origin grant.
func (a *answer) invalid() bool {
	o := a.lines[hAllowOrigin]
	return len(o) > 1 || len(o) == 1 && strings.Contains(o[0], ",") ||
		len(o) == 1 && o[0] == "*" && a.value(hAllowCredentials) == "true"
}

// grants is the Fetch CORS check of the answer for origin, with or without
// credentials, and for a preflight its ok-status check.
func (a *answer) grants(origin string, credentials bool) bool {
	if !a.ok || len(a.lines[hAllowOrigin]) != 1 {
		return false
	}
	o := a.lines[hAllowOrigin][0]
	if credentials {
		return o == origin && a.value(hAllowCredentials) == "true"
	}
	return o == "*" || o == origin
}

// refusedMethod tells whether a granted preflight answer refuses method.
func (a *answer) refusedMethod(method string, credentials bool) bool {
	var buf [16]string
	methods, ok := fetch.AppendTokenList(buf[:0], a.lines[hAllowMethods])
	return !ok || !fetch.MethodAllowed(methods, method, credentials)
}

// refusedHeader tells whether a granted preflight answer refuses the
// request header name.
func (a *answer) refusedHeader(name string, credentials bool) bool {
	var buf [16]string
	allowed, ok := fetch.AppendTokenList(buf[:0], a.lines[hAllowHeaders])
	_, refused := fetch.RefusedHeader(allowed, []string{name}, credentials)
	return !ok || refused
}

// exposes tells whether the script of a granted actual response reads the
// response header name.
func (a *answer) exposes(name string, credentials bool) bool {
	return fetch.IsSafelistedResponseHeader(name) ||
		fetch.ListContains(a.lines[hExposeHeaders], name, !credentials)
}

// maxAge is how many seconds a browser may cache a preflight answer: the
// header's value, or Fetch's default of 5 when it is absent or not a number.
func (a *answer) maxAge() int {
	if l := a.lines[hMaxAge]; len(l) == 1 {
		if n, err := strconv.Atoi(l[0]); err == nil && n >= 0 && l[0][0] != '+' {
			return n
		}
	}
	return 5
}

// difference is how a response's answer differs from the policy's.
type difference uint8

const (
	diffNone        difference = iota
	diffGrant                  // the response grants what the policy refuses
	diffRefusal                // the response refuses what the policy grants
	diffCredentials            // they grant the origin, but not both with credentials
	diffMethods                // a preflight: they differ on the requested method
	diffHeaders                // a preflight: they differ on a requested header
	diffMaxAge                 // a preflight: they let browsers cache it for different times
	diffExposed                // an actual response: they expose different headers
	diffVary                   // the response grants one origin without Vary: Origin
	diffInvalid                // no browser accepts the response's answer
	numDifferences
)

func (d difference) String() string {
	return [...]string{"none", "grant", "refusal", "credentials", "methods", "headers", "max_age", "exposed", "vary", "invalid"}[d]
}

// onlyFor tells which kind of request a difference can occur on, or
// numKinds for both.
func (d difference) onlyFor() decisionKind {
	switch d {
	case diffMethods, diffHeaders, diffMaxAge:
		return kindPreflight
	case diffExposed:
		return kindActual
	}
	return numKinds
}

// question is what report-only mode keeps of a request to judge the answers
// to it: its one Origin, and for a preflight what it asks for.
type question struct {
	kind    decisionKind
	origin  string
	method  string   // Access-Control-Request-Method
	headers []string // Access-Control-Request-Headers field lines
	status  int      // the status of the policy's preflight answer
}

// finding is a difference and the method or header it is about.
type finding struct {
	diff   difference
	detail string // the method, the request header or the response header
}

// judge compares the response's answer with the policy's for the request,
// as a browser judges each: first the origin grant without and with
// credentials, then, where both grant, a preflight's method, headers and
// max-age or an actual response's exposed headers; last Vary.
func judge(resp, pol *answer, rq *question, respHdr http.Header) finding {
	if resp.invalid() {
		return finding{diff: diffInvalid}
	}
	r, p := resp.grants(rq.origin, false), pol.grants(rq.origin, false)
	switch {
	case r && !p:
		return finding{diff: diffGrant}
	case !r && p:
		return finding{diff: diffRefusal}
	case !r:
		return finding{}
	}
	rc, pc := resp.grants(rq.origin, true), pol.grants(rq.origin, true)
	if rc != pc {
		return finding{diff: diffCredentials}
	}
	// Both grant; a request with credentials is judged with them.
	if rq.kind == kindPreflight {
		if f := judgePreflight(resp, pol, rq, rc); f.diff != diffNone {
			return f
		}
	} else if !slices.Equal(resp.lines[hExposeHeaders], pol.lines[hExposeHeaders]) {
		// (The same field lines expose the same headers.)
		for name := range respHdr {
			if resp.exposes(name, rc) != pol.exposes(name, rc) && exposable(name) {
				return finding{diffExposed, name}
			}
		}
		for _, line := range pol.lines[hExposeHeaders] {
			for rest := line; rest != ""; {
				var name string
				name, rest = fetch.NextElement(rest)
				if name != "" && name != "*" && resp.exposes(name, rc) != pol.exposes(name, rc) {
					return finding{diffExposed, name}
				}
			}
		}
	}
	if o := resp.lines[hAllowOrigin][0]; o != "*" && !resp.vary {
		return finding{diff: diffVary}
	}
	return finding{}
}

// exposable tells whether exposing the response header name could matter:
// a script never reads Set-Cookie, and needs none of the protocol's own.
func exposable(name string) bool {
	return !strings.EqualFold(name, "Set-Cookie") && !strings.EqualFold(name, "Set-Cookie2") &&
		(len(name) < len("access-control-") || !strings.EqualFold(name[:len("access-control-")], "access-control-"))
}

// judgePreflight compares what two preflight answers that both grant the
// origin let through. The same field lines judge the same, so most of an
// agreeing answer is never parsed.
func judgePreflight(resp, pol *answer, rq *question, credentials bool) finding {
	same := func(h int) bool { return slices.Equal(resp.lines[h], pol.lines[h]) }
	if !same(hAllowMethods) && resp.refusedMethod(rq.method, credentials) != pol.refusedMethod(rq.method, credentials) {
		return finding{diffMethods, rq.method}
	}
	for _, line := range rq.headers {
		if same(hAllowHeaders) {
			break
		}
		for rest := line; rest != ""; {
			var name string
			name, rest = fetch.NextElement(rest)
			if name != "" && resp.refusedHeader(name, credentials) != pol.refusedHeader(name, credentials) {
				return finding{diffHeaders, name}
			}
		}
	}
	if !same(hMaxAge) && !resp.refusedMethod(rq.method, credentials) && resp.maxAge() != pol.maxAge() {
		return finding{diff: diffMaxAge}
	}
	return finding{}
}

// describe says in words what an answer does about the finding. The
// policy refuses an answer only for its origin (or a hostile preflight), and
// says so.
func describe(a *answer, rq *question, f finding, policy bool) string {
	switch {
	case a.invalid():
		return "is invalid (" + quoted(a, hAllowOrigin) + quotedIf(a, hAllowCredentials) + ")"
	case policy && !a.grants(rq.origin, false):
		return "refuses: origin not allowed"
	case !a.ok:
		return "refuses: status not ok"
	}
	credentials := a.grants(rq.origin, true)
	switch f.diff {
	case diffMethods:
		if a.refusedMethod(f.detail, credentials) {
			return "refuses method " + f.detail + " (" + quoted(a, hAllowMethods) + ")"
		}
		return "allows method " + f.detail + " (" + quoted(a, hAllowMethods) + ")"
	case diffHeaders:
		if a.refusedHeader(f.detail, credentials) {
			return "refuses header " + f.detail + " (" + quoted(a, hAllowHeaders) + ")"
		}
		return "allows header " + f.detail + " (" + quoted(a, hAllowHeaders) + ")"
	case diffMaxAge:
		return "lets browsers cache the preflight " + strconv.Itoa(a.maxAge()) + " s (" + quoted(a, hMaxAge) + ")"
	case diffExposed:
		if a.exposes(f.detail, credentials) {
			return "exposes " + f.detail + " (" + quoted(a, hExposeHeaders) + ")"
		}
		return "hides " + f.detail + " (" + quoted(a, hExposeHeaders) + ")"
	case diffVary:
		if !a.vary {
			return "grants one origin without Vary: Origin, so a shared cache may serve it to another (" + quoted(a, hAllowOrigin) + ")"
		}
		return "grants with Vary: Origin (" + quoted(a, hAllowOrigin) + ")"
	}
	switch {
	case credentials:
		return "grants with credentials (" + quoted(a, hAllowOrigin) + ", " + quoted(a, hAllowCredentials) + ")"
	case a.grants(rq.origin, false):
		return "grants (" + quoted(a, hAllowOrigin) + quotedIf(a, hAllowCredentials) + ")"
	case len(a.lines[hAllowOrigin]) == 0:
		return "refuses: no Access-Control-Allow-Origin"
	}
	return "refuses (" + quoted(a, hAllowOrigin) + ")"
}

// quoted shows header h as the answer sends it.
func quoted(a *answer, h int) string {
	if len(a.lines[h]) == 0 {
		return "no " + ownedHeaders[h]
	}
	return ownedHeaders[h] + ": " + a.value(h)
}

// quotedIf shows header h after a comma, if the answer sends it.
func quotedIf(a *answer, h int) string {
	if len(a.lines[h]) == 0 {
		return ""
	}
	return ", " + quoted(a, h)
}

// reporter logs each distinct disagreement at most once a minute.
type reporter struct {
	logger *zap.Logger
	now    func() time.Time

	mu     sync.Mutex
	window time.Time
	seen   map[limitKey]struct{}
}

type limitKey struct {
	kind   decisionKind
	diff   difference
	origin string
}

const maxReportKeys = 1024

// allow tells whether the disagreement is the first of its kind this
// minute; it allocates nothing for one already seen.
func (rp *reporter) allow(kind decisionKind, origin string, diff difference) bool {
	if rp == nil || rp.logger == nil {
		return false
	}
	key := limitKey{kind, diff, truncate(origin)}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if t := rp.now(); rp.seen == nil || t.Sub(rp.window) >= time.Minute {
		rp.window, rp.seen = t, make(map[limitKey]struct{})
	}
	if _, dup := rp.seen[key]; dup || len(rp.seen) >= maxReportKeys {
		return false
	}
	rp.seen[key] = struct{}{}
	return true
}

// report logs the finding unless the same difference was logged for the
// origin this minute.
func (rp *reporter) report(rq *question, f finding, resp, pol *answer) {
	if !rp.allow(rq.kind, rq.origin, f.diff) {
		return
	}
	fields := []zap.Field{
		zap.String("kind", rq.kind.String()), zap.String("origin", truncate(rq.origin)),
		zap.String("difference", f.diff.String()),
	}
	switch f.diff {
	case diffMethods:
		fields = append(fields, zap.String("method", truncate(f.detail)))
	case diffHeaders:
		fields = append(fields, zap.String("header", truncate(f.detail)))
	case diffExposed:
		fields = append(fields, zap.String("response_header", truncate(f.detail)))
	}
	fields = append(fields,
		zap.String("response", truncate(describe(resp, rq, f, false))),
		zap.String("policy", truncate(describe(pol, rq, f, true))))
	rp.logger.Warn("cors report-only: response differs from policy", fields...)
}

// compare judges the response header hdr, sent with status, against the
// decision for the request rq, and reports a difference.
func (d *decision) compare(rq *question, hdr http.Header, status int) {
	resp := viewOf(hdr)
	var pol answer
	var vals [numOwned]string
	for h := range numOwned {
		if d.sent&(1<<h) != 0 {
			vals[h] = d.value(h)
			pol.lines[h] = vals[h : h+1 : h+1]
		}
	}
	pol.vary, resp.ok, pol.ok = true, true, true
	if rq.kind == kindPreflight {
		resp.ok, pol.ok = status >= 200 && status <= 299, rq.status >= 200 && rq.status <= 299
	}
	f := judge(&resp, &pol, rq, hdr)
	if f.diff == diffNone {
		return
	}
	d.p.reports.count(rq.kind, f.diff)
	d.p.reporter.report(rq, f, &resp, &pol)
}
