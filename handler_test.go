package cors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// provisioned returns h provisioned as Caddy would, failing the test on a
// configuration error.
func provisioned(t testing.TB, h Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { h.Cleanup() })
	return &h
}

func dur(d string) *caddy.Duration {
	v, err := caddy.ParseDuration(d)
	if err != nil {
		panic(err)
	}
	cd := caddy.Duration(v)
	return &cd
}

// responseHeaders are the headers the handler's decision shows in; each test
// case states all of them, so an unexpected one fails the test.
var responseHeaders = append(ownedHeaders[:], "Vary")

type corsCase struct {
	name   string
	config Handler
	method string
	header http.Header // request headers
	// next handler behaviour: headers it adds with Add, as reverse_proxy
	// copies an upstream's headers, and headers it sets in place.
	nextAdds http.Header
	nextErr  error
	// before holds response headers set by handlers that ran before cors.
	before http.Header

	wantStatus int
	wantNext   bool
	want       http.Header // every CORS response header and Vary
}

const (
	origin      = "https://app.example.com"
	otherOrigin = "https://evil.example.net"
)

func pre(o, method string, more ...string) http.Header {
	h := http.Header{"Origin": {o}, "Access-Control-Request-Method": {method}}
	for i := 0; i+1 < len(more); i += 2 {
		h[http.CanonicalHeaderKey(more[i])] = append(h[http.CanonicalHeaderKey(more[i])], more[i+1])
	}
	return h
}

func from(o string) http.Header { return http.Header{"Origin": {o}} }

var varyPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}

