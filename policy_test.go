package cors

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func maxAge(d time.Duration) *caddy.Duration {
	cd := caddy.Duration(d)
	return &cd
}

// TestConfigErrors has one row per configuration docs/design.md and the README call an error:
// each must be refused, naming the field (and element) at fault and saying
// what to write instead.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config Handler
		want   string // in the JSON form of the problem
	}{
		{"ReportOnlyWithPassthrough", Handler{ReportOnly: true, PreflightPassthrough: true}, "report_only: report_only already passes every preflight on untouched, and preflight_passthrough would add headers to it: remove preflight_passthrough (JSON: preflight_passthrough)"},
		{"ReportOnlyWithPreflightStatus", Handler{ReportOnly: true, PreflightStatus: 204}, "report_only: report_only never answers a preflight, so preflight_status 204 would never be used: remove preflight_status (JSON: preflight_status)"},
		{"ReportOnlyKeepsNormalErrors", Handler{ReportOnly: true, Origins: []string{"*"}, AllowCredentials: true}, "allow_credentials: credentials need explicit origins"},
		{"StarWithCredentials", Handler{Origins: []string{"*"}, AllowCredentials: true}, "allow_credentials: credentials need explicit origins"},
		{"NoOriginsWithCredentials", Handler{AllowCredentials: true}, "allow_credentials: credentials need explicit origins"},
		{"NullWithCredentials", Handler{Origins: []string{"https://a.com", "null"}, AllowCredentials: true}, `origins[1]: "null" cannot be allowed with allow_credentials: any sandboxed page can send it; remove "null" or allow_credentials`},
		{"StarWithOtherOrigins", Handler{Origins: []string{"https://a.com", "*"}}, `origins[1]: "*" already allows every origin`},
		{"StarWithRegexp", Handler{Origins: []string{"*"}, OriginRegexp: []string{"https://a"}}, `origins[0]: "*" already allows every origin`},
		{"OriginWithPath", Handler{Origins: []string{"https://a.com/api"}}, `origins[0]: "https://a.com/api": an origin has no path, query or fragment; write "https://a.com"`},
		{"OriginWithTrailingSlash", Handler{Origins: []string{"https://a.com/"}}, `write "https://a.com"`},
		{"OriginWithUserinfo", Handler{Origins: []string{"https://u@a.com"}}, `no user name or password; write "https://a.com"`},
		{"OriginWithoutScheme", Handler{Origins: []string{"a.com"}}, `write "https://a.com"`},
		{"MisplacedWildcard", Handler{Origins: []string{"https://a.*.com"}}, "first label of the host"},
		{"InvalidHost", Handler{Origins: []string{"https://a..com"}}, "not a valid host name"},
		{"InvalidPort", Handler{Origins: []string{"https://a.com:70000"}}, "not a port"},
		{"FileOrigin", Handler{Origins: []string{"file://"}}, `"null"`},
		{"PublicSuffixPatternWithCredentials", Handler{Origins: []string{"https://*.github.io"}, AllowCredentials: true}, "public suffix"},
		{"BadRegexp", Handler{OriginRegexp: []string{"https://(a"}}, "origin_regexp[0]: \"https://(a\" is not an RE2 regular expression"},
		{"ForbiddenMethodTrace", Handler{Methods: []string{"GET", "trace"}}, `methods[1]: "trace" is a method browsers never let a script send`},
		{"ForbiddenMethodConnect", Handler{Methods: []string{"CONNECT"}}, `methods[0]: "CONNECT"`},
		{"ForbiddenMethodTrack", Handler{Methods: []string{"Track"}}, `methods[0]: "Track"`},
		{"InvalidMethod", Handler{Methods: []string{"GET POST"}}, `methods[0]: "GET POST" is not a method`},
		{"CommaSeparatedMethods", Handler{Methods: []string{"GET,PUT"}}, `methods[0]: "GET,PUT" is a list: separate the values with spaces, not commas (in JSON, one string each): write methods GET PUT`},
		{"CommaSeparatedOrigins", Handler{Origins: []string{"https://a.com, https://b.com"}}, `origins[0]: "https://a.com, https://b.com" is a list: separate the values with spaces, not commas (in JSON, one string each): write origins https://a.com https://b.com`},
		{"CommaSeparatedHeaders", Handler{AllowedHeaders: []string{"X-A,X-B"}}, `allowed_headers[0]: "X-A,X-B" is a list: separate the values with spaces`},
		{"CommaSeparatedExposedHeaders", Handler{ExposedHeaders: []string{"X-A, X-B"}}, `exposed_headers[0]: "X-A, X-B" is a list: separate the values with spaces`},
		{"LowerCaseDelete", Handler{Methods: []string{"GET", "patch", "delete"}}, `methods[2]: "delete" never matches: browsers send DELETE in upper case whatever the script wrote: write DELETE`},
		{"MixedCasePut", Handler{Methods: []string{"Put"}}, `methods[0]: "Put" never matches: browsers send PUT in upper case whatever the script wrote: write PUT`},
		{"RegexpAnyOriginWithCredentials", Handler{OriginRegexp: []string{".*"}, AllowCredentials: true}, `origin_regexp[0]: ".*" matches "https://` + unownedLabel + `.invalid", an origin anybody can own, and allow_credentials would let it read with your users' cookies`},
		{"RegexpUnescapedDotWithCredentials", Handler{OriginRegexp: []string{"https://(www.)?example.com"}, AllowCredentials: true}, `origin_regexp[0]: "https://(www.)?example.com" matches "https://examplexcom"`},
		{"RegexpErrorShowsUsersRegexp", Handler{OriginRegexp: []string{"[unclosed)"}}, "origin_regexp[0]: \"[unclosed)\" is not an RE2 regular expression: missing closing ]"},
		{"JSONMaxAgeIntegerIsNanoseconds", Handler{MaxAge: maxAge(600)}, `max_age: 600ns is not whole seconds (a number in JSON is nanoseconds): write "600s" for 600 seconds`},
		{"PublicSuffixNamesBothSettings", Handler{Origins: []string{"https://*.github.io"}, AllowCredentials: true}, `origins[0]: "https://*.github.io" with allow_credentials hands your users' sessions to every owner of a site under the public suffix "github.io": list your own domain instead, e.g. https://*.yourname.github.io, or remove allow_credentials`},
		{"InvalidHeaderName", Handler{AllowedHeaders: []string{"X-A:"}}, `allowed_headers[0]: "X-A:" is not a header name`},
		{"ForbiddenRequestHeaderCookie", Handler{AllowedHeaders: []string{"Cookie"}}, `allowed_headers[0]: "Cookie" is a header browsers never let a script set`},
		{"ForbiddenRequestHeaderHost", Handler{AllowedHeaders: []string{"host"}}, `"host" is a header browsers never let`},
		{"ForbiddenRequestHeaderSecPrefix", Handler{AllowedHeaders: []string{"Sec-Fetch-Mode"}}, `never let a script set`},
		{"ForbiddenRequestHeaderProxyPrefix", Handler{AllowedHeaders: []string{"Proxy-Authorization"}}, `never let a script set`},
		{"ForbiddenRequestHeaderOrigin", Handler{AllowedHeaders: []string{"Origin"}}, `never let a script set`},
		{"AccessControlRequestHeaderAllowed", Handler{AllowedHeaders: []string{"Access-Control-Allow-Origin"}}, `is a CORS response header`},
		{"TooLongHeaderName", Handler{AllowedHeaders: []string{strings.Repeat("x", 129)}}, "longer than 128 bytes"},
		{"ExposedSetCookie", Handler{ExposedHeaders: []string{"Set-Cookie"}}, `exposed_headers[0]: "Set-Cookie" is never exposed`},
		{"ExposedAccessControl", Handler{ExposedHeaders: []string{"Access-Control-Allow-Origin"}}, `is a CORS header`},
		{"ExposedStarWithCredentials", Handler{Origins: []string{"https://a.com"}, AllowCredentials: true, ExposedHeaders: []string{"*"}}, `exposed_headers[0]: "*" exposes nothing with allow_credentials (browsers then read it as a header named "*"): list the headers by name, or remove allow_credentials`},
		{"ExposedInvalidName", Handler{ExposedHeaders: []string{"X A"}}, `is not a header name`},
		{"NegativeMaxAge", Handler{MaxAge: maxAge(-time.Second)}, "max_age: -1s is negative"},
		{"FractionalMaxAge", Handler{MaxAge: maxAge(1500 * time.Millisecond)}, `max_age: 1.5s is not whole seconds (Access-Control-Max-Age counts seconds): write e.g. "2s"`},
		{"NanosecondMaxAgeFromJSONInteger", Handler{MaxAge: maxAge(600)}, "max_age: 600ns is not whole seconds"},
		{"PreflightStatusNotOK", Handler{PreflightStatus: 302}, "preflight_status: 302 is not a 2xx status"},
		{"PreflightStatusTooLow", Handler{PreflightStatus: 100}, "preflight_status: 100 is not a 2xx status"},
		{"PrivateNetworkWithAnyOrigin", Handler{AllowPrivateNetwork: true}, "allow_private_network: private network access needs explicit origins"},
		{"PrivateNetworkWithStar", Handler{Origins: []string{"*"}, AllowPrivateNetwork: true}, "allow_private_network:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.config
			_, problems, _ := compile(&h)
			var msgs []string
			for _, p := range problems {
				msgs = append(msgs, p.jsonString())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.want) {
				t.Errorf("problems = %q, want one containing %q", msgs, tt.want)
			}
		})
	}
}

