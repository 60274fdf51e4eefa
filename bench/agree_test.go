package bench

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// judge returns what a browser sending r with credentials (the policies
// allow them) makes of the response in rec, following Fetch's "CORS check"
// and "CORS-preflight fetch". A library that answers a preflight 200 with no
// Access-Control-Allow-Origin (go-chi/cors), 204 without it (rs/cors) or 403
// (this module) refuses all the same.
func judge(r *http.Request, rec *recorder) outcome {
	origin := r.Header.Get("Origin")
	isPreflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		if rec.code == http.StatusOK && len(rec.header.Values("Access-Control-Allow-Origin")) == 0 {
			return served
		}
		return refused
	}
	if !isPreflight && rec.code != http.StatusOK {
		// An actual request must reach the application whatever the
		// CORS decision.
		return refused
	}
	if isPreflight && (rec.code < 200 || rec.code > 299) {
		return refused
	}
	if combined(rec.header, "Access-Control-Allow-Origin") != origin {
		return refused
	}
	if combined(rec.header, "Access-Control-Allow-Credentials") != "true" {
		return refused
	}
	if !isPreflight {
		return granted
	}
	method := r.Header.Get("Access-Control-Request-Method")
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		// With credentials "*" is a literal method name, not a wildcard.
		if !slices.Contains(list(rec.header, "Access-Control-Allow-Methods"), method) {
			return refused
		}
	}
	allowed := list(rec.header, "Access-Control-Allow-Headers")
	for _, name := range list(r.Header, "Access-Control-Request-Headers") {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, name) }) {
			return refused
		}
	}
	return granted
}

// combined is the value a browser sees when a header arrives on several
// lines: the lines joined with ", ".
func combined(h http.Header, name string) string {
	return strings.Join(h.Values(name), ", ")
}

// list parses a comma-separated header as Fetch does, dropping empty
// elements and surrounding spaces.
func list(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestLibrariesAgree pins that every library gives each benchmark case the
// same outcome, so that no benchmark compares a refusal with a grant.
func TestLibrariesAgree(t *testing.T) {
	for _, c := range cases {
		for _, lib := range libraries {
			t.Run(c.name+"/"+lib.name, func(t *testing.T) {
				if reason := c.skip[lib.name]; reason != "" {
					t.Skip(reason)
				}
				h, err := c.handler(lib)
				if err != nil {
					t.Fatal(err)
				}
				r, rec := c.request(), newRecorder()
				h.ServeHTTP(rec, r)
				if got := judge(r, rec); got != c.want {
					t.Errorf("outcome %s, want %s; status %d, headers %v", got, c.want, rec.code, rec.header)
				}
			})
		}
	}
}

// TestJudge pins the browser model on hand-made responses, so that a
// lenient judge cannot hide a disagreement.
func TestJudge(t *testing.T) {
	preflight := newRequest("OPTIONS", "Origin", allowedOrigin,
		"Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "authorization,content-type")()
	grant := http.Header{
		"Access-Control-Allow-Origin":      {allowedOrigin},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Allow-Methods":     {"GET, PUT"},
		"Access-Control-Allow-Headers":     {"Content-Type, Authorization"},
	}
	without := func(name string) http.Header {
		h := grant.Clone()
		h.Del(name)
		return h
	}
	with := func(name string, values ...string) http.Header {
		h := grant.Clone()
		h[name] = values
		return h
	}
	tests := []struct {
		name   string
		code   int
		header http.Header
		want   outcome
	}{
		{"full grant", 204, grant, granted},
		{"grant with status 200", 200, grant, granted},
		{"status 403", 403, grant, refused},
		{"no allow-origin", 204, without("Access-Control-Allow-Origin"), refused},
		{"two allow-origin lines", 204, with("Access-Control-Allow-Origin", allowedOrigin, allowedOrigin), refused},
		{"wildcard origin with credentials", 204, with("Access-Control-Allow-Origin", "*"), refused},
		{"no credentials", 204, without("Access-Control-Allow-Credentials"), refused},
		{"method missing", 204, with("Access-Control-Allow-Methods", "GET, POST"), refused},
		{"method in other case", 204, with("Access-Control-Allow-Methods", "put"), refused},
		{"header missing", 204, with("Access-Control-Allow-Headers", "Content-Type"), refused},
		{"headers over two lines", 204, with("Access-Control-Allow-Headers", "content-type", "AUTHORIZATION"), granted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{header: tt.header, code: tt.code}
			if got := judge(preflight, rec); got != tt.want {
				t.Errorf("judge = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPeersWildcardIsLooser pins a claim BENCHMARKS.md makes: the peers
// express subdomain patterns as a bare prefix/suffix match, so a path that
// ends like the pattern passes them, while this module refuses it. The
// LargePolicy cases compare equal work only because their origins are
// well-formed.
func TestPeersWildcardIsLooser(t *testing.T) {
	const trick = "https://evil.com/.tenant19.example.net"
	want := map[string]outcome{"caddy-cors": refused, "rs-cors": granted, "go-chi-cors": granted}
	for _, lib := range libraries {
		t.Run(lib.name, func(t *testing.T) {
			h, err := lib.build(largePolicy, okHandler)
			if err != nil {
				t.Fatal(err)
			}
			r, rec := newRequest("GET", "Origin", trick)(), newRecorder()
			h.ServeHTTP(rec, r)
			if got := judge(r, rec); got != want[lib.name] {
				t.Errorf("%s: outcome %s, want %s", trick, got, want[lib.name])
			}
		})
	}
}