func TestServeHTTP(t *testing.T) {
	exact := Handler{Origins: []string{origin}}
	creds := Handler{Origins: []string{origin}, AllowCredentials: true}
	anyOrigin := Handler{}
	tests := []corsCase{
		// Requests without Origin.
		{name: "NonCORSRequestGetsOnlyVaryOrigin", config: exact, method: "GET",
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "NonCORSRequestWithAnyOriginPolicyGetsWildcardAndNoVary", config: Handler{ExposedHeaders: []string{"X-Total"}}, method: "GET",
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Expose-Headers": {"X-Total"}}},
		{name: "OptionsWithoutOriginIsPassedOn", config: exact, method: "OPTIONS",
			header:     http.Header{"Access-Control-Request-Method": {"PUT"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},

		// Actual requests.
		{name: "AllowedActualRequest", config: Handler{Origins: []string{origin}, ExposedHeaders: []string{"X-Request-Id", "X-Total"}}, method: "GET", header: from(origin),
			wantStatus: 200, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":   {origin},
				"Access-Control-Expose-Headers": {"X-Request-Id, X-Total"},
				"Vary":                          {"Origin"}}},
		{name: "RefusedActualRequestIsServedWithoutCORSHeaders", config: exact, method: "POST", header: from(otherOrigin),
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "ActualRequestsAreNeverFilteredByMethod", config: exact, method: "DELETE", header: from(origin),
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Origin"}}},
		{name: "TwoOriginLinesMatchNothing", config: exact, method: "GET", header: http.Header{"Origin": {origin, origin}},
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "CredentialsOnActualRequest", config: creds, method: "GET", header: from(origin),
			wantStatus: 200, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {"Origin"}}},
		{name: "AnyOriginPolicySendsWildcardNotTheOrigin", config: anyOrigin, method: "GET", header: from(otherOrigin),
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {"*"}}},
		{name: "ExplicitStarIsAnyOrigin", config: Handler{Origins: []string{"*"}}, method: "GET", header: from("null"),
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {"*"}}},
		{name: "OptionsWithoutRequestMethodIsAnActualRequest", config: exact, method: "OPTIONS", header: from(origin),
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Origin"}}},
		{name: "OptionsWithEmptyRequestMethodIsAnActualRequest", config: exact, method: "OPTIONS", header: pre(origin, ""),
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Origin"}}},

		// Preflights.
		{name: "AllowedPreflightIsAnsweredWithoutTheNextHandler",
			config: Handler{Origins: []string{origin}, Methods: []string{"PUT", "DELETE"}, AllowedHeaders: []string{"Content-Type", "X-Api-Key"}, MaxAge: dur("10m"), ExposedHeaders: []string{"X-Total"}},
			method: "OPTIONS", header: pre(origin, "PUT", "Access-Control-Request-Headers", "content-type,x-api-key"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PUT, DELETE"},
				"Access-Control-Allow-Headers": {"Content-Type, X-Api-Key"},
				"Access-Control-Max-Age":       {"600"},
				"Vary":                         varyPreflight}},
		{name: "PreflightFromRefusedOriginIsBare403", config: Handler{Origins: []string{origin}, AllowCredentials: true, MaxAge: dur("1m")},
			method: "OPTIONS", header: pre(otherOrigin, "PUT"),
			wantStatus: 403, want: http.Header{"Vary": varyPreflight}},
		{name: "PreflightWithRefusedMethodListsTheAllowedMethods", config: Handler{Origins: []string{origin}, Methods: []string{"PUT"}},
			method: "OPTIONS", header: pre(origin, "DELETE"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PUT"},
				"Access-Control-Allow-Headers": {"Accept, Content-Type, X-Requested-With"},
				"Vary":                         varyPreflight}},
		{name: "PreflightWithRefusedHeaderListsTheAllowedHeaders", config: Handler{Origins: []string{origin}, AllowCredentials: true},
			method: "OPTIONS", header: pre(origin, "POST", "Access-Control-Request-Headers", "content-type,x-secret"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Access-Control-Allow-Methods":     {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers":     {"Accept, Content-Type, X-Requested-With"},
				"Vary":                             varyPreflight}},
		{name: "RefusedMethodWithWildcardMethodsNeverAnswersWildcard", config: Handler{Origins: []string{origin}, Methods: []string{"*"}, AllowedHeaders: []string{"X-A"}},
			method: "OPTIONS", header: pre(origin, "PATCH", "Access-Control-Request-Headers", "x-b"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PATCH"},
				"Access-Control-Allow-Headers": {"X-A"},
				"Vary":                         varyPreflight}},
		{name: "SafelistedMethodPreflightWithoutHeadersSucceeds", config: Handler{Origins: []string{origin}, Methods: []string{"PUT"}},
			method: "OPTIONS", header: pre(origin, "POST"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PUT"},
				"Vary":                         varyPreflight}},
		{name: "MethodsAreCaseSensitive", config: Handler{Origins: []string{origin}, Methods: []string{"PATCH"}},
			method: "OPTIONS", header: pre(origin, "patch"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PATCH"},
				"Access-Control-Allow-Headers": {"Accept, Content-Type, X-Requested-With"},
				"Vary":                         varyPreflight}},
		// A preflight beyond a bound gets the refused origin's answer: an
		// explanatory one would list what covers the request, and every
		// browser would grant what the module counted as refused.
		{name: "PreflightWithTwoRequestMethodLinesIsRefusedWhole", config: Handler{Origins: []string{origin}, Methods: []string{"PUT"}},
			method: "OPTIONS", header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"PUT", "PUT"}},
			wantStatus: 403, want: http.Header{"Vary": varyPreflight}},
		{name: "PreflightWithTooManyRequestHeaderLinesIsRefusedWhole", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"X-A"}},
			method: "OPTIONS", header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"GET"},
				"Access-Control-Request-Headers": strings.Split(strings.Repeat("x-a\n", maxRequestHeaderLines), "\n")},
			wantStatus: 403, want: http.Header{"Vary": varyPreflight}},
		{name: "PreflightWithRequestHeadersLongerThanTheBoundIsRefusedWhole", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"Authorization"}},
			method: "OPTIONS", header: pre(origin, "PUT", "Access-Control-Request-Headers", "authorization"+strings.Repeat(",", 400)),
			wantStatus: 403, want: http.Header{"Vary": varyPreflight}},
		{name: "PreflightWithinTheBoundsIsRead", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"Authorization"}, MaxAge: dur("10m")},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Headers", "authorization"+strings.Repeat(",", 40)),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers": {"Authorization"},
				"Access-Control-Max-Age":       {"600"},
				"Vary":                         varyPreflight}},
		{name: "PassthroughPreflightBeyondABoundGetsNoCORSHeaders", config: Handler{Origins: []string{origin}, PreflightPassthrough: true},
			method: "OPTIONS", header: http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"PUT", "PUT"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": varyPreflight}},
		{name: "CredentialedPreflightNamesMethodAndHeadersLiterally",
			config: Handler{Origins: []string{origin}, AllowCredentials: true, Methods: []string{"*"}, AllowedHeaders: []string{"*"}},
			method: "OPTIONS", header: pre(origin, "PATCH", "Access-Control-Request-Headers", "x-a, X-B"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Access-Control-Allow-Methods":     {"PATCH"},
				"Access-Control-Allow-Headers":     {"x-a, X-B"},
				"Vary":                             varyPreflight}},
		{name: "AnyOriginPreflightAnswersWildcardsWithoutVaryOrigin", config: Handler{Methods: []string{"*"}, AllowedHeaders: []string{"*"}},
			method: "OPTIONS", header: pre(otherOrigin, "DELETE", "Access-Control-Request-Headers", "x-anything"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {"*"},
				"Access-Control-Allow-Methods": {"*"},
				"Access-Control-Allow-Headers": {"*"},
				"Vary":                         {"Access-Control-Request-Method, Access-Control-Request-Headers"}}},
		{name: "WildcardHeadersNeverCoverAuthorization", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"*"}},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Headers", "authorization,x-a"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers": {"x-a"},
				"Vary":                         varyPreflight}},
		{name: "WildcardHeadersAskedOnlyForAuthorizationNameNone", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"*"}},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Headers", "authorization"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Vary":                         varyPreflight}},
		{name: "AuthorizationListedBesideWildcardIsNamed", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"*", "Authorization"}},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Headers", "authorization,x-a"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers": {"*, Authorization"},
				"Vary":                         varyPreflight}},
		{name: "RequestHeadersAreReadLeniently", config: Handler{Origins: []string{origin}, AllowedHeaders: []string{"X-A", "X-B"}},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Headers", " X-B ,, x-a", "Access-Control-Request-Headers", "x-b,"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers": {"X-A, X-B"},
				"Vary":                         varyPreflight}},
		{name: "MaxAgeZeroIsSent", config: Handler{Origins: []string{origin}, MaxAge: dur("0s")},
			method: "OPTIONS", header: pre(origin, "GET"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Max-Age":       {"0"},
				"Vary":                         varyPreflight}},
		{name: "PreflightStatusIsConfigurable", config: Handler{Origins: []string{origin}, PreflightStatus: 200},
			method: "OPTIONS", header: pre(origin, "GET"),
			wantStatus: 200, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Vary":                         varyPreflight}},
		{name: "PrivateNetworkIsAllowedWhenAsked", config: Handler{Origins: []string{origin}, AllowPrivateNetwork: true},
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Private-Network", "true"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":          {origin},
				"Access-Control-Allow-Methods":         {"GET, HEAD, POST"},
				"Access-Control-Allow-Private-Network": {"true"},
				"Vary":                                 {"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network"}}},
		{name: "PrivateNetworkIsNotAnsweredUnasked", config: Handler{Origins: []string{origin}, AllowPrivateNetwork: true},
			method: "OPTIONS", header: pre(origin, "GET"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Vary":                         {"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network"}}},
		{name: "PrivateNetworkIsOptIn", config: exact,
			method: "OPTIONS", header: pre(origin, "GET", "Access-Control-Request-Private-Network", "true"),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Vary":                         varyPreflight}},
		{name: "PassthroughPreflightReachesNextHandlerWithHeaders", config: Handler{Origins: []string{origin}, PreflightPassthrough: true},
			method: "OPTIONS", header: pre(origin, "GET"),
			wantStatus: 200, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Vary":                         varyPreflight}},
		{name: "PassthroughPreflightFromRefusedOriginGetsNoCORSHeaders", config: Handler{Origins: []string{origin}, PreflightPassthrough: true},
			method: "OPTIONS", header: pre(otherOrigin, "GET"),
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": varyPreflight}},

		// The module owns the CORS response headers.
		{name: "UpstreamWildcardIsReplacedByTheAllowedOrigin", config: creds, method: "GET", header: from(origin),
			nextAdds:   http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}, "Access-Control-Allow-Methods": {"*"}},
			wantStatus: 200, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {"Origin"}}},
		{name: "UpstreamGrantIsRemovedForRefusedOrigin", config: exact, method: "GET", header: from(otherOrigin),
			nextAdds:   http.Header{"Access-Control-Allow-Origin": {otherOrigin}, "Access-Control-Expose-Headers": {"X-Secret"}, "Access-Control-Max-Age": {"1"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "UpstreamGrantIsRemovedWithoutOrigin", config: exact, method: "GET",
			nextAdds:   http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Private-Network": {"true"}, "Access-Control-Allow-Headers": {"*"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "UpstreamVaryOriginIsNotDuplicated", config: exact, method: "GET", header: from(origin),
			nextAdds:   http.Header{"Vary": {"Accept-Encoding, origin"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Accept-Encoding, origin"}}},
		{name: "UpstreamVaryIsMerged", config: exact, method: "GET", header: from(origin),
			nextAdds:   http.Header{"Vary": {"Accept-Encoding"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Accept-Encoding", "Origin"}}},
		{name: "EarlierVaryIsKept", config: exact, method: "GET", header: from(origin),
			before:     http.Header{"Vary": {"Cookie"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Cookie", "Origin"}}},
		{name: "VaryStarIsLeftAlone", config: exact, method: "GET", header: from(origin),
			before:     http.Header{"Vary": {"*"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"*"}}},
		{name: "AnyOriginPolicyAddsNoVaryOrigin", config: anyOrigin, method: "GET", header: from(origin),
			nextAdds:   http.Header{"Vary": {"Accept-Encoding"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {"*"}, "Vary": {"Accept-Encoding"}}},
		{name: "UpstreamVaryDuplicatesAreListedOnce", config: exact, method: "GET", header: from(origin),
			nextAdds:   http.Header{"Vary": {"origin, Cookie, Origin", "Accept-Encoding"}},
			wantStatus: 200, wantNext: true, want: http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Cookie", "Accept-Encoding", "Origin"}}},
		{name: "EarlierVaryOriginIsMergedIntoThePreflightsVary", config: Handler{Origins: []string{origin}, Methods: []string{"PUT"}},
			method: "OPTIONS", header: pre(origin, "PUT"),
			before:     http.Header{"Vary": {"Origin", "Accept-Encoding"}},
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":  {origin},
				"Access-Control-Allow-Methods": {"PUT"},
				"Vary":                         append([]string{"Accept-Encoding"}, varyPreflight...)}},
		// Among the dozen headers of a real response, every spelling of an
		// owned header is still found.
		{name: "ForeignSpellingsAmongManyHeadersAreReplaced", config: creds, method: "GET", header: from(origin),
			nextAdds:   manyHeaders(),
			wantStatus: 200, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {"Accept-Encoding", "Origin"}}},
		{name: "ForeignSpellingsAmongManyHeadersAreRemovedWithoutOrigin", config: creds, method: "GET",
			nextAdds:   manyHeaders(),
			wantStatus: 200, wantNext: true, want: http.Header{"Vary": {"Accept-Encoding", "Origin"}}},
		{name: "ForeignSpellingsAmongManyHeadersBeforeAPreflightAreReplaced", config: Handler{Origins: []string{origin}, Methods: []string{"PUT"}, AllowCredentials: true},
			method: "OPTIONS", header: pre(origin, "PUT"),
			before:     manyHeaders(),
			wantStatus: 204, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Access-Control-Allow-Methods":     {"PUT"},
				"Vary":                             append([]string{"Accept-Encoding"}, varyPreflight...)}},
		{name: "HeadersSurviveAnErrorFromTheNextHandler", config: creds, method: "GET", header: from(origin),
			nextErr:    caddyhttp.Error(http.StatusBadGateway, errors.New("dial tcp: connection refused")),
			wantStatus: 0, wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {"Origin"}}},
		// Caddy writes an error response itself, from the header map, with
		// the writer it holds: whatever a later handler set before failing
		// must not go out with it.
		{name: "ForeignGrantBeforeAnErrorIsReplaced", config: creds, method: "GET", header: from(origin),
			nextAdds: http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Methods": {"*"}, "Vary": {"Accept-Encoding"}},
			nextErr:  caddyhttp.Error(http.StatusUnauthorized, errors.New("not authenticated")),
			wantNext: true, want: http.Header{
				"Access-Control-Allow-Origin":      {origin},
				"Access-Control-Allow-Credentials": {"true"},
				"Vary":                             {"Accept-Encoding", "Origin"}}},
		{name: "ForeignGrantBeforeAnErrorIsRemovedForRefusedOrigin", config: creds, method: "GET", header: from(otherOrigin),
			nextAdds: http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}},
			nextErr:  caddyhttp.Error(http.StatusTeapot, errors.New("error directive")),
			wantNext: true, want: http.Header{"Vary": {"Origin"}}},
		{name: "ForeignGrantBeforeAnErrorIsRemovedWithoutOrigin", config: exact, method: "GET",
			nextAdds: http.Header{"access-control-allow-origin": {"*"}, "Access-Control-Expose-Headers": {"X-Secret"}},
			nextErr:  errors.New("any error, 500"),
			wantNext: true, want: http.Header{"Vary": {"Origin"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCase(t, tt)
		})
	}
}

func runCase(t *testing.T, tt corsCase) {
	t.Helper()
	h := provisioned(t, tt.config)
	req := httptest.NewRequest(tt.method, "http://api.example.com/resource", nil)
	for k, v := range tt.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	for k, v := range tt.before {
		rec.Header()[k] = slices.Clone(v)
	}
	called := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		called = true
		for k, vs := range tt.nextAdds {
			for _, v := range vs {
				w.Header()[k] = append(w.Header()[k], v) // in any spelling, as written
			}
		}
		if tt.nextErr != nil {
			return tt.nextErr
		}
		_, err := io.WriteString(w, "ok")
		return err
	})
	err := h.ServeHTTP(rec, req, next)
	if !errors.Is(err, tt.nextErr) {
		t.Fatalf("ServeHTTP error = %v, want %v", err, tt.nextErr)
	}
	if called != tt.wantNext {
		t.Errorf("next handler called = %v, want %v", called, tt.wantNext)
	}
	if tt.nextErr == nil && rec.Code != tt.wantStatus {
		t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
	}
	got := rec.Result().Header
	if tt.nextErr != nil {
		got = rec.Header() // nothing was written: Caddy's error path writes this map
	}
	for _, name := range responseHeaders {
		if g, w := got[name], tt.want[name]; !slices.Equal(g, w) {
			t.Errorf("%s = %q, want %q", name, g, w)
		}
	}
	for k := range got {
		if h, _ := ownedIndex(k); h >= 0 && !slices.Contains(responseHeaders, k) {
			t.Errorf("foreign spelling %q left in the response", k)
		}
	}
	for _, set := range []http.Header{tt.before, tt.nextAdds} {
		for k, v := range set {
			if h, _ := ownedIndex(k); h < 0 && k != "Vary" && !slices.Equal(got[k], v) {
				t.Errorf("%s = %q, want %q as the other handlers set it", k, got[k], v)
			}
		}
	}
}

// manyHeaders is a real response's headers (realisticHeaders, Vary:
// Accept-Encoding among them) with CORS headers of its own in other
// spellings, and one in the canonical spelling.
func manyHeaders() http.Header {
	h := http.Header{}
	for _, kv := range realisticHeaders {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
	h["access-control-allow-origin"] = []string{"*"}
	h["ACCESS-CONTROL-ALLOW-CREDENTIALS"] = []string{"true"}
	h["Access-control-expose-headers"] = []string{"X-Secret"}
	h["Access-Control-Max-Age"] = []string{"86400"}
	h["access-control-allow-private-network"] = []string{"true"}
	return h
}

// TestHandlerNeverCallsNextForAnsweredPreflights pins that every preflight
// the module answers, allowed or refused, stays away from the next handler:
// a preflight carries no credentials, so auth and upstreams must not see it.
func TestHandlerNeverCallsNextForAnsweredPreflights(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}, Methods: []string{"PUT"}})
	for _, hdr := range []http.Header{
		pre(origin, "PUT"), pre(origin, "DELETE"), pre(otherOrigin, "PUT"),
		pre(origin, "PUT", "Access-Control-Request-Headers", "x-nope"),
		pre(origin, "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 1<<19)),
		{"Origin": {"https://app.example.com/"}, "Access-Control-Request-Method": {"PUT"}},
	} {
		req := httptest.NewRequest("OPTIONS", "/", nil)
		req.Header = hdr
		next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			t.Errorf("next handler called for preflight %v", hdr)
			return nil
		})
		if err := h.ServeHTTP(httptest.NewRecorder(), req, next); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriterEnforcesOnEveryWritePath pins that the decision is enforced
// however the next handler writes its header: explicitly, implicitly with
// Write, through ReadFrom (file_server's sendfile path), or with a flush.
func TestWriterEnforcesOnEveryWritePath(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}})
	writes := map[string]func(w http.ResponseWriter){
		"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) },
		"Write":       func(w http.ResponseWriter) { io.WriteString(w, "body") },
		"ReadFrom":    func(w http.ResponseWriter) { w.(io.ReaderFrom).ReadFrom(strings.NewReader("body")) },
		"Flush":       func(w http.ResponseWriter) { http.NewResponseController(w).Flush() },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Origin", origin)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				write(w)
				return nil
			}))
			if got := rec.Result().Header["Access-Control-Allow-Origin"]; !slices.Equal(got, []string{origin}) {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
			}
		})
	}
}

