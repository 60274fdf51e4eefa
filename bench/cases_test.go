package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	chicors "github.com/go-chi/cors"
	rscors "github.com/rs/cors"

	"github.com/caddy-cors/cors/internal/realistic"
)

// policy is one CORS policy in library-neutral form. Every library under
// test is configured from the same value, so a difference in the numbers is
// a difference in the code, not in the settings.
type policy struct {
	origins          []string // exact origins and "https://*.host" patterns
	methods          []string
	allowedHeaders   []string
	exposedHeaders   []string
	allowCredentials bool
	maxAge           time.Duration
}

// basePolicy is a typical API policy: two front-ends, credentials, a few
// non-safelisted methods and headers, and a cached preflight.
var basePolicy = policy{
	origins:          []string{"https://app.example.com", "https://admin.example.com"},
	methods:          []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
	allowedHeaders:   []string{"Content-Type", "Authorization", "X-Requested-With"},
	exposedHeaders:   []string{"X-Request-Id"},
	allowCredentials: true,
	maxAge:           10 * time.Minute,
}

// largePolicy is basePolicy with 500 exact origins and 20 subdomain
// patterns: a multi-tenant deployment, where a linear scan starts to show.
var largePolicy = func() policy {
	p := basePolicy
	p.origins = nil
	for i := range 500 {
		p.origins = append(p.origins, fmt.Sprintf("https://app%03d.example.org", i))
	}
	for i := range 20 {
		p.origins = append(p.origins, fmt.Sprintf("https://*.tenant%02d.example.net", i))
	}
	return p
}()

// outcome is what a browser makes of a response.
type outcome int

const (
	// served: a request without Origin reached the next handler and got no
	// Access-Control-Allow-Origin (the policy has no "*").
	served outcome = iota
	// granted: the browser's CORS check (or CORS-preflight check) passes.
	granted
	// refused: the browser's check fails.
	refused
)

func (o outcome) String() string {
	return [...]string{"served", "granted", "refused"}[o]
}

// benchCase is one request against one policy, with the outcome every
// library must produce for its timing to be comparable.
type benchCase struct {
	name    string
	policy  policy
	request func() *http.Request
	want    outcome
	// skip names libraries that cannot be compared on this case, and why.
	skip map[string]string
	// realistic answers with realistic.Headers instead of a bare 200.
	realistic bool
}

// handler builds lib with the case's policy in front of the case's
// application. The realistic application sets its headers when it runs; a
// preflight, which the CORS handler answers without it, gets them from a
// layer in front (in Caddy: the server itself, a header block before cors).
func (c benchCase) handler(lib library) (http.Handler, error) {
	if !c.realistic {
		return lib.build(c.policy, okHandler)
	}
	app := newRealisticResponse()
	h, err := lib.build(c.policy, app)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			app.Add(w.Header())
		}
		h.ServeHTTP(w, r)
	}), nil
}

// newRequest returns a builder of requests that carry the context Caddy's
// server gives every request (replacer, vars, original request), whichever
// library serves them: the same request value for all.
func newRequest(method string, header ...string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(method, "http://api.example.com/v1/items", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), nil, nil)
	}
}

// hostileRequestHeaders is 1 MiB of "a,": half a million names that no
// policy allows, the shape of a cheap denial-of-service attempt against a
// parser that splits or allocates per element.
var hostileRequestHeaders = strings.Repeat("a,", 1<<19)

const (
	allowedOrigin = "https://app.example.com"
	evilOrigin    = "https://evil.example.net"
)