// TestAllConfigErrorsAreReportedTogether pins that one load shows every
// mistake, not only the first.
func TestAllConfigErrorsAreReportedTogether(t *testing.T) {
	h := Handler{
		Origins:         []string{"https://a.com/", "*"},
		Methods:         []string{"TRACE"},
		AllowedHeaders:  []string{"Cookie"},
		ExposedHeaders:  []string{"Set-Cookie"},
		PreflightStatus: 500,
	}
	_, problems, _ := compile(&h)
	if len(problems) != 6 {
		t.Fatalf("got %d problems, want 6: %v", len(problems), problems)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	err := h.Provision(ctx)
	if err == nil {
		t.Fatal("Provision accepted a broken config")
	}
	for _, field := range []string{"origins[0]", "origins[1]", "methods[0]", "allowed_headers[0]", "exposed_headers[0]", "preflight_status"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}

// TestConfigWarnings has one row per risky-but-legal configuration docs/design.md
// asks a warning for, and a row for a config that deserves none.
func TestConfigWarnings(t *testing.T) {
	tests := []struct {
		name   string
		config Handler
		want   string // "" means no warning at all
	}{
		{"NullOrigin", Handler{Origins: []string{"null"}}, `origin "null" is allowed`},
		{"PublicSuffixPatternWithoutCredentials", Handler{Origins: []string{"https://*.github.io"}}, `public suffix "github.io"`},
		{"PlainHTTPOriginWithCredentials", Handler{Origins: []string{"http://app.example.com"}, AllowCredentials: true}, "plain HTTP"},
		{"PrivateNetworkDeprecated", Handler{Origins: []string{"https://a.com"}, AllowPrivateNetwork: true},
			"allow_private_network: allow_private_network is deprecated: Chrome replaced Private Network Access with the Local Network Access permission prompt (Chrome 142)"},
		{"LongMaxAge", Handler{MaxAge: maxAge(24 * time.Hour)}, "Chromium caps it at 7200 s"},
		{"StarMethodBesideNames", Handler{Methods: []string{"DELETE", "GET", "*", "*"}}, `methods[2]: "*" already covers DELETE, GET: remove them, or remove "*"`},
		{"StarHeaderBesideNames", Handler{AllowedHeaders: []string{"*", "X-A"}}, `allowed_headers[0]: "*" already covers X-A: remove them, or remove "*"`},
		{"StarHeaderBesideAuthorizationIsFine", Handler{AllowedHeaders: []string{"*", "Authorization"}}, ""},
		{"StarExposedBesideNames", Handler{ExposedHeaders: []string{"X-Id", "*"}}, `exposed_headers[1]: "*" already covers X-Id: remove them, or remove "*"`},
		{"MethodNotUpperCase", Handler{Methods: []string{"patch"}}, `methods[0]: method "patch" matches only scripts that spell it "patch" (browsers send it as written, and most scripts write PATCH): write PATCH`},
		{"SameOriginTwice", Handler{Origins: []string{"https://a.com", "https://A.com:443"}}, `origins[1]: origins "https://a.com" and "https://A.com:443" are the same origin (https://a.com): keep one`},
		{"OriginCoveredByPattern", Handler{Origins: []string{"https://x.a.com", "https://*.a.com"}}, `origins[0]: origin "https://x.a.com" is already allowed by "https://*.a.com": remove it, or narrow the pattern`},
		{"OriginCoveredByAnyPort", Handler{Origins: []string{"http://localhost:*", "http://localhost:5173"}}, `origins[1]: origin "http://localhost:5173" is already allowed by "http://localhost:*"`},
		{"OriginCoveredByTwoPatternsNamesTheFirst", Handler{Origins: []string{"https://*.a.com", "https://x.b.a.com", "https://*.b.a.com"}}, `origins[1]: origin "https://x.b.a.com" is already allowed by "https://*.a.com"`},
		{"PatternDomainItselfIsNotCovered", Handler{Origins: []string{"https://a.com", "https://*.a.com"}}, ""},
		{"OriginOnOtherPortIsFine", Handler{Origins: []string{"https://x.a.com:8443", "https://*.a.com"}}, ""},
		{"OriginOnOtherSchemeIsFine", Handler{Origins: []string{"http://x.a.com", "https://*.a.com"}}, ""},
		{"RegexpAnyOriginWithoutCredentials", Handler{OriginRegexp: []string{"https://.*"}}, `origin_regexp[0]: "https://.*" matches "https://` + unownedLabel + `.invalid", an origin anybody can own`},
		{"SafeRegexpIsFine", Handler{OriginRegexp: []string{`https://([a-z0-9-]+\.)*example\.com`}}, ""},
		{"LoopbackHTTPWithCredentialsIsFine", Handler{Origins: []string{"http://localhost:5173", "http://127.0.0.1:*", "http://[::1]:3000"}, AllowCredentials: true}, ""},
		{"OrdinaryPolicyIsFine", Handler{Origins: []string{"https://*.example.com"}, MaxAge: maxAge(2 * time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.config
			_, problems, warnings := compile(&h)
			if len(problems) > 0 {
				t.Fatalf("unexpected problems: %v", problems)
			}
			var msgs []string
			for _, w := range warnings {
				msgs = append(msgs, w.jsonString())
			}
			got := strings.Join(msgs, "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("warnings = %q, want %q", msgs, tt.want)
			}
			if len(warnings) > 1 {
				t.Errorf("warned %d times, want once: %q", len(warnings), msgs)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p, problems, _ := compile(&Handler{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if !p.origins.any || p.credentials || p.maxAge != "" || p.exposeHeaders != "" || p.status != 204 {
		t.Errorf("defaults: any=%v credentials=%v maxAge=%q expose=%q status=%d",
			p.origins.any, p.credentials, p.maxAge, p.exposeHeaders, p.status)
	}
	if p.allowMethods != "GET, HEAD, POST" {
		t.Errorf("allowMethods = %q", p.allowMethods)
	}
	if p.allowHeaders != "Accept, Content-Type, X-Requested-With" {
		t.Errorf("allowHeaders = %q", p.allowHeaders)
	}
}

// TestAnyMethodStopsAtCaddysLimit pins that "*" allows requested methods up
// to the 32 bytes Caddy accepts in a request line, and no longer ones.
func TestAnyMethodStopsAtCaddysLimit(t *testing.T) {
	p, problems, _ := compile(&Handler{Methods: []string{"*"}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if m := strings.Repeat("M", 32); !p.methods.allows(m) {
		t.Errorf("a 32-byte method is refused")
	}
	if m := strings.Repeat("M", 33); p.methods.allows(m) {
		t.Errorf("a 33-byte method is allowed")
	}
}