// TestDecisionWhenTheNextHandlerWritesNothing pins the exit path of a handler
// that returns without writing: net/http then sends the header map as it is,
// so the decision must be in it, and a foreign grant must not.
func TestDecisionWhenTheNextHandlerWritesNothing(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}, AllowCredentials: true})
	for _, o := range []string{origin, otherOrigin, ""} {
		t.Run("Origin="+o, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if o != "" {
				req.Header.Set("Origin", o)
			}
			rec := httptest.NewRecorder()
			err := h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			want := http.Header{"Vary": {"Origin"}}
			if o == origin {
				want["Access-Control-Allow-Origin"] = []string{origin}
				want["Access-Control-Allow-Credentials"] = []string{"true"}
			}
			if got := rec.Header(); !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("header map = %q, want %q", got, want)
			}
		})
	}
}

// TestDecisionSurvivesAPanic pins the panic path: a handler that sets a
// grant of its own and panics leaves the module's decision in the header map
// for whatever recovers and writes the response, and the panic goes on
// unchanged.
func TestDecisionSurvivesAPanic(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}, AllowCredentials: true})
	for _, o := range []string{origin, otherOrigin, ""} {
		t.Run("Origin="+o, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if o != "" {
				req.Header.Set("Origin", o)
			}
			rec := httptest.NewRecorder()
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header()["access-control-allow-credentials"] = []string{"true"}
				panic("boom")
			})
			func() {
				defer func() {
					if p := recover(); p != "boom" {
						t.Errorf("recovered %v, want the handler's panic", p)
					}
				}()
				h.ServeHTTP(rec, req, next)
			}()
			want := http.Header{"Vary": {"Origin"}}
			if o == origin {
				want["Access-Control-Allow-Origin"] = []string{origin}
				want["Access-Control-Allow-Credentials"] = []string{"true"}
			}
			if got := rec.Header(); !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("header map after the panic = %q, want %q", got, want)
			}
		})
	}
}