var cases = []benchCase{
	{
		name:    "NonCORSGet",
		policy:  basePolicy,
		request: newRequest("GET"),
		want:    served,
	},
	{
		name:    "ActualAllowed",
		policy:  basePolicy,
		request: newRequest("GET", "Origin", allowedOrigin),
		want:    granted,
	},
	{
		name:    "ActualRefused",
		policy:  basePolicy,
		request: newRequest("GET", "Origin", evilOrigin),
		want:    refused,
	},
	{
		// Browsers send Access-Control-Request-Headers lower-cased, sorted
		// and comma-separated without spaces.
		name:   "PreflightAllowed",
		policy: basePolicy,
		request: newRequest("OPTIONS", "Origin", allowedOrigin,
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "authorization,content-type"),
		want: granted,
	},
	{
		name:   "PreflightRefusedOrigin",
		policy: basePolicy,
		request: newRequest("OPTIONS", "Origin", evilOrigin,
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "authorization,content-type"),
		want: refused,
	},
	{
		name:   "PreflightRefusedHeader",
		policy: basePolicy,
		request: newRequest("OPTIONS", "Origin", allowedOrigin,
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "content-type,x-evil"),
		want: refused,
	},
	{
		// The last exact origin: the worst case for a linear scan.
		name:    "LargePolicyExactHit",
		policy:  largePolicy,
		request: newRequest("GET", "Origin", "https://app499.example.org"),
		want:    granted,
	},
	{
		// Two labels deep under the last pattern.
		name:    "LargePolicySubdomainHit",
		policy:  largePolicy,
		request: newRequest("GET", "Origin", "https://eu.shop.tenant19.example.net"),
		want:    granted,
	},
	{
		// A miss has to look at every origin and every pattern.
		name:    "LargePolicyMiss",
		policy:  largePolicy,
		request: newRequest("GET", "Origin", "https://app500.example.org"),
		want:    refused,
	},
	{
		name:      "RealisticNonCORSGet",
		policy:    basePolicy,
		request:   newRequest("GET"),
		want:      served,
		realistic: true,
	},
	{
		name:      "RealisticActualAllowed",
		policy:    basePolicy,
		request:   newRequest("GET", "Origin", allowedOrigin),
		want:      granted,
		realistic: true,
	},
	{
		name:   "RealisticPreflightAllowed",
		policy: basePolicy,
		request: newRequest("OPTIONS", "Origin", allowedOrigin,
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "authorization,content-type"),
		want:      granted,
		realistic: true,
	},
	{
		name:   "PreflightHostile1MiB",
		policy: basePolicy,
		request: newRequest("OPTIONS", "Origin", allowedOrigin,
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", hostileRequestHeaders),
		want: refused,
	},
}

func caseByName(name string) benchCase {
	for _, c := range cases {
		if c.name == name {
			return c
		}
	}
	panic("no case " + name)
}

// library builds an http.Handler applying a policy in front of next.
type library struct {
	name  string
	build func(p policy, next http.Handler) (http.Handler, error)
}

// libraries lists the handlers under test; caddycors_test.go puts this
// module's handler first.
var libraries = []library{
	{name: "rs-cors", build: buildRSCors},
	{name: "go-chi-cors", build: buildChiCors},
}

func buildRSCors(p policy, next http.Handler) (http.Handler, error) {
	return rscors.New(rscors.Options{
		AllowedOrigins:   p.origins,
		AllowedMethods:   p.methods,
		AllowedHeaders:   p.allowedHeaders,
		ExposedHeaders:   p.exposedHeaders,
		AllowCredentials: p.allowCredentials,
		MaxAge:           int(p.maxAge / time.Second),
	}).Handler(next), nil
}

func buildChiCors(p policy, next http.Handler) (http.Handler, error) {
	return chicors.New(chicors.Options{
		AllowedOrigins:   p.origins,
		AllowedMethods:   p.methods,
		AllowedHeaders:   p.allowedHeaders,
		ExposedHeaders:   p.exposedHeaders,
		AllowCredentials: p.allowCredentials,
		MaxAge:           int(p.maxAge / time.Second),
	}).Handler(next), nil
}

// okHandler is the application behind the CORS handler: it does nothing but
// answer 200, so the benchmark measures the CORS handler alone.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
})

// realisticResponse is an application answering 200 with the headers of
// a real API response (realistic.Headers, Vary: Accept-Encoding among them),
// added as http.Header.Add would, so that a Vary a CORS library set before
// calling it keeps its line, but without allocating itself.
type realisticResponse struct{ *realistic.Response }

func newRealisticResponse() realisticResponse {
	return realisticResponse{realistic.NewResponse(realistic.Headers...)}
}

func (rr realisticResponse) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	rr.Add(w.Header())
	w.WriteHeader(http.StatusOK)
}

// recorder is a reusable http.ResponseWriter. httptest.ResponseRecorder
// clones the header map on WriteHeader, an allocation that belongs to the
// harness, not to the handler under test; recorder does not. Between
// iterations reset empties the map in place, so its buckets are reused and
// only the values a handler stores cost anything.
type recorder struct {
	header http.Header
	code   int
}

func newRecorder() *recorder { return &recorder{header: make(http.Header)} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(p), nil
}

func (r *recorder) reset() {
	clear(r.header)
	r.code = 0
}
