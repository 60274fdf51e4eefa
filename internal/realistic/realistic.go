// Package realistic is the response of a real API for the benchmarks and
// tests of both modules: a dozen headers besides CORS, Vary among them,
// which a CORS handler must find its way through. Only tests import it.
package realistic

import (
	"net/http"
	"slices"
)

// Headers are the headers of a JSON answer behind a reverse proxy, in the
// order an application would add them.
var Headers = [][2]string{
	{"Content-Type", "application/json; charset=utf-8"},
	{"Content-Length", "1437"},
	{"Cache-Control", "private, max-age=0, must-revalidate"},
	{"Etag", `W/"5a3-1b2c3d4e5f60718293a4b5c6"`},
	{"Last-Modified", "Mon, 07 Dec 2026 09:41:27 GMT"},
	{"Date", "Mon, 07 Dec 2026 11:20:00 GMT"},
	{"Set-Cookie", "session=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly; Secure; SameSite=Lax"},
	{"Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"X-Request-Id", "01JEG8K6Q3Z2V7W9X4Y5A6B7C8"},
	{"X-Ratelimit-Limit", "1000"},
	{"X-Ratelimit-Remaining", "998"},
	{"X-Ratelimit-Reset", "1796642400"},
	{"Vary", "Accept-Encoding"},
}

// Response adds fixed headers to a response's header map as
// http.Header.Add would (a name already in the map keeps its lines; a name
// given twice gets two lines), in the spelling given, but without
// allocating, so that a benchmark counts the CORS handler's allocations
// alone: the values of each name go into an array of their own, refilled on
// every call, so that whoever edited a value in place on the last response
// does not change the next one. A Response serves one request at a time.
type Response struct {
	names  []string
	ends   []int // the values of names[i] are values[ends[i-1]:ends[i]]
	given  []string
	values []string
}

// NewResponse returns a Response adding headers (name, value pairs).
func NewResponse(headers ...[2]string) *Response {
	rr := new(Response)
	for _, kv := range headers {
		if slices.Contains(rr.names, kv[0]) {
			continue
		}
		rr.names = append(rr.names, kv[0])
		for _, v := range headers {
			if v[0] == kv[0] {
				rr.given = append(rr.given, v[1])
			}
		}
		rr.ends = append(rr.ends, len(rr.given))
	}
	rr.values = make([]string, len(rr.given))
	return rr
}

// Add adds the headers to h.
func (rr *Response) Add(h http.Header) {
	copy(rr.values, rr.given)
	start := 0
	for i, name := range rr.names {
		vs := rr.values[start:rr.ends[i]:rr.ends[i]]
		start = rr.ends[i]
		if old, ok := h[name]; ok {
			h[name] = append(old, vs...)
		} else {
			h[name] = vs
		}
	}
}