// TestHeaderValuesAreNotShared pins that a later handler changing a header
// value in place neither leaks into the decision for the next request nor
// survives into its own response.
func TestHeaderValuesAreNotShared(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}, ExposedHeaders: []string{"X-Total"}})
	for i := range 2 {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Origin", origin)
		rec := &finalRecorder{header: make(http.Header)}
		h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			// An Early Hints answer puts the decision in the map; a
			// handler then changes the values in place.
			w.WriteHeader(http.StatusEarlyHints)
			w.Header()["Access-Control-Expose-Headers"][0] = "X-Secret"
			w.Header()["Vary"][0] = "Cookie"
			w.WriteHeader(200)
			return nil
		}))
		hdr := rec.final
		if got := hdr["Access-Control-Expose-Headers"]; !slices.Equal(got, []string{"X-Total"}) {
			t.Errorf("request %d: Access-Control-Expose-Headers = %q, want X-Total", i, got)
		}
		if got := hdr["Vary"]; !slices.Equal(got, []string{"Cookie", "Origin"}) {
			t.Errorf("request %d: Vary = %q, want Cookie, Origin", i, got)
		}
		// Whoever holds the finished response (an access log, a cache)
		// may change it too: the next request must not see that.
		rec.Header()["Access-Control-Expose-Headers"][0] = "X-Secret"
		rec.Header()["Vary"][0] = "Cookie"
	}
}

