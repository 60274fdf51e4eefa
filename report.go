package cors

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Report-only mode compares the response's own CORS headers with what the
// policy would send, judging each answer as a browser would, and reports
// where they differ.

// answer is the part of a response a browser's CORS check reads: the first
// value and the line count of each owned header, in any spelling.
type answer struct {
	val   [numOwned]string
	lines [numOwned]uint8
	vary  bool // Vary names Origin (or *)
}

func viewOf(hdr http.Header) (a answer) {
	for k, v := range hdr {
		if strings.EqualFold(k, "Vary") {
			for _, line := range v {
				for tok := range strings.SplitSeq(line, ",") {
					tok = strings.TrimSpace(tok)
					if tok == "*" || strings.EqualFold(tok, "Origin") {
						a.vary = true
					}
				}
			}
			continue
		}
		h, _ := ownedIndex(k)
		if h < 0 || len(v) == 0 {
			continue
		}
		if a.lines[h] == 0 {
			a.val[h] = v[0]
		}
		a.lines[h] += uint8(min(len(v), 255-int(a.lines[h])))
	}
	return a
}

// invalid tells whether no browser accepts the answer's origin grant.
func (a *answer) invalid() bool {
	o := a.val[hAllowOrigin]
	return a.lines[hAllowOrigin] > 1 || strings.Contains(o, ",") ||
		o == "*" && a.lines[hAllowCredentials] == 1 && a.val[hAllowCredentials] == "true"
}

// grants is the Fetch CORS check of the answer for origin, with or without
// credentials.
func (a *answer) grants(origin string, credentials bool) bool {
	if a.lines[hAllowOrigin] != 1 {
		return false
	}
	o := a.val[hAllowOrigin]
	if credentials {
		return o == origin && a.lines[hAllowCredentials] == 1 && a.val[hAllowCredentials] == "true"
	}
	return o == "*" || o == origin
}

// difference is how a response's answer differs from the policy's.
type difference uint8

const (
	diffNone difference = iota
	diffGrant
	diffRefusal
	diffCredentials
	diffVary
	diffInvalid
	numDifferences
)

func (d difference) String() string {
	return [...]string{"none", "grant", "refusal", "credentials", "vary", "invalid"}[d]
}

// judge compares the response's answer with the policy's for origin;
// okStatus tells whether a preflight's status would pass.
func judge(resp, pol *answer, origin string, respOK, polOK bool) difference {
	if resp.invalid() {
		return diffInvalid
	}
	r, p := respOK && resp.grants(origin, false), polOK && pol.grants(origin, false)
	switch {
	case r && !p:
		return diffGrant
	case !r && p:
		return diffRefusal
	}
	if respOK && resp.grants(origin, true) != (polOK && pol.grants(origin, true)) {
		return diffCredentials
	}
	if resp.lines[hAllowOrigin] == 1 && resp.val[hAllowOrigin] != "*" && !resp.vary {
		return diffVary
	}
	return diffNone
}

// describe says in words what an answer does for origin.
func describe(a *answer, origin string, ok bool) string {
	switch {
	case a.invalid():
		return "is invalid (Access-Control-Allow-Origin: " + a.val[hAllowOrigin] + ")"
	case !ok:
		return "refuses: status not ok"
	case a.grants(origin, true):
		return "grants with credentials (Access-Control-Allow-Origin: " + a.val[hAllowOrigin] + ")"
	case a.grants(origin, false):
		return "grants (Access-Control-Allow-Origin: " + a.val[hAllowOrigin] + ")"
	}
	return "refuses: origin not allowed"
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

// report logs the disagreement unless the same one was logged this minute.
func (rp *reporter) report(kind decisionKind, origin string, diff difference, resp, pol string) {
	if !rp.allow(kind, origin, diff) {
		return
	}
	rp.log(kind, origin, diff, resp, pol)
}

func (rp *reporter) log(kind decisionKind, origin string, diff difference, resp, pol string) {
	origin = truncate(origin)
	rp.logger.Warn("cors report-only: response differs from policy",
		zap.String("kind", kind.String()), zap.String("origin", origin),
		zap.String("difference", diff.String()),
		zap.String("response", resp), zap.String("policy", pol))
}

// compare judges the response header hdr, sent with status, against the
// decision, and reports a difference.
func (d *decision) compare(hdr http.Header, status int) {
	resp := viewOf(hdr)
	var pol answer
	for h := range numOwned {
		if d.sent&(1<<h) != 0 {
			pol.val[h], pol.lines[h] = d.value(h), 1
		}
	}
	kind, polStatus := kindActual, status
	if d.preflightStatus != 0 {
		kind, polStatus = kindPreflight, d.preflightStatus
	}
	respOK, polOK := true, true
	if kind == kindPreflight {
		respOK, polOK = status >= 200 && status <= 299, polStatus >= 200 && polStatus <= 299
	}
	diff := judge(&resp, &pol, d.reqOrigin, respOK, polOK)
	if diff == diffNone {
		return
	}
	d.p.reports.count(kind, diff)
	if rp := d.p.reporter; rp.allow(kind, d.reqOrigin, diff) {
		rp.log(kind, d.reqOrigin, diff, describe(&resp, d.reqOrigin, respOK), describe(&pol, d.reqOrigin, polOK))
	}
}