// finalRecorder keeps a copy of the header map as it was when the final
// status was written; informational ones (httptest.ResponseRecorder takes
// them for final) leave it alone.
type finalRecorder struct {
	header, final http.Header
}

func (r *finalRecorder) Header() http.Header { return r.header }

func (r *finalRecorder) WriteHeader(code int) {
	if code >= 200 && r.final == nil {
		r.final = r.header.Clone()
	}
}

func (r *finalRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}

// TestOwnedHeadersInAnySpelling pins that a later handler writing a CORS
// header into the map under a non-canonical key (which net/http sends as
// written) cannot slip a grant past the module.
func TestOwnedHeadersInAnySpelling(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}})
	for _, o := range []string{origin, otherOrigin} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Origin", o)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.Header()["access-control-allow-origin"] = []string{"*"}
			w.Header()["ACCESS-CONTROL-ALLOW-CREDENTIALS"] = []string{"true"}
			w.WriteHeader(200)
			return nil
		}))
		var got []string
		for k, v := range rec.Result().Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				got = append(got, k+": "+strings.Join(v, ","))
			}
		}
		want := []string(nil)
		if o == origin {
			want = []string{"Access-Control-Allow-Origin: " + origin}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Origin %s: CORS headers %q, want %q", o, got, want)
		}
	}
}

// TestConcurrentRequests runs requests for different origins at once through
// one handler, so that the race detector sees the pooled writers and each
// response must carry its own decision.
func TestConcurrentRequests(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{"https://*.example.com"}, ExposedHeaders: []string{"X-Total"}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				o := fmt.Sprintf("https://g%d-%d.example.com", g, i)
				if i%3 == 0 {
					o = "https://evil.example.net"
				}
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Origin", o)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
					w.Header().Add("Vary", "Accept-Encoding")
					_, err := io.WriteString(w, "ok")
					return err
				}))
				want := []string{o}
				if i%3 == 0 {
					want = nil
				}
				if got := rec.Result().Header["Access-Control-Allow-Origin"]; !slices.Equal(got, want) {
					t.Errorf("Origin %s: Access-Control-Allow-Origin = %q", o, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestReportOnlyChangesNothing pins that in report-only mode the response is
// the next handler's alone: every preflight reaches it, and the header map,
// status and body leave exactly as it wrote them.
func TestReportOnlyChangesNothing(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}, Methods: []string{"PUT"}, AllowCredentials: true, ReportOnly: true})
	for _, tt := range []struct {
		name   string
		method string
		hdr    http.Header
	}{
		{"AllowedPreflight", "OPTIONS", pre(origin, "PUT")},
		{"RefusedPreflight", "OPTIONS", pre(otherOrigin, "PUT")},
		{"AllowedActual", "GET", from(origin)},
		{"RefusedActual", "GET", from(otherOrigin)},
		{"NoOrigin", "GET", http.Header{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			backend := func(w http.ResponseWriter) {
				w.Header()["access-control-allow-origin"] = []string{"*"}
				w.Header()["Vary"] = []string{"Accept"}
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte("body"))
			}
			want := httptest.NewRecorder()
			backend(want)
			called := false
			req := httptest.NewRequest(tt.method, "/", nil)
			req.Header = tt.hdr
			got := httptest.NewRecorder()
			err := h.ServeHTTP(got, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				called = true
				backend(w)
				return nil
			}))
			if err != nil || !called {
				t.Fatalf("err %v, next called %v", err, called)
			}
			if !reflect.DeepEqual(got.Header(), want.Header()) || got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("got %d %v %q, want %d %v %q", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
			}
		})
	}
}

// TestOwnedIndexFindsEverySpelling pins the filters of the header walk
// (length, first byte) against the owned names themselves: any spelling of
// an owned name passes them, and only the canonical one is canonical.
func TestOwnedIndexFindsEverySpelling(t *testing.T) {
	for want, name := range ownedHeaders {
		if ownedLengths>>len(name)&1 == 0 {
			t.Errorf("ownedLengths lacks the length of %s", name)
		}
		for _, k := range []string{name, strings.ToLower(name), strings.ToUpper(name), strings.ToLower(name[:1]) + name[1:]} {
			h, canonical := ownedIndex(k)
			if h != want || canonical != (k == name) {
				t.Errorf("ownedIndex(%q) = %d, %v; want %d, %v", k, h, canonical, want, k == name)
			}
		}
	}
	for _, k := range []string{"", "A", "Vary", "X-Content-Type-Options", "Access-Control-Allow-Originx", "Access-Control-Request-Method", "Access-Control-Allow-Origin "} {
		if h, _ := ownedIndex(k); h >= 0 {
			t.Errorf("ownedIndex(%q) = %d, want none", k, h)
		}
	}
}

// TestOwnedIndex pins which header map keys are the module's headers: the
// canonical spelling, flagged as such, and any other spelling of the same
// name; nothing else, however close.
func TestOwnedIndex(t *testing.T) {
	tests := []struct {
		key       string
		want      int
		canonical bool
	}{
		{"Access-Control-Allow-Origin", hAllowOrigin, true},
		{"Access-Control-Max-Age", hMaxAge, true},
		{"access-control-allow-origin", hAllowOrigin, false},
		{"ACCESS-CONTROL-MAX-AGE", hMaxAge, false},
		{"access-Control-Expose-Headers", hExposeHeaders, false},
		{"Access-Control-Request-Method", -1, false},
		{"access-control-request-headers", -1, false},
		{"Access-Control-Max-Ag", -1, false},
		{"X-Access-Control-Allow-Origin", -1, false},
		{"Vary", -1, false},
		{"", -1, false},
	}
	for _, tt := range tests {
		if h, canonical := ownedIndex(tt.key); h != tt.want || canonical != tt.canonical {
			t.Errorf("ownedIndex(%q) = %d, %v; want %d, %v", tt.key, h, canonical, tt.want, tt.canonical)
		}
	}
}

// TestTruncate pins where hostile values are cut in the logs: 256 bytes
// stay whole, a 257th is cut with a mark.
func TestTruncate(t *testing.T) {
	s := strings.Repeat("a", 256)
	if got := truncate(s); got != s {
		t.Errorf("truncate(256 bytes) = %d bytes, want them whole", len(got))
	}
	if got := truncate(s + "b"); got != s+"..." {
		t.Errorf("truncate(257 bytes) = %q, want the first 256 and ...", got)
	}
}

// TestEnforceReplacesASecondValue pins that an owned header a later handler
// gave a second value goes out with the decision alone, even when the first
// value is the decision.
func TestEnforceReplacesASecondValue(t *testing.T) {
	h := provisioned(t, Handler{Origins: []string{origin}})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header = from(origin)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header()["Access-Control-Allow-Origin"] = []string{origin, otherOrigin}
		w.WriteHeader(200)
		return nil
	}))
	if got := rec.Header()["Access-Control-Allow-Origin"]; !slices.Equal(got, []string{origin}) {
		t.Errorf("Access-Control-Allow-Origin = %q, want [%s]", got, origin)
	}
}
